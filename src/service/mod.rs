//! The use cases. Every business rule lives here: membership, tenant isolation, the read-state
//! invariant (`read_state.rs`). Faces and the native API call these and only render results.

pub mod attachments;
pub mod audit;
pub mod chat;
pub mod contacts;
pub mod conversations;
pub mod credentials;
pub mod devices;
pub mod direct;
pub mod directory;
pub mod events;
pub mod export;
pub mod flows;
pub mod idempotency;
pub mod inbox;
pub mod invites;
pub mod memo;
pub mod message_search;
pub mod messages;
pub mod owner;
pub mod read_state;
pub mod retention;
pub mod search;
pub mod webhooks;

use std::sync::Arc;

use crate::auth::Principal;
use crate::domain::{ApiKey, Clock, Ids, Tenant, TenantId, User, UserId};
use crate::error::{Error, Result};
use crate::lanes::Lane;
use crate::store::Store;

/// Password checks and hashes that may wait for a thread before more are refused
/// (`password_queue_depth`).
pub const DEFAULT_PASSWORD_QUEUE_DEPTH: usize = 64;

#[derive(Clone)]
pub struct Service {
    pub store: Store,
    pub clock: Clock,
    /// Where new uuids, oids and secrets come from (`ids()`).
    ids: Ids,
    /// argon2 and other CPU-heavy work. One thread per core at most: each hash keeps a core
    /// busy for its whole run, so more threads would only make every sign-in slower.
    cpu: Lane,
    /// Who each credential belongs to, between requests (`memo.rs`).
    known: Arc<Known>,
}

/// The answers `memo.rs` keeps: enough for every surface to resolve its caller without the
/// database while nothing in the directory changes.
struct Known {
    /// Bearer tokens by the SHA-256 of the secret, with when they expire.
    tokens: memo::Memo<Vec<u8>, (Principal, Option<i64>)>,
    /// API keys by the SHA-256 of what was presented (key and secret, or the secret alone).
    api_keys: memo::Memo<Vec<u8>, ApiKey>,
    tenants: memo::Memo<TenantId, Tenant>,
    /// Tenants by their Pigeons public key.
    public_keys: memo::Memo<String, Tenant>,
    /// Users by id: callers behind a JWT, tenant owners, and the members of listed
    /// conversations (`People`).
    users: Arc<memo::Memo<(TenantId, UserId), Arc<User>>>,
}

/// Callers kept per kind of answer: more than a clinic has, fewer than would weigh (a few KB
/// each).
const KNOWN_CAPACITY: usize = 4096;

impl Known {
    fn new() -> Self {
        Self {
            tokens: memo::Memo::new(KNOWN_CAPACITY),
            api_keys: memo::Memo::new(KNOWN_CAPACITY),
            tenants: memo::Memo::new(KNOWN_CAPACITY),
            public_keys: memo::Memo::new(KNOWN_CAPACITY),
            users: Arc::new(memo::Memo::new(KNOWN_CAPACITY)),
        }
    }
}

impl Service {
    /// Panics only if the operating system refuses to start the CPU threads at start-up.
    pub fn new(store: Store, clock: Clock) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        #[allow(clippy::expect_used)]
        let cpu = Lane::start(
            "parlor-cpu",
            threads,
            DEFAULT_PASSWORD_QUEUE_DEPTH,
            "too many sign-ins are waiting for a password check",
        )
        .expect("start the password-hashing threads");
        Self {
            store,
            clock,
            ids: Ids::random(),
            cpu,
            known: Arc::new(Known::new()),
        }
    }

    /// The service of a stand-in's sandbox (`control::state`) over its own `store`: its own
    /// callers in memory (they are another database's), this service's clock (there is one
    /// time for the whole server) and password threads (a thread pool per sandbox would only
    /// compete for the same cores). Its ids come from a sequence of its own, derived from this
    /// service's by the sandbox's `name`, so a seeded sandbox's ids do not depend on what other
    /// sandboxes do meanwhile. The one place a sandbox's service is made.
    pub fn sandbox(&self, store: Store, name: &str) -> Service {
        Service {
            store,
            clock: self.clock.clone(),
            ids: self.ids.derive(&format!("sandbox:{name}")),
            cpu: self.cpu.clone(),
            known: Arc::new(Known::new()),
        }
    }

    /// The users a read may take from memory instead of the file, as of now.
    pub(crate) fn people(&self) -> memo::People {
        memo::People::new(self.known.users.clone(), self.store.directory_version())
    }

    /// How many password checks and hashes may wait for a thread before more are refused.
    pub fn set_password_queue_depth(&self, depth: usize) {
        self.cpu.set_depth(depth);
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Where this service's new uuids, oids and secrets come from. Unseeded unless the control
    /// plane seeded it.
    pub fn ids(&self) -> &Ids {
        &self.ids
    }

    /// This service with its ids from `ids`: a sandbox's service takes
    /// `main.ids().derive(sandbox_name)`, so that its ids repeat run after run whatever other
    /// sandboxes do meanwhile.
    pub fn with_ids(mut self, ids: Ids) -> Self {
        self.ids = ids;
        self
    }

    /// Runs CPU-heavy or blocking work (argon2) on the CPU threads, off the async workers.
    /// Past `password_queue_depth` waiting closures it fails at once with
    /// `Error::Unavailable`.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        self.cpu.run(f).await
    }
}

/// One page of a list plus the cursor that fetches the next (None on the last page).
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Conversation lists are keyset-paginated on `(last activity, id)`; the cursor is those two
/// numbers, opaque to clients.
pub fn encode_cursor(at: i64, id: i64) -> String {
    format!("{at}.{id}")
}

pub fn decode_cursor(field: &str, text: &str) -> Result<(i64, i64)> {
    text.split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| Error::invalid(field, "is not a cursor this server handed out"))
}

pub const MAX_PAGE: u32 = 100;

/// Checks a client's `limit`: 1..=MAX_PAGE, default `default`.
pub fn page_limit(field: &str, limit: Option<u32>, default: u32) -> Result<u32> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(Error::invalid(
            field,
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

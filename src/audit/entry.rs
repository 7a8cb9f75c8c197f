//! One audit entry: who did what to which records, concerning which patients, and how it went.

use std::collections::BTreeSet;

use crate::domain::clock::Millis;
use crate::domain::TenantId;

/// Who acted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Actor {
    /// No credential was accepted (a refused or anonymous request).
    #[default]
    Anonymous,
    User(i64),
    ApiKey(i64),
    ServerAdmin,
    /// Parlor itself: the retention sweep, a start-up step, the CLI without a user.
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Anonymous => "anonymous",
            Actor::User(_) => "user",
            Actor::ApiKey(_) => "api_key",
            Actor::ServerAdmin => "server_admin",
            Actor::System => "system",
        }
    }

    pub fn id(&self) -> Option<i64> {
        match self {
            Actor::User(id) | Actor::ApiKey(id) => Some(*id),
            _ => None,
        }
    }

    pub fn from_parts(kind: &str, id: Option<i64>) -> Actor {
        match (kind, id) {
            ("user", Some(id)) => Actor::User(id),
            ("api_key", Some(id)) => Actor::ApiKey(id),
            ("server_admin", _) => Actor::ServerAdmin,
            ("system", _) => Actor::System,
            _ => Actor::Anonymous,
        }
    }
}

/// How a request ended, from its status.
pub fn outcome_of(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        401 | 403 => "refused",
        404 | 410 => "not_found",
        400..=499 => "invalid",
        _ => "failed",
    }
}

/// The kinds of record an entry names.
pub mod object {
    pub const CONVERSATION: &str = "conversation";
    pub const MESSAGE: &str = "message";
    pub const USER: &str = "user";
    pub const TOKEN: &str = "token";
    pub const API_KEY: &str = "api_key";
    pub const TENANT: &str = "tenant";
    pub const ATTACHMENT: &str = "attachment";
}

/// One line of the trail, as recorded. `seq` and `hash` are given when it is appended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub at: Millis,
    pub tenant: Option<TenantId>,
    pub actor: Actor,
    pub credential: Option<String>,
    pub surface: String,
    pub action: String,
    pub route: Option<String>,
    /// (type, id) pairs, each once, in the order first touched.
    pub objects: Vec<(String, String)>,
    /// The users with a patient's role whose information the access concerns.
    pub patients: BTreeSet<i64>,
    pub outcome: String,
    pub status: Option<u16>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Counts of a run (retention, export), as JSON. Never content.
    pub detail: Option<String>,
    /// Conversations whose patients are still to be looked up when the entry is stored (a read
    /// that named a conversation without loading its members).
    pub unresolved: Vec<i64>,
    /// Records touched beyond the `MAX_OBJECTS` named (stored in `detail`).
    pub unlisted: u64,
}

impl Entry {
    /// Names `(kind, id)` unless already named.
    pub fn touch(&mut self, kind: &str, id: impl ToString) {
        name(&mut self.objects, &mut self.unlisted, kind, id.to_string());
    }
}

/// Adds `(kind, id)` to `objects` unless it is there; past `MAX_OBJECTS` only counts it.
pub(super) fn name(
    objects: &mut Vec<(String, String)>,
    unlisted: &mut u64,
    kind: &str,
    id: String,
) {
    if objects.iter().any(|(k, i)| k == kind && *i == id) {
        return;
    }
    if objects.len() < super::MAX_OBJECTS {
        objects.push((kind.to_string(), id));
    } else {
        *unlisted += 1;
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub seq: i64,
    pub entry: Entry,
    pub hash: String,
}

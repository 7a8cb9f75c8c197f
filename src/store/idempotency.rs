//! Idempotency-Key records, and the claim a keyed request carries into its first write.
//!
//! The claim travels as a task-local rather than a parameter so that every create path of the
//! native API and the faces is covered without each use case knowing about keys: whichever
//! write the request makes first stores the claim inside its own savepoint, so the key and what
//! the request wrote commit together or not at all.

use std::future::Future;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::Cached;
use crate::domain::TenantId;
use crate::error::{Error, Result};

/// Whose key it is: the tenant, the caller within it, and the key as sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyScope {
    pub tenant: TenantId,
    pub caller: String,
    pub key: String,
}

/// The response recorded for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A live (unexpired) use of a key.
#[derive(Clone, Debug)]
pub struct Used {
    pub request_hash: Vec<u8>,
    /// None while only claimed.
    pub answer: Option<Answer>,
}

/// The use of `scope` made after `since`, if any.
pub fn find(c: &Connection, scope: &KeyScope, since: i64) -> Result<Option<Used>> {
    Ok(c.row(
        "SELECT request_hash, status, content_type, body FROM idempotency_keys
         WHERE tenant_id = ?1 AND caller = ?2 AND key = ?3 AND created_at > ?4",
        params![scope.tenant.0, scope.caller, scope.key, since],
        |r| {
            let status: Option<u16> = r.get(1)?;
            Ok(Used {
                request_hash: r.get(0)?,
                answer: match status {
                    Some(status) => Some(Answer {
                        status,
                        content_type: r.get(2)?,
                        body: r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default(),
                    }),
                    None => None,
                },
            })
        },
    )
    .optional()?)
}

/// Claims the key: a row without an answer. An expired use of the same key gives way.
fn insert_claim(c: &Connection, claim: &Claim) -> Result<()> {
    let scope = &claim.scope;
    c.exec(
        "DELETE FROM idempotency_keys
         WHERE tenant_id = ?1 AND caller = ?2 AND key = ?3 AND created_at <= ?4",
        params![
            scope.tenant.0,
            scope.caller,
            scope.key,
            claim.expired_before
        ],
    )?;
    c.exec(
        "INSERT INTO idempotency_keys (tenant_id, caller, key, request_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            scope.tenant.0,
            scope.caller,
            scope.key,
            claim.request_hash,
            claim.at
        ],
    )
    .map_err(|e| match Error::from(e) {
        // Only another server on the same file could have claimed it meanwhile.
        Error::Conflict(_) => Error::Conflict(format!(
            "Idempotency-Key \"{}\" is in use by another request",
            scope.key
        )),
        other => other,
    })?;
    Ok(())
}

/// Records the answer to a claimed key, or stores key and answer at once when the request
/// wrote nothing (no claim was made).
pub fn record(c: &Connection, claim: &Claim, answer: &Answer) -> Result<()> {
    let scope = &claim.scope;
    c.exec(
        "DELETE FROM idempotency_keys
         WHERE tenant_id = ?1 AND caller = ?2 AND key = ?3 AND created_at <= ?4",
        params![
            scope.tenant.0,
            scope.caller,
            scope.key,
            claim.expired_before
        ],
    )?;
    c.exec(
        "INSERT INTO idempotency_keys
             (tenant_id, caller, key, request_hash, created_at, status, content_type, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (tenant_id, caller, key) DO UPDATE SET
             status = excluded.status, content_type = excluded.content_type, body = excluded.body",
        params![
            scope.tenant.0,
            scope.caller,
            scope.key,
            claim.request_hash,
            claim.at,
            answer.status,
            answer.content_type,
            answer.body
        ],
    )?;
    Ok(())
}

/// Gives up a claim that has no answer.
pub fn release(c: &Connection, scope: &KeyScope) -> Result<()> {
    c.exec(
        "DELETE FROM idempotency_keys
         WHERE tenant_id = ?1 AND caller = ?2 AND key = ?3 AND status IS NULL",
        params![scope.tenant.0, scope.caller, scope.key],
    )?;
    Ok(())
}

/// Deletes every use made at or before `before`; returns how many.
pub fn prune(c: &Connection, before: i64) -> Result<usize> {
    Ok(c.exec(
        "DELETE FROM idempotency_keys WHERE created_at <= ?1",
        [before],
    )?)
}

/// Where a claim stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimState {
    /// Not stored: no write has succeeded yet.
    Open,
    /// Riding a write that has not answered (or whose caller stopped waiting): it may have
    /// committed.
    InFlight,
    /// Stored with a committed write.
    Committed,
}

/// A keyed request's claim on its key.
#[derive(Debug)]
pub struct Claim {
    pub scope: KeyScope,
    pub request_hash: Vec<u8>,
    /// When the key was first used (now).
    pub at: i64,
    /// Uses at or before this have expired.
    pub expired_before: i64,
    state: Mutex<ClaimState>,
}

impl Claim {
    pub fn new(scope: KeyScope, request_hash: Vec<u8>, at: i64, expired_before: i64) -> Self {
        Self {
            scope,
            request_hash,
            at,
            expired_before,
            state: Mutex::new(ClaimState::Open),
        }
    }

    pub fn state(&self) -> ClaimState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, state: ClaimState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }

    /// Takes the claim onto a write unless one already carries it or has stored it.
    fn board(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let open = *state == ClaimState::Open;
        if open {
            *state = ClaimState::InFlight;
        }
        open
    }
}

tokio::task_local! {
    static CLAIM: Arc<Claim>;
}

/// Runs `f` (a request's handling) with `claim` riding on its first successful write.
pub async fn carrying<F: Future>(claim: Arc<Claim>, f: F) -> F::Output {
    CLAIM.scope(claim, f).await
}

/// `Store::write`'s side: the current request's open claim, if any, taken onto this write.
pub(super) struct Boarding(Option<Arc<Claim>>);

pub(super) fn board() -> Boarding {
    Boarding(CLAIM.try_with(Arc::clone).ok().filter(|c| c.board()))
}

impl Boarding {
    /// `f`, then the claim in the same savepoint: a failing claim undoes `f`'s writes.
    pub(super) fn wrap<T, F>(&self, f: F) -> impl FnOnce(&Connection) -> Result<T> + Send + 'static
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let claim = self.0.clone();
        move |c| {
            let out = f(c)?;
            if let Some(claim) = &claim {
                insert_claim(c, claim)?;
            }
            Ok(out)
        }
    }

    /// After the write answered: the claim is stored if it committed, else open again for the
    /// request's next write.
    pub(super) fn settle(self, committed: bool) {
        if let Some(claim) = self.0 {
            claim.set(if committed {
                ClaimState::Committed
            } else {
                ClaimState::Open
            });
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreOptions};

    fn count(store: &Store, sql: &'static str) -> i64 {
        store
            .read_blocking(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .unwrap()
    }

    fn setting(key: &'static str) -> impl FnOnce(&Connection) -> Result<()> + Send + 'static {
        move |c| {
            c.execute(
                "INSERT INTO server_settings (key, value) VALUES (?1, 'x')",
                [key],
            )?;
            Ok(())
        }
    }

    #[test]
    fn the_claim_commits_with_the_first_successful_write_and_only_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("claims.db"), &StoreOptions::default()).unwrap();
        let scope = KeyScope {
            tenant: TenantId(1),
            caller: "native:user:1".into(),
            key: "k".into(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            store
                .write(|c| {
                    c.execute(
                        "INSERT INTO tenants (id, uuid, name, created_at) VALUES (1, 't', 'T', 0)",
                        [],
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
            let claim = Arc::new(Claim::new(scope.clone(), vec![1], 10, 0));
            carrying(claim.clone(), async {
                // A failed write stores nothing, the claim included.
                let failed = store
                    .write(|c| {
                        setting("a")(c)?;
                        Err::<(), _>(Error::invalid("x", "refused"))
                    })
                    .await;
                assert!(failed.is_err());
                assert_eq!(claim.state(), ClaimState::Open);
                store.write(setting("b")).await.unwrap();
                assert_eq!(claim.state(), ClaimState::Committed);
                // Later writes do not claim again.
                store.write(setting("c")).await.unwrap();
            })
            .await;
            // Writes outside the request carry nothing.
            store.write(setting("d")).await.unwrap();

            // A claim that cannot be stored takes its write down with it.
            let taken = Arc::new(Claim::new(scope, vec![2], 11, 0));
            let refused = carrying(taken.clone(), store.write(setting("e"))).await;
            assert!(
                matches!(&refused, Err(Error::Conflict(m)) if m.contains("in use")),
                "{refused:?}"
            );
            assert_eq!(taken.state(), ClaimState::Open);
        });
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM server_settings WHERE key IN ('b', 'c', 'd')"
            ),
            3
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM server_settings WHERE key IN ('a', 'e')"
            ),
            0
        );
        assert_eq!(
            count(
                &store,
                "SELECT count(*) FROM idempotency_keys WHERE status IS NULL AND created_at = 10"
            ),
            1
        );
    }
}

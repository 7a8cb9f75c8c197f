//! Idempotency-Key: a client that retries a create (its connection dropped, it cannot know
//! whether the first attempt was stored) gets the first answer back instead of a second write.
//!
//! The rules: a key belongs to one caller in one tenant and lives 24 hours from its first use.
//! The same key with the same request (method, path and query, body) replays the first 2xx
//! answer; with another request it is refused. A request that failed (4xx) leaves its key
//! unused. The key is claimed in the transaction of the request's first write
//! (`store::idempotency`), so a crash between that commit and recording the answer leaves a
//! claim without an answer: retries are then refused (409) rather than written twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::Service;
use crate::error::{Error, Result};
use crate::store::idempotency::{self as store, Claim, ClaimState};

pub use crate::store::idempotency::{carrying, Answer, KeyScope};

/// How long a key is remembered after its first use.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// The header a client names its key in.
pub const HEADER: &str = "Idempotency-Key";

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What an earlier use of a key says about this request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Earlier {
    /// The key is free: handle the request.
    Unused,
    /// The same request was answered: send this again.
    Answered(Answer),
    /// The same request wrote, but its answer was never recorded.
    InDoubt,
    /// The key was used for a different request.
    Different,
}

/// How a keyed request ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A 2xx, to replay to retries.
    Answered(Answer),
    /// The client's mistake (4xx): whatever the request wrote does not use up the key.
    Refused,
    /// The server failed (5xx) after the request may have written.
    Failed,
}

/// Checks a key as sent: 1 to 255 visible ASCII characters (spaces inside allowed).
pub fn parse_key(raw: &[u8]) -> Result<String> {
    let fits = !raw.is_empty()
        && raw.len() <= MAX_KEY_LEN
        && raw.iter().all(|b| (0x20..0x7f).contains(b))
        && raw.iter().any(|b| *b != b' ');
    if !fits {
        return Err(Error::invalid(
            HEADER,
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(String::from_utf8_lossy(raw).trim().to_string())
}

/// What identifies a request for its key: method, path and query, and body. Each part is
/// length-prefixed so that no two different requests hash alike by shifting bytes between them.
pub fn request_hash(method: &str, target: &str, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), target.as_bytes(), body] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().to_vec()
}

impl Service {
    /// What the unexpired use of `scope`, if any, says about a request hashing to `request`.
    pub async fn earlier_use(&self, scope: KeyScope, request: Vec<u8>) -> Result<Earlier> {
        let since = self.now() - WINDOW_MS;
        let used = self
            .store
            .read(move |c| store::find(c, &scope, since))
            .await?;
        Ok(match used {
            None => Earlier::Unused,
            Some(used) if used.request_hash != request => Earlier::Different,
            Some(used) => match used.answer {
                Some(answer) => Earlier::Answered(answer),
                None => Earlier::InDoubt,
            },
        })
    }

    /// A claim on `scope` for a request hashing to `request`, to carry through its handling.
    pub fn claim(&self, scope: KeyScope, request: Vec<u8>) -> Arc<Claim> {
        let now = self.now();
        Arc::new(Claim::new(scope, request, now, now - WINDOW_MS))
    }

    /// Settles the key after the request: records a 2xx answer (and prunes expired keys),
    /// releases the claim of a refused request, keeps the claim of a failed one that wrote.
    pub async fn conclude(&self, claim: Arc<Claim>, outcome: Outcome) -> Result<()> {
        match (outcome, claim.state()) {
            (Outcome::Answered(answer), _) => {
                self.store
                    .write(move |c| {
                        store::record(c, &claim, &answer)?;
                        store::prune(c, claim.expired_before)?;
                        Ok(())
                    })
                    .await
            }
            (Outcome::Refused, ClaimState::Committed | ClaimState::InFlight) => {
                self.store
                    .write(move |c| store::release(c, &claim.scope))
                    .await
            }
            // Nothing stored, or a failure after a write: the claim stays, in doubt.
            (Outcome::Refused, ClaimState::Open) | (Outcome::Failed, _) => Ok(()),
        }
    }
}

/// One lock per key in use, so that concurrent retries wait for the first and replay its
/// answer instead of racing it. Entries live only while someone holds or awaits them.
#[derive(Default)]
pub struct KeyLocks {
    held: Arc<Mutex<HashMap<KeyScope, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Holds a key until dropped.
pub struct KeyGuard {
    scope: KeyScope,
    held: Arc<Mutex<HashMap<KeyScope, Arc<tokio::sync::Mutex<()>>>>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyLocks {
    pub async fn lock(&self, scope: KeyScope) -> KeyGuard {
        let lock = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            held.entry(scope.clone()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        KeyGuard {
            scope,
            held: self.held.clone(),
            guard: Some(guard),
        }
    }

    /// How many keys are held or awaited.
    pub fn len(&self) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        // Waiters hold a clone of the entry: only the map's own reference left means none.
        if held
            .get(&self.scope)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            held.remove(&self.scope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantId;

    fn scope(key: &str) -> KeyScope {
        KeyScope {
            tenant: TenantId(1),
            caller: "native:user:1".into(),
            key: key.into(),
        }
    }

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert_eq!(parse_key(b"abc-123").unwrap(), "abc-123");
        assert_eq!(parse_key(b" spaced key ").unwrap(), "spaced key");
        assert!(parse_key(b"").is_err());
        assert!(parse_key(b"   ").is_err());
        assert!(parse_key("clé".as_bytes()).is_err());
        assert!(parse_key(b"tab\there").is_err());
        assert!(parse_key(&[b'k'; 255]).is_ok());
        assert!(parse_key(&[b'k'; 256]).is_err());
    }

    #[test]
    fn the_hash_tells_method_target_and_body_apart() {
        let a = request_hash("POST", "/a", b"{}");
        assert_eq!(a, request_hash("POST", "/a", b"{}"));
        assert_ne!(a, request_hash("PUT", "/a", b"{}"));
        assert_ne!(a, request_hash("POST", "/b", b"{}"));
        assert_ne!(a, request_hash("POST", "/a", b"{ }"));
        assert_ne!(
            request_hash("POST", "/a", b"b"),
            request_hash("POST", "/ab", b"")
        );
    }

    #[test]
    fn a_second_holder_waits_and_entries_go_when_unused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let locks = KeyLocks::default();
            let first = locks.lock(scope("k")).await;
            let other = locks.lock(scope("other")).await;
            assert_eq!(locks.len(), 2);
            let waiting = locks.lock(scope("k"));
            tokio::pin!(waiting);
            assert!(futures_poll_once(waiting.as_mut()).await.is_none());
            drop(first);
            let second = waiting.await;
            drop(second);
            drop(other);
            assert!(locks.is_empty());
        });
    }

    /// Polls a future once: Some(output) if it was ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(out) => Some(out),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}

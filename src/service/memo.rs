//! Who a credential belongs to, kept in memory between requests.
//!
//! Every request starts by resolving its caller: a token, an API key, a tenant's public key,
//! the user a JWT names. Asking the database each time cost a trip to a reader thread per
//! request (and up to three on some faces), more than the page the request then reads. These
//! answers change only when a user, token, API key or tenant changes, so they are kept here,
//! each tagged with the `Store::directory_version` read *before* it was looked up:
//!
//! - a change this process commits raises that version before the change is acknowledged, so
//!   once a revocation has answered, no request is served from an answer older than it;
//! - a change another process commits (the `parlor` command line on the same file) is not seen
//!   by that version, so no answer is used longer than `FRESH`.
//!
//! Only answers that let a caller in are kept (a flood of wrong tokens fills nothing), and the
//! time-bound parts (a token's expiry) are checked on every use by the caller of `get`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::{TenantId, User, UserId};

/// How long an answer may be used at most: the delay before a change made by another process
/// (the command line) takes effect here.
pub const FRESH: Duration = Duration::from_secs(2);

struct Entry<V> {
    value: V,
    version: u64,
    at: Instant,
}

/// Answers by key, each good for one directory version and at most `FRESH`.
pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, Entry<V>>>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The answer kept for `key`, if it was looked up at `version` and is still fresh.
    pub fn get(&self, key: &K, version: u64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        (entry.version == version && entry.at.elapsed() < FRESH).then(|| entry.value.clone())
    }

    /// The answer for `key`: the one kept, else `lookup`'s, kept when it lets the caller in.
    /// `version` must be read before the call (the argument is), so that a change committed
    /// during the lookup leaves the answer stale rather than current.
    pub async fn remember<E, Fut>(
        &self,
        key: K,
        version: u64,
        lookup: impl FnOnce() -> Fut,
    ) -> Result<V, E>
    where
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(known) = self.get(&key, version) {
            return Ok(known);
        }
        let value = lookup().await?;
        self.put(key, value.clone(), version);
        Ok(value)
    }

    /// Keeps `value`, looked up at `version` (read before the lookup began).
    pub fn put(&self, key: K, value: V, version: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| e.version == version && e.at.elapsed() < FRESH);
            if entries.len() >= self.capacity {
                // Still full of live answers: start over rather than track recency; each
                // caller costs one lookup to come back.
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                value,
                version,
                at: Instant::now(),
            },
        );
    }
}

/// The users a read may take from memory instead of the file: those known at the directory
/// version read before the read began. A page of conversations names a few users many times
/// (every conversation of a patient's is with their provider); read once, each is shared.
pub struct People {
    memo: Arc<Memo<(TenantId, UserId), Arc<User>>>,
    version: u64,
}

impl People {
    pub fn new(memo: Arc<Memo<(TenantId, UserId), Arc<User>>>, version: u64) -> Self {
        Self { memo, version }
    }

    pub fn known(&self, tenant: TenantId, id: UserId) -> Option<Arc<User>> {
        self.memo.get(&(tenant, id), self.version)
    }

    /// Keeps `user`, just read from the file.
    pub fn learn(&self, user: Arc<User>) {
        self.memo.put((user.tenant_id, user.id), user, self.version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_good_only_for_the_version_it_was_read_at() {
        let memo = Memo::new(4);
        memo.put("a", 1, 7);
        assert_eq!(memo.get(&"a", 7), Some(1));
        assert_eq!(memo.get(&"a", 8), None);
        assert_eq!(memo.get(&"b", 7), None);
    }

    #[test]
    fn a_full_memo_drops_stale_answers_first_and_never_grows_past_its_capacity() {
        let memo = Memo::new(2);
        memo.put(1, "old", 1);
        memo.put(2, "live", 2);
        memo.put(3, "new", 2);
        assert_eq!(memo.get(&1, 1), None, "the stale answer made room");
        assert_eq!(memo.get(&2, 2), Some("live"));
        assert_eq!(memo.get(&3, 2), Some("new"));
        memo.put(4, "newer", 2);
        let kept = [1, 2, 3, 4]
            .iter()
            .filter(|k| memo.get(k, 2).is_some())
            .count();
        assert!(kept <= 2, "{kept} answers kept in a memo of 2");
        assert_eq!(memo.get(&4, 2), Some("newer"));
    }
}

//! Slowing down password guessing at the admin page's sign-in. Each client address and name
//! (a username, or "the server-admin token") gets a few free failures; after that every further
//! failure locks that pair out for twice as long as the last, up to a quarter of an hour. A
//! success forgets the failures. Kept in memory, like the sessions it guards.
//!
//! The vendor faces are not throttled: a developer's test suite that tries wrong credentials on
//! purpose must see the vendor's own answer every time.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::clock::Millis;

/// Failures allowed before the first lockout.
const FREE_FAILURES: u32 = 5;
const FIRST_LOCKOUT_MS: Millis = 30_000;
const LONGEST_LOCKOUT_MS: Millis = 15 * 60_000;
/// Failures this long ago no longer count.
const FORGET_AFTER_MS: Millis = 15 * 60_000;
/// Above this many remembered pairs, stale ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Millis,
    locked_until: Millis,
}

#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl SignInThrottle {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        // A panic while holding the lock cannot leave the map inconsistent (each change is a
        // single insert or remove), so a poisoned lock is still usable.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// None when `key` may try now; otherwise how many whole seconds until it may.
    pub fn wait(&self, key: &str, now: Millis) -> Option<u64> {
        let entries = self.entries();
        let f = entries.get(key)?;
        (f.locked_until > now).then(|| ((f.locked_until - now + 999) / 1000) as u64)
    }

    /// Records a failed attempt by `key` at `now`.
    pub fn failed(&self, key: &str, now: Millis) {
        let mut entries = self.entries();
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, f| now - f.last < FORGET_AFTER_MS || f.locked_until > now);
        }
        let f = entries.entry(key.to_string()).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: 0,
        });
        if now - f.last >= FORGET_AFTER_MS {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count >= FREE_FAILURES {
            let doublings = (f.count - FREE_FAILURES).min(16);
            let lockout = (FIRST_LOCKOUT_MS << doublings).min(LONGEST_LOCKOUT_MS);
            f.locked_until = now + lockout;
        }
    }

    /// `key` signed in: its failures are forgotten.
    pub fn succeeded(&self, key: &str) {
        self.entries().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_start_after_five_failures_double_and_end_on_success() {
        let t = SignInThrottle::new();
        let key = "127.0.0.1|admin";
        for i in 0..4 {
            t.failed(key, i);
            assert_eq!(t.wait(key, i), None, "failure {}", i + 1);
        }
        t.failed(key, 10);
        assert_eq!(t.wait(key, 10), Some(30));
        assert_eq!(t.wait(key, 10 + 29_000), Some(1));
        assert_eq!(t.wait(key, 10 + 30_000), None);
        t.failed(key, 40_000);
        assert_eq!(t.wait(key, 40_000), Some(60));
        for n in 0..10 {
            t.failed(key, 200_000 + n);
        }
        assert_eq!(t.wait(key, 200_009), Some(15 * 60));
        assert_eq!(t.wait("127.0.0.1|frontdesk", 200_009), None);
        t.succeeded(key);
        assert_eq!(t.wait(key, 200_009), None);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let t = SignInThrottle::new();
        for i in 0..4 {
            t.failed("k", i);
        }
        t.failed("k", FORGET_AFTER_MS + 10);
        assert_eq!(t.wait("k", FORGET_AFTER_MS + 10), None);
    }
}

//! Slowing down password guessing, on every surface that checks a password: the native API's
//! `POST /auth/login`, the admin page's sign-in, Tati's `POST /token/`, and any added later.
//! Each client address and name tried (a username, or "the server-admin token") gets a few free
//! failures; after that every further failure locks that pair out for twice as long as the
//! last, up to a quarter of an hour. A success forgets the failures. Kept in memory, like the
//! sessions it guards.
//!
//! The service's password checks take an `Admitted`, which only `SignInThrottle::attempt`
//! hands out: no surface can check a password without going through the throttle. Each
//! surface renders `Locked` as its own 429. The `password_throttle` setting switches the
//! lockouts off for stand-in test suites that try wrong passwords on purpose.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::clock::Millis;
use crate::error::Error;

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

/// Proof that one password check was let through by the throttle. Not `Clone`: one check per
/// admission.
#[derive(Debug)]
pub struct Admitted(());

/// The pair is locked out for this many more whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locked {
    pub retry_after: u64,
}

#[derive(Debug, Default)]
pub struct SignInThrottle {
    /// Off: every attempt is admitted and nothing is counted.
    enabled: bool,
    failures: Mutex<HashMap<String, Failures>>,
}

impl SignInThrottle {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            failures: Mutex::default(),
        }
    }

    /// The throttle's key for `name` tried from `peer`. Names are compared without regard to
    /// case or surrounding blanks, so "Admin " is not a fresh budget for "admin".
    pub fn key(peer: Option<IpAddr>, name: &str) -> String {
        let address = peer.map_or_else(String::new, |a| a.to_string());
        format!("{address}|{}", name.trim().to_lowercase())
    }

    /// Runs one credential check for `key` unless the pair is locked out. A refusal
    /// (`Error::Unauthenticated`) counts as a failure; a success forgets the earlier ones;
    /// any other error (a bad request, the server) counts as neither.
    pub async fn attempt<T, F, Fut>(
        &self,
        key: &str,
        now: Millis,
        check: F,
    ) -> Result<Result<T, Error>, Locked>
    where
        F: FnOnce(Admitted) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        if let Some(retry_after) = self.wait(key, now) {
            return Err(Locked { retry_after });
        }
        let outcome = check(Admitted(())).await;
        match &outcome {
            Ok(_) => self.succeeded(key),
            Err(Error::Unauthenticated(_)) => self.failed(key, now),
            Err(_) => {}
        }
        Ok(outcome)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        // A panic while holding the lock cannot leave the map inconsistent (each change is a
        // single insert or remove), so a poisoned lock is still usable.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// None when `key` may try now; otherwise how many whole seconds until it may.
    fn wait(&self, key: &str, now: Millis) -> Option<u64> {
        if !self.enabled {
            return None;
        }
        let entries = self.entries();
        let f = entries.get(key)?;
        (f.locked_until > now).then(|| ((f.locked_until - now + 999) / 1000) as u64)
    }

    /// Records a failed attempt by `key` at `now`.
    fn failed(&self, key: &str, now: Millis) {
        if !self.enabled {
            return;
        }
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
    fn succeeded(&self, key: &str) {
        self.entries().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_start_after_five_failures_double_and_end_on_success() {
        let t = SignInThrottle::new(true);
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
        let t = SignInThrottle::new(true);
        for i in 0..4 {
            t.failed("k", i);
        }
        t.failed("k", FORGET_AFTER_MS + 10);
        assert_eq!(t.wait("k", FORGET_AFTER_MS + 10), None);
    }

    #[test]
    fn switched_off_it_never_locks() {
        let t = SignInThrottle::new(false);
        for i in 0..20 {
            t.failed("k", i);
        }
        assert_eq!(t.wait("k", 20), None);
    }

    #[test]
    fn keys_ignore_case_and_blanks_of_the_name() {
        let ip = "10.0.0.7".parse().ok();
        assert_eq!(SignInThrottle::key(ip, " Admin"), "10.0.0.7|admin");
        assert_eq!(SignInThrottle::key(None, "x"), "|x");
    }
}

//! Admin-page sessions: a random cookie value standing for a credential held by the server,
//! with an idle timeout, an absolute lifetime and a per-session CSRF token.
//!
//! Sessions live in memory, not in the database: the page polls every few seconds and each
//! request moves the session's last activity, which in the database would be a write per poll
//! through the single writer. The price is that restarting the server signs everyone out, which
//! for a clinic's admin page is acceptable (and what an automatic logoff asks for anyway).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::secret;
use crate::domain::clock::Millis;
use crate::domain::Ids;
use crate::error::{Error, Result};

/// The cookie that carries the session id.
pub const COOKIE: &str = "parlor_session";
/// The header that must repeat the session's CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "X-Parlor-CSRF";
/// A request carrying this header is the page refreshing itself: it does not count as
/// activity, so an open but unattended page still signs out after the idle timeout.
pub const BACKGROUND_HEADER: &str = "X-Parlor-Background";

/// What a session stands for: the bearer credential it authenticates with on every request
/// (so that a revoked token or a changed role takes effect at once) and, for a tenant admin,
/// the id of the token issued at sign-in, revoked at sign-out.
#[derive(Clone, Debug)]
pub struct Session {
    pub credential: String,
    /// The audit trail's surface for the session's requests: "admin" (the admin page) or
    /// "app" (the clinic's web app), as its sign-in said.
    pub surface: &'static str,
    pub token_id: Option<i64>,
    pub csrf: String,
    pub created_at: Millis,
    pub last_active: Millis,
}

/// A new session: the cookie value (shown to the browser only) and its CSRF token.
pub struct Opened {
    pub cookie: String,
    pub session: Session,
}

/// How a request uses its session.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Use {
    /// GET and HEAD: no CSRF token needed.
    Read,
    /// Anything else: the CSRF header must match.
    Change,
}

pub struct Sessions {
    by_digest: Mutex<HashMap<Vec<u8>, Session>>,
    idle_ms: Millis,
    lifetime_ms: Millis,
}

impl Sessions {
    pub fn new(idle_minutes: u32, lifetime_hours: u32) -> Self {
        Self {
            by_digest: Mutex::new(HashMap::new()),
            idle_ms: Millis::from(idle_minutes) * 60_000,
            lifetime_ms: Millis::from(lifetime_hours) * 3_600_000,
        }
    }

    pub fn idle_ms(&self) -> Millis {
        self.idle_ms
    }

    pub fn lifetime_ms(&self) -> Millis {
        self.lifetime_ms
    }

    fn table(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Session>> {
        // Nothing panics while holding the lock; a poisoned table is still consistent.
        self.by_digest.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, s: &Session, now: Millis) -> bool {
        now - s.last_active >= self.idle_ms || now - s.created_at >= self.lifetime_ms
    }

    /// Starts a session for `credential`. Expired sessions are dropped on the way, so the
    /// table holds only live ones plus those that expired since the last sign-in.
    pub fn open(
        &self,
        credential: String,
        token_id: Option<i64>,
        surface: &'static str,
        now: Millis,
        ids: &Ids,
    ) -> Opened {
        let cookie = ids.secret("");
        let session = Session {
            credential,
            surface,
            token_id,
            csrf: ids.secret(""),
            created_at: now,
            last_active: now,
        };
        let mut table = self.table();
        table.retain(|_, s| !self.expired(s, now));
        table.insert(secret::digest(&cookie), session.clone());
        Opened { cookie, session }
    }

    /// The session a cookie names, checked for expiry and, for changes, for the CSRF token.
    /// `activity` moves the idle clock. An expired session is removed; the refusal carries its
    /// sign-in token for the caller to revoke.
    pub fn resume(
        &self,
        cookie: &str,
        usage: Use,
        csrf: Option<&str>,
        activity: bool,
        now: Millis,
    ) -> Result<Session, Refused> {
        let key = secret::digest(cookie);
        let mut table = self.table();
        let session = table.get_mut(&key).ok_or(Refused::Unknown)?;
        if self.expired(session, now) {
            let gone = table.remove(&key);
            return Err(Refused::Expired(gone.and_then(|s| s.token_id)));
        }
        if usage == Use::Change {
            let ok = csrf.is_some_and(|c| secret::matches(c, &secret::digest(&session.csrf)));
            if !ok {
                return Err(Refused::Csrf);
            }
        }
        if activity {
            session.last_active = now;
        }
        Ok(session.clone())
    }

    /// Ends a session; the token issued at its sign-in, if any, for the caller to revoke.
    pub fn close(&self, cookie: &str) -> Option<Session> {
        self.table().remove(&secret::digest(cookie))
    }

    /// How many sessions are held (live or not yet pruned).
    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a session cookie was not accepted.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// No such session (never was, signed out, or the server restarted).
    Unknown,
    /// Idle too long or past its lifetime; carries the sign-in token to revoke.
    Expired(Option<i64>),
    /// A change without the session's CSRF token.
    Csrf,
}

impl From<Refused> for Error {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Unknown => Error::Unauthenticated("not signed in".into()),
            Refused::Expired(_) => {
                Error::Unauthenticated("the session has expired; sign in again".into())
            }
            Refused::Csrf => Error::forbidden(format!(
                "a change made with the session cookie needs the session's {CSRF_HEADER} header"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    #[test]
    fn idle_sessions_expire_and_activity_keeps_them() {
        let sessions = Sessions::new(15, 12);
        let opened = sessions.open("cred".into(), None, "admin", 0, &Ids::random());
        let c = opened.cookie.as_str();
        assert!(sessions.resume(c, Use::Read, None, true, 14 * MIN).is_ok());
        // Background refreshes do not move the idle clock ...
        assert!(sessions.resume(c, Use::Read, None, false, 28 * MIN).is_ok());
        // ... so 15 minutes after the last activity the session is gone, for good.
        assert_eq!(
            sessions
                .resume(c, Use::Read, None, true, 29 * MIN)
                .unwrap_err(),
            Refused::Expired(None)
        );
        assert_eq!(
            sessions
                .resume(c, Use::Read, None, true, 29 * MIN)
                .unwrap_err(),
            Refused::Unknown
        );
    }

    #[test]
    fn sessions_end_after_their_lifetime_even_when_active() {
        let sessions = Sessions::new(15, 1);
        let opened = sessions.open("cred".into(), Some(7), "admin", 0, &Ids::random());
        for minute in (10..60).step_by(10) {
            assert!(sessions
                .resume(&opened.cookie, Use::Read, None, true, minute * MIN)
                .is_ok());
        }
        assert_eq!(
            sessions
                .resume(&opened.cookie, Use::Read, None, true, 60 * MIN)
                .unwrap_err(),
            Refused::Expired(Some(7))
        );
    }

    #[test]
    fn changes_need_the_csrf_token() {
        let sessions = Sessions::new(15, 12);
        let opened = sessions.open("cred".into(), None, "admin", 0, &Ids::random());
        let c = opened.cookie.as_str();
        assert_eq!(
            sessions.resume(c, Use::Change, None, true, 1).unwrap_err(),
            Refused::Csrf
        );
        assert_eq!(
            sessions
                .resume(c, Use::Change, Some("guess"), true, 1)
                .unwrap_err(),
            Refused::Csrf
        );
        let s = sessions
            .resume(c, Use::Change, Some(&opened.session.csrf), true, 1)
            .unwrap();
        assert_eq!(s.credential, "cred");
    }

    #[test]
    fn signing_in_drops_expired_sessions() {
        let sessions = Sessions::new(1, 12);
        sessions.open("a".into(), None, "admin", 0, &Ids::random());
        sessions.open("b".into(), None, "admin", 10 * MIN, &Ids::random());
        assert_eq!(sessions.len(), 1);
        let closed = sessions.close("not a cookie");
        assert!(closed.is_none());
    }
}

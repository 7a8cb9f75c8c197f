//! Retention and legal hold: each tenant's policy (how many days messages are kept), the holds
//! that keep what they cover regardless, and the sweep (`sweep.rs`) that removes what expired.

pub mod sweep;

use super::Service;
use crate::domain::{IdRef, TenantId, UserId};
use crate::error::{Error, Result};
use crate::store::legal_holds::{self, Hold, Target};
use crate::store::retention::{self as store, Policy};
use crate::store::{conversations, users};

pub use sweep::{Pruning, Sweep, SweepOptions, TenantSweep};

/// The longest retention accepted, in days (a century): beyond it "forever" (null) says it.
pub const MAX_MESSAGE_DAYS: i64 = 36_500;
/// The longest reason a hold may give, in characters.
pub const MAX_REASON: usize = 2_000;

/// What a new hold is placed on, as the client named it.
#[derive(Clone, Debug)]
pub enum HoldOn {
    Conversation(IdRef),
    User(IdRef),
}

pub const MILLIS_PER_DAY: i64 = 86_400_000;

fn check_days(days: Option<i64>) -> Result<()> {
    match days {
        Some(d) if !(1..=MAX_MESSAGE_DAYS).contains(&d) => Err(Error::invalid(
            "message_days",
            format!("must be between 1 and {MAX_MESSAGE_DAYS}, or null to keep messages forever"),
        )),
        _ => Ok(()),
    }
}

fn check_reason(reason: Option<String>) -> Result<String> {
    let reason = reason.map(|r| r.trim().to_string()).unwrap_or_default();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "is required: say why the hold is placed",
        ));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(Error::invalid(
            "reason",
            format!("must be at most {MAX_REASON} characters"),
        ));
    }
    Ok(reason)
}

impl Service {
    /// The tenant's retention policy (keep forever when it never set one).
    pub async fn retention_policy(&self, tenant: TenantId) -> Result<Policy> {
        self.store.read(move |c| store::policy(c, tenant)).await
    }

    /// Keeps the tenant's messages `days` days (None: forever). Takes effect at the next sweep.
    pub async fn set_retention(&self, tenant: TenantId, days: Option<i64>) -> Result<Policy> {
        check_days(days)?;
        let now = self.now();
        self.store
            .write(move |c| {
                store::set_message_days(c, tenant, days, now)?;
                store::policy(c, tenant)
            })
            .await
    }

    pub async fn legal_holds(&self, tenant: TenantId) -> Result<Vec<Hold>> {
        self.store.read(move |c| legal_holds::list(c, tenant)).await
    }

    /// Places a hold on one of the tenant's conversations (deleted ones too: their messages
    /// are still kept) or users. `by` None: the server admin.
    pub async fn place_legal_hold(
        &self,
        tenant: TenantId,
        on: HoldOn,
        reason: Option<String>,
        by: Option<UserId>,
    ) -> Result<Hold> {
        let reason = check_reason(reason)?;
        let now = self.now();
        self.store
            .write(move |c| {
                let target = match &on {
                    HoldOn::Conversation(r) => Target::Conversation(
                        conversations::find_including_deleted(c, tenant, r)
                            .map_err(|_| Error::invalid("conversation", "no such conversation"))?
                            .id,
                    ),
                    HoldOn::User(r) => Target::User(
                        users::find(c, tenant, r)
                            .map_err(|_| Error::invalid("user", "no such user"))?
                            .id,
                    ),
                };
                legal_holds::insert(c, tenant, target, &reason, by, now)
            })
            .await
    }

    /// Releases the tenant's hold `id`; the record stays. Releasing it twice is a conflict.
    pub async fn release_legal_hold(
        &self,
        tenant: TenantId,
        id: i64,
        by: Option<UserId>,
    ) -> Result<Hold> {
        let now = self.now();
        self.store
            .write(move |c| {
                let hold = legal_holds::get(c, tenant, id)?;
                if !legal_holds::release(c, hold.id, by, now)? {
                    return Err(Error::Conflict(
                        "this legal hold was already released".into(),
                    ));
                }
                legal_holds::get(c, tenant, id)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_reasons_are_checked() {
        assert!(check_days(None).is_ok());
        assert!(check_days(Some(1)).is_ok());
        assert!(check_days(Some(0)).is_err());
        assert!(check_days(Some(MAX_MESSAGE_DAYS + 1)).is_err());
        assert!(check_reason(Some("  ".into())).is_err());
        assert_eq!(
            check_reason(Some(" court order ".into())).unwrap(),
            "court order"
        );
    }
}

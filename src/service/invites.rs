//! Invites and password resets: a tenant admin hands a user a one-time, expiring link that
//! lets them set a password. The link's secret (256 bits) is shown once and stored as SHA-256,
//! like a token. A new link revokes the user's earlier unused ones. Unknown, used, expired and
//! revoked links are all the same "not found", so nothing can be learnt by probing.

use crate::audit;
use crate::auth::{password, secret};
use crate::domain::{IdRef, Role, Tenant, TenantId, User, UserId};
use crate::error::{Error, Result};
use crate::service::credentials::identify_user;
use crate::service::Service;
use crate::store::invites::{self, Invite};
use crate::store::{tenants, tokens, users};

const HOUR_MS: i64 = 3_600_000;
/// The longest a link may live: 30 days.
pub const MAX_HOURS: i64 = 720;

/// What a link is for: a first password, or a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "invite" => Ok(Purpose::Invite),
            "reset" => Ok(Purpose::Reset),
            _ => Err(Error::invalid("purpose", "must be \"invite\" or \"reset\"")),
        }
    }

    /// How long a link lives when the admin does not say: a patient may take a few days to
    /// get to an invite; a reset is asked for by someone waiting for it.
    fn default_hours(self) -> i64 {
        match self {
            Purpose::Invite => 72,
            Purpose::Reset => 24,
        }
    }
}

/// A link just made: the stored record, its secret (shown once), and its user.
pub struct Issued {
    pub invite: Invite,
    pub secret: String,
    pub user: User,
}

/// What the public page of a link may show before it is used.
pub struct Welcome {
    pub invite: Invite,
    pub user: User,
    pub tenant: Tenant,
}

fn gone() -> Error {
    Error::NotFound("invite")
}

impl Service {
    /// A new link for `user`. `purpose` defaults to an invite for a user without a password,
    /// a reset otherwise; `hours` to 72 for an invite, 24 for a reset.
    pub async fn issue_invite(
        &self,
        tenant: TenantId,
        user: IdRef,
        purpose: Option<Purpose>,
        hours: Option<i64>,
    ) -> Result<Issued> {
        audit::action("invite.issue");
        if let Some(h) = hours {
            if !(1..=MAX_HOURS).contains(&h) {
                return Err(Error::invalid(
                    "expires_in_hours",
                    format!("must be 1-{MAX_HOURS}"),
                ));
            }
        }
        let plain = self.ids.secret("");
        let hash = secret::digest(&plain);
        let now = self.now();
        let (invite, user) = self
            .store
            .write(move |c| {
                let user = users::find(c, tenant, &user)?;
                if user.username.is_none() {
                    return Err(Error::invalid(
                        "user",
                        "has no username to sign in with; give them one first",
                    ));
                }
                if matches!(user.role, Role::System | Role::Assistant) {
                    return Err(Error::invalid(
                        "user",
                        "is a machine user of the tenant and never signs in",
                    ));
                }
                let purpose = purpose.unwrap_or(if user.has_password {
                    Purpose::Reset
                } else {
                    Purpose::Invite
                });
                let hours = hours.unwrap_or(purpose.default_hours());
                let invite = invites::insert(
                    c,
                    &hash,
                    tenant,
                    user.id,
                    purpose.as_str(),
                    now,
                    now + hours * HOUR_MS,
                )?;
                Ok((invite, user))
            })
            .await?;
        Ok(Issued {
            invite,
            secret: plain,
            user,
        })
    }

    /// The live link `secret` names, with its user and tenant.
    pub async fn invite(&self, secret: String) -> Result<Welcome> {
        let now = self.now();
        let hash = secret::digest(&secret);
        self.store
            .read(move |c| {
                let invite = invites::live(c, &hash, now)?.ok_or_else(gone)?;
                let user = users::get(c, invite.tenant_id, invite.user_id)?;
                let tenant = tenants::get(c, invite.tenant_id)?;
                audit::tenant(invite.tenant_id);
                Ok(Welcome {
                    invite,
                    user,
                    tenant,
                })
            })
            .await
    }

    /// Uses the link: sets the user's password and marks the link used, in one write; on a
    /// reset, every token the user holds (so every session) is revoked in the same write.
    /// Only one use succeeds, however many arrive at once.
    pub async fn accept_invite(&self, secret: String, new_password: String) -> Result<User> {
        audit::action("invite.accept");
        password::check_strength("password", &new_password)?;
        // Refuse a dead link before paying for a hash. The link speaks for its user: the
        // entry, appended inside the write below, names them.
        let welcome = self.invite(secret.clone()).await?;
        identify_user(&welcome.user, format!("invite:{}", welcome.invite.id));
        let hashed = self.blocking(move || password::hash(&new_password)).await?;
        let digest = secret::digest(&secret);
        let now = self.now();
        let user = self
            .store
            .write(move |c| {
                let invite = invites::consume(c, &digest, now)?.ok_or_else(gone)?;
                audit::tenant(invite.tenant_id);
                users::set_password(c, invite.tenant_id, invite.user_id, &hashed, now)?;
                if invite.purpose == Purpose::Reset.as_str() {
                    tokens::revoke_all_of_user(c, invite.user_id, now)?;
                }
                // Any other link of theirs is moot now that they have a password.
                invites::revoke_unused(c, invite.user_id, now)?;
                users::get(c, invite.tenant_id, invite.user_id)
            })
            .await?;
        Ok(user)
    }

    /// The user `name` names: an id, uuid or oid, else a username (the CLI's `parlor invite`).
    pub async fn user_by_ref_or_username(&self, tenant: TenantId, name: String) -> Result<User> {
        let by_ref = match IdRef::parse(&name) {
            Some(r) => self.user(tenant, r).await,
            None => Err(Error::NotFound("user")),
        };
        match by_ref {
            Err(Error::NotFound(_)) => self
                .store
                .read(move |c| users::find_login(c, tenant, &name))
                .await?
                .map(|(user, _)| user)
                .ok_or(Error::NotFound("user")),
            other => other,
        }
    }

    /// When the user's outstanding link expires, if one is live.
    pub async fn outstanding_invite(&self, user: UserId) -> Result<Option<i64>> {
        let now = self.now();
        self.store
            .read(move |c| invites::outstanding(c, user, now))
            .await
    }
}

/// The link a user opens: the app's welcome page for `secret`, under `base`
/// (`scheme://host[:port][/prefix]`).
pub fn link(base: &str, secret: &str) -> String {
    format!("{}/app/#/welcome/{secret}", base.trim_end_matches('/'))
}

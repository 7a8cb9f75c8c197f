//! Turning presented credentials into principals.

use super::Service;
use crate::audit::{self, Actor};
use crate::auth::throttle::Admitted;
use crate::auth::{password, secret, Principal};
use crate::domain::{ApiKey, Role, TenantId, User};
use crate::error::{Error, Result};
use crate::store::{api_keys, settings, tokens, users};

/// Where the generated JWT signing secret is kept.
const JWT_SECRET_KEY: &str = "jwt_secret";

impl Service {
    /// Resolves a bearer token. Unknown, revoked and expired tokens are all "invalid token".
    /// Answered from memory while the directory is unchanged (`memo.rs`).
    pub async fn authenticate_bearer(&self, presented: String) -> Result<Principal> {
        let now = self.now();
        let digest = secret::digest(&presented);
        let version = self.store.directory_version();
        let lookup = || {
            let digest = digest.clone();
            self.store.read(move |c| {
                let invalid = || Error::Unauthenticated("invalid token".into());
                let (token, stored, user) =
                    tokens::find_by_hash(c, &digest)?.ok_or_else(invalid)?;
                if !secret::matches(&presented, &stored) || token.revoked_at.is_some() {
                    return Err(invalid());
                }
                let expires_at = token.expires_at;
                match (token.tenant_id, token.user_id) {
                    (Some(_), Some(_)) => {
                        // Read with the token: a user no longer in its tenant is no one.
                        let user = user.ok_or_else(invalid)?;
                        let user = Box::new(user);
                        Ok((Principal::User { user, token }, expires_at))
                    }
                    (None, None) => Ok((Principal::ServerAdmin, expires_at)),
                    _ => Err(invalid()),
                }
            })
        };
        let found = self
            .known
            .tokens
            .remember(digest.clone(), version, lookup)
            .await?;
        let principal = live(found, now)?;
        identify(&principal);
        Ok(principal)
    }

    /// Checks a username and password in a tenant (argon2, off the async workers). The same
    /// error whatever was wrong. Only the sign-in throttle admits a check.
    pub async fn login(
        &self,
        _admitted: Admitted,
        tenant: TenantId,
        username: String,
        plain: String,
    ) -> Result<User> {
        audit::action("sign_in");
        audit::tenant(tenant);
        let found = self
            .store
            .read(move |c| users::find_login(c, tenant, &username))
            .await?;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, None),
        };
        let ok = self
            .blocking(move || Ok(password::verify(&plain, hash.as_deref())))
            .await?;
        match user {
            Some(user) if ok => {
                identify_user(&user, "password".into());
                Ok(user)
            }
            _ => Err(Error::Unauthenticated(
                "invalid username or password".into(),
            )),
        }
    }

    /// A tenant's API key, given its public part and secret. Unknown keys, revoked keys and
    /// wrong secrets are the same refusal.
    pub async fn authenticate_api_key(&self, key: String, presented: String) -> Result<ApiKey> {
        let memo_key = secret::digest(&format!("key\0{key}\0{presented}"));
        let lookup = || {
            self.store
                .read(move |c| match api_keys::find_live_by_key(c, &key)? {
                    Some((api_key, stored)) if secret::matches(&presented, &stored) => Ok(api_key),
                    _ => Err(Error::Unauthenticated("invalid API key or secret".into())),
                })
        };
        self.known_key(memo_key, lookup).await
    }

    /// A tenant's API key given its secret alone (Trillet's `x-api-key`). Unknown and revoked
    /// secrets are the same refusal.
    pub async fn authenticate_api_secret(&self, presented: String) -> Result<ApiKey> {
        let digest = secret::digest(&presented);
        let memo_key = secret::digest(&format!("secret\0{presented}"));
        let lookup = || {
            self.store.read(move |c| {
                api_keys::find_live_by_secret(c, &digest)?
                    .ok_or_else(|| Error::Unauthenticated("invalid API key".into()))
            })
        };
        self.known_key(memo_key, lookup).await
    }

    /// An API key from memory or `lookup`, named as the caller in the audit trail.
    async fn known_key<Fut>(
        &self,
        memo_key: Vec<u8>,
        lookup: impl FnOnce() -> Fut,
    ) -> Result<ApiKey>
    where
        Fut: std::future::Future<Output = Result<ApiKey>>,
    {
        let api_key = self
            .known
            .api_keys
            .remember(memo_key, self.store.directory_version(), lookup)
            .await?;
        identify_key(&api_key);
        Ok(api_key)
    }

    /// The secret that signs JWTs: the configured one, else one generated on first start and
    /// kept in the database so that tokens outlive restarts.
    pub async fn jwt_secret(&self, configured: Option<String>) -> Result<String> {
        if let Some(s) = configured {
            return Ok(s);
        }
        // A signing key, not an id: always from the operating system, never from a seed.
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let fresh = hex::encode(key);
        self.store
            .write(move |c| settings::get_or_insert(c, JWT_SECRET_KEY, &fresh))
            .await
    }

    /// Checks a username and password when the tenant is not named: among the users (of `role`,
    /// when given) with that username in any tenant, the first whose password matches. The same error
    /// whatever was wrong. Only the sign-in throttle admits a check.
    pub async fn login_anywhere(
        &self,
        _admitted: Admitted,
        username: String,
        plain: String,
        role: Option<Role>,
    ) -> Result<User> {
        audit::action("sign_in");
        let candidates = self
            .store
            .read(move |c| users::find_logins_anywhere(c, &username, role))
            .await?;
        let found = self
            .blocking(move || {
                if candidates.is_empty() {
                    // The same work as a wrong password, so timing does not tell names apart.
                    password::verify(&plain, None);
                }
                Ok(candidates
                    .into_iter()
                    .find(|(_, hash)| password::verify(&plain, hash.as_deref())))
            })
            .await?;
        found
            .map(|(user, _)| {
                identify_user(&user, "password".into());
                user
            })
            .ok_or_else(|| Error::Unauthenticated("invalid username or password".into()))
    }
}

impl Service {
    /// The tenant a platform public key (Pigeons `X-PUBLIC-KEY`) names.
    pub async fn tenant_by_public_key(&self, key: String) -> Result<crate::domain::Tenant> {
        let memo_key = key.clone();
        let lookup = || {
            self.store.read(move |c| {
                crate::store::tenants::find_by_public_key(c, &key)
                    .map_err(|_| Error::Unauthenticated("invalid platform key".into()))
            })
        };
        self.known
            .public_keys
            .remember(memo_key, self.store.directory_version(), lookup)
            .await
    }
}

/// The audit trail's actor for a caller whose credential was accepted.
fn identify(principal: &Principal) {
    match principal {
        Principal::ServerAdmin => {
            audit::identify(Actor::ServerAdmin, Some("admin_token".into()), None)
        }
        Principal::User { user, token } => identify_user(user, format!("token:{}", token.id)),
    }
}

/// A user proved who they are with `credential` (never the secret itself).
pub fn identify_user(user: &User, credential: String) {
    audit::identify(
        Actor::User(user.id.0),
        Some(credential),
        Some(user.tenant_id),
    );
    if audit::is_patient(user.role) {
        audit::patient(user.id.0);
    }
}

fn identify_key(key: &ApiKey) {
    audit::identify(
        Actor::ApiKey(key.id),
        Some(format!("api_key:{}", key.id)),
        Some(key.tenant_id),
    );
}

/// A token found (in memory or in the database) lets its bearer in only until it expires.
fn live((principal, expires_at): (Principal, Option<i64>), now: i64) -> Result<Principal> {
    if expires_at.is_some_and(|e| e <= now) {
        return Err(Error::Unauthenticated("invalid token".into()));
    }
    Ok(principal)
}

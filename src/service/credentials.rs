//! Turning presented credentials into principals.

use super::Service;
use crate::auth::{password, secret, Principal};
use crate::domain::{Tenant, TenantId, User};
use crate::error::{Error, Result};
use crate::store::{api_keys, tenants, tokens, users};

impl Service {
    /// Resolves a bearer token. Unknown, revoked and expired tokens are all "invalid token".
    pub async fn authenticate_bearer(&self, presented: String) -> Result<Principal> {
        let now = self.now();
        self.store
            .read(move |c| {
                let invalid = || Error::Unauthenticated("invalid token".into());
                let (token, stored) =
                    tokens::find_by_hash(c, &secret::digest(&presented))?.ok_or_else(invalid)?;
                if !secret::matches(&presented, &stored)
                    || token.revoked_at.is_some()
                    || token.expires_at.is_some_and(|e| e <= now)
                {
                    return Err(invalid());
                }
                match (token.tenant_id, token.user_id) {
                    (Some(tenant), Some(user)) => {
                        let user = users::get(c, tenant, user).map_err(|_| invalid())?;
                        Ok(Principal::User {
                            user: Box::new(user),
                            token,
                        })
                    }
                    (None, None) => Ok(Principal::ServerAdmin),
                    _ => Err(invalid()),
                }
            })
            .await
    }

    /// Checks a username and password in a tenant (argon2, off the async workers). The same
    /// error whatever was wrong.
    pub async fn login(&self, tenant: TenantId, username: String, plain: String) -> Result<User> {
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
            Some(user) if ok => Ok(user),
            _ => Err(Error::Unauthenticated(
                "invalid username or password".into(),
            )),
        }
    }
}

impl Service {
    /// Resolves an API key presented with its secret (`x-api-key` + `x-api-secret` style) to
    /// its tenant. Unknown keys, wrong secrets and revoked keys are all "invalid API key"; the
    /// secret is compared in constant time, against a dummy digest when the key is unknown.
    pub async fn authenticate_api_key(&self, key: String, presented: String) -> Result<Tenant> {
        self.store
            .read(move |c| {
                let invalid = || Error::Unauthenticated("invalid API key".into());
                let found = api_keys::find_by_key(c, &key)?;
                let stored = found
                    .as_ref()
                    .map_or_else(|| secret::digest("\0no such key"), |(_, d)| d.clone());
                let matches = secret::matches(&presented, &stored);
                match found {
                    Some((api_key, _)) if matches && api_key.revoked_at.is_none() => {
                        tenants::get(c, api_key.tenant_id).map_err(|_| invalid())
                    }
                    _ => Err(invalid()),
                }
            })
            .await
    }
}

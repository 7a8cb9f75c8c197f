//! Bearer tokens: issued, registered, listed, revoked; the server admin's.

use crate::audit::{self, object};
use crate::auth::secret;
use crate::domain::{IdRef, TenantId, Token};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::store::{tokens, users};

impl Service {
    /// Issues a bearer token for a user (or, with no user and no tenant, a server-admin
    /// token). Returns the token record and its secret, which is shown once and never stored.
    pub async fn issue_token(
        &self,
        tenant: Option<TenantId>,
        user: Option<IdRef>,
        abilities: Vec<String>,
        label: Option<String>,
        ttl_ms: Option<i64>,
    ) -> Result<(Token, String)> {
        if abilities.is_empty() {
            return Err(Error::invalid(
                "abilities",
                "must name at least one ability (\"*\" for all)",
            ));
        }
        if let Some(bad) = abilities.iter().find(|a| a.is_empty() || a.len() > 64) {
            return Err(Error::invalid(
                "abilities",
                format!("\"{bad}\" is not a valid ability"),
            ));
        }
        let plain = self.ids.secret("plr_");
        let token = self
            .register_token(tenant, user, &plain, abilities, label, ttl_ms)
            .await?;
        Ok((token, plain))
    }

    /// Stores a token whose secret the caller chose (fixtures, the config's admin token).
    pub async fn register_token(
        &self,
        tenant: Option<TenantId>,
        user: Option<IdRef>,
        plain: &str,
        abilities: Vec<String>,
        label: Option<String>,
        ttl_ms: Option<i64>,
    ) -> Result<Token> {
        let hash = secret::digest(plain);
        let now = self.now();
        audit::action("token.issue");
        self.store
            .write(move |c| {
                let user_id =
                    match (&tenant, &user) {
                        (Some(t), Some(u)) => Some(users::find(c, *t, u)?.id),
                        (None, None) => None,
                        _ => return Err(Error::invalid(
                            "user",
                            "a token belongs to a user of a tenant, or to nobody (server admin)",
                        )),
                    };
                let id = tokens::insert(
                    c,
                    &tokens::NewToken {
                        hash: &hash,
                        tenant_id: tenant,
                        user_id,
                        abilities: &abilities,
                        label: label.as_deref(),
                        created_at: now,
                        expires_at: ttl_ms.map(|t| now + t),
                    },
                )?;
                audit::touch(object::TOKEN, id);
                tokens::get(c, id)
            })
            .await
    }

    pub async fn tokens_of(&self, tenant: TenantId, user: IdRef) -> Result<Vec<Token>> {
        self.store
            .read(move |c| {
                let u = users::find(c, tenant, &user)?;
                tokens::list_for_user(c, u.id)
            })
            .await
    }

    /// Revokes a token of the tenant (or any token, for the server admin: `tenant` None).
    pub async fn revoke_token(&self, tenant: Option<TenantId>, id: i64) -> Result<Token> {
        audit::action("token.revoke");
        let now = self.now();
        self.store
            .write(move |c| {
                let t = tokens::get(c, id)?;
                if tenant.is_some() && t.tenant_id != tenant {
                    return Err(Error::NotFound("token"));
                }
                audit::touch(object::TOKEN, id);
                tokens::revoke(c, id, now)?;
                tokens::get(c, id)
            })
            .await
    }
}

impl Service {
    /// Makes sure the server-admin token from the config is registered (idempotent).
    pub async fn ensure_server_admin_token(&self, plain: &str) -> Result<()> {
        let hash = secret::digest(plain);
        let now = self.now();
        self.store
            .write(move |c| {
                if tokens::find_by_hash(c, &hash)?.is_none() {
                    tokens::insert(
                        c,
                        &tokens::NewToken {
                            hash: &hash,
                            tenant_id: None,
                            user_id: None,
                            abilities: &["*".to_string()],
                            label: Some("server admin (config)"),
                            created_at: now,
                            expires_at: None,
                        },
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// `parlor init`: a new server-admin token; returns its secret (printed once).
    pub async fn create_server_admin_token(&self) -> Result<String> {
        let plain = self.ids.secret("plr_admin_");
        let hash = secret::digest(&plain);
        let now = self.now();
        self.store
            .write(move |c| {
                tokens::insert(
                    c,
                    &tokens::NewToken {
                        hash: &hash,
                        tenant_id: None,
                        user_id: None,
                        abilities: &["*".to_string()],
                        label: Some("server admin (parlor init)"),
                        created_at: now,
                        expires_at: None,
                    },
                )
            })
            .await?;
        Ok(plain)
    }
}

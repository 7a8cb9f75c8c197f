//! Tenants, users, tokens and API keys.

use rusqlite::Connection;

use super::{Service, MAX_PAGE};
use crate::auth::{password, secret};
use crate::domain::ids::{is_valid_text_id, new_oid, new_uuid};
use crate::domain::{ApiKey, IdRef, Role, Tenant, TenantId, Token, User, UserId};
use crate::error::{Error, Result};
use crate::store::{api_keys, tenants, tokens, users};

#[derive(Clone, Debug, Default)]
pub struct NewTenant {
    pub id: Option<i64>,
    pub uuid: Option<String>,
    pub name: String,
    pub public_key: Option<String>,
    pub workspace_id: Option<String>,
    pub utc_offset_minutes: i32,
}

#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub id: Option<i64>,
    pub uuid: Option<String>,
    pub oid: Option<String>,
    pub role: Option<Role>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub prefix: Option<String>,
    pub gender: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    pub specialty: Option<String>,
    pub external_id: Option<String>,
    pub birthdate: Option<String>,
    pub username: Option<String>,
    /// Plain text; hashed before it reaches the writer.
    pub password: Option<String>,
}

/// Checks a caller-chosen `uuid`/`oid`.
pub fn check_text_id(field: &str, id: &Option<String>) -> Result<()> {
    match id {
        Some(text) if !is_valid_text_id(text) => Err(Error::invalid(
            field,
            "must be 1-64 characters from A-Z, a-z, 0-9, '.', '_' and '-'",
        )),
        _ => Ok(()),
    }
}

/// The display name a user gets when none is given: first and last name, else the username,
/// else the role.
pub fn default_display_name(u: &NewUser) -> String {
    let joined = [u.first_name.as_deref(), u.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !joined.is_empty() {
        return joined;
    }
    u.username
        .clone()
        .unwrap_or_else(|| u.role.unwrap_or(Role::Participant).as_str().to_string())
}

/// Inserts a user row; `password_hash` is already computed. Runs inside a write.
pub fn insert_user(
    conn: &Connection,
    tenant: TenantId,
    u: &NewUser,
    password_hash: Option<String>,
    now: i64,
) -> Result<UserId> {
    users::insert(
        conn,
        &users::NewUser {
            id: u.id,
            uuid: u.uuid.clone().unwrap_or_else(new_uuid),
            oid: u.oid.clone().unwrap_or_else(|| new_oid(now)),
            tenant_id: tenant.0,
            role: u.role.unwrap_or(Role::Participant).as_str().to_string(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            display_name: u
                .display_name
                .clone()
                .unwrap_or_else(|| default_display_name(u)),
            prefix: u.prefix.clone(),
            gender: u.gender.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            avatar_url: u.avatar_url.clone(),
            specialty: u.specialty.clone(),
            external_id: u.external_id.clone(),
            birthdate: u.birthdate.clone(),
            username: u.username.clone(),
            password_hash,
            created_at: now,
        },
    )
}

/// Inserts a tenant and, unless `has_owner`/`has_assistant`, its owner (role admin) and
/// assistant users. Runs inside a write.
pub fn insert_tenant(
    conn: &Connection,
    t: &NewTenant,
    has_owner: bool,
    has_assistant: bool,
    now: i64,
) -> Result<TenantId> {
    let uuid = t.uuid.clone().unwrap_or_else(new_uuid);
    let id = tenants::insert(
        conn,
        &tenants::NewTenant {
            id: t.id,
            uuid: &uuid,
            name: &t.name,
            public_key: t.public_key.as_deref(),
            workspace_id: t.workspace_id.as_deref(),
            utc_offset_minutes: t.utc_offset_minutes,
            created_at: now,
        },
    )?;
    if !has_owner {
        let owner = NewUser {
            role: Some(Role::Admin),
            first_name: Some(t.name.clone()),
            last_name: Some("Admin".into()),
            ..NewUser::default()
        };
        let owner = insert_user(conn, id, &owner, None, now)?;
        tenants::set_owner(conn, id, owner)?;
    }
    if !has_assistant {
        let assistant = NewUser {
            role: Some(Role::Assistant),
            first_name: Some("Assistant".into()),
            ..NewUser::default()
        };
        let assistant = insert_user(conn, id, &assistant, None, now)?;
        tenants::set_assistant(conn, id, assistant)?;
    }
    Ok(id)
}

fn check_username(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 150 {
        return Err(Error::invalid("username", "must be 1-150 characters"));
    }
    Ok(())
}

fn check_new_user(u: &NewUser) -> Result<()> {
    check_text_id("uuid", &u.uuid)?;
    check_text_id("oid", &u.oid)?;
    if let Some(p) = &u.password {
        password::check_strength("password", p)?;
        if u.username.is_none() {
            return Err(Error::invalid(
                "username",
                "is required when a password is set",
            ));
        }
    }
    if let Some(name) = &u.username {
        check_username(name)?;
    }
    if matches!(&u.display_name, Some(d) if d.trim().is_empty()) {
        return Err(Error::invalid("display_name", "must not be blank"));
    }
    Ok(())
}

impl Service {
    pub async fn create_tenant(&self, t: NewTenant) -> Result<Tenant> {
        if t.name.trim().is_empty() {
            return Err(Error::invalid("name", "is required"));
        }
        check_text_id("uuid", &t.uuid)?;
        let now = self.now();
        self.store
            .write(move |c| {
                let id = insert_tenant(c, &t, false, false, now)?;
                tenants::get(c, id)
            })
            .await
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.store.read(tenants::list).await
    }

    pub async fn tenant(&self, id: TenantId) -> Result<Tenant> {
        self.store.read(move |c| tenants::get(c, id)).await
    }

    pub async fn find_tenant(&self, id: IdRef) -> Result<Tenant> {
        self.store.read(move |c| tenants::find(c, &id)).await
    }

    pub async fn create_user(&self, tenant: TenantId, u: NewUser) -> Result<User> {
        check_new_user(&u)?;
        let hash = match u.password.clone() {
            Some(p) => Some(self.blocking(move || password::hash(&p)).await?),
            None => None,
        };
        let now = self.now();
        self.store
            .write(move |c| {
                let id = insert_user(c, tenant, &u, hash, now)?;
                users::get(c, tenant, id)
            })
            .await
    }

    /// The tenant's user of `u.role` whose `external_id`, else whose email, matches `u`'s;
    /// created from `u` when there is none (single sign-on). Finding and creating happen in one
    /// write, so two sign-ins of a new user at once create one user. Returns the user and
    /// whether it was created.
    pub async fn find_or_create_user(&self, tenant: TenantId, u: NewUser) -> Result<(User, bool)> {
        check_new_user(&u)?;
        let role = u.role.unwrap_or(Role::Participant);
        if u.external_id.is_none() && u.email.is_none() {
            return Err(Error::invalid(
                "external_id",
                "an external id or an email is needed to find the user",
            ));
        }
        let now = self.now();
        self.store
            .write(move |c| {
                let by_external = match &u.external_id {
                    Some(x) => users::find_by(c, tenant, Some(role), users::Lookup::ExternalId, x)?,
                    None => None,
                };
                let found = match (by_external, &u.email) {
                    (Some(user), _) => Some(user),
                    (None, Some(email)) => {
                        users::find_by(c, tenant, Some(role), users::Lookup::Email, email)?
                    }
                    (None, None) => None,
                };
                if let Some(user) = found {
                    return Ok((user, false));
                }
                let id = insert_user(c, tenant, &u, None, now)?;
                Ok((users::get(c, tenant, id)?, true))
            })
            .await
    }

    /// A user together with their tenant, in one read.
    pub async fn user_and_tenant(&self, tenant: TenantId, id: UserId) -> Result<(Tenant, User)> {
        self.store
            .read(move |c| Ok((tenants::get(c, tenant)?, users::get(c, tenant, id)?)))
            .await
    }

    pub async fn user(&self, tenant: TenantId, id: IdRef) -> Result<User> {
        self.store.read(move |c| users::find(c, tenant, &id)).await
    }

    pub async fn users(
        &self,
        tenant: TenantId,
        role: Option<Role>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<User>> {
        // One more than a page: the caller uses the extra row to tell that another page exists.
        let limit = limit.min(MAX_PAGE + 1);
        self.store
            .read(move |c| users::list(c, tenant, role, after, limit))
            .await
    }

    pub async fn update_user(
        &self,
        tenant: TenantId,
        id: IdRef,
        change: users::ProfileChange,
        new_password: Option<String>,
    ) -> Result<User> {
        if let Some(p) = &new_password {
            password::check_strength("password", p)?;
        }
        if matches!(&change.display_name, Some(d) if d.trim().is_empty()) {
            return Err(Error::invalid("display_name", "must not be blank"));
        }
        if let Some(Some(name)) = &change.username {
            check_username(name)?;
        }
        let hash = match new_password {
            Some(p) => Some(self.blocking(move || password::hash(&p)).await?),
            None => None,
        };
        let now = self.now();
        self.store
            .write(move |c| {
                let user = users::find(c, tenant, &id)?;
                let username = match &change.username {
                    Some(new) => new.clone(),
                    None => user.username.clone(),
                };
                if username.is_none() && (hash.is_some() || user.has_password) {
                    return Err(Error::invalid(
                        "username",
                        "is required when a password is set",
                    ));
                }
                users::update_profile(c, tenant, user.id, &change, now)?;
                if let Some(h) = &hash {
                    users::set_password(c, tenant, user.id, h, now)?;
                }
                users::get(c, tenant, user.id)
            })
            .await
    }

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
        let plain = secret::generate("plr_");
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
        let now = self.now();
        self.store
            .write(move |c| {
                let t = tokens::get(c, id)?;
                if tenant.is_some() && t.tenant_id != tenant {
                    return Err(Error::NotFound("token"));
                }
                tokens::revoke(c, id, now)?;
                tokens::get(c, id)
            })
            .await
    }

    /// Creates an API key for the tenant; returns it with its secret (shown once).
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        label: Option<String>,
    ) -> Result<(ApiKey, String)> {
        let key = secret::generate("pk_")[..27].to_string();
        let plain = secret::generate("sk_");
        let key = self.register_api_key(tenant, key, &plain, label).await?;
        Ok((key, plain))
    }

    /// Stores an API key whose key and secret the caller chose (fixtures).
    pub async fn register_api_key(
        &self,
        tenant: TenantId,
        key: String,
        plain: &str,
        label: Option<String>,
    ) -> Result<ApiKey> {
        let hash = secret::digest(plain);
        let now = self.now();
        self.store
            .write(move |c| api_keys::insert(c, tenant, &key, &hash, label.as_deref(), now))
            .await
    }

    pub async fn api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>> {
        self.store.read(move |c| api_keys::list(c, tenant)).await
    }

    pub async fn revoke_api_key(&self, tenant: TenantId, id: i64) -> Result<ApiKey> {
        let now = self.now();
        self.store
            .write(move |c| api_keys::revoke(c, tenant, id, now))
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
        let plain = secret::generate("plr_admin_");
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

//! Users: their checks, creation, lookup, listing and profile changes.

use std::sync::Arc;

use rusqlite::Connection;

use super::check_text_id;
use crate::auth::password;
use crate::domain::Ids;
use crate::domain::{IdRef, Profile, Role, Tenant, TenantId, User, UserId};
use crate::error::{Error, Result};
use crate::service::{Service, MAX_PAGE};
use crate::store::users;

#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub id: Option<i64>,
    pub uuid: Option<String>,
    pub oid: Option<String>,
    pub role: Option<Role>,
    pub display_name: Option<String>,
    pub profile: Profile,
    pub external_id: Option<String>,
    pub username: Option<String>,
    /// Plain text; hashed before it reaches the writer.
    pub password: Option<String>,
}

/// The display name a user gets when none is given: first and last name, else the username,
/// else the role.
pub fn default_display_name(u: &NewUser) -> String {
    let joined = [
        u.profile.first_name.as_deref(),
        u.profile.last_name.as_deref(),
    ]
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
    ids: &Ids,
) -> Result<UserId> {
    users::insert(
        conn,
        &users::NewUser {
            id: u.id,
            uuid: u.uuid.clone().unwrap_or_else(|| ids.uuid(now)),
            oid: u.oid.clone().unwrap_or_else(|| ids.oid(now)),
            tenant_id: tenant.0,
            role: u.role.unwrap_or(Role::Participant).as_str().to_string(),
            display_name: u
                .display_name
                .clone()
                .unwrap_or_else(|| default_display_name(u)),
            profile: u.profile.clone(),
            external_id: u.external_id.clone(),
            username: u.username.clone(),
            password_hash,
            created_at: now,
        },
    )
}

pub(super) fn check_username(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 150 {
        return Err(Error::invalid("username", "must be 1-150 characters"));
    }
    Ok(())
}

pub(super) fn check_new_user(u: &NewUser) -> Result<()> {
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
    pub async fn create_user(&self, tenant: TenantId, u: NewUser) -> Result<User> {
        check_new_user(&u)?;
        let hash = match u.password.clone() {
            Some(p) => Some(self.blocking(move || password::hash(&p)).await?),
            None => None,
        };
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                let id = insert_user(c, tenant, &u, hash, now, &ids)?;
                users::get(c, tenant, id)
            })
            .await
    }

    /// A user together with their tenant, in one read.
    /// A user and their tenant (a JWT names both); from memory while the directory is
    /// unchanged (`memo.rs`).
    pub async fn user_and_tenant(&self, tenant: TenantId, id: UserId) -> Result<(Tenant, User)> {
        Ok((
            self.tenant(tenant).await?,
            self.user_by_id(tenant, id).await?,
        ))
    }

    /// A user of the tenant by id; from memory while the directory is unchanged (`memo.rs`).
    pub async fn user_by_id(&self, tenant: TenantId, id: UserId) -> Result<User> {
        let lookup = || async move {
            let user = self.store.read(move |c| users::get(c, tenant, id)).await?;
            Ok::<_, Error>(Arc::new(user))
        };
        let user = self
            .known
            .users
            .remember((tenant, id), self.store.directory_version(), lookup)
            .await?;
        Ok((*user).clone())
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
        if let Some(Some(language)) = &change.language {
            check_language(language)?;
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
}

/// A user's language is one the app and the e-mail notices are written in.
fn check_language(language: &str) -> Result<()> {
    if crate::domain::LANGUAGES.contains(&language) {
        return Ok(());
    }
    Err(Error::invalid(
        "language",
        format!(
            "must be one of {} (or null)",
            crate::domain::LANGUAGES.join(", ")
        ),
    ))
}

//! Tenants: created with their owner and assistant users, listed, found.

use rusqlite::Connection;

use super::check_text_id;
use super::users::{insert_user, NewUser};
use crate::domain::Ids;
use crate::domain::{IdRef, Profile, Role, Tenant, TenantId};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::store::tenants;

#[derive(Clone, Debug, Default)]
pub struct NewTenant {
    pub id: Option<i64>,
    pub uuid: Option<String>,
    pub name: String,
    pub public_key: Option<String>,
    pub workspace_id: Option<String>,
    pub utc_offset_minutes: i32,
}

/// Inserts a tenant and, unless `has_owner`/`has_assistant`, its owner (role admin) and
/// assistant users. Runs inside a write.
pub fn insert_tenant(
    conn: &Connection,
    t: &NewTenant,
    has_owner: bool,
    has_assistant: bool,
    now: i64,
    ids: &Ids,
) -> Result<TenantId> {
    let uuid = t.uuid.clone().unwrap_or_else(|| ids.uuid(now));
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
            profile: Profile {
                first_name: Some(t.name.clone()),
                last_name: Some("Admin".into()),
                ..Profile::default()
            },
            ..NewUser::default()
        };
        let owner = insert_user(conn, id, &owner, None, now, ids)?;
        tenants::set_owner(conn, id, owner)?;
    }
    if !has_assistant {
        let assistant = NewUser {
            role: Some(Role::Assistant),
            profile: Profile {
                first_name: Some("Assistant".into()),
                ..Profile::default()
            },
            ..NewUser::default()
        };
        let assistant = insert_user(conn, id, &assistant, None, now, ids)?;
        tenants::set_assistant(conn, id, assistant)?;
    }
    Ok(id)
}

impl Service {
    pub async fn create_tenant(&self, t: NewTenant) -> Result<Tenant> {
        if t.name.trim().is_empty() {
            return Err(Error::invalid("name", "is required"));
        }
        check_text_id("uuid", &t.uuid)?;
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                let id = insert_tenant(c, &t, false, false, now, &ids)?;
                tenants::get(c, id)
            })
            .await
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.store.read(tenants::list).await
    }

    /// A tenant by id; from memory while the directory is unchanged (`memo.rs`): every
    /// face's caller needs their tenant.
    pub async fn tenant(&self, id: TenantId) -> Result<Tenant> {
        let lookup = || self.store.read(move |c| tenants::get(c, id));
        self.known
            .tenants
            .remember(id, self.store.directory_version(), lookup)
            .await
    }

    pub async fn find_tenant(&self, id: IdRef) -> Result<Tenant> {
        self.store.read(move |c| tenants::find(c, &id)).await
    }
}

//! The tenant's owner: the admin account that partner APIs act as (Respondent's "API owner").
//! Tenants get one when they are created; a tenant that has lost it gets a new one on first use.

use super::directory::{insert_user, NewUser};
use super::Service;
use crate::domain::{Profile, Role, Tenant, User};
use crate::error::Result;
use crate::store::{tenants, users};

impl Service {
    /// The tenant's owner, created (role `admin`, named after the tenant) when it has none.
    pub async fn tenant_owner(&self, tenant: &Tenant) -> Result<User> {
        if let Some(owner) = tenant.owner_id {
            if let Ok(user) = self.user_by_id(tenant.id, owner).await {
                return Ok(user);
            }
        }
        let id = tenant.id;
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                // Another request may have created it since the read above.
                let current = tenants::get(c, id)?;
                if let Some(user) = current
                    .owner_id
                    .and_then(|owner| users::get(c, id, owner).ok())
                {
                    return Ok(user);
                }
                let owner = insert_user(c, id, &owner_profile(&current), None, now, &ids)?;
                tenants::set_owner(c, id, owner)?;
                users::get(c, id, owner)
            })
            .await
    }
}

/// What a new owner looks like: as `directory::insert_tenant` makes them.
fn owner_profile(tenant: &Tenant) -> NewUser {
    NewUser {
        role: Some(Role::Admin),
        profile: Profile {
            first_name: Some(tenant.name.clone()),
            last_name: Some("Admin".into()),
            ..Profile::default()
        },
        ..NewUser::default()
    }
}

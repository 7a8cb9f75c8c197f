//! Single sign-on: the user a sign-in names, found or created in one write.

use super::users::{check_new_user, insert_user, NewUser};
use crate::domain::{Role, TenantId, User};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::store::users;

impl Service {
    /// The tenant's user of `u.role` whose `external_id`, else whose email, matches `u`'s;
    /// created from `u` when there is none (single sign-on). Finding and creating happen in one
    /// write, so two sign-ins of a new user at once create one user. Returns the user and
    /// whether it was created.
    pub async fn find_or_create_user(&self, tenant: TenantId, u: NewUser) -> Result<(User, bool)> {
        check_new_user(&u)?;
        let role = u.role.unwrap_or(Role::Participant);
        if u.external_id.is_none() && u.profile.email.is_none() {
            return Err(Error::invalid(
                "external_id",
                "an external id or an email is needed to find the user",
            ));
        }
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                let by_external = match &u.external_id {
                    Some(x) => users::find_by(c, tenant, Some(role), users::Lookup::ExternalId, x)?,
                    None => None,
                };
                let found = match (by_external, &u.profile.email) {
                    (Some(user), _) => Some(user),
                    (None, Some(email)) => {
                        users::find_by(c, tenant, Some(role), users::Lookup::Email, email)?
                    }
                    (None, None) => None,
                };
                if let Some(user) = found {
                    return Ok((user, false));
                }
                let id = insert_user(c, tenant, &u, None, now, &ids)?;
                Ok((users::get(c, tenant, id)?, true))
            })
            .await
    }
}

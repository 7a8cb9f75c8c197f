//! Push-notification device tokens: one per user and platform.

use serde_json::Value;

use super::Service;
use crate::domain::{TenantId, UserId};
use crate::error::{Error, Result};
use crate::store::push_devices::{self, PushDevice};
use crate::store::users;

impl Service {
    /// Registers a device token for `user` on `platform`, replacing the one they had there.
    pub async fn register_push_device(
        &self,
        tenant: TenantId,
        user: UserId,
        token: String,
        platform: String,
        device: Option<Value>,
    ) -> Result<PushDevice> {
        if token.trim().is_empty() {
            return Err(Error::invalid("token", "must not be empty"));
        }
        if platform.trim().is_empty() {
            return Err(Error::invalid("platform", "must not be empty"));
        }
        let now = self.now();
        self.store
            .write(move |c| {
                users::get(c, tenant, user)?;
                let device = device.as_ref().map(Value::to_string);
                push_devices::upsert(c, tenant, user, &token, &platform, device.as_deref(), now)
            })
            .await
    }

    /// Forgets `user`'s registrations of `token`; removing an unknown token is not an error.
    pub async fn remove_push_device(
        &self,
        tenant: TenantId,
        user: UserId,
        token: String,
    ) -> Result<usize> {
        self.store
            .write(move |c| push_devices::delete_token(c, tenant, user, &token))
            .await
    }
}

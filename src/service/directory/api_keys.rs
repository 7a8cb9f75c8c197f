//! A tenant's API keys: created, registered, listed, revoked.

use crate::audit::{self, object};
use crate::auth::secret;
use crate::domain::{ApiKey, TenantId};
use crate::error::Result;
use crate::service::Service;
use crate::store::api_keys;

impl Service {
    /// Creates an API key for the tenant; returns it with its secret (shown once).
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        label: Option<String>,
    ) -> Result<(ApiKey, String)> {
        let key = self.ids.secret("pk_")[..27].to_string();
        let plain = self.ids.secret("sk_");
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
        audit::action("api_key.issue");
        self.store
            .write(move |c| {
                let key = api_keys::insert(c, tenant, &key, &hash, label.as_deref(), now)?;
                audit::touch(object::API_KEY, key.id);
                Ok(key)
            })
            .await
    }

    pub async fn api_keys(&self, tenant: TenantId) -> Result<Vec<ApiKey>> {
        self.store.read(move |c| api_keys::list(c, tenant)).await
    }

    pub async fn revoke_api_key(&self, tenant: TenantId, id: i64) -> Result<ApiKey> {
        let now = self.now();
        audit::action("api_key.revoke");
        self.store
            .write(move |c| {
                audit::touch(object::API_KEY, id);
                api_keys::revoke(c, tenant, id, now)
            })
            .await
    }
}

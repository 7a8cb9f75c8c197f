//! Reading the audit trail: pages for the API and the admin page, the whole chain for
//! `parlor audit verify`, runs of entries for `parlor audit export`. Nothing here changes an
//! entry: the trail has no update or delete but its own retention (`store::audit::prune`).

use std::collections::HashMap;

use super::Service;
use crate::audit::{Actor, Recorded};
use crate::domain::TenantId;
use crate::error::Result;
use crate::store::audit::{self, Filter, Verdict};
use crate::store::{api_keys, users};

/// A page of entries and the names of the people and keys they mention.
pub struct AuditPage {
    pub entries: Vec<Recorded>,
    /// Display names of the users among the actors and patients of `entries`.
    pub users: HashMap<i64, String>,
    /// Labels of the API keys among the actors.
    pub keys: HashMap<i64, String>,
    pub more: bool,
}

impl Service {
    /// Entries matching `filter`, newest first, with the names they mention (of `tenant`).
    pub async fn audit_page(
        &self,
        tenant: TenantId,
        mut filter: Filter,
        limit: u32,
    ) -> Result<AuditPage> {
        filter.tenant = Some(tenant);
        self.store
            .read(move |c| {
                let mut entries = audit::page(c, &filter, false, limit as usize + 1)?;
                let more = entries.len() > limit as usize;
                entries.truncate(limit as usize);
                let mut user_ids: Vec<crate::domain::UserId> = Vec::new();
                let mut key_ids = Vec::new();
                for r in &entries {
                    match r.entry.actor {
                        Actor::User(id) => user_ids.push(crate::domain::UserId(id)),
                        Actor::ApiKey(id) => key_ids.push(id),
                        _ => {}
                    }
                    user_ids.extend(r.entry.patients.iter().map(|p| crate::domain::UserId(*p)));
                }
                user_ids.sort_unstable_by_key(|u| u.0);
                user_ids.dedup();
                let users = users::by_ids(c, tenant, &user_ids)?
                    .into_iter()
                    .map(|u| (u.id.0, u.display_name))
                    .collect();
                let keys = api_keys::list(c, tenant)?
                    .into_iter()
                    .filter(|k| key_ids.contains(&k.id))
                    .map(|k| (k.id, k.label.unwrap_or(k.key)))
                    .collect();
                Ok(AuditPage {
                    entries,
                    users,
                    keys,
                    more,
                })
            })
            .await
    }

    /// Walks the whole chain (`parlor audit verify`).
    pub async fn audit_verify(&self) -> Result<Verdict> {
        self.store.read(audit::verify).await
    }

    /// The next run of entries matching `filter`, oldest first, after `after`.
    pub async fn audit_run(
        &self,
        mut filter: Filter,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Recorded>> {
        filter.after = Some(after);
        self.store
            .read(move |c| audit::page(c, &filter, true, limit))
            .await
    }
}

//! The admin page's inbox search: the tenant's conversations filtered by a participant's name.

use super::conversations::{members_of, Listing};
use super::{decode_cursor, encode_cursor, Page, Service};
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::store::search;

/// Longest accepted search text, in characters.
const MAX_SEARCH: usize = 100;

impl Service {
    /// Like `conversations_of_tenant`, only conversations with a participant named like `text`.
    pub async fn search_conversations_of_tenant(
        &self,
        tenant: TenantId,
        text: String,
        before: Option<String>,
        limit: u32,
    ) -> Result<Page<Listing>> {
        let text = text.trim().to_string();
        if text.chars().count() > MAX_SEARCH {
            return Err(Error::invalid(
                "q",
                format!("must be at most {MAX_SEARCH} characters"),
            ));
        }
        let cursor = before.map(|b| decode_cursor("before", &b)).transpose()?;
        self.store
            .read(move |c| {
                let mut convs = search::search_for_tenant(c, tenant, &text, cursor, limit + 1)?;
                let more = convs.len() > limit as usize;
                convs.truncate(limit as usize);
                let next = convs.last().filter(|_| more).map(|conv| {
                    encode_cursor(conv.last_message.as_ref().map_or(0, |m| m.at), conv.id.0)
                });
                let mut items = Vec::with_capacity(convs.len());
                for conversation in convs {
                    let members = members_of(c, tenant, conversation.id)?;
                    items.push(Listing {
                        conversation,
                        me: None,
                        members,
                    });
                }
                Ok(Page { items, next })
            })
            .await
    }
}

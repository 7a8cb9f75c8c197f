//! A tenant's whole inbox the way partner APIs page it (Respondent): every live conversation,
//! or every message, of the tenant, filtered on conversation metadata, offset-paged, and each
//! conversation shown in full — members with their read state, every message, the people who
//! sent them — as one viewer (the tenant's owner) sees it.

use std::collections::HashMap;

use rusqlite::Connection;

use super::conversations::{listings, Listing};
use super::memo::People;
use super::messages::NewMessage;
use super::Service;
use crate::domain::ids::is_valid_text_id;
use crate::domain::{Conversation, ConversationId, IdRef, Message, TenantId, User, UserId};
use crate::error::{Error, Result};
use crate::store::{conversations, messages, users};

/// Which slice of a list to read: `limit` rows after skipping `offset`; with `with_total`, also
/// how many rows there are in all.
#[derive(Clone, Copy, Debug)]
pub struct Offset {
    pub offset: i64,
    pub limit: u32,
    pub with_total: bool,
}

/// One offset page.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsetPage<T> {
    pub items: Vec<T>,
    /// Every matching row, when asked for.
    pub total: Option<i64>,
}

/// A conversation with everything shown about it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationInFull {
    /// `me` is the viewer's membership, when the viewer is a member.
    pub listing: Listing,
    /// Every live message, oldest first.
    pub messages: Vec<Message>,
    /// The members and everyone who sent one of `messages`.
    pub people: Vec<User>,
}

impl ConversationInFull {
    pub fn person(&self, id: UserId) -> Option<&User> {
        self.people.iter().find(|u| u.id == id)
    }
}

/// A page of messages with the conversations they belong to and the people who sent them.
#[derive(Clone, Debug, PartialEq)]
pub struct MessagePage {
    /// Newest first.
    pub messages: Vec<Message>,
    /// Each conversation of `messages`, once, with the viewer's membership.
    pub conversations: Vec<Listing>,
    pub senders: Vec<User>,
    pub total: Option<i64>,
}

impl MessagePage {
    pub fn conversation(&self, id: ConversationId) -> Option<&Listing> {
        self.conversations.iter().find(|l| l.conversation.id == id)
    }

    pub fn sender(&self, id: UserId) -> Option<&User> {
        self.senders.iter().find(|u| u.id == id)
    }
}

/// `conversations` as `viewer` sees them, the members of all of them read in one query.
fn listings_of(
    c: &Connection,
    tenant: TenantId,
    conversations: Vec<Conversation>,
    viewer: UserId,
    people: &People,
) -> Result<Vec<Listing>> {
    let rows = conversations.into_iter().map(|conv| (conv, None)).collect();
    listings(c, tenant, rows, Some(viewer), Some(people))
}

/// Adds to `people` each sender of `messages` not yet in it (people who have left included).
fn add_senders(
    c: &Connection,
    tenant: TenantId,
    messages: &[Message],
    people: &mut Vec<User>,
) -> Result<()> {
    let mut missing: Vec<UserId> = Vec::new();
    for m in messages {
        if people.iter().any(|u| u.id == m.sender_id) || missing.contains(&m.sender_id) {
            continue;
        }
        match users::get(c, tenant, m.sender_id) {
            Ok(user) => people.push(user),
            // A sender outside the tenant cannot be shown; the message still is.
            Err(Error::NotFound(_)) => missing.push(m.sender_id),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn in_full(c: &Connection, tenant: TenantId, listing: Listing) -> Result<ConversationInFull> {
    let messages = messages::all_of(c, listing.conversation.id)?;
    let mut people: Vec<User> = listing.members.iter().map(|m| (*m.user).clone()).collect();
    add_senders(c, tenant, &messages, &mut people)?;
    Ok(ConversationInFull {
        listing,
        messages,
        people,
    })
}

impl Service {
    /// A page of the tenant's live conversations whose metadata holds every `(key, value)` of
    /// `metadata`, newest activity first (starting a conversation is activity), each in full as
    /// `viewer` sees it.
    pub async fn conversations_by_metadata(
        &self,
        tenant: TenantId,
        viewer: UserId,
        metadata: Vec<(String, String)>,
        page: Offset,
    ) -> Result<OffsetPage<ConversationInFull>> {
        let people = self.people();
        self.store
            .read(move |c| {
                let found =
                    conversations::list_by_metadata(c, tenant, &metadata, page.offset, page.limit)?;
                let items = listings_of(c, tenant, found, viewer, &people)?
                    .into_iter()
                    .map(|listing| in_full(c, tenant, listing))
                    .collect::<Result<_>>()?;
                let total = page
                    .with_total
                    .then(|| conversations::count_by_metadata(c, tenant, &metadata))
                    .transpose()?;
                Ok(OffsetPage { items, total })
            })
            .await
    }

    /// One live conversation in full as `viewer` sees it.
    pub async fn conversation_in_full(
        &self,
        tenant: TenantId,
        id: IdRef,
        viewer: UserId,
    ) -> Result<ConversationInFull> {
        let people = self.people();
        self.store
            .read(move |c| {
                let conv = conversations::find(c, tenant, &id)?;
                let listing = listings_of(c, tenant, vec![conv], viewer, &people)?.remove(0);
                in_full(c, tenant, listing)
            })
            .await
    }

    /// A page of the tenant's live messages matching `filter`, newest first.
    pub async fn messages_of_tenant(
        &self,
        tenant: TenantId,
        viewer: UserId,
        filter: messages::TenantFilter,
        page: Offset,
    ) -> Result<MessagePage> {
        let people = self.people();
        self.store
            .read(move |c| {
                let found = messages::list_for_tenant(c, tenant, &filter, page.offset, page.limit)?;
                let mut convs: Vec<Conversation> = Vec::new();
                for m in &found {
                    if !convs.iter().any(|conv| conv.id == m.conversation_id) {
                        convs.push(conversations::get(c, tenant, m.conversation_id)?);
                    }
                }
                let conversations_out = listings_of(c, tenant, convs, viewer, &people)?;
                let mut senders = Vec::new();
                add_senders(c, tenant, &found, &mut senders)?;
                let total = page
                    .with_total
                    .then(|| messages::count_for_tenant(c, tenant, &filter))
                    .transpose()?;
                Ok(MessagePage {
                    messages: found,
                    conversations: conversations_out,
                    senders,
                    total,
                })
            })
            .await
    }

    /// The users named by ids from the vendor's other systems: a user's `external_id`, else
    /// their `oid` or `uuid`. None for each id that names nobody in the tenant.
    pub async fn users_by_foreign_ids(
        &self,
        tenant: TenantId,
        foreign_ids: Vec<String>,
    ) -> Result<Vec<Option<User>>> {
        self.store
            .read(move |c| {
                let mut found: HashMap<&str, Option<User>> = HashMap::new();
                for id in &foreign_ids {
                    if found.contains_key(id.as_str()) {
                        continue;
                    }
                    let user = match users::find_by(c, tenant, None, users::Lookup::ExternalId, id)?
                    {
                        Some(user) => Some(user),
                        None if is_valid_text_id(id) => {
                            match users::find(c, tenant, &IdRef::Key(id.clone())) {
                                Ok(user) => Some(user),
                                Err(Error::NotFound(_)) => None,
                                Err(e) => return Err(e),
                            }
                        }
                        None => None,
                    };
                    found.insert(id, user);
                }
                Ok(foreign_ids
                    .iter()
                    .map(|id| found.get(id.as_str()).cloned().flatten())
                    .collect())
            })
            .await
    }

    /// Sends like `send_message`, except that a conversation that was deleted is Forbidden
    /// ("the conversation is deleted") rather than not found, for APIs that tell the two apart.
    pub async fn send_message_forbidding_deleted(
        &self,
        tenant: TenantId,
        conv: IdRef,
        sender: UserId,
        new: NewMessage,
    ) -> Result<Message> {
        match self.send_message(tenant, conv.clone(), sender, new).await {
            Err(Error::NotFound("conversation")) => {
                let deleted = self
                    .store
                    .read(
                        move |c| match conversations::find_including_deleted(c, tenant, &conv) {
                            Ok(found) => Ok(found.deleted),
                            Err(Error::NotFound(_)) => Ok(false),
                            Err(e) => Err(e),
                        },
                    )
                    .await?;
                Err(if deleted {
                    Error::forbidden("the conversation is deleted")
                } else {
                    Error::NotFound("conversation")
                })
            }
            other => other,
        }
    }
}

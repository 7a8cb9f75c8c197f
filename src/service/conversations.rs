//! Conversations and their participants.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::events::{self, Kind};
use super::memo::People;
use super::{decode_cursor, encode_cursor, read_state, search, Page, Service};
use crate::domain::Ids;
use crate::domain::{
    Conversation, ConversationId, ConversationStatus, IdRef, Participant, Tag, TenantId, User,
    UserId,
};
use crate::error::{Error, Result};
use crate::store::search as store_search;
use crate::store::{conversations, participants, users};

#[derive(Clone, Debug, Default)]
pub struct NewConversation {
    pub name: Option<String>,
    /// Everyone who takes part, the creator included.
    pub participants: Vec<IdRef>,
    pub created_by: Option<UserId>,
    pub metadata: Option<Value>,
    pub tag: Option<Tag>,
    /// Trillet: the flow, its agent and the customer it reaches.
    pub flow_id: Option<i64>,
    pub agent_id: Option<UserId>,
    pub customer_id: Option<UserId>,
}

#[derive(Clone, Debug, Default)]
pub struct ConversationChange {
    pub name: Option<Option<String>>,
    pub archived: Option<bool>,
    pub locked: Option<bool>,
}

/// A participant with the user behind it. The user is shared: a page names the same few users
/// in many conversations.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub participant: Participant,
    pub user: Arc<User>,
}

/// A conversation in a list: the viewer's own membership (when the viewer is a participant)
/// and every member with their read state.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    pub conversation: Conversation,
    pub me: Option<Participant>,
    pub members: Vec<Member>,
}

/// Everyone in the conversation with their read state, in joining order. Runs inside a read.
pub fn members_of(
    c: &rusqlite::Connection,
    tenant: TenantId,
    conv: ConversationId,
    people: Option<&People>,
) -> Result<Vec<Member>> {
    Ok(members_by_conversation(c, tenant, &[conv], people)?
        .pop()
        .unwrap_or_default())
}

/// The members of each of `convs` (in the same order), each list in joining order: one
/// statement for the participants of the whole page and one for their users, each user read
/// once however many of the page's conversations they are in, and not at all when `people`
/// (given only outside writes: a write may have just changed a user) already knows them. A
/// participant whose user is not of the tenant is no member. Runs inside a read.
fn members_by_conversation(
    c: &rusqlite::Connection,
    tenant: TenantId,
    convs: &[ConversationId],
    people: Option<&People>,
) -> Result<Vec<Vec<Member>>> {
    let participants = participants::of_conversations(c, convs)?;
    let mut ids: Vec<UserId> = participants.iter().map(|p| p.user_id).collect();
    ids.sort_unstable_by_key(|u| u.0);
    ids.dedup();
    let mut users: HashMap<UserId, Arc<User>> = HashMap::with_capacity(ids.len());
    ids.retain(|id| match people.and_then(|p| p.known(tenant, *id)) {
        Some(user) => {
            users.insert(*id, user);
            false
        }
        None => true,
    });
    for user in users::by_ids(c, tenant, &ids)? {
        let user = Arc::new(user);
        if let Some(people) = people {
            people.learn(user.clone());
        }
        users.insert(user.id, user);
    }
    let mut out: Vec<Vec<Member>> = vec![Vec::new(); convs.len()];
    for participant in participants {
        let (Some(i), Some(user)) = (
            convs
                .iter()
                .position(|id| *id == participant.conversation_id),
            users.get(&participant.user_id),
        ) else {
            continue;
        };
        out[i].push(Member {
            participant,
            user: user.clone(),
        });
    }
    for (conv, members) in convs.iter().zip(&mut out) {
        members.sort_by_key(|m| (m.participant.joined_at, m.participant.user_id.0));
        crate::audit::conversation_with(conv.0, members.iter().map(|m| (m.user.id.0, m.user.role)));
    }
    Ok(out)
}

/// Each of `rows` as a listing: its members (one query for the whole page) and the viewer's
/// own membership, as given or else found among the members of `viewer`. Runs inside a read.
pub(crate) fn listings(
    c: &rusqlite::Connection,
    tenant: TenantId,
    rows: Vec<(Conversation, Option<Participant>)>,
    viewer: Option<UserId>,
    people: Option<&People>,
) -> Result<Vec<Listing>> {
    let ids: Vec<ConversationId> = rows.iter().map(|(conv, _)| conv.id).collect();
    let members = members_by_conversation(c, tenant, &ids, people)?;
    Ok(rows
        .into_iter()
        .zip(members)
        .map(|((conversation, me), members)| {
            let me = me.or_else(|| {
                let v = viewer?;
                members
                    .iter()
                    .find(|m| m.user.id == v)
                    .map(|m| m.participant.clone())
            });
            Listing {
                conversation,
                me,
                members,
            }
        })
        .collect())
}

/// Whose conversations a page lists.
#[derive(Clone, Debug)]
pub enum Scope {
    /// One user's, each with their own read state, by their last activity.
    User(UserId),
    /// Every conversation of the tenant, by last activity (for admins).
    Tenant,
    /// The tenant's conversations with a participant named like the text (the inbox search).
    Search(String),
    /// One user's conversations with someone else named like the text, as `User` lists them
    /// (the clinic's app's inbox search).
    UserSearch(UserId, String),
}

pub const MAX_NAME: usize = 200;

fn check_name(name: &Option<String>) -> Result<()> {
    match name {
        Some(n) if n.chars().count() > MAX_NAME => Err(Error::invalid(
            "name",
            format!("must be at most {MAX_NAME} characters"),
        )),
        _ => Ok(()),
    }
}

/// Inserts a conversation with its participants, each starting with nothing unread. The
/// caller has checked `new`. Runs inside a write.
pub(crate) fn insert_conversation(
    c: &rusqlite::Connection,
    tenant: TenantId,
    new: &NewConversation,
    now: i64,
    ids: &Ids,
) -> Result<Conversation> {
    let mut members: Vec<UserId> = Vec::new();
    for (i, r) in new.participants.iter().enumerate() {
        let user = users::find(c, tenant, r)
            .map_err(|_| Error::invalid(format!("participants[{i}]"), "no such user"))?;
        if !members.contains(&user.id) {
            members.push(user.id);
        }
    }
    let id = conversations::insert(
        c,
        &conversations::NewConversation {
            uuid: ids.uuid(now),
            oid: ids.oid(now),
            tenant_id: tenant.0,
            name: new.name.clone(),
            status: ConversationStatus::Active.as_str().into(),
            tag: new.tag.clone(),
            metadata: new
                .metadata
                .clone()
                .unwrap_or_else(|| Value::Object(Default::default())),
            created_by: new.created_by.map(|u| u.0),
            flow_id: new.flow_id,
            agent_id: new.agent_id.map(|u| u.0),
            customer_id: new.customer_id.map(|u| u.0),
            created_at: now,
            updated_at: now,
            ..Default::default()
        },
    )?;
    let conv = conversations::get(c, tenant, id)?;
    for user in members {
        read_state::on_join(c, &conv, user, now, false)?;
    }
    events::record(
        c,
        tenant,
        Kind::ConversationCreated,
        now,
        conv.id,
        None,
        None,
    )?;
    Ok(conv)
}

/// Renames, archives or unarchives, locks or unlocks `conv`; returns it as changed. The caller
/// has checked `change`. Runs inside a write.
pub(crate) fn apply_change(
    c: &rusqlite::Connection,
    tenant: TenantId,
    conv: &Conversation,
    change: &ConversationChange,
    now: i64,
) -> Result<Conversation> {
    let status = change.archived.map(|archived| {
        if archived {
            (
                ConversationStatus::Archived,
                Some(conv.archived_at.unwrap_or(now)),
            )
        } else {
            (ConversationStatus::Active, None)
        }
    });
    conversations::update(
        c,
        conv.id,
        &conversations::Change {
            name: change.name.clone(),
            status,
            locked: change.locked,
        },
        now,
    )?;
    let kind = if change.archived == Some(true) && conv.archived_at.is_none() {
        Kind::ConversationArchived
    } else {
        Kind::ConversationUpdated
    };
    events::record(c, tenant, kind, now, conv.id, None, None)?;
    conversations::get(c, tenant, conv.id)
}

impl Service {
    pub async fn create_conversation(
        &self,
        tenant: TenantId,
        new: NewConversation,
    ) -> Result<Conversation> {
        check_name(&new.name)?;
        if new.participants.is_empty() {
            return Err(Error::invalid(
                "participants",
                "must name at least one user",
            ));
        }
        if matches!(&new.metadata, Some(m) if !m.is_object()) {
            return Err(Error::invalid("metadata", "must be a JSON object"));
        }
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| insert_conversation(c, tenant, &new, now, &ids))
            .await
    }

    pub async fn conversation(&self, tenant: TenantId, id: IdRef) -> Result<Conversation> {
        self.store
            .read(move |c| conversations::find(c, tenant, &id))
            .await
    }

    pub async fn update_conversation(
        &self,
        tenant: TenantId,
        id: IdRef,
        change: ConversationChange,
    ) -> Result<Conversation> {
        check_name(&change.name.clone().flatten())?;
        let now = self.now();
        self.store
            .write(move |c| {
                let conv = conversations::find(c, tenant, &id)?;
                apply_change(c, tenant, &conv, &change, now)
            })
            .await
    }

    /// Soft delete: the conversation disappears from every list and lookup.
    pub async fn delete_conversation(&self, tenant: TenantId, id: IdRef) -> Result<()> {
        let now = self.now();
        self.store
            .write(move |c| {
                let conv = conversations::find(c, tenant, &id)?;
                conversations::mark_deleted(c, conv.id, now)?;
                events::record(
                    c,
                    tenant,
                    Kind::ConversationDeleted,
                    now,
                    conv.id,
                    None,
                    None,
                )
            })
            .await
    }

    /// Adds a user; they start with the existing history read. Conflict if already a member.
    pub async fn add_participant(
        &self,
        tenant: TenantId,
        id: IdRef,
        user: IdRef,
    ) -> Result<Participant> {
        let now = self.now();
        self.store
            .write(move |c| {
                let conv = conversations::find(c, tenant, &id)?;
                let user = users::find(c, tenant, &user)
                    .map_err(|_| Error::invalid("user", "no such user"))?;
                if participants::get(c, conv.id, user.id)?.is_some() {
                    return Err(Error::Conflict("the user is already a participant".into()));
                }
                read_state::on_join(c, &conv, user.id, now, false)?;
                events::record(
                    c,
                    tenant,
                    Kind::ParticipantAdded,
                    now,
                    conv.id,
                    None,
                    Some(user.id),
                )?;
                participants::get(c, conv.id, user.id)?.ok_or(Error::NotFound("participant"))
            })
            .await
    }

    /// Removes a user; false when they were not a participant.
    pub async fn remove_participant(
        &self,
        tenant: TenantId,
        id: IdRef,
        user: IdRef,
    ) -> Result<bool> {
        let now = self.now();
        self.store
            .write(move |c| {
                let conv = conversations::find(c, tenant, &id)?;
                let user = users::find(c, tenant, &user)?;
                let removed = participants::delete(c, conv.id, user.id)?;
                if removed {
                    events::record(
                        c,
                        tenant,
                        Kind::ParticipantRemoved,
                        now,
                        conv.id,
                        None,
                        Some(user.id),
                    )?;
                }
                Ok(removed)
            })
            .await
    }

    /// One page of the conversations in `scope`, most recent activity first, with the members
    /// of the whole page. A user's list puts never-messaged conversations last (newest created
    /// first) and carries the user's own unread counts.
    pub async fn conversation_page(
        &self,
        tenant: TenantId,
        scope: Scope,
        before: Option<String>,
        limit: u32,
    ) -> Result<Page<Listing>> {
        let scope = match scope {
            Scope::Search(text) => Scope::Search(search::check_text(text)?),
            Scope::UserSearch(user, text) => Scope::UserSearch(user, search::check_text(text)?),
            other => other,
        };
        let cursor = before.map(|b| decode_cursor("before", &b)).transpose()?;
        let people = self.people();
        self.store
            .read(move |c| {
                let (rows, viewer) = match &scope {
                    Scope::User(user) => {
                        let views =
                            participants::list_for_user(c, tenant, *user, cursor, limit + 1)?;
                        let rows = views.into_iter().map(|v| (v.conversation, Some(v.me)));
                        (rows.collect::<Vec<_>>(), Some(*user))
                    }
                    Scope::UserSearch(user, text) => {
                        let views = store_search::search_for_user(
                            c,
                            tenant,
                            *user,
                            text,
                            cursor,
                            limit + 1,
                        )?;
                        let rows = views.into_iter().map(|v| (v.conversation, Some(v.me)));
                        (rows.collect::<Vec<_>>(), Some(*user))
                    }
                    Scope::Tenant => {
                        let convs = conversations::list_for_tenant(c, tenant, cursor, limit + 1)?;
                        (convs.into_iter().map(|c| (c, None)).collect(), None)
                    }
                    Scope::Search(text) => {
                        let convs =
                            store_search::search_for_tenant(c, tenant, text, cursor, limit + 1)?;
                        (convs.into_iter().map(|c| (c, None)).collect(), None)
                    }
                };
                let page = paginate(rows, limit, |(conv, _)| match scope {
                    Scope::User(_) | Scope::UserSearch(..) => encode_cursor(
                        participants::sort_key(
                            conv.last_message.as_ref().map(|m| m.at),
                            conv.created_at,
                        ),
                        conv.id.0,
                    ),
                    Scope::Tenant | Scope::Search(_) => {
                        encode_cursor(conv.last_message.as_ref().map_or(0, |m| m.at), conv.id.0)
                    }
                });
                Ok(Page {
                    items: listings(c, tenant, page.items, viewer, Some(&people))?,
                    next: page.next,
                })
            })
            .await
    }

    /// One conversation with its members; `viewer`, when given, must be one of them.
    pub async fn listing(
        &self,
        tenant: TenantId,
        id: IdRef,
        viewer: Option<UserId>,
    ) -> Result<Listing> {
        let people = self.people();
        self.store
            .read(move |c| {
                let conversation = conversations::find(c, tenant, &id)?;
                let members = members_of(c, tenant, conversation.id, Some(&people))?;
                let me = match viewer {
                    Some(v) => Some(
                        members
                            .iter()
                            .find(|m| m.user.id == v)
                            .map(|m| m.participant.clone())
                            .ok_or(Error::NotFound("conversation"))?,
                    ),
                    None => None,
                };
                Ok(Listing {
                    conversation,
                    me,
                    members,
                })
            })
            .await
    }

    /// Total unread and the per-conversation counts for `user`.
    pub async fn unread_summary(&self, tenant: TenantId, user: UserId) -> Result<UnreadSummary> {
        self.store
            .read(move |c| {
                users::get(c, tenant, user)?;
                let per = participants::unread_for_user(c, user)?;
                let mut conversations_out = Vec::with_capacity(per.len());
                for (conv, count) in per {
                    let conv = conversations::get(c, tenant, conv)?;
                    conversations_out.push((conv, count));
                }
                Ok(UnreadSummary {
                    total: conversations_out.iter().map(|(_, n)| n).sum(),
                    conversations: conversations_out,
                })
            })
            .await
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnreadSummary {
    pub total: i64,
    pub conversations: Vec<(Conversation, i64)>,
}

/// `items` holds up to `limit + 1` rows: the extra one only tells that another page exists.
fn paginate<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next = if more { items.last().map(cursor) } else { None };
    Page { items, next }
}

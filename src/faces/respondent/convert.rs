//! Domain values → Respondent's wire shapes.

use serde_json::Value;

use super::dto;
use crate::domain::time::rfc3339_ms;
use crate::domain::{Message, User};
use crate::service::conversations::{Listing, Member};
use crate::service::inbox::ConversationInFull;

/// The one timestamp format of this face: `2025-10-06T14:00:00.000Z` (the Partner API returns
/// MongoDB dates through `JSON.stringify`).
pub fn timestamp(ms: i64) -> String {
    rfc3339_ms(ms)
}

fn first_name(u: &User) -> String {
    match u.profile.first_name.as_deref().map(str::trim) {
        Some(first) if !first.is_empty() => first.to_string(),
        _ => u
            .display_name
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// `MessagingUser.lastName` is "Last name initial of user." (Retrieve all conversations schema).
fn last_initial(u: &User) -> String {
    u.profile
        .last_name
        .as_deref()
        .and_then(|l| l.trim().chars().next())
        .map(String::from)
        .unwrap_or_default()
}

/// `foreignId` is the user's id in the partner's systems, else ours.
fn foreign_id(u: &User) -> String {
    u.external_id.clone().unwrap_or_else(|| u.oid.clone())
}

pub fn messaging_user(u: &User) -> dto::MessagingUser {
    dto::MessagingUser {
        uid: u.oid.clone(),
        foreign_id: foreign_id(u),
        first_name: first_name(u),
        last_name: last_initial(u),
    }
}

fn participant(m: &Member) -> dto::Participant {
    dto::Participant {
        uid: m.user.oid.clone(),
        foreign_id: foreign_id(&m.user),
        first_name: first_name(&m.user),
        last_name: last_initial(&m.user),
        read: m.participant.unread_count == 0,
        deleted: m.participant.muted,
    }
}

fn metadata(v: &Value) -> dto::Metadata {
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    dto::Metadata {
        project_id: text("projectId"),
        survey_response_id: text("surveyResponseId"),
        external_researcher_id: text("externalResearcherId"),
        external_team_id: text("externalTeamId"),
        external_company_id: text("externalCompanyId"),
    }
}

/// The conversation's own name, else its participants' first names.
fn name(l: &Listing) -> String {
    match l.conversation.name.as_deref() {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => l
            .members
            .iter()
            .map(|m| first_name(&m.user))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The deprecated `read`: the viewer (the API owner) has nothing unread.
fn read(l: &Listing) -> bool {
    l.me.as_ref().is_none_or(|p| p.unread_count == 0)
}

/// A sender whose user row cannot be read still gets the schema's required fields.
fn unknown_sender() -> dto::MessagingUser {
    dto::MessagingUser {
        uid: String::new(),
        foreign_id: String::new(),
        first_name: String::new(),
        last_name: String::new(),
    }
}

fn minimal_message(m: &Message, sender: Option<&User>) -> dto::MinimalMessage {
    dto::MinimalMessage {
        created_at: timestamp(m.created_at),
        updated_at: timestamp(m.updated_at),
        uid: m.oid.clone(),
        body: m.body.clone(),
        sender: sender.map_or_else(unknown_sender, messaging_user),
    }
}

/// The newest message; before the first one, the conversation's start: its creation time with
/// an empty `uid` and `body`. The Partner API's schema makes `latestMessage` a required,
/// non-nullable object, and clients generated from it (openapi-python-client) fail on `null`;
/// the lists order conversations by this same time (starting a conversation is activity).
fn latest_message(full: &ConversationInFull) -> dto::LatestMessage {
    match full.messages.last() {
        Some(m) => dto::LatestMessage {
            created_at: timestamp(m.created_at),
            updated_at: timestamp(m.updated_at),
            uid: m.oid.clone(),
            body: m.body.clone(),
        },
        None => {
            let started = timestamp(full.listing.conversation.created_at);
            dto::LatestMessage {
                created_at: started.clone(),
                updated_at: started,
                uid: String::new(),
                body: String::new(),
            }
        }
    }
}

pub fn conversation(full: &ConversationInFull, owner: &User) -> dto::Conversation {
    let l = &full.listing;
    let c = &l.conversation;
    dto::Conversation {
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
        uid: c.oid.clone(),
        name: name(l),
        deleted: c.deleted,
        locked: c.locked,
        read: read(l),
        metadata: metadata(&c.metadata),
        user: messaging_user(owner),
        participants: l.members.iter().map(participant).collect(),
        messages: full
            .messages
            .iter()
            .map(|m| minimal_message(m, full.person(m.sender_id)))
            .collect(),
        latest_message: latest_message(full),
        messages_count: c.message_count,
    }
}

fn message_conversation(l: &Listing) -> dto::MessageConversation {
    let c = &l.conversation;
    dto::MessageConversation {
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
        uid: c.oid.clone(),
        name: name(l),
        deleted: c.deleted,
        locked: c.locked,
        read: read(l),
        metadata: metadata(&c.metadata),
        participants: l.members.iter().map(participant).collect(),
    }
}

pub fn message(m: &Message, sender: Option<&User>, conversation: &Listing) -> dto::Message {
    let minimal = minimal_message(m, sender);
    dto::Message {
        created_at: minimal.created_at,
        updated_at: minimal.updated_at,
        uid: minimal.uid,
        body: minimal.body,
        sender: minimal.sender,
        conversation: message_conversation(conversation),
    }
}

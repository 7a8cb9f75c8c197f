//! Conversations and their participants: requests and responses.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::domain::time::rfc3339_ms;
use crate::domain::{Conversation, Participant, User};
use crate::service::conversations::{Listing, Member};

use super::directory::UserRef;
use super::{present, Ref, Stamp};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    pub name: Option<String>,
    pub participants: Vec<Ref>,
    pub metadata: Option<Value>,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    pub archived: Option<bool>,
    pub locked: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParticipant {
    pub user: Ref,
}

#[derive(Serialize, JsonSchema)]
pub struct ParticipantDto {
    /// Serialized as a `UserRef`, from the user the page's members share.
    #[serde(serialize_with = "user_ref")]
    #[schemars(with = "UserRef<'static>")]
    pub user: Arc<User>,
    pub joined_at: Stamp,
    pub unread_count: i64,
    pub last_read_at: Option<Stamp>,
    pub last_read_seq: i64,
    pub muted: bool,
}

/// A member's user as `UserRef` shows one, without copying its text.
fn user_ref<S: Serializer>(user: &Arc<User>, s: S) -> Result<S::Ok, S::Error> {
    UserRef::from(&**user).serialize(s)
}

impl From<&Member> for ParticipantDto {
    fn from(m: &Member) -> Self {
        let p = &m.participant;
        Self {
            user: m.user.clone(),
            joined_at: Stamp(p.joined_at),
            unread_count: p.unread_count,
            last_read_at: p.last_read_at.map(Stamp),
            last_read_seq: p.last_read_seq,
            muted: p.muted,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct ReadStateDto {
    pub conversation_id: i64,
    pub user_id: i64,
    pub unread_count: i64,
    pub last_read_at: Option<String>,
    pub last_read_seq: i64,
}

impl From<Participant> for ReadStateDto {
    fn from(p: Participant) -> Self {
        Self {
            conversation_id: p.conversation_id.0,
            user_id: p.user_id.0,
            unread_count: p.unread_count,
            last_read_at: p.last_read_at.map(rfc3339_ms),
            last_read_seq: p.last_read_seq,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct LastMessageDto {
    pub message_id: i64,
    pub body: String,
    pub sender_id: i64,
    pub created_at: Stamp,
}

#[derive(Serialize, JsonSchema)]
pub struct TagDto {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<Value>,
    pub info: Option<Value>,
}

#[derive(Serialize, JsonSchema)]
pub struct ConversationDto {
    pub id: i64,
    pub uuid: String,
    pub oid: String,
    pub name: Option<String>,
    pub status: &'static str,
    pub archived_at: Option<Stamp>,
    pub locked: bool,
    pub metadata: Value,
    pub tag: Option<TagDto>,
    pub message_count: i64,
    pub last_message: Option<LastMessageDto>,
    /// The viewer's own unread count; null when the viewer is an admin who is not a member.
    pub unread_count: Option<i64>,
    pub participants: Vec<ParticipantDto>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
}

impl ConversationDto {
    pub fn new(c: Conversation, me: Option<&Participant>, members: &[Member]) -> Self {
        Self {
            id: c.id.0,
            uuid: c.uuid,
            oid: c.oid,
            name: c.name,
            status: c.status.as_str(),
            archived_at: c.archived_at.map(Stamp),
            locked: c.locked,
            metadata: c.metadata,
            tag: c.tag.map(|t| TagDto {
                kind: t.kind,
                id: t.id,
                info: t.info,
            }),
            message_count: c.message_count,
            last_message: c.last_message.map(|m| LastMessageDto {
                message_id: m.id.0,
                body: m.text,
                sender_id: m.sender_id.0,
                created_at: Stamp(m.at),
            }),
            unread_count: me.map(|p| p.unread_count),
            participants: members.iter().map(ParticipantDto::from).collect(),
            created_at: Stamp(c.created_at),
            updated_at: Stamp(c.updated_at),
        }
    }
}

impl From<Listing> for ConversationDto {
    fn from(l: Listing) -> Self {
        ConversationDto::new(l.conversation, l.me.as_ref(), &l.members)
    }
}

#[derive(Serialize, JsonSchema)]
pub struct UnreadDto {
    pub total: i64,
    pub conversations: Vec<UnreadEntryDto>,
}

#[derive(Serialize, JsonSchema)]
pub struct UnreadEntryDto {
    pub conversation_id: i64,
    pub uuid: String,
    pub unread_count: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct RemovedDto {
    pub removed: bool,
}

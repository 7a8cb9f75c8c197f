//! Domain values → Pigeons DTOs. One timestamp format for the whole face.

use serde_json::Value;

use super::dto::*;
use crate::domain::clock::Millis;
use crate::domain::time::rfc3339_seconds_offset;
use crate::domain::{Conversation, ConversationStatus, FileRef, User};
use crate::service::chat::ChatMessage;
use crate::service::conversations::{Listing, Member};
use crate::store::reactions::Reaction;

/// EN/Pigeons/Endpoints/ConversationsIndex.md: `2025-11-02T10:30:00+00:00` (seconds, UTC).
pub fn timestamp(ms: Millis) -> String {
    rfc3339_seconds_offset(ms)
}

fn is_archived(c: &Conversation) -> bool {
    c.status == ConversationStatus::Archived
}

fn taggable_type(c: &Conversation) -> Option<String> {
    c.tag.as_ref().map(|t| t.kind.clone())
}

fn taggable_info(c: &Conversation) -> Option<Value> {
    c.tag.as_ref().and_then(|t| t.info.clone())
}

fn last_text(c: &Conversation) -> Option<String> {
    c.last_message.as_ref().map(|m| m.text.clone())
}

fn last_at(c: &Conversation) -> Option<String> {
    c.last_message.as_ref().map(|m| timestamp(m.at))
}

pub fn participant(m: &Member) -> ParticipantDto {
    ParticipantDto {
        uuid: m.user.uuid.clone(),
        name: m.user.display_name.clone(),
        email: m.user.profile.email.clone(),
        avatar: m.user.profile.avatar_url.clone(),
        avatar_url: m.user.profile.avatar_url.clone(),
        pivot: PivotDto {
            unread_count: m.participant.unread_count,
            last_read_at: m.participant.last_read_at.map(timestamp),
            joined_at: timestamp(m.participant.joined_at),
        },
    }
}

pub fn conversation(l: &Listing) -> ConversationDto {
    let c = &l.conversation;
    ConversationDto {
        uuid: c.uuid.clone(),
        taggable_type: taggable_type(c),
        last_message_text: last_text(c),
        last_message_at: last_at(c),
        is_archived: is_archived(c),
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
        taggable_info: taggable_info(c),
        participants: l.members.iter().map(participant).collect(),
    }
}

pub fn created_conversation(l: &Listing) -> CreatedConversationDto {
    let c = &l.conversation;
    CreatedConversationDto {
        uuid: c.uuid.clone(),
        taggable_type: taggable_type(c),
        taggable_id: c.tag.as_ref().and_then(|t| t.id.clone()),
        last_message_text: last_text(c),
        last_message_at: last_at(c),
        is_archived: is_archived(c),
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
        participants: l.members.iter().map(participant).collect(),
    }
}

pub fn conversation_summary(c: &Conversation) -> ConversationSummaryDto {
    ConversationSummaryDto {
        uuid: c.uuid.clone(),
        taggable_type: taggable_type(c),
        last_message_text: last_text(c),
        last_message_at: last_at(c),
        is_archived: is_archived(c),
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
        taggable_info: taggable_info(c),
    }
}

fn person(u: &User) -> PersonDto {
    PersonDto {
        uuid: u.uuid.clone(),
        name: u.display_name.clone(),
        avatar: u.profile.avatar_url.clone(),
    }
}

fn reaction(r: &Reaction) -> ReactionDto {
    ReactionDto {
        user_uuid: r.user_uuid.clone(),
        emoji: r.emoji.clone(),
        created_at: timestamp(r.created_at),
    }
}

/// The device fields Pigeons knows, from whatever JSON the message was stored with.
fn device(stored: &Value) -> DeviceInfoDto {
    let field = |name: &str| stored.get(name).and_then(Value::as_str).map(str::to_string);
    DeviceInfoDto {
        kind: field("type"),
        os: field("os"),
        os_version: field("os_version"),
        app_version: field("app_version"),
        model: field("model"),
        browser: field("browser"),
        browser_version: field("browser_version"),
    }
}

/// Where a file of this face is downloaded: `base` is the server's address and the face's
/// prefix.
pub fn file(f: &FileRef, base: &str) -> FileDto {
    FileDto {
        id: f.uuid.clone(),
        name: f.filename.clone(),
        mime_type: f.content_type.clone(),
        size: f.size,
        url: format!("{base}/attachments/{}", f.uuid),
    }
}

pub fn message(m: &ChatMessage, pbk: Option<&str>, base: &str) -> MessageDto {
    let msg = &m.message;
    let read_at = m.read_at.map(timestamp);
    MessageDto {
        message_id: msg.oid.clone(),
        id: msg.oid.clone(),
        conversation_uuid: m.conversation_uuid.clone(),
        sender: person(&m.sender),
        receiver: m.receiver.as_ref().map(person),
        context: ContextDto {
            text: msg.body.clone(),
            kind: msg.kind.as_str(),
        },
        attachments: match &msg.attachments {
            Value::Array(given) => given.iter().cloned().map(AttachmentItem::Given).collect(),
            Value::Null => Vec::new(),
            v => vec![AttachmentItem::Given(v.clone())],
        }
        .into_iter()
        .chain(
            msg.files
                .iter()
                .map(|f| AttachmentItem::File(file(f, base))),
        )
        .collect(),
        metadata: match &msg.metadata {
            Value::Null => Value::Object(Default::default()),
            v => v.clone(),
        },
        reactions: m.reactions.iter().map(reaction).collect(),
        // Decision: Parlor keeps no delivery receipts, so a message counts as delivered when
        // its receiver has read it (`delivered_at` = `read_at`); until then both are null.
        status: StatusDto {
            sent: true,
            delivered: read_at.is_some(),
            read: read_at.is_some(),
        },
        timestamps: TimestampsDto {
            sent_at: timestamp(msg.created_at),
            delivered_at: read_at.clone(),
            read_at,
        },
        pbk: pbk.map(str::to_string),
        device: msg.device.as_ref().filter(|d| d.is_object()).map(device),
    }
}

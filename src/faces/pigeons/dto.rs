//! Pigeons wire shapes, in the vendor's field order (EN/Pigeons/Endpoints/*.md). Responses are
//! typed structs; requests arrive as JSON objects checked field by field (`validate.rs`) into
//! the typed requests at the end of this file.

use serde::Serialize;
use serde_json::Value;

use crate::domain::{MessageKind, Tag};

/// `{"data": [...]}`.
#[derive(Serialize)]
pub struct DataList<T> {
    pub data: Vec<T>,
}

/// `{"message": "...", "data": ...}` for writes that return what they made.
#[derive(Serialize)]
pub struct Done<T> {
    pub message: &'static str,
    pub data: T,
}

/// `{"message": "..."}` for writes that return nothing else.
#[derive(Serialize)]
pub struct Notice {
    pub message: &'static str,
}

/// EN/Pigeons/Endpoints/ConversationsIndex.md (the seed): one conversation of the list.
#[derive(Serialize)]
pub struct ConversationDto {
    pub uuid: String,
    pub taggable_type: Option<String>,
    pub last_message_text: Option<String>,
    pub last_message_at: Option<String>,
    pub is_archived: bool,
    pub created_at: String,
    pub updated_at: String,
    pub taggable_info: Option<Value>,
    pub participants: Vec<ParticipantDto>,
}

#[derive(Serialize)]
pub struct ParticipantDto {
    pub uuid: String,
    pub name: String,
    pub email: Option<String>,
    pub avatar: Option<String>,
    // ConversationsIndex.md: `avatar_url` repeats `avatar` (a Laravel appended accessor).
    pub avatar_url: Option<String>,
    pub pivot: PivotDto,
}

#[derive(Serialize)]
pub struct PivotDto {
    pub unread_count: i64,
    pub last_read_at: Option<String>,
    pub joined_at: String,
}

/// EN/Pigeons/Endpoints/ConversationsStore.md: the conversation created (or found).
#[derive(Serialize)]
pub struct CreatedConversationDto {
    pub uuid: String,
    pub taggable_type: Option<String>,
    pub taggable_id: Option<Value>,
    pub last_message_text: Option<String>,
    pub last_message_at: Option<String>,
    pub is_archived: bool,
    pub created_at: String,
    pub updated_at: String,
    pub participants: Vec<ParticipantDto>,
}

/// EN/Pigeons/Endpoints/ConversationMessagesIndex.md.
#[derive(Serialize)]
pub struct ThreadDto {
    pub data: Vec<MessageDto>,
    pub conversation: ConversationSummaryDto,
}

#[derive(Serialize)]
pub struct ConversationSummaryDto {
    pub uuid: String,
    pub taggable_type: Option<String>,
    pub last_message_text: Option<String>,
    pub last_message_at: Option<String>,
    pub is_archived: bool,
    pub created_at: String,
    pub updated_at: String,
    pub taggable_info: Option<Value>,
}

/// EN/Pigeons/Endpoints/MessagesStore.md: a message document.
#[derive(Serialize)]
pub struct MessageDto {
    pub message_id: String,
    // MessagesStore.md: `id` repeats `message_id`.
    pub id: String,
    pub conversation_uuid: String,
    pub sender: PersonDto,
    pub receiver: Option<PersonDto>,
    pub context: ContextDto,
    pub attachments: Vec<AttachmentItem>,
    pub metadata: Value,
    pub reactions: Vec<ReactionDto>,
    pub status: StatusDto,
    pub timestamps: TimestampsDto,
    /// The platform (tenant) public key.
    pub pbk: Option<String>,
    pub device: Option<DeviceInfoDto>,
}

#[derive(Serialize)]
pub struct PersonDto {
    pub uuid: String,
    pub name: String,
    pub avatar: Option<String>,
}

#[derive(Serialize)]
pub struct ContextDto {
    pub text: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
pub struct ReactionDto {
    pub user_uuid: String,
    pub emoji: String,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct StatusDto {
    pub sent: bool,
    pub delivered: bool,
    pub read: bool,
}

#[derive(Serialize)]
pub struct TimestampsDto {
    pub sent_at: String,
    pub delivered_at: Option<String>,
    pub read_at: Option<String>,
}

/// MessagesStore.md `device`: the fields the send request validates, those it was given.
#[derive(Serialize, Default)]
pub struct DeviceInfoDto {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_version: Option<String>,
}

/// The device fields of a send request, in the vendor's order.
pub const DEVICE_FIELDS: &[&str] = &[
    "type",
    "os",
    "os_version",
    "app_version",
    "model",
    "browser",
    "browser_version",
];

/// EN/Pigeons/Endpoints/DevicesStore.md.
#[derive(Serialize)]
pub struct DeviceDto {
    pub id: i64,
    pub token: String,
    pub platform: String,
}

/// EN/Pigeons/Endpoints/DeviceStatsShow.md: a MongoDB `$group` row.
#[derive(Serialize)]
pub struct DeviceStatDto {
    #[serde(rename = "_id")]
    pub id: Option<String>,
    pub count: i64,
}

// ---- requests, once validated ----

/// `POST /conversations`.
pub struct OpenConversation {
    pub participant_uuid: String,
    pub tag: Option<Tag>,
}

/// `POST /messages`.
pub struct SendMessage {
    pub conversation_uuid: String,
    pub receiver_uuid: String,
    pub text: String,
    pub kind: MessageKind,
    pub attachments: Option<Value>,
    pub metadata: Option<Value>,
    /// An object holding the validated device fields.
    pub device: Value,
}

/// `POST /messages/{id}/reactions`.
pub struct React {
    pub emoji: String,
}

/// `POST /devices`.
pub struct RegisterDevice {
    pub token: String,
    pub platform: String,
    pub device: Option<Value>,
}

/// An entry of a message's `attachments`: what the client sent, as it sent it, or a file it
/// uploaded (`POST /attachments`), with a URL the same credential can fetch.
#[derive(Serialize)]
#[serde(untagged)]
pub enum AttachmentItem {
    Given(Value),
    File(FileDto),
}

/// An uploaded file (Parlor's own shape: the vendor documents `attachments` without one).
#[derive(Serialize)]
pub struct FileDto {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub size: i64,
    pub url: String,
}

//! Messages, read marks and their queries: requests and responses.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::time::rfc3339_ms;
use crate::domain::Message;

use super::attachments::FileDto;
use super::Ref;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// May be empty when the message carries files.
    #[serde(default)]
    pub body: String,
    pub kind: Option<String>,
    pub recipient: Option<Ref>,
    pub subject: Option<String>,
    pub reply_to: Option<Ref>,
    pub metadata: Option<Value>,
    pub attachments: Option<Value>,
    /// Files uploaded into the conversation first (`POST /conversations/{conv}/attachments`),
    /// by their `id`; each can be sent once.
    pub attachment_ids: Option<Vec<String>>,
    pub device: Option<Value>,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    pub body: String,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    pub up_to: Option<Ref>,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Serialize, JsonSchema)]
pub struct MessageDto {
    pub id: i64,
    pub uuid: String,
    pub oid: String,
    pub conversation_id: i64,
    pub seq: i64,
    pub sender_id: i64,
    pub recipient_id: Option<i64>,
    pub body: String,
    pub kind: &'static str,
    pub subject: Option<String>,
    pub reply_to_id: Option<i64>,
    pub status: Option<&'static str>,
    pub metadata: Value,
    pub attachments: Value,
    /// Uploaded files the message carries, each with its download URL.
    pub files: Vec<FileDto>,
    pub device: Option<Value>,
    /// Participants other than the sender who have read it (present in message lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_by: Option<Vec<i64>>,
    pub created_at: String,
    pub updated_at: String,
}

impl MessageDto {
    pub fn new(m: Message, read_by: Option<Vec<i64>>) -> Self {
        Self {
            id: m.id.0,
            uuid: m.uuid,
            oid: m.oid,
            conversation_id: m.conversation_id.0,
            seq: m.seq,
            sender_id: m.sender_id.0,
            recipient_id: m.recipient_id.map(|u| u.0),
            body: m.body,
            kind: m.kind.as_str(),
            subject: m.subject,
            reply_to_id: m.reply_to.map(|r| r.0),
            status: m.status.map(|s| s.as_str()),
            metadata: m.metadata,
            attachments: m.attachments,
            files: m.files.iter().map(FileDto::from).collect(),
            device: m.device,
            read_by,
            created_at: rfc3339_ms(m.created_at),
            updated_at: rfc3339_ms(m.updated_at),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct MarkedDto {
    pub changed: bool,
    pub message_id: i64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    pub limit: Option<u32>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    #[serde(rename = "as")]
    pub as_user: Option<String>,
}

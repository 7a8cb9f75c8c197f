//! The data of a Server-Sent Event (`GET /parlor/v1/events`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Stamp;
use crate::store::events::Event;

#[derive(Serialize, JsonSchema)]
pub struct EventDto {
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant_id: i64,
    pub actor: ActorDto,
    pub at: Stamp,
    #[serde(flatten)]
    pub payload: PayloadDto,
}

#[derive(Serialize, JsonSchema)]
pub struct ActorDto {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

/// The stored payload as the wire shows it: ids and unread counts, never message text.
#[derive(Serialize, Deserialize, Default, JsonSchema)]
pub struct PayloadDto {
    pub conversation_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    /// The user a participant or read event is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub unread: Vec<UnreadCountDto>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
pub struct UnreadCountDto {
    pub user_id: i64,
    pub unread_count: i64,
}

/// The data of a `reset` event: the client fell out of the window and must re-read.
#[derive(Serialize, JsonSchema)]
pub struct ResetDto {
    pub reason: &'static str,
    /// The stream goes on after this seq.
    pub latest: i64,
}

impl EventDto {
    pub fn of(e: &Event) -> Self {
        // The payload was written by `service::events::record`: a row that does not parse
        // still carries its ids.
        let payload = serde_json::from_str(&e.payload).unwrap_or_else(|_| PayloadDto {
            conversation_id: e.conversation,
            message_id: e.message,
            user_id: e.subject,
            unread: Vec::new(),
        });
        EventDto {
            seq: e.seq,
            kind: e.kind.clone(),
            tenant_id: e.tenant.0,
            actor: ActorDto {
                kind: e.actor_kind.clone(),
                id: e.actor_id,
            },
            at: Stamp(e.at),
            payload,
        }
    }
}

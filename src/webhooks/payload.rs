//! A delivery's body: `{"type", "timestamp", "data"}`, where `data` is the event as Server-Sent
//! Events show it, plus the message (text included) for endpoints entitled to it.

use serde::Serialize;

use crate::domain::time::rfc3339_ms;
use crate::domain::Message;
use crate::native::dto::{EventDto, Stamp};
use crate::store::events::Event;

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    #[serde(flatten)]
    event: EventDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<MessageData<'a>>,
}

#[derive(Serialize)]
struct MessageData<'a> {
    id: i64,
    uuid: &'a str,
    conversation_id: i64,
    sender_id: i64,
    body: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    created_at: Stamp,
    updated_at: Stamp,
}

/// The body for `event`; `message`: the message it is about, for an endpoint with
/// `include_text` (None otherwise, or when the message is gone).
pub fn body(event: &Event, message: Option<&Message>) -> String {
    let out = Body {
        kind: &event.kind,
        timestamp: rfc3339_ms(event.at),
        data: Data {
            event: EventDto::of(event),
            message: message.map(|m| MessageData {
                id: m.id.0,
                uuid: &m.uuid,
                conversation_id: m.conversation_id.0,
                sender_id: m.sender_id.0,
                body: &m.body,
                kind: m.kind.as_str(),
                subject: m.subject.as_deref(),
                created_at: Stamp(m.created_at),
                updated_at: Stamp(m.updated_at),
            }),
        },
    };
    // Plain structs of strings and numbers: serializing them cannot fail.
    serde_json::to_string(&out).unwrap_or_default()
}

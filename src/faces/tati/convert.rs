//! Domain values into Tati's shapes.

use super::dto::{ConversationDto, MessageDto};
use crate::domain::clock::Millis;
use crate::domain::time::rfc3339_seconds;
use crate::domain::{Conversation, ConversationStatus, Message, User};

/// Tati's timestamps: whole seconds, UTC, "Z" ("2023-01-01T12:00:00Z").
pub fn timestamp(ms: Millis) -> String {
    rfc3339_seconds(ms)
}

pub fn conversation(c: &Conversation, patient: &User) -> ConversationDto {
    ConversationDto {
        unique_id: c.uuid.clone(),
        patient_id: patient.uuid.clone(),
        status: match c.status {
            ConversationStatus::Active => "current",
            ConversationStatus::Archived => "archived",
        },
        archived_date: c.archived_at.map(timestamp),
        date_created: timestamp(c.created_at),
        last_updated: timestamp(c.updated_at),
    }
}

/// `message_type` is `user` for what the patient sent, `assistant` for the rest.
pub fn message(m: &Message, conversation: &Conversation, patient: &User) -> MessageDto {
    MessageDto {
        unique_id: m.uuid.clone(),
        conversation_id: conversation.uuid.clone(),
        message_type: if m.sender_id == patient.id {
            "user"
        } else {
            "assistant"
        },
        content: m.body.clone(),
        date_created: timestamp(m.created_at),
        last_updated: timestamp(m.updated_at),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_seconds_with_a_z() {
        assert_eq!(super::timestamp(1_672_574_460_999), "2023-01-01T12:01:00Z");
    }
}

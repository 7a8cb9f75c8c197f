//! Tati's JSON shapes, fields in the vendor's order.

use serde::Serialize;

/// Patients → Conversations.
#[derive(Serialize)]
pub struct ConversationDto {
    pub unique_id: String,
    pub patient_id: String,
    pub status: &'static str,
    pub archived_date: Option<String>,
    pub date_created: String,
    pub last_updated: String,
}

/// Patients → Messages (the seed).
#[derive(Serialize)]
pub struct MessageDto {
    pub unique_id: String,
    pub conversation_id: String,
    pub message_type: &'static str,
    pub content: String,
    pub date_created: String,
    pub last_updated: String,
}

/// Getting Started → authentication.
#[derive(Serialize)]
pub struct TokenDto {
    pub token: String,
}

//! Trillet's JSON shapes, in Mongoose's key order.

use serde::Serialize;

/// Conversations → getAll / getById / getByFlow (`getAll` is the seed).
#[derive(Serialize)]
pub struct ConversationDto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    #[serde(rename = "pathwayId")]
    pub pathway_id: Option<String>,
    #[serde(rename = "agentId")]
    pub agent_id: Option<String>,
    pub customer: CustomerDto,
    pub messages: Vec<MessageDto>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

#[derive(Serialize)]
pub struct CustomerDto {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Serialize)]
pub struct MessageDto {
    pub direction: &'static str,
    pub sent: bool,
    pub message: String,
    pub status: &'static str,
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

/// Conversations → delete / deleteMessage.
#[derive(Serialize)]
pub struct DeletedDto {
    pub status: &'static str,
    pub message: String,
    #[serde(rename = "conversationId")]
    pub conversation_id: String,
}

/// Conversations → messageAction.
#[derive(Serialize)]
pub struct ActionDto {
    pub status: &'static str,
    pub message: ActedMessageDto,
}

#[derive(Serialize)]
pub struct ActedMessageDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub message: String,
    pub to: Option<String>,
    pub sent: bool,
    pub status: &'static str,
    pub timestamp: String,
}

/// Conversations → generateMessage (snake_case, as documented).
#[derive(Serialize)]
pub struct GeneratedDto {
    pub status: &'static str,
    pub conversation_id: String,
    pub message_id: String,
    pub message: String,
}

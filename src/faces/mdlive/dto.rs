//! MDLIVE's JSON shapes, fields in the vendor's order.

use serde::Serialize;

/// Reference page `_get_conversations` (the seed).
#[derive(Serialize)]
pub struct ConversationsDto {
    pub conversations: Vec<SummaryDto>,
}

#[derive(Serialize)]
pub struct SummaryDto {
    pub provider: ProviderDto,
    pub unread_messages: Option<i64>,
    pub recent_message_body: String,
    pub last_message_at: String,
    pub last_message_by: &'static str,
}

#[derive(Serialize)]
pub struct ProviderDto {
    pub id: i64,
    pub prefix: Option<String>,
    pub fullname: String,
    pub gender: String,
    pub photo_url: String,
    pub specialty: String,
}

/// Reference pages `_get_conversation`, `_create`, `_get_system`.
#[derive(Serialize)]
pub struct MessageDto {
    pub id: i64,
    pub date_time: String,
    pub from: String,
    pub from_id: i64,
    pub to: String,
    pub to_id: i64,
    pub subject: String,
    pub message: String,
    pub unread_status: bool,
    pub replied_to_message_id: Option<i64>,
}

#[derive(Serialize)]
pub struct MessagesDto {
    pub messages: Vec<MessageDto>,
}

#[derive(Serialize)]
pub struct SystemMessagesDto {
    pub messages: Vec<MessageDto>,
    pub unread: i64,
}

#[derive(Serialize)]
pub struct OneMessageDto {
    pub message: MessageDto,
}

/// Reference page `_get_contacts`.
#[derive(Serialize)]
pub struct ContactsDto {
    pub contacts: Vec<ProviderDto>,
}

/// Reference page `_authentication_overview`: the API token.
#[derive(Serialize)]
pub struct ApiTokenDto {
    pub jwt: String,
}

/// Reference pages `_users` and `_extend`: the user token.
#[derive(Serialize)]
pub struct UserTokenDto {
    pub jwt: String,
    pub user: TokenUserDto,
}

#[derive(Serialize)]
pub struct TokenUserDto {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub time_to_live_minutes: u32,
}

//! Respondent's wire shapes, in the field order of the Partner API's OpenAPI schema
//! (developers.respondent.io → Messaging → Retrieve all conversations, `ConversationsPaginatedDto`).

use serde::Serialize;

/// `ConversationsPaginatedDto`, and the same envelope around messages.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paginated<T> {
    /// Only when the request said `includeCount=true` (same page: the `totalResults` description).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_results: Option<i64>,
    pub page: u64,
    pub page_size: u32,
    pub results: Vec<T>,
}

/// `Conversation`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub created_at: String,
    pub updated_at: String,
    pub uid: String,
    pub name: String,
    pub deleted: bool,
    pub locked: bool,
    /// Deprecated in the schema; still required there.
    pub read: bool,
    pub metadata: Metadata,
    pub user: MessagingUser,
    pub participants: Vec<Participant>,
    pub messages: Vec<MinimalMessage>,
    /// Required and not nullable in the schema, so always an object (see `convert`).
    pub latest_message: LatestMessage,
    pub messages_count: i64,
}

/// `ConversationMetadata`: every field optional, left out when not set.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey_response_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_researcher_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_company_id: Option<String>,
}

/// `MessagingUser`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagingUser {
    pub uid: String,
    pub foreign_id: String,
    pub first_name: String,
    /// "Last name initial of user."
    pub last_name: String,
}

/// `ConversationParticipant`: a `MessagingUser` plus read state.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub uid: String,
    pub foreign_id: String,
    pub first_name: String,
    pub last_name: String,
    pub read: bool,
    /// "Whether the participant has muted the conversation."
    pub deleted: bool,
}

/// `MinimalMessage`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MinimalMessage {
    pub created_at: String,
    pub updated_at: String,
    pub uid: String,
    pub body: String,
    pub sender: MessagingUser,
}

/// `LatestMessage`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestMessage {
    pub created_at: String,
    pub updated_at: String,
    pub uid: String,
    pub body: String,
}

/// A message as "Create a message" and "Retrieve all messages" return it: a `MinimalMessage`
/// with the conversation it belongs to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub created_at: String,
    pub updated_at: String,
    pub uid: String,
    pub body: String,
    pub sender: MessagingUser,
    pub conversation: MessageConversation,
}

/// The conversation inside a `Message`: a `Conversation` without `user`, `messages`,
/// `latestMessage` and `messagesCount`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageConversation {
    pub created_at: String,
    pub updated_at: String,
    pub uid: String,
    pub name: String,
    pub deleted: bool,
    pub locked: bool,
    pub read: bool,
    pub metadata: Metadata,
    pub participants: Vec<Participant>,
}

/// NestJS's exception body (`HttpException`): `error` is left out of 401 and 500 bodies.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub status_code: u16,
    pub message: ErrorMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// One text, or (validation failures) the list of every violated constraint.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ErrorMessage {
    Text(String),
    List(Vec<String>),
}

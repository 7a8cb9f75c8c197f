//! Wire shapes of the native API. Requests reject unknown fields; responses are built only
//! from these structs (no ad-hoc JSON), each field converted explicitly from domain values.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::time::{format_utc_offset, rfc3339_ms};
use crate::domain::{ApiKey, Conversation, IdRef, Message, Participant, Tenant, Token, User};
use crate::service::conversations::{Listing, Member};

/// A user, conversation or message named in a body: a number is the integer id, a string the
/// uuid or oid (or the id in digits).
#[derive(Clone, Debug, PartialEq)]
pub struct Ref(pub IdRef);

impl<'de> Deserialize<'de> for Ref {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Ref;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer id or a uuid/oid string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ref, E> {
                i64::try_from(v)
                    .map(|n| Ref(IdRef::Id(n)))
                    .map_err(|_| E::custom("id out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ref, E> {
                Ok(Ref(IdRef::Id(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ref, E> {
                IdRef::parse(v)
                    .map(Ref)
                    .ok_or_else(|| E::custom(format!("\"{v}\" is not a valid id")))
            }
        }
        d.deserialize_any(V)
    }
}

pub fn refs(r: Option<Ref>) -> Option<IdRef> {
    r.map(|r| r.0)
}

// ---------- requests ----------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Tenant id or uuid.
    pub tenant: Ref,
    pub username: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    pub public_key: Option<String>,
    pub workspace_id: Option<String>,
    pub utc_offset: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub role: Option<String>,
    pub uuid: Option<String>,
    pub oid: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub prefix: Option<String>,
    pub gender: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    pub specialty: Option<String>,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Absent leaves a field alone; `null` clears it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, deserialize_with = "present")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub last_name: Option<Option<String>>,
    /// Cannot be cleared: `null` is refused.
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub prefix: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub specialty: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub username: Option<Option<String>>,
    pub password: Option<String>,
}

/// Tells "absent" (None) from "null" (Some(None)).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub abilities: Option<Vec<String>>,
    pub label: Option<String>,
    /// Lifetime in minutes; absent means it does not expire.
    pub expires_in_minutes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub label: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    pub name: Option<String>,
    pub participants: Vec<Ref>,
    pub metadata: Option<Value>,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    pub archived: Option<bool>,
    pub locked: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddParticipant {
    pub user: Ref,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub body: String,
    pub kind: Option<String>,
    pub recipient: Option<Ref>,
    pub subject: Option<String>,
    pub reply_to: Option<Ref>,
    pub metadata: Option<Value>,
    pub attachments: Option<Value>,
    pub device: Option<Value>,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    pub body: String,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    pub up_to: Option<Ref>,
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AsOnly {
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub before: Option<String>,
    pub after: Option<String>,
    #[serde(rename = "as")]
    pub as_user: Option<String>,
    pub role: Option<String>,
    /// Conversations only: a participant's name contains this (admins, without `as`).
    pub q: Option<String>,
}

// ---------- responses ----------

#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize)]
pub struct TenantDto {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub public_key: Option<String>,
    pub workspace_id: Option<String>,
    pub utc_offset: String,
    pub owner_id: Option<i64>,
    pub assistant_id: Option<i64>,
    pub created_at: String,
}

impl From<Tenant> for TenantDto {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.0,
            uuid: t.uuid,
            name: t.name,
            public_key: t.public_key,
            workspace_id: t.workspace_id,
            utc_offset: format_utc_offset(t.utc_offset_minutes),
            owner_id: t.owner_id.map(|u| u.0),
            assistant_id: t.assistant_id.map(|u| u.0),
            created_at: rfc3339_ms(t.created_at),
        }
    }
}

#[derive(Serialize)]
pub struct UserDto {
    pub id: i64,
    pub uuid: String,
    pub oid: String,
    pub tenant_id: i64,
    pub role: &'static str,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub prefix: Option<String>,
    pub gender: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    pub specialty: Option<String>,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub has_password: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id.0,
            uuid: u.uuid,
            oid: u.oid,
            tenant_id: u.tenant_id.0,
            role: u.role.as_str(),
            display_name: u.display_name,
            first_name: u.first_name,
            last_name: u.last_name,
            prefix: u.prefix,
            gender: u.gender,
            email: u.email,
            phone: u.phone,
            avatar_url: u.avatar_url,
            specialty: u.specialty,
            external_id: u.external_id,
            username: u.username,
            has_password: u.has_password,
            created_at: rfc3339_ms(u.created_at),
            updated_at: rfc3339_ms(u.updated_at),
        }
    }
}

/// A user as embedded in other resources.
#[derive(Serialize)]
pub struct UserRefDto {
    pub id: i64,
    pub uuid: String,
    pub display_name: String,
    pub role: &'static str,
}

impl From<&User> for UserRefDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            uuid: u.uuid.clone(),
            display_name: u.display_name.clone(),
            role: u.role.as_str(),
        }
    }
}

#[derive(Serialize)]
pub struct TokenDto {
    pub id: i64,
    pub user_id: Option<i64>,
    pub abilities: Vec<String>,
    pub label: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<Token> for TokenDto {
    fn from(t: Token) -> Self {
        Self {
            id: t.id,
            user_id: t.user_id.map(|u| u.0),
            abilities: t.abilities,
            label: t.label,
            created_at: rfc3339_ms(t.created_at),
            expires_at: t.expires_at.map(rfc3339_ms),
            revoked_at: t.revoked_at.map(rfc3339_ms),
        }
    }
}

/// A new token: the only response that ever contains its secret.
#[derive(Serialize)]
pub struct NewTokenDto {
    pub token: String,
    #[serde(flatten)]
    pub record: TokenDto,
}

#[derive(Serialize)]
pub struct LoginDto {
    pub token: String,
    pub user: UserDto,
}

#[derive(Serialize)]
pub struct ApiKeyDto {
    pub id: i64,
    pub key: String,
    pub label: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            key: k.key,
            label: k.label,
            created_at: rfc3339_ms(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339_ms),
        }
    }
}

/// A new API key: the only response that ever contains its secret.
#[derive(Serialize)]
pub struct NewApiKeyDto {
    pub secret: String,
    #[serde(flatten)]
    pub record: ApiKeyDto,
}

#[derive(Serialize)]
pub struct ParticipantDto {
    pub user: UserRefDto,
    pub joined_at: String,
    pub unread_count: i64,
    pub last_read_at: Option<String>,
    pub last_read_seq: i64,
    pub muted: bool,
}

impl From<&Member> for ParticipantDto {
    fn from(m: &Member) -> Self {
        let p = &m.participant;
        Self {
            user: UserRefDto::from(&m.user),
            joined_at: rfc3339_ms(p.joined_at),
            unread_count: p.unread_count,
            last_read_at: p.last_read_at.map(rfc3339_ms),
            last_read_seq: p.last_read_seq,
            muted: p.muted,
        }
    }
}

#[derive(Serialize)]
pub struct ReadStateDto {
    pub conversation_id: i64,
    pub user_id: i64,
    pub unread_count: i64,
    pub last_read_at: Option<String>,
    pub last_read_seq: i64,
}

impl From<Participant> for ReadStateDto {
    fn from(p: Participant) -> Self {
        Self {
            conversation_id: p.conversation_id.0,
            user_id: p.user_id.0,
            unread_count: p.unread_count,
            last_read_at: p.last_read_at.map(rfc3339_ms),
            last_read_seq: p.last_read_seq,
        }
    }
}

#[derive(Serialize)]
pub struct LastMessageDto {
    pub message_id: i64,
    pub body: String,
    pub sender_id: i64,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct TagDto {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<Value>,
    pub info: Option<Value>,
}

#[derive(Serialize)]
pub struct ConversationDto {
    pub id: i64,
    pub uuid: String,
    pub oid: String,
    pub name: Option<String>,
    pub status: &'static str,
    pub archived_at: Option<String>,
    pub locked: bool,
    pub metadata: Value,
    pub tag: Option<TagDto>,
    pub message_count: i64,
    pub last_message: Option<LastMessageDto>,
    /// The viewer's own unread count; null when the viewer is an admin who is not a member.
    pub unread_count: Option<i64>,
    pub participants: Vec<ParticipantDto>,
    pub created_at: String,
    pub updated_at: String,
}

impl ConversationDto {
    pub fn new(c: Conversation, me: Option<&Participant>, members: &[Member]) -> Self {
        Self {
            id: c.id.0,
            uuid: c.uuid,
            oid: c.oid,
            name: c.name,
            status: c.status.as_str(),
            archived_at: c.archived_at.map(rfc3339_ms),
            locked: c.locked,
            metadata: c.metadata,
            tag: c.tag.map(|t| TagDto {
                kind: t.kind,
                id: t.id,
                info: t.info,
            }),
            message_count: c.message_count,
            last_message: c.last_message.map(|m| LastMessageDto {
                message_id: m.id.0,
                body: m.text,
                sender_id: m.sender_id.0,
                created_at: rfc3339_ms(m.at),
            }),
            unread_count: me.map(|p| p.unread_count),
            participants: members.iter().map(ParticipantDto::from).collect(),
            created_at: rfc3339_ms(c.created_at),
            updated_at: rfc3339_ms(c.updated_at),
        }
    }
}

impl From<Listing> for ConversationDto {
    fn from(l: Listing) -> Self {
        ConversationDto::new(l.conversation, l.me.as_ref(), &l.members)
    }
}

#[derive(Serialize)]
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
            device: m.device,
            read_by,
            created_at: rfc3339_ms(m.created_at),
            updated_at: rfc3339_ms(m.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct UnreadDto {
    pub total: i64,
    pub conversations: Vec<UnreadEntryDto>,
}

#[derive(Serialize)]
pub struct UnreadEntryDto {
    pub conversation_id: i64,
    pub uuid: String,
    pub unread_count: i64,
}

#[derive(Serialize)]
pub struct MarkedDto {
    pub changed: bool,
    pub message_id: i64,
}

#[derive(Serialize)]
pub struct RemovedDto {
    pub removed: bool,
}

/// `GET /me` for the server-admin token, which has no user.
#[derive(Serialize)]
pub struct ServerAdminDto {
    pub server_admin: bool,
}

#[derive(Serialize)]
pub struct HealthDto {
    pub status: &'static str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsQuery {
    #[serde(rename = "as")]
    pub as_user: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    pub limit: Option<u32>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    #[serde(rename = "as")]
    pub as_user: Option<String>,
}

// ---------- the admin page ----------

/// `POST /session`: the server-admin token, or a tenant admin's username and password (with
/// the tenant, or without it to look the username up among every tenant's admins).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: Option<String>,
    pub tenant: Option<Ref>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// A signed-in admin-page session. The CSRF token goes back in `X-Parlor-CSRF` on changes.
#[derive(Serialize)]
pub struct SessionDto {
    pub server_admin: bool,
    pub user: Option<UserDto>,
    pub csrf_token: String,
    pub idle_timeout_seconds: i64,
    pub expires_at: String,
}

/// One vendor face as the admin page's stand-in panel shows it.
#[derive(Serialize)]
pub struct FaceDto {
    pub name: &'static str,
    pub vendor: &'static str,
    pub enabled: bool,
    pub base_url: String,
    pub headers: Vec<HeaderDto>,
    /// Shell variables the curl uses for credentials the server cannot show (their secrets are
    /// stored hashed), each with what to put there.
    pub variables: Vec<VariableDto>,
    pub list_call: String,
    pub curl: String,
    /// The README section that tells more about the face.
    pub readme: &'static str,
}

#[derive(Serialize)]
pub struct HeaderDto {
    pub name: &'static str,
    pub value: String,
}

#[derive(Serialize)]
pub struct VariableDto {
    pub name: &'static str,
    pub description: &'static str,
}

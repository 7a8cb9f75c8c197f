//! Tenants, users, tokens and API keys: requests and responses.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::time::{format_utc_offset, rfc3339_ms};
use crate::domain::{ApiKey, Tenant, Token, User};

use super::{present, Ref};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Tenant id or uuid.
    pub tenant: Ref,
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    pub public_key: Option<String>,
    pub workspace_id: Option<String>,
    pub utc_offset: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
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
#[derive(Deserialize, JsonSchema)]
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
    /// "en" or "es"; `null` forgets the choice.
    #[serde(default, deserialize_with = "present")]
    pub language: Option<Option<String>>,
    pub password: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub abilities: Option<Vec<String>>,
    pub label: Option<String>,
    /// Lifetime in minutes; absent means it does not expire.
    pub expires_in_minutes: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub label: Option<String>,
}

#[derive(Serialize, JsonSchema)]
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

#[derive(Serialize, JsonSchema)]
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
    pub language: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        let p = u.profile;
        Self {
            id: u.id.0,
            uuid: u.uuid,
            oid: u.oid,
            tenant_id: u.tenant_id.0,
            role: u.role.as_str(),
            display_name: u.display_name,
            first_name: p.first_name,
            last_name: p.last_name,
            prefix: p.prefix,
            gender: p.gender,
            email: p.email,
            phone: p.phone,
            avatar_url: p.avatar_url,
            specialty: p.specialty,
            external_id: u.external_id,
            username: u.username,
            has_password: u.has_password,
            language: u.language,
            created_at: rfc3339_ms(u.created_at),
            updated_at: rfc3339_ms(u.updated_at),
        }
    }
}

/// A user as embedded in other resources (a conversation's participants), borrowed from the
/// user: a page serializes the same few users many times.
#[derive(Serialize, JsonSchema)]
pub struct UserRef<'a> {
    pub id: i64,
    pub uuid: &'a str,
    pub display_name: &'a str,
    pub role: &'static str,
}

impl<'a> From<&'a User> for UserRef<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            id: u.id.0,
            uuid: &u.uuid,
            display_name: &u.display_name,
            role: u.role.as_str(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
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
#[derive(Serialize, JsonSchema)]
pub struct NewTokenDto {
    pub token: String,
    #[serde(flatten)]
    pub record: TokenDto,
}

#[derive(Serialize, JsonSchema)]
pub struct LoginDto {
    pub token: String,
    pub user: UserDto,
}

#[derive(Serialize, JsonSchema)]
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
#[derive(Serialize, JsonSchema)]
pub struct NewApiKeyDto {
    pub secret: String,
    #[serde(flatten)]
    pub record: ApiKeyDto,
}

/// `GET /me` for the server-admin token, which has no user.
#[derive(Serialize, JsonSchema)]
pub struct ServerAdminDto {
    pub server_admin: bool,
}

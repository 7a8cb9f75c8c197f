//! Accounts for staff and patients: invite and reset links, contacts, a user's own name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Stamp;
use crate::domain::User;

/// `POST /users/{id}/invites`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvite {
    pub purpose: Option<String>,
    pub expires_in_hours: Option<i64>,
}

/// A link just made: its secret URL, shown this once.
#[derive(Serialize, JsonSchema)]
pub struct InviteIssuedDto {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub url: String,
    pub expires_at: Stamp,
    pub created_at: Stamp,
}

/// `GET /users/{id}/invites`: whether the user has a live link, and until when.
#[derive(Serialize, JsonSchema)]
pub struct InviteStateDto {
    pub user_id: i64,
    pub outstanding: bool,
    pub invite_expires_at: Option<Stamp>,
}

/// `GET /invites/{secret}`: what the welcome page shows before the password is set.
#[derive(Serialize, JsonSchema)]
pub struct InviteDto {
    pub purpose: String,
    pub clinic_name: String,
    /// The user's first name, else their display name.
    pub name: String,
    pub username: Option<String>,
    pub expires_at: Stamp,
}

/// `POST /invites/{secret}`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub password: String,
    /// "app" (the default) or "admin": the session's surface, as for `POST /session`.
    pub client: Option<String>,
}

/// `GET /contacts`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsQuery {
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub before: Option<String>,
}

/// One person the signed-in user may write to, as that person chose to be shown.
#[derive(Serialize, JsonSchema)]
pub struct ContactDto {
    pub id: i64,
    pub display_name: String,
    pub role: &'static str,
}

impl From<User> for ContactDto {
    fn from(u: User) -> Self {
        Self {
            id: u.id.0,
            display_name: u.display_name,
            role: u.role.as_str(),
        }
    }
}

/// `PATCH /me`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    pub display_name: Option<String>,
    /// "en" or "es"; `null` forgets the choice.
    #[serde(default, deserialize_with = "super::present")]
    pub language: Option<Option<String>>,
}

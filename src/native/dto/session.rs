//! The admin page: its session sign-in and the stand-in panel's faces.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::directory::UserDto;
use super::Ref;

/// `POST /session`: the server-admin token, or a user's username and password (with the
/// tenant, or without it to look the username up in every tenant). `client`: "admin" (the
/// default: the admin page) or "app" (the clinic's app), the audit trail's surface.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: Option<String>,
    pub tenant: Option<Ref>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub client: Option<String>,
}

/// A signed-in browser session. The CSRF token goes back in `X-Parlor-CSRF` on changes.
/// `role`: "server_admin" or the user's role; `client`: "admin" or "app".
#[derive(Serialize, JsonSchema)]
pub struct SessionDto {
    pub server_admin: bool,
    pub role: &'static str,
    pub client: &'static str,
    pub user: Option<UserDto>,
    pub csrf_token: String,
    pub idle_timeout_seconds: i64,
    pub expires_at: String,
}

/// One vendor face as the admin page's stand-in panel shows it.
#[derive(Serialize, JsonSchema)]
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

#[derive(Serialize, JsonSchema)]
pub struct HeaderDto {
    pub name: &'static str,
    pub value: String,
}

#[derive(Serialize, JsonSchema)]
pub struct VariableDto {
    pub name: &'static str,
    pub description: &'static str,
}

//! `x-api-key` (the secret of one of the workspace's API keys) and `x-workspace-id` on every
//! request (API introduction → authentication).

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest};

use super::error::{TrilletError, TrilletResult};
use crate::app::App;
use crate::domain::TenantId;
use crate::idempotency::resolve_once;

/// The workspace whose API key is calling (no user stands behind it): every handler's
/// extractor, resolved once per request.
pub struct Workspace {
    pub tenant: TenantId,
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The secret presented in `x-api-key`, if any.
pub fn presented_secret(req: &HttpRequest) -> Option<&str> {
    header(req, "x-api-key")
}

/// Checks in this order: a key (401), the workspace header (400), the key's workspace (403).
async fn authenticate(req: HttpRequest) -> TrilletResult<Workspace> {
    let app = App::of(&req)?;
    let unauthorized =
        || TrilletError::new(StatusCode::UNAUTHORIZED, "Invalid or missing API key.");
    let secret = presented_secret(&req).ok_or_else(unauthorized)?;
    let key = app
        .service
        .authenticate_api_secret(secret.to_string())
        .await
        .map_err(|_| unauthorized())?;
    let named = header(&req, "x-workspace-id")
        .ok_or_else(|| TrilletError::bad_request("The x-workspace-id header is required."))?;
    let tenant = app.service.tenant(key.tenant_id).await?;
    if tenant.workspace_id.as_deref() != Some(named) {
        return Err(TrilletError::new(
            StatusCode::FORBIDDEN,
            "The API key does not belong to this workspace.",
        ));
    }
    Ok(Workspace { tenant: tenant.id })
}

/// Handlers that read a body take it as a `Result` and refuse after the body is read: an
/// extractor's error is answered before the body arrives, and an unread body closes the
/// connection, which these routes never did.
impl FromRequest for Workspace {
    type Error = TrilletError;
    type Future = Pin<Box<dyn Future<Output = TrilletResult<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        resolve_once(req, authenticate)
    }
}

//! `x-api-key` (the secret of one of the workspace's API keys) and `x-workspace-id` on every
//! request (API introduction → authentication).

use actix_web::http::StatusCode;
use actix_web::HttpRequest;

use super::error::{TrilletError, TrilletResult};
use crate::app::App;
use crate::domain::TenantId;

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The workspace the caller's key belongs to, once the named workspace agrees.
pub async fn workspace(app: &App, req: &HttpRequest) -> TrilletResult<TenantId> {
    let unauthorized =
        || TrilletError::new(StatusCode::UNAUTHORIZED, "Invalid or missing API key.");
    let secret = header(req, "x-api-key").ok_or_else(unauthorized)?;
    let key = app
        .service
        .authenticate_api_secret(secret.to_string())
        .await
        .map_err(|_| unauthorized())?;
    let named = header(req, "x-workspace-id")
        .ok_or_else(|| TrilletError::bad_request("The x-workspace-id header is required."))?;
    let tenant = app.service.tenant(key.tenant_id).await?;
    if tenant.workspace_id.as_deref() != Some(named) {
        return Err(TrilletError::new(
            StatusCode::FORBIDDEN,
            "The API key does not belong to this workspace.",
        ));
    }
    Ok(tenant.id)
}

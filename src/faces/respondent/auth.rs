//! `x-api-key` + `x-api-secret` (developers.respondent.io: every Partner API request carries
//! both headers): the tenant they resolve to and its API owner, who acts for the partner.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};

use super::error::RespondentError;
use crate::app::App;
use crate::domain::{TenantId, User};
use crate::error::Error;
use crate::idempotency::resolve_once;

/// The partner's tenant and who acts for it: every handler's extractor, resolved once per
/// request.
pub struct Partner {
    pub tenant: TenantId,
    /// The tenant's owner: the conversation `user`, the sender of every message sent here.
    pub owner: User,
}

fn header(req: &HttpRequest, name: &str) -> Result<String, Error> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::Unauthenticated(format!("missing {name}")))
}

async fn authenticate(req: HttpRequest) -> Result<Partner, Error> {
    let app = App::of(&req)?;
    let key = header(&req, "x-api-key")?;
    let secret = header(&req, "x-api-secret")?;
    let api_key = app.service.authenticate_api_key(key, secret).await?;
    let tenant = app.service.tenant(api_key.tenant_id).await?;
    let owner = app.service.tenant_owner(&tenant).await?;
    Ok(Partner {
        tenant: tenant.id,
        owner,
    })
}

impl FromRequest for Partner {
    type Error = RespondentError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, RespondentError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        resolve_once(req, |req| async move {
            authenticate(req).await.map_err(RespondentError::from)
        })
    }
}

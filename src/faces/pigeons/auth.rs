//! Who is calling: `Authorization: Bearer <Sanctum token>` with the `backoffice` ability (or
//! `*`), in the platform named by `X-PUBLIC-KEY`. Sanctum's `id|secret` tokens are stored whole
//! (hashed), so `Service::authenticate_bearer` resolves them like any other bearer token.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};

use super::error::PigeonsError;
use crate::app::App;
use crate::auth::{presented, Presented, Principal};
use crate::domain::{Tenant, User};
use crate::error::Error;
use crate::idempotency::resolve_once;

// EN/Pigeons/Endpoints/*.md: "Bearer token with `backoffice` ability".
pub const ABILITY: &str = "backoffice";
pub const PUBLIC_KEY_HEADER: &str = "X-PUBLIC-KEY";

/// The authenticated user and their platform: every handler's extractor, resolved once per
/// request.
pub struct Caller {
    pub user: User,
    pub tenant: Tenant,
}

/// Checks run in Laravel's middleware order: token (401), ability (403), platform key (401).
async fn authenticate(req: HttpRequest) -> Result<Caller, PigeonsError> {
    let app = App::of(&req)?;
    let Presented::Token(token) = presented(&req, &["bearer"]) else {
        return Err(PigeonsError::Unauthenticated);
    };
    let (user, token) = match app.service.authenticate_bearer(token).await {
        Ok(Principal::User { user, token }) => (user, token),
        // The server admin is nobody in a chat.
        Ok(Principal::ServerAdmin) | Err(Error::Unauthenticated(_)) => {
            return Err(PigeonsError::Unauthenticated)
        }
        Err(e) => return Err(e.into()),
    };
    if !token.can(ABILITY) {
        return Err(PigeonsError::MissingAbility);
    }
    let key = req
        .headers()
        .get(PUBLIC_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(PigeonsError::InvalidPlatformKey)?;
    let tenant = match app.service.tenant_by_public_key(key.to_string()).await {
        Ok(t) => t,
        Err(Error::Unauthenticated(_)) => return Err(PigeonsError::InvalidPlatformKey),
        Err(e) => return Err(e.into()),
    };
    if tenant.id != user.tenant_id {
        return Err(PigeonsError::InvalidPlatformKey);
    }
    Ok(Caller {
        user: *user,
        tenant,
    })
}

impl FromRequest for Caller {
    type Error = PigeonsError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PigeonsError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        resolve_once(req, authenticate)
    }
}

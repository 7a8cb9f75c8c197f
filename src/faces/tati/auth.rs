//! `Authorization: Token <t>` (DRF's TokenAuthentication; `Bearer <t>` accepted too). The token
//! must belong to a patient and carry the `tati` ability (or `*`).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};

use super::error::{TatiError, TatiResult};
use crate::app::App;
use crate::auth::{presented, Presented, Principal};
use crate::domain::{Conversation, IdRef, Role, TenantId, User, UserId};
use crate::idempotency::resolve_once;

/// The ability Tati tokens carry.
pub const ABILITY: &str = "tati";

/// The calling patient and the tenant's assistant, who answers them: every handler's
/// extractor, resolved once per request.
pub struct Caller {
    pub tenant: TenantId,
    pub patient: User,
    pub assistant: UserId,
}

/// Checks in DRF's order: credentials (401), permission (403); then the tenant's assistant.
async fn authenticate(req: HttpRequest) -> TatiResult<Caller> {
    let app = App::of(&req)?;
    let token = match presented(&req, &["token", "bearer"]) {
        Presented::Token(token) => token,
        Presented::Missing => return Err(TatiError::NoCredentials),
        Presented::Malformed | Presented::OtherScheme => return Err(TatiError::InvalidToken),
    };
    let principal = app
        .service
        .authenticate_bearer(token)
        .await
        .map_err(|_| TatiError::InvalidToken)?;
    let Principal::User { user, token } = principal else {
        return Err(TatiError::NoPermission);
    };
    if user.role != Role::Patient || !token.can(ABILITY) {
        return Err(TatiError::NoPermission);
    }
    let tenant = app.service.tenant(user.tenant_id).await?;
    let assistant = tenant.assistant_id.ok_or_else(|| {
        TatiError::Internal(format!("tenant {} has no assistant user", tenant.id.0))
    })?;
    Ok(Caller {
        tenant: tenant.id,
        patient: *user,
        assistant,
    })
}

/// Handlers that read a body take it as a `Result` and refuse after the body is read: an
/// extractor's error is answered before the body arrives, and an unread body closes the
/// connection, which these routes never did.
impl FromRequest for Caller {
    type Error = TatiError;
    type Future = Pin<Box<dyn Future<Output = TatiResult<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        resolve_once(req, authenticate)
    }
}

impl Caller {
    /// The caller's conversation with the assistant named `unique_id`; not found otherwise.
    pub async fn conversation(&self, app: &App, unique_id: String) -> TatiResult<Conversation> {
        Ok(app
            .service
            .conversation_between(
                self.tenant,
                self.patient.id,
                self.assistant,
                IdRef::Key(unique_id),
            )
            .await?)
    }
}

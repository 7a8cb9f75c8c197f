//! Who is calling: a patient's user JWT on the messaging endpoints (reference pages
//! `_authentication_overview`, `_users`), API key and password in the body of the token calls.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use serde::Deserialize;

use super::error::{MdliveError, MdliveResult};
use super::params::Params;
use crate::app::App;
use crate::auth::jwt::{Refusal, Subject, Verified};
use crate::auth::{presented, Presented};
use crate::domain::{ApiKey, Role, Tenant, User};
use crate::error::Error;
use crate::idempotency::resolve_once;

/// The patient a valid user token speaks for, with their tenant: the extractor of every
/// patient endpoint, which also checks that the patient in the path is the token's.
pub struct Patient {
    pub tenant: Tenant,
    pub user: User,
}

/// The patient holding a valid user token, whatever the path says (the token refresh, and
/// the Idempotency-Key middleware, which keys sends by the token's patient).
pub struct TokenHolder(pub Patient);

type Extracting<T> = Pin<Box<dyn Future<Output = MdliveResult<T>>>>;

/// The token in `Authorization: Bearer <jwt>`, verified.
fn bearer(app: &App, req: &HttpRequest) -> MdliveResult<Verified> {
    let Presented::Token(token) = presented(req, &["bearer"]) else {
        return Err(MdliveError::Unauthorized(
            "Authorization header with a Bearer token is required",
        ));
    };
    app.jwt
        .verify(&token, app.service.now())
        .map_err(|refusal| match refusal {
            Refusal::Invalid => MdliveError::Unauthorized("Invalid token"),
            Refusal::Expired => MdliveError::Unauthorized("Token has expired"),
        })
}

async fn token_holder(req: HttpRequest) -> MdliveResult<TokenHolder> {
    let app = App::of(&req)?;
    let token = bearer(&app, &req)?;
    let Subject::User(user) = token.subject else {
        return Err(MdliveError::Unauthorized(
            "A user token is required for this request",
        ));
    };
    let (tenant, user) = app
        .service
        .user_and_tenant(token.tenant, user)
        .await
        .map_err(|e| match e {
            Error::NotFound(_) => MdliveError::Unauthorized("Invalid token"),
            other => other.into(),
        })?;
    if user.role != Role::Patient {
        return Err(MdliveError::Unauthorized(
            "A patient's user token is required for this request",
        ));
    }
    // A JWT has no id of its own: the trail names it by kind.
    crate::service::credentials::identify_user(&user, "jwt".into());
    Ok(TokenHolder(Patient { tenant, user }))
}

/// Handlers that read a body take it as a `Result` and refuse after the body is read: an
/// extractor's error is answered before the body arrives, and an unread body closes the
/// connection, which these routes never did.
impl FromRequest for TokenHolder {
    type Error = MdliveError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        resolve_once(req, token_holder)
    }
}

/// The `{patient_id}` of the path, read as the handlers' `web::Path` reads it.
#[derive(Deserialize)]
struct InPath {
    patient_id: String,
}

impl FromRequest for Patient {
    type Error = MdliveError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let holder = TokenHolder::from_request(req, payload);
        let in_path = web::Path::<InPath>::extract(req);
        Box::pin(async move {
            let TokenHolder(holder) = holder.await?;
            let patient_id = in_path
                .await
                .map_err(|e| Error::internal(format!("patient_id of the path: {e}")))?
                .into_inner()
                .patient_id;
            if patient_id.parse::<i64>().ok() != Some(holder.user.id.0) {
                return Err(MdliveError::Unauthorized(
                    "The token does not belong to this patient",
                ));
            }
            Ok(holder)
        })
    }
}

/// The API key named by `{"api_key": K, "password": S}` under `key` of the body.
pub async fn api_key(
    app: &web::Data<App>,
    body: &Params,
    key: &'static str,
) -> MdliveResult<ApiKey> {
    let creds = body.require(key)?;
    let mut fields = creds.fields();
    let api_key = fields.string("api_key", true);
    let password = fields.string("password", true);
    fields.finish()?;
    let (Some(api_key), Some(password)) = (api_key, password) else {
        return Err(MdliveError::ParameterMissing(key));
    };
    app.service
        .authenticate_api_key(api_key, password)
        .await
        .map_err(|e| match e {
            Error::Unauthenticated(_) => MdliveError::Unauthorized("Invalid API key or password"),
            other => other.into(),
        })
}

//! Who is calling: a patient's user JWT on the messaging endpoints (reference pages
//! `_authentication_overview`, `_users`), API key and password in the body of the token calls.

use actix_web::{web, HttpRequest};

use super::error::{MdliveError, MdliveResult};
use super::params::Params;
use crate::app::App;
use crate::auth::jwt::{Refusal, Subject, Verified};
use crate::auth::{presented, Presented};
use crate::domain::{ApiKey, Role, Tenant, User};
use crate::error::Error;

/// The patient a valid user token speaks for, with their tenant.
pub struct Patient {
    pub tenant: Tenant,
    pub user: User,
}

/// The token in `Authorization: Bearer <jwt>`, verified.
pub fn bearer(app: &App, req: &HttpRequest) -> MdliveResult<Verified> {
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

/// The patient holding a valid user token.
pub async fn token_holder(app: &App, req: &HttpRequest) -> MdliveResult<Patient> {
    let token = bearer(app, req)?;
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
    Ok(Patient { tenant, user })
}

/// The caller must hold a user token for the patient in the path.
pub async fn patient(app: &App, req: &HttpRequest, patient_id: &str) -> MdliveResult<Patient> {
    let holder = token_holder(app, req).await?;
    if patient_id.parse::<i64>().ok() != Some(holder.user.id.0) {
        return Err(MdliveError::Unauthorized(
            "The token does not belong to this patient",
        ));
    }
    Ok(holder)
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

//! Retention policy and legal holds, for tenant admins (and the server admin naming the tenant).

use actix_web::{web, HttpResponse};

use super::auth::TenantCaller;
use super::dto::*;
use super::error::ApiResult;
use super::extract::Json;
use crate::app::App;
use crate::auth::Principal;
use crate::domain::UserId;
use crate::error::Error;
use crate::service::retention::HoldOn;

/// Who acts, for the hold's record: the caller's user, or None for the server admin.
fn actor(caller: &TenantCaller) -> Option<UserId> {
    match &caller.principal {
        Principal::ServerAdmin => None,
        Principal::User { user, .. } => Some(user.id),
    }
}

pub async fn get_policy(app: web::Data<App>, caller: TenantCaller) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let policy = app.service.retention_policy(caller.tenant).await?;
    Ok(HttpResponse::Ok().json(RetentionDto::from(policy)))
}

pub async fn set_policy(
    app: web::Data<App>,
    caller: TenantCaller,
    body: Json<SetRetention>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let days = body.0.message_days.ok_or_else(|| {
        Error::invalid(
            "message_days",
            "is required: a number of days, or null to keep messages forever",
        )
    })?;
    let policy = app.service.set_retention(caller.tenant, days).await?;
    Ok(HttpResponse::Ok().json(RetentionDto::from(policy)))
}

pub async fn list_holds(app: web::Data<App>, caller: TenantCaller) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let holds = app.service.legal_holds(caller.tenant).await?;
    Ok(HttpResponse::Ok().json(List {
        data: holds.into_iter().map(HoldDto::from).collect(),
        next_cursor: None,
    }))
}

pub async fn place_hold(
    app: web::Data<App>,
    caller: TenantCaller,
    body: Json<CreateHold>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let body = body.0;
    let on = match (refs(body.conversation), refs(body.user)) {
        (Some(c), None) => HoldOn::Conversation(c),
        (None, Some(u)) => HoldOn::User(u),
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "user",
                "a hold is on a conversation or on a user, not both",
            )
            .into())
        }
        (None, None) => {
            return Err(Error::invalid(
                "conversation",
                "name the conversation or the user (\"user\") the hold is on",
            )
            .into())
        }
    };
    let hold = app
        .service
        .place_legal_hold(caller.tenant, on, body.reason, actor(&caller))
        .await?;
    Ok(HttpResponse::Created().json(HoldDto::from(hold)))
}

pub async fn release_hold(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let id = path
        .parse::<i64>()
        .map_err(|_| Error::NotFound("legal hold"))?;
    let hold = app
        .service
        .release_legal_hold(caller.tenant, id, actor(&caller))
        .await?;
    Ok(HttpResponse::Ok().json(HoldDto::from(hold)))
}

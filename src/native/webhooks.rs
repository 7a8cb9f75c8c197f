//! `/webhooks`: a tenant's endpoints and their outbox, for tenant admins (and the server admin
//! naming the tenant).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::auth::TenantCaller;
use super::dto::*;
use super::error::ApiResult;
use super::extract::{Json, Query};
use crate::app::App;
use crate::error::Error;
use crate::service::page_limit;
use crate::webhooks::Webhooks;

fn id(segment: &str, what: &'static str) -> Result<i64, Error> {
    segment.parse::<i64>().map_err(|_| Error::NotFound(what))
}

pub async fn list(app: web::Data<App>, caller: TenantCaller) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let now = app.service.now();
    let endpoints = app.service.webhooks(caller.tenant).await?;
    Ok(HttpResponse::Ok().json(List {
        data: endpoints.iter().map(|e| WebhookDto::new(e, now)).collect(),
        next_cursor: None,
    }))
}

pub async fn create(
    app: web::Data<App>,
    hooks: web::Data<Webhooks>,
    caller: TenantCaller,
    body: Json<CreateWebhook>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let e = app
        .service
        .create_webhook(caller.tenant, body.0.into(), hooks.outbound)
        .await?;
    Ok(HttpResponse::Created().json(SecretDto {
        endpoint: WebhookDto::new(&e, app.service.now()),
        secret: e.secret,
    }))
}

pub async fn get(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let e = app
        .service
        .webhook(caller.tenant, id(&path, "webhook endpoint")?)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookDto::new(&e, app.service.now())))
}

pub async fn update(
    app: web::Data<App>,
    hooks: web::Data<Webhooks>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: Json<UpdateWebhook>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let endpoint = id(&path, "webhook endpoint")?;
    let e = app
        .service
        .update_webhook(caller.tenant, endpoint, body.0.into(), hooks.outbound)
        .await?;
    // Enabled again, or pointed elsewhere: what waited may go now.
    hooks.wake();
    Ok(HttpResponse::Ok().json(WebhookDto::new(&e, app.service.now())))
}

pub async fn delete(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    app.service
        .delete_webhook(caller.tenant, id(&path, "webhook endpoint")?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn rotate_secret(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let e = app
        .service
        .rotate_webhook_secret(caller.tenant, id(&path, "webhook endpoint")?)
        .await?;
    Ok(HttpResponse::Ok().json(SecretDto {
        endpoint: WebhookDto::new(&e, app.service.now()),
        secret: e.secret,
    }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    status: Option<String>,
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    before: Option<String>,
}

pub async fn deliveries(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    query: Query<DeliveriesQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let q = query.0;
    let limit = page_limit("limit", q.limit, 50)?;
    let before = q
        .before
        .map(|b| {
            b.parse::<i64>()
                .map_err(|_| Error::invalid("before", "must be a next_cursor of this list"))
        })
        .transpose()?;
    let page = app
        .service
        .webhook_deliveries(
            caller.tenant,
            id(&path, "webhook endpoint")?,
            q.status,
            before,
            limit,
        )
        .await?;
    let next_cursor = if page.more {
        page.deliveries.last().map(|d| d.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(List {
        data: page.deliveries.iter().map(DeliveryDto::from).collect(),
        next_cursor,
    }))
}

pub async fn delivery(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (endpoint, did) = path.into_inner();
    let (d, attempts) = app
        .service
        .webhook_delivery(
            caller.tenant,
            id(&endpoint, "webhook endpoint")?,
            id(&did, "webhook delivery")?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryDetailDto {
        delivery: DeliveryDto::from(&d),
        body: serde_json::from_str(&d.body).unwrap_or(serde_json::Value::Null),
        attempts: attempts.iter().map(AttemptDto::from).collect(),
    }))
}

pub async fn replay(
    app: web::Data<App>,
    hooks: web::Data<Webhooks>,
    caller: TenantCaller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (endpoint, did) = path.into_inner();
    let d = app
        .service
        .replay_webhook_delivery(
            caller.tenant,
            id(&endpoint, "webhook endpoint")?,
            id(&did, "webhook delivery")?,
        )
        .await?;
    hooks.wake();
    Ok(HttpResponse::Accepted().json(DeliveryDto::from(&d)))
}

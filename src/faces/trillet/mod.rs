//! The Trillet face (seed 001): a workspace's AI-agent conversations, as Trillet's Express API
//! serves them (ObjectIds, camelCase, Mongoose key order). Contract: `shared/faces/trillet.md`.

mod auth;
mod conversations;
mod convert;
mod dto;
pub mod error;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::error::Error;
use crate::idempotency::{idempotent, identified, Identifying, Identity, Surface};
use error::TrilletError;

pub const BASE: &str = "/v1/api";

/// Every route, as the journal's near misses list them (`control::journal::near`); a test
/// checks each one answers.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/conversations"),
    ("POST", "/conversations/message/generate"),
    ("GET", "/conversations/flow/{flowId}"),
    ("GET", "/conversations/{conversationId}"),
    ("DELETE", "/conversations/{conversationId}"),
    (
        "DELETE",
        "/conversations/{conversationId}/message/{messageId}",
    ),
    (
        "POST",
        "/conversations/{conversationId}/message/{messageId}/action",
    ),
];

pub fn routes(cfg: &mut web::ServiceConfig, prefix: &str) {
    cfg.service(
        web::scope(prefix)
            .route("/conversations", web::get().to(conversations::list))
            .route(
                "/conversations/message/generate",
                web::post()
                    .to(conversations::generate)
                    .wrap(idempotent(&IDEMPOTENT)),
            )
            .route(
                "/conversations/flow/{flowId}",
                web::get().to(conversations::by_flow),
            )
            .route(
                "/conversations/{conversationId}",
                web::get().to(conversations::get),
            )
            .route(
                "/conversations/{conversationId}",
                web::delete().to(conversations::delete),
            )
            .route(
                "/conversations/{conversationId}/message/{messageId}",
                web::delete().to(conversations::delete_message),
            )
            .route(
                "/conversations/{conversationId}/message/{messageId}/action",
                web::post().to(conversations::action),
            )
            .default_service(web::to(route_not_found)),
    );
}

/// `Idempotency-Key` on generate: keys belong to the API key (no user stands behind it).
pub(crate) static IDEMPOTENT: Surface = Surface {
    name: "trillet",
    identify: identify_key,
    render: |e| TrilletError::from(e).error_response(),
};

fn identify_key(req: HttpRequest) -> Identifying {
    Box::pin(async move {
        let outcome = auth::Workspace::from_request(&req, &mut Payload::None).await;
        identified(
            &req,
            outcome,
            // The secret the workspace was just resolved by.
            |workspace| {
                let presented = auth::presented_secret(&req).unwrap_or_default();
                Identity::api_key(workspace.tenant, presented)
            },
            |e| match e.status {
                StatusCode::SERVICE_UNAVAILABLE => Ok(Error::unavailable(e.message, e.retry_after)),
                status if status.is_server_error() => Ok(Error::internal(e.message)),
                _ => Err(e),
            },
        )
    })
}

async fn route_not_found(req: HttpRequest) -> HttpResponse {
    not_found(&req)
}

/// A path under Trillet's that no route matches.
pub fn not_found(_: &HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&TrilletError::new(
        StatusCode::NOT_FOUND,
        "Route not found.",
    ))
}

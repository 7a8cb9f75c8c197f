//! The MDLIVE face (seed 000): a patient's messaging with providers and system messages, as
//! MDLIVE's Rails API serves it, with HS256 JWTs. Contract: `shared/faces/mdlive.md`.

mod auth;
mod convert;
mod dto;
pub mod error;
mod messages;
mod params;
mod tokens;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::idempotency::{idempotent, identified, is_fault, Identifying, Identity, Surface};
use error::MdliveError;

/// MDLIVE's paths start at the server root (`/api/v2/...`, `/api/v1/...`, `/auth/...`).
pub const BASE: &str = "/";

/// Every route, as the journal's near misses list them (`control::journal::near`); a test
/// checks each one answers.
pub const ROUTES: &[(&str, &str)] = &[
    (
        "GET",
        "/api/v2/patients/{patient_id}/messages/conversations",
    ),
    (
        "GET",
        "/api/v1/patients/{patient_id}/providers/{provider_id}/conversation",
    ),
    ("POST", "/api/v1/patients/{patient_id}/messages"),
    ("GET", "/api/v1/patients/{patient_id}/messages/contacts"),
    ("GET", "/api/v1/patients/{patient_id}/messages/system"),
    (
        "POST",
        "/api/v1/patients/{patient_id}/messages/{message_id}/mark_read",
    ),
    (
        "PUT",
        "/api/v1/patients/{patient_id}/messages/{message_id}/mark_read",
    ),
    ("POST", "/api/v1/sso_auth/auth_token"),
    ("POST", "/api/v1/sso_auth/auth_extend"),
    ("POST", "/auth/auth_token"),
];

pub fn routes(cfg: &mut web::ServiceConfig, prefix: &str) {
    let patients = |version: &str| web::scope(&format!("{prefix}/api/{version}/patients"));
    cfg.service(
        patients("v2")
            .route(
                "/{patient_id}/messages/conversations",
                web::get().to(messages::conversations),
            )
            .default_service(web::to(route_not_found)),
    )
    .service(
        patients("v1")
            .route(
                "/{patient_id}/providers/{provider_id}/conversation",
                web::get().to(messages::thread),
            )
            .route(
                "/{patient_id}/messages",
                web::post().to(messages::send).wrap(idempotent(&IDEMPOTENT)),
            )
            .route(
                "/{patient_id}/messages/contacts",
                web::get().to(messages::contacts),
            )
            .route(
                "/{patient_id}/messages/system",
                web::get().to(messages::system),
            )
            .route(
                "/{patient_id}/messages/{message_id}/mark_read",
                web::post().to(messages::mark_read),
            )
            .route(
                "/{patient_id}/messages/{message_id}/mark_read",
                web::put().to(messages::mark_read),
            )
            .default_service(web::to(route_not_found)),
    )
    .service(
        web::scope(&format!("{prefix}/api/v1/sso_auth"))
            .route("/auth_token", web::post().to(tokens::sso_token))
            .route("/auth_extend", web::post().to(tokens::sso_extend))
            .default_service(web::to(route_not_found)),
    )
    .service(
        web::scope(&format!("{prefix}/auth"))
            .route("/auth_token", web::post().to(tokens::api_token))
            .default_service(web::to(route_not_found)),
    );
}

/// `Idempotency-Key` on sends: keys belong to the patient holding the token.
pub(crate) static IDEMPOTENT: Surface = Surface {
    name: "mdlive",
    identify: identify_patient,
    render: |e| MdliveError::Core(e).error_response(),
};

fn identify_patient(req: HttpRequest) -> Identifying {
    Box::pin(async move {
        let outcome = auth::TokenHolder::from_request(&req, &mut Payload::None).await;
        identified(
            &req,
            outcome,
            |holder| Identity::user(holder.0.tenant.id, holder.0.user.id),
            |e| match e {
                MdliveError::Core(e) if is_fault(&e) => Ok(e),
                refusal => Err(refusal),
            },
        )
    })
}

async fn route_not_found(req: HttpRequest) -> HttpResponse {
    not_found(&req)
}

/// A path under MDLIVE's that no route matches.
pub fn not_found(_: &HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&MdliveError::Core(crate::error::Error::NotFound(
        "route",
    )))
}

//! The Tati face (seed 003): a patient's conversations with the tenant's assistant, as Tati's
//! Django REST Framework API serves them. Contract: `shared/faces/tati.md`.

mod auth;
mod conversations;
mod convert;
mod dto;
pub mod error;
mod fields;
mod messages;
mod tokens;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError, Route};

use crate::error::Error;
use crate::idempotency::{idempotent, identified, Identifying, Identity, Surface};
use error::TatiError;

pub const BASE: &str = "/v0.1";

/// Every route, as the journal's near misses list them (`control::journal::near`); a test
/// checks each one answers.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/token/"),
    ("GET", "/patients/conversations/"),
    ("POST", "/patients/conversations/"),
    ("GET", "/patients/conversations/{unique_id}/"),
    ("PUT", "/patients/conversations/{unique_id}/"),
    ("DELETE", "/patients/conversations/{unique_id}/"),
    ("GET", "/patients/conversations/{conversation_id}/messages/"),
    (
        "POST",
        "/patients/conversations/{conversation_id}/messages/",
    ),
    ("GET", "/patients/messages/{unique_id}/"),
    ("PUT", "/patients/messages/{unique_id}/"),
    ("DELETE", "/patients/messages/{unique_id}/"),
];

/// One resource at `path` (written with its trailing slash) that also answers without the
/// slash, as Tati's docs show the slash and clients leave it off. Other methods get DRF's 405.
fn resource(path: &str, routes: Vec<Route>) -> actix_web::Resource {
    let bare = path.trim_end_matches('/');
    let mut r = web::resource([path, bare]).default_service(web::to(method_not_allowed));
    for route in routes {
        r = r.route(route);
    }
    r
}

pub fn routes(cfg: &mut web::ServiceConfig, prefix: &str) {
    cfg.service(
        web::scope(prefix)
            .service(resource("/token/", vec![web::post().to(tokens::obtain)]))
            .service(resource(
                "/patients/conversations/",
                vec![
                    web::get().to(conversations::list),
                    web::post()
                        .to(conversations::create)
                        .wrap(idempotent(&IDEMPOTENT)),
                ],
            ))
            .service(resource(
                "/patients/conversations/{unique_id}/",
                vec![
                    web::get().to(conversations::get),
                    web::put().to(conversations::update),
                    web::delete().to(conversations::delete),
                ],
            ))
            .service(resource(
                "/patients/conversations/{conversation_id}/messages/",
                vec![
                    web::get().to(messages::list),
                    web::post()
                        .to(messages::create)
                        .wrap(idempotent(&IDEMPOTENT)),
                ],
            ))
            .service(resource(
                "/patients/messages/{unique_id}/",
                vec![
                    web::get().to(messages::get),
                    web::put().to(messages::update),
                    web::delete().to(messages::delete),
                ],
            ))
            .default_service(web::to(route_not_found)),
    );
}

/// `Idempotency-Key` on the routes that create: keys belong to the patient holding the token.
pub(crate) static IDEMPOTENT: Surface = Surface {
    name: "tati",
    identify: identify_patient,
    render: |e| TatiError::from(e).error_response(),
};

fn identify_patient(req: HttpRequest) -> Identifying {
    Box::pin(async move {
        let outcome = auth::Caller::from_request(&req, &mut Payload::None).await;
        identified(
            &req,
            outcome,
            |me| Identity::user(me.tenant, me.patient.id),
            |e| match e {
                TatiError::Internal(cause) => Ok(Error::Internal(cause)),
                TatiError::Unavailable(message, retry_after) => {
                    Ok(Error::unavailable(message, retry_after))
                }
                refusal => Err(refusal),
            },
        )
    })
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&TatiError::MethodNotAllowed(req.method().to_string()))
}

async fn route_not_found(req: HttpRequest) -> HttpResponse {
    not_found(&req)
}

/// A path under Tati's that no route matches: DRF's `NotFound`.
pub fn not_found(_: &HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&TatiError::NotFound)
}

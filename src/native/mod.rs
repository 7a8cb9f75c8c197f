//! Parlor's own JSON API under `/parlor/v1`: the admin page's backend, clinics' own apps, and
//! how a test suite plays the other side of a vendor conversation (`"as": <user>`).

mod accounts;
mod audit;
pub mod auth;
mod conversations;
mod directory;
pub mod dto;
pub mod error;
pub mod etag;
pub mod events;
mod export;
pub mod extract;
mod faces;
mod messages;
mod retention;
mod sessions;
mod webhooks;

use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest, Route};

use crate::auth::Principal;
use crate::domain::IdRef;
use crate::error::Error;
use crate::idempotency::{idempotent, identified, is_fault, Identifying, Identity, Surface};

/// A date or RFC 3339 time, as the audit trail's filters read it (the CLI's too).
pub use audit::instant as audit_instant;

pub const BASE: &str = "/parlor/v1";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .service(resource(
                "/auth/login",
                &[Method::POST],
                vec![web::post().to(directory::login)],
            ))
            .service(resource(
                "/session",
                &[Method::POST, Method::GET, Method::DELETE],
                vec![
                    web::post().to(sessions::sign_in),
                    web::get().to(sessions::current),
                    web::delete().to(sessions::sign_out),
                ],
            ))
            .service(resource(
                "/events",
                &[Method::GET],
                vec![web::get().to(events::stream)],
            ))
            .service(resource(
                "/faces",
                &[Method::GET],
                vec![web::get().to(faces::list)],
            ))
            .service(resource(
                "/me",
                &[Method::GET, Method::PATCH],
                vec![
                    web::get().to(directory::me),
                    web::patch().to(accounts::update_me),
                ],
            ))
            .service(resource(
                "/contacts",
                &[Method::GET],
                vec![web::get().to(accounts::contacts)],
            ))
            .service(resource(
                "/invites/{secret}",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(accounts::show_invite),
                    web::post().to(accounts::accept_invite),
                ],
            ))
            .service(resource(
                "/tenants",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(directory::list_tenants),
                    web::post().to(directory::create_tenant),
                ],
            ))
            .service(resource(
                "/tenants/{tenant}",
                &[Method::GET],
                vec![web::get().to(directory::get_tenant)],
            ))
            .service(resource(
                "/users",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(directory::list_users),
                    web::post().to(directory::create_user),
                ],
            ))
            .service(resource(
                "/users/{user}",
                &[Method::GET, Method::PATCH],
                vec![
                    web::get().to(directory::get_user),
                    web::patch().to(directory::update_user),
                ],
            ))
            .service(resource(
                "/users/{user}/export",
                &[Method::GET],
                vec![web::get().to(export::download)],
            ))
            .service(resource(
                "/users/{user}/invites",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(accounts::invite_state),
                    web::post().to(accounts::create_invite),
                ],
            ))
            .service(resource(
                "/users/{user}/tokens",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(directory::list_tokens),
                    web::post().to(directory::create_token),
                ],
            ))
            .service(resource(
                "/tokens/{token}",
                &[Method::DELETE],
                vec![web::delete().to(directory::revoke_token)],
            ))
            .service(resource(
                "/api-keys",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(directory::list_api_keys),
                    web::post().to(directory::create_api_key),
                ],
            ))
            .service(resource(
                "/api-keys/{key}",
                &[Method::DELETE],
                vec![web::delete().to(directory::revoke_api_key)],
            ))
            .service(resource(
                "/audit",
                &[Method::GET],
                vec![web::get().to(audit::list)],
            ))
            .service(resource(
                "/conversations",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(conversations::list),
                    web::post()
                        .to(conversations::create)
                        .wrap(idempotent(&IDEMPOTENT)),
                ],
            ))
            .service(resource(
                "/conversations/{conv}",
                &[Method::GET, Method::PATCH, Method::DELETE],
                vec![
                    web::get().to(conversations::get),
                    web::patch().to(conversations::update),
                    web::delete().to(conversations::delete),
                ],
            ))
            .service(resource(
                "/conversations/{conv}/participants",
                &[Method::POST],
                vec![web::post().to(conversations::add_participant)],
            ))
            .service(resource(
                "/conversations/{conv}/participants/{user}",
                &[Method::DELETE],
                vec![web::delete().to(conversations::remove_participant)],
            ))
            .service(resource(
                "/conversations/{conv}/read",
                &[Method::POST],
                vec![web::post().to(messages::mark_conversation_read)],
            ))
            .service(resource(
                "/conversations/{conv}/messages",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(messages::list),
                    web::post().to(messages::send).wrap(idempotent(&IDEMPOTENT)),
                ],
            ))
            .service(resource(
                "/messages/{msg}",
                &[Method::GET, Method::PATCH, Method::DELETE],
                vec![
                    web::get().to(messages::get),
                    web::patch().to(messages::edit),
                    web::delete().to(messages::delete),
                ],
            ))
            .service(resource(
                "/messages/{msg}/read",
                &[Method::POST],
                vec![web::post().to(messages::mark_message_read)],
            ))
            .service(resource(
                "/retention",
                &[Method::GET, Method::PUT],
                vec![
                    web::get().to(retention::get_policy),
                    web::put().to(retention::set_policy),
                ],
            ))
            .service(resource(
                "/legal-holds",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(retention::list_holds),
                    web::post().to(retention::place_hold),
                ],
            ))
            .service(resource(
                "/legal-holds/{hold}/release",
                &[Method::POST],
                vec![web::post().to(retention::release_hold)],
            ))
            .service(resource(
                "/webhooks",
                &[Method::GET, Method::POST],
                vec![
                    web::get().to(webhooks::list),
                    web::post().to(webhooks::create),
                ],
            ))
            .service(resource(
                "/webhooks/{webhook}",
                &[Method::GET, Method::PATCH, Method::DELETE],
                vec![
                    web::get().to(webhooks::get),
                    web::patch().to(webhooks::update),
                    web::delete().to(webhooks::delete),
                ],
            ))
            .service(resource(
                "/webhooks/{webhook}/rotate-secret",
                &[Method::POST],
                vec![web::post().to(webhooks::rotate_secret)],
            ))
            .service(resource(
                "/webhooks/{webhook}/deliveries",
                &[Method::GET],
                vec![web::get().to(webhooks::deliveries)],
            ))
            .service(resource(
                "/webhooks/{webhook}/deliveries/{delivery}",
                &[Method::GET],
                vec![web::get().to(webhooks::delivery)],
            ))
            .service(resource(
                "/webhooks/{webhook}/deliveries/{delivery}/replay",
                &[Method::POST],
                vec![web::post().to(webhooks::replay)],
            ))
            .service(resource(
                "/unread",
                &[Method::GET],
                vec![web::get().to(conversations::unread)],
            )),
    );
}

/// `Idempotency-Key` on the routes that create: keys belong to whoever the token or session
/// speaks for, in the tenant the call is about.
pub(crate) static IDEMPOTENT: Surface = Surface {
    name: "native",
    identify: identify_caller,
    render: |e| actix_web::ResponseError::error_response(&error::ApiError(e)),
};

fn identify_caller(req: HttpRequest) -> Identifying {
    Box::pin(async move {
        let outcome =
            auth::TenantCaller::from_request(&req, &mut actix_web::dev::Payload::None).await;
        identified(
            &req,
            outcome,
            |caller| match &caller.principal {
                Principal::ServerAdmin => Identity::server_admin(caller.tenant),
                Principal::User { user, .. } => Identity::user(caller.tenant, user.id),
            },
            |e| if is_fault(&e.0) { Ok(e.0) } else { Err(e) },
        )
    })
}

/// One path and its routes (`methods` lists their methods, for the `Allow` header); any other
/// method answers 405 rather than falling through to "not found".
fn resource(path: &str, methods: &[Method], routes: Vec<Route>) -> actix_web::Resource {
    let allow = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut r = web::resource(path).default_service(web::to(move |req: HttpRequest| {
        let allow = allow.clone();
        async move { error::method_not_allowed(req.method(), &allow) }
    }));
    for route in routes {
        r = r.route(route);
    }
    r
}

/// A path segment naming a resource; anything that cannot be an id is simply not found.
fn path_ref(segment: &str, what: &'static str) -> Result<IdRef, Error> {
    IdRef::parse(segment).ok_or(Error::NotFound(what))
}

/// `?as=` in a query string.
fn query_ref(value: Option<String>) -> Result<Option<IdRef>, Error> {
    value
        .map(|v| IdRef::parse(&v).ok_or_else(|| Error::invalid("as", "is not a user id")))
        .transpose()
}

//! Parlor's own JSON API under `/parlor/v1`: the admin page's backend, clinics' own apps, and
//! how a test suite plays the other side of a vendor conversation (`"as": <user>`).

pub mod auth;
mod conversations;
mod directory;
pub mod dto;
pub mod error;
pub mod etag;
pub mod extract;
mod faces;
mod messages;
mod sessions;

use actix_web::web;

use crate::domain::IdRef;
use crate::error::Error;

pub const BASE: &str = "/parlor/v1";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .route("/auth/login", web::post().to(directory::login))
            .route("/session", web::post().to(sessions::sign_in))
            .route("/session", web::get().to(sessions::current))
            .route("/session", web::delete().to(sessions::sign_out))
            .route("/faces", web::get().to(faces::list))
            .route("/me", web::get().to(directory::me))
            .route("/tenants", web::get().to(directory::list_tenants))
            .route("/tenants", web::post().to(directory::create_tenant))
            .route("/tenants/{tenant}", web::get().to(directory::get_tenant))
            .route("/users", web::get().to(directory::list_users))
            .route("/users", web::post().to(directory::create_user))
            .route("/users/{user}", web::get().to(directory::get_user))
            .route("/users/{user}", web::patch().to(directory::update_user))
            .route(
                "/users/{user}/tokens",
                web::get().to(directory::list_tokens),
            )
            .route(
                "/users/{user}/tokens",
                web::post().to(directory::create_token),
            )
            .route("/tokens/{token}", web::delete().to(directory::revoke_token))
            .route("/api-keys", web::get().to(directory::list_api_keys))
            .route("/api-keys", web::post().to(directory::create_api_key))
            .route(
                "/api-keys/{key}",
                web::delete().to(directory::revoke_api_key),
            )
            .route("/conversations", web::get().to(conversations::list))
            .route("/conversations", web::post().to(conversations::create))
            .route("/conversations/{conv}", web::get().to(conversations::get))
            .route(
                "/conversations/{conv}",
                web::patch().to(conversations::update),
            )
            .route(
                "/conversations/{conv}",
                web::delete().to(conversations::delete),
            )
            .route(
                "/conversations/{conv}/participants",
                web::post().to(conversations::add_participant),
            )
            .route(
                "/conversations/{conv}/participants/{user}",
                web::delete().to(conversations::remove_participant),
            )
            .route(
                "/conversations/{conv}/read",
                web::post().to(messages::mark_conversation_read),
            )
            .route(
                "/conversations/{conv}/messages",
                web::get().to(messages::list),
            )
            .route(
                "/conversations/{conv}/messages",
                web::post().to(messages::send),
            )
            .route("/messages/{msg}", web::get().to(messages::get))
            .route("/messages/{msg}", web::patch().to(messages::edit))
            .route("/messages/{msg}", web::delete().to(messages::delete))
            .route(
                "/messages/{msg}/read",
                web::post().to(messages::mark_message_read),
            )
            .route("/unread", web::get().to(conversations::unread)),
    );
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

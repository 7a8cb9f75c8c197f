//! Parlor's own JSON API under `/parlor/v1`: the admin page's backend, clinics' own apps, and
//! how a test suite plays the other side of a vendor conversation (`"as": <user>`).

mod accounts;
mod attachments;
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
mod search;
mod sessions;
mod webhooks;

use std::sync::OnceLock;

use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest, Route};

use crate::auth::Principal;
use crate::domain::IdRef;
use crate::error::Error;
use crate::idempotency::{idempotent, identified, is_fault, Identifying, Identity, Surface};
use crate::openapi::{self, op, Op};

/// A date or RFC 3339 time, as the audit trail's filters read it (the CLI's too).
pub use audit::instant as audit_instant;

pub const BASE: &str = "/parlor/v1";

pub fn routes(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope(BASE);
    for (path, ops) in openapi::by_path(operations()) {
        let methods: Vec<Method> = ops.iter().map(|op| op.method.clone()).collect();
        scope = scope.service(resource(path, &methods, ops.into_iter().map(|op| op.route)));
    }
    cfg.service(scope);
}

// Error statuses by kind of operation (any other is the documents' `default`).
const PUBLIC: &[u16] = &[400, 401, 429];
const READ: &[u16] = &[401, 403, 404];
const LIST: &[u16] = &[400, 401, 403, 404];
const WRITE: &[u16] = &[400, 401, 403, 404, 409, 422];
const REMOVE: &[u16] = &[401, 403, 404, 409];
const UPLOAD: &[u16] = &[400, 401, 403, 404, 413];
const DOWNLOAD: &[u16] = &[400, 401, 403, 404, 416];
const UPLOAD_HEADERS: &[(&str, &str)] = &[
    (
        crate::http::files::FILENAME_HEADER,
        "A raw body's file name (percent-encoded UTF-8), when the query has no filename",
    ),
    TENANT_HEADER,
];
const DOWNLOAD_HEADERS: &[(&str, &str)] = &[
    (
        "Range",
        "One byte range (bytes=first-last, first-, -suffix): 206, or 416 outside",
    ),
    (
        "If-None-Match",
        "The ETag (the content's SHA-256) already held: 304",
    ),
    TENANT_HEADER,
];
/// The header a server admin names the tenant with.
const TENANT_HEADER: (&str, &str) = (
    auth::TENANT_HEADER,
    "The server admin's tenant for this call (ignored for a user's own credential)",
);
const TENANT: &[(&str, &str)] = &[TENANT_HEADER];
/// The headers of the routes wrapped in `idempotent`.
const IDEMPOTENT_CREATE: &[(&str, &str)] = &[
    (
        "Idempotency-Key",
        "A retried request with the same key answers what the first did, without doing it again",
    ),
    TENANT_HEADER,
];

/// Every operation of the native API: the routes are registered from it and the OpenAPI
/// document (`GET /parlor/v1/openapi.json`) is generated from it, so neither can leave the
/// other behind.
pub fn operations() -> Vec<Op> {
    use dto::*;
    use Method as M;
    vec![
        op(
            M::GET,
            "/openapi.json",
            "This document: the native API in OpenAPI 3.1",
            openapi_json,
        )
        .public()
        .json_with(200, openapi::any_object),
        op(
            M::POST,
            "/auth/login",
            "Sign a user in with a password; answers a sign-in token",
            directory::login,
        )
        .public()
        .body::<LoginRequest>()
        .json::<LoginDto>(200)
        .errors(PUBLIC),
        op(
            M::POST,
            "/session",
            "Open an admin-page or app session (sets the session cookie)",
            sessions::sign_in,
        )
        .public()
        .body::<SignIn>()
        .json::<SessionDto>(200)
        .errors(PUBLIC),
        op(
            M::GET,
            "/session",
            "The session behind the cookie",
            sessions::current,
        )
        .json::<SessionDto>(200)
        .errors(&[401]),
        op(
            M::DELETE,
            "/session",
            "Sign out: end the session behind the cookie",
            sessions::sign_out,
        )
        .empty(204)
        .errors(&[401]),
        op(
            M::GET,
            "/events",
            "Server-sent events: the tenant's changes as they happen",
            events::stream,
        )
        .query::<events::EventsQuery>()
        .headers(TENANT)
        .media(200, &["text/event-stream"])
        .errors(LIST),
        op(
            M::GET,
            "/faces",
            "The vendor faces and what a client needs to point at each",
            faces::list,
        )
        .headers(TENANT)
        .json::<List<FaceDto>>(200)
        .errors(READ),
        op(
            M::GET,
            "/me",
            "Who the credential speaks for",
            directory::me,
        )
        .json_with(200, me_schema)
        .errors(&[401]),
        op(
            M::PATCH,
            "/me",
            "Change one's own display name or language",
            accounts::update_me,
        )
        .body::<UpdateMe>()
        .json::<UserDto>(200)
        .errors(WRITE),
        op(
            M::GET,
            "/contacts",
            "People the caller can start a conversation with",
            accounts::contacts,
        )
        .query::<ContactsQuery>()
        .json::<List<ContactDto>>(200)
        .errors(LIST),
        op(
            M::GET,
            "/invites/{secret}",
            "What an invite is for, before it is accepted",
            accounts::show_invite,
        )
        .public()
        .json::<InviteDto>(200)
        .errors(&[404, 410, 429]),
        op(
            M::POST,
            "/invites/{secret}",
            "Accept an invite: set a password and open a session",
            accounts::accept_invite,
        )
        .public()
        .body::<AcceptInvite>()
        .json::<SessionDto>(200)
        .errors(&[400, 404, 410, 415, 429]),
        op(
            M::GET,
            "/tenants",
            "Tenants the caller can see",
            directory::list_tenants,
        )
        .json::<List<TenantDto>>(200)
        .errors(READ),
        op(
            M::POST,
            "/tenants",
            "Create a tenant (server admin)",
            directory::create_tenant,
        )
        .body::<CreateTenant>()
        .json::<TenantDto>(201)
        .errors(WRITE),
        op(
            M::GET,
            "/tenants/{tenant}",
            "One tenant",
            directory::get_tenant,
        )
        .json::<TenantDto>(200)
        .errors(READ),
        op(
            M::GET,
            "/users",
            "The tenant's users, paged",
            directory::list_users,
        )
        .query::<ListQuery>()
        .headers(TENANT)
        .json::<List<UserDto>>(200)
        .errors(LIST),
        op(M::POST, "/users", "Create a user", directory::create_user)
            .body::<CreateUser>()
            .headers(TENANT)
            .json::<UserDto>(201)
            .errors(WRITE),
        op(M::GET, "/users/{user}", "One user", directory::get_user)
            .headers(TENANT)
            .json::<UserDto>(200)
            .errors(READ),
        op(
            M::PATCH,
            "/users/{user}",
            "Change a user",
            directory::update_user,
        )
        .body::<UpdateUser>()
        .headers(TENANT)
        .json::<UserDto>(200)
        .errors(WRITE),
        op(
            M::GET,
            "/users/{user}/export",
            "Everything stored about a user, as a download",
            export::download,
        )
        .query::<export::ExportQuery>()
        .headers(TENANT)
        .media(200, &["application/json", "text/html; charset=utf-8"])
        .errors(LIST),
        op(
            M::GET,
            "/users/{user}/invites",
            "Whether the user has an outstanding invite",
            accounts::invite_state,
        )
        .headers(TENANT)
        .json::<InviteStateDto>(200)
        .errors(READ),
        op(
            M::POST,
            "/users/{user}/invites",
            "Issue an invite (or a password reset) for the user",
            accounts::create_invite,
        )
        .optional_body::<CreateInvite>()
        .headers(TENANT)
        .json::<InviteIssuedDto>(201)
        .errors(WRITE),
        op(
            M::GET,
            "/users/{user}/tokens",
            "The user's API tokens",
            directory::list_tokens,
        )
        .headers(TENANT)
        .json::<List<TokenDto>>(200)
        .errors(READ),
        op(
            M::POST,
            "/users/{user}/tokens",
            "Issue an API token for the user",
            directory::create_token,
        )
        .body::<CreateToken>()
        .headers(TENANT)
        .json::<NewTokenDto>(201)
        .errors(WRITE),
        op(
            M::DELETE,
            "/tokens/{token}",
            "Revoke an API token",
            directory::revoke_token,
        )
        .headers(TENANT)
        .json::<TokenDto>(200)
        .errors(REMOVE),
        op(
            M::GET,
            "/api-keys",
            "The tenant's API keys",
            directory::list_api_keys,
        )
        .headers(TENANT)
        .json::<List<ApiKeyDto>>(200)
        .errors(READ),
        op(
            M::POST,
            "/api-keys",
            "Create an API key",
            directory::create_api_key,
        )
        .body::<CreateApiKey>()
        .headers(TENANT)
        .json::<NewApiKeyDto>(201)
        .errors(WRITE),
        op(
            M::DELETE,
            "/api-keys/{key}",
            "Revoke an API key",
            directory::revoke_api_key,
        )
        .headers(TENANT)
        .json::<ApiKeyDto>(200)
        .errors(REMOVE),
        op(
            M::GET,
            "/audit",
            "The audit trail, newest first, filtered",
            self::audit::list,
        )
        .query::<self::audit::AuditQuery>()
        .headers(TENANT)
        .json::<dto::audit::AuditListDto>(200)
        .errors(LIST),
        op(
            M::GET,
            "/conversations",
            "Conversations, most recently active first",
            conversations::list,
        )
        .query::<ListQuery>()
        .headers(TENANT)
        .json::<List<ConversationDto>>(200)
        .errors(LIST),
        op(
            M::POST,
            "/conversations",
            "Start a conversation",
            conversations::create,
        )
        .map_route(|r| r.wrap(idempotent(&IDEMPOTENT)))
        .body::<CreateConversation>()
        .headers(IDEMPOTENT_CREATE)
        .json::<ConversationDto>(201)
        .errors(WRITE),
        op(
            M::GET,
            "/conversations/{conv}",
            "One conversation",
            conversations::get,
        )
        .query::<AsQuery>()
        .headers(TENANT)
        .json::<ConversationDto>(200)
        .errors(LIST),
        op(
            M::PATCH,
            "/conversations/{conv}",
            "Rename, archive or lock a conversation",
            conversations::update,
        )
        .body::<UpdateConversation>()
        .headers(TENANT)
        .json::<ConversationDto>(200)
        .errors(WRITE),
        op(
            M::DELETE,
            "/conversations/{conv}",
            "Delete a conversation and its messages",
            conversations::delete,
        )
        .headers(TENANT)
        .empty(204)
        .errors(REMOVE),
        op(
            M::POST,
            "/conversations/{conv}/participants",
            "Add a participant",
            conversations::add_participant,
        )
        .body::<AddParticipant>()
        .headers(TENANT)
        .json::<ReadStateDto>(201)
        .errors(WRITE),
        op(
            M::DELETE,
            "/conversations/{conv}/participants/{user}",
            "Remove a participant",
            conversations::remove_participant,
        )
        .headers(TENANT)
        .json::<RemovedDto>(200)
        .errors(REMOVE),
        op(
            M::POST,
            "/conversations/{conv}/read",
            "Mark a conversation read (up to a message)",
            messages::mark_conversation_read,
        )
        .optional_body::<MarkRead>()
        .headers(TENANT)
        .json::<ReadStateDto>(200)
        .errors(WRITE),
        op(
            M::GET,
            "/conversations/{conv}/messages",
            "A conversation's messages, paged by seq",
            messages::list,
        )
        .query::<MessagesQuery>()
        .headers(TENANT)
        .json::<List<MessageDto>>(200)
        .errors(LIST),
        op(
            M::POST,
            "/conversations/{conv}/messages",
            "Send a message",
            messages::send,
        )
        .map_route(|r| r.wrap(idempotent(&IDEMPOTENT)))
        .body::<SendMessage>()
        .headers(IDEMPOTENT_CREATE)
        .json::<MessageDto>(201)
        .errors(WRITE),
        op(
            M::POST,
            "/conversations/{conv}/attachments",
            "Upload a file (multipart `file` part, or the raw body) to send with a message",
            attachments::upload,
        )
        .query::<UploadQuery>()
        .file_body()
        .headers(UPLOAD_HEADERS)
        .json::<AttachmentDto>(201)
        .errors(UPLOAD),
        op(
            M::GET,
            "/attachments/{id}",
            "An uploaded file's metadata",
            attachments::get,
        )
        .query::<AttachmentQuery>()
        .headers(TENANT)
        .json::<AttachmentDto>(200)
        .errors(LIST),
        op(
            M::GET,
            "/attachments/{id}/content",
            "An uploaded file's content (Range, ETag; only pictures and PDFs inline)",
            attachments::content,
        )
        .query::<AttachmentQuery>()
        .headers(DOWNLOAD_HEADERS)
        // The type detected at upload (anything a browser would run goes as octet-stream).
        .media(
            200,
            &[
                "application/octet-stream",
                "image/png",
                "image/jpeg",
                "image/gif",
                "image/webp",
                "application/pdf",
                "*/*",
            ],
        )
        .errors(DOWNLOAD),
        op(M::GET, "/messages/{msg}", "One message", messages::get)
            .headers(TENANT)
            .json::<MessageDto>(200)
            .errors(READ),
        op(
            M::PATCH,
            "/messages/{msg}",
            "Edit a message's body",
            messages::edit,
        )
        .body::<EditMessage>()
        .headers(TENANT)
        .json::<MessageDto>(200)
        .errors(WRITE),
        op(
            M::DELETE,
            "/messages/{msg}",
            "Delete a message",
            messages::delete,
        )
        .optional_body::<AsOnly>()
        .headers(TENANT)
        .empty(204)
        .errors(REMOVE),
        op(
            M::POST,
            "/messages/{msg}/read",
            "Mark one message read",
            messages::mark_message_read,
        )
        .optional_body::<AsOnly>()
        .headers(TENANT)
        .json::<MarkedDto>(200)
        .errors(WRITE),
        op(
            M::GET,
            "/search",
            "Messages whose text matches, best first, with a snippet each",
            search::search,
        )
        .query::<SearchQuery>()
        .headers(TENANT)
        .json::<SearchListDto>(200)
        .errors(LIST),
        op(
            M::GET,
            "/retention",
            "The tenant's retention policy and its last run",
            retention::get_policy,
        )
        .headers(TENANT)
        .json::<RetentionDto>(200)
        .errors(READ),
        op(
            M::PUT,
            "/retention",
            "Set the retention policy",
            retention::set_policy,
        )
        .body::<SetRetention>()
        .headers(TENANT)
        .json::<RetentionDto>(200)
        .errors(WRITE),
        op(
            M::GET,
            "/legal-holds",
            "Legal holds, placed and released",
            retention::list_holds,
        )
        .headers(TENANT)
        .json::<List<HoldDto>>(200)
        .errors(READ),
        op(
            M::POST,
            "/legal-holds",
            "Place a legal hold",
            retention::place_hold,
        )
        .body::<CreateHold>()
        .headers(TENANT)
        .json::<HoldDto>(201)
        .errors(WRITE),
        op(
            M::POST,
            "/legal-holds/{hold}/release",
            "Release a legal hold",
            retention::release_hold,
        )
        .headers(TENANT)
        .json::<HoldDto>(200)
        .errors(WRITE),
        op(
            M::GET,
            "/webhooks",
            "The tenant's webhook endpoints",
            webhooks::list,
        )
        .headers(TENANT)
        .json::<List<WebhookDto>>(200)
        .errors(READ),
        op(
            M::POST,
            "/webhooks",
            "Add a webhook endpoint; answers its signing secret",
            webhooks::create,
        )
        .body::<CreateWebhook>()
        .headers(TENANT)
        .json::<SecretDto>(201)
        .errors(WRITE),
        op(
            M::GET,
            "/webhooks/{webhook}",
            "One webhook endpoint",
            webhooks::get,
        )
        .headers(TENANT)
        .json::<WebhookDto>(200)
        .errors(READ),
        op(
            M::PATCH,
            "/webhooks/{webhook}",
            "Change a webhook endpoint",
            webhooks::update,
        )
        .body::<UpdateWebhook>()
        .headers(TENANT)
        .json::<WebhookDto>(200)
        .errors(WRITE),
        op(
            M::DELETE,
            "/webhooks/{webhook}",
            "Remove a webhook endpoint",
            webhooks::delete,
        )
        .headers(TENANT)
        .empty(204)
        .errors(REMOVE),
        op(
            M::POST,
            "/webhooks/{webhook}/rotate-secret",
            "Replace an endpoint's signing secret",
            webhooks::rotate_secret,
        )
        .headers(TENANT)
        .json::<SecretDto>(200)
        .errors(WRITE),
        op(
            M::GET,
            "/webhooks/{webhook}/deliveries",
            "An endpoint's deliveries, newest first",
            webhooks::deliveries,
        )
        .query::<webhooks::DeliveriesQuery>()
        .headers(TENANT)
        .json::<List<DeliveryDto>>(200)
        .errors(LIST),
        op(
            M::GET,
            "/webhooks/{webhook}/deliveries/{delivery}",
            "One delivery and its attempts",
            webhooks::delivery,
        )
        .headers(TENANT)
        .json::<DeliveryDetailDto>(200)
        .errors(READ),
        op(
            M::POST,
            "/webhooks/{webhook}/deliveries/{delivery}/replay",
            "Deliver an event again",
            webhooks::replay,
        )
        .headers(TENANT)
        .json::<DeliveryDto>(202)
        .errors(WRITE),
        op(
            M::GET,
            "/unread",
            "Unread counts: a total and per conversation",
            conversations::unread,
        )
        .query::<AsQuery>()
        .headers(TENANT)
        .json::<UnreadDto>(200)
        .errors(LIST),
    ]
}

/// `GET /me` answers a user, or for the server-admin token just that.
fn me_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let user = g.subschema_for::<dto::UserDto>();
    let admin = g.subschema_for::<dto::ServerAdminDto>();
    schemars::json_schema!({"oneOf": [user, admin]})
}

const INFO: openapi::Info = openapi::Info {
    title: "Parlor native API",
    description: "Parlor's own JSON API: tenants, users, conversations, messages, \
                  exact unread counts, webhooks, retention and the audit trail.",
    base: BASE,
};

/// `GET /parlor/v1/openapi.json`: open to any caller, like a vendor's published reference; it
/// describes the routes and holds no data. Generated on the first call, then kept.
async fn openapi_json() -> actix_web::HttpResponse {
    static TEXT: OnceLock<String> = OnceLock::new();
    openapi::serve(&TEXT, || {
        openapi::document(&INFO, &operations(), crate::auth::sessions::COOKIE)
    })
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
fn resource(
    path: &str,
    methods: &[Method],
    routes: impl IntoIterator<Item = Route>,
) -> actix_web::Resource {
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

#[cfg(test)]
mod document_tests {
    #[test]
    fn no_request_and_reply_types_claim_one_schema_name() {
        let conflicts = crate::openapi::conflicts(&super::INFO, &super::operations());
        assert!(conflicts.is_empty(), "{conflicts:?}");
    }
}

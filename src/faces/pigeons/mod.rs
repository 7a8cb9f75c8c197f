//! The Pigeons face: EchoSistema's Pigeons chat API (Laravel, Sanctum tokens), seed 004.
//! Contract: `faces/pigeons.md`; vendor docs `EN/Pigeons/Endpoints/*.md`. Users and
//! conversations are named by `uuid`, messages by `oid`.

mod attachments;
mod auth;
mod convert;
pub mod dto;
pub mod error;
mod validate;

use actix_web::{guard, web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use self::auth::Caller;
use self::dto::*;
use self::error::{PigeonsError, PigeonsResult};
use self::validate::Input;
use crate::app::App;
use crate::domain::IdRef;
use crate::idempotency::{idempotent, identified, is_fault, Identifying, Identity, Surface};
use crate::service::conversations::Scope;
use crate::service::messages::NewMessage;
use crate::service::MAX_PAGE;

pub const BASE: &str = "/api/v1/pigeons/chat";

/// Every route, as the journal's near misses list them (`control::journal::near`); a test
/// checks each one answers.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/conversations"),
    ("POST", "/conversations"),
    ("GET", "/conversations/{uuid}/messages"),
    ("POST", "/messages"),
    ("PATCH", "/messages/{id}/read"),
    ("POST", "/messages/{id}/reactions"),
    ("POST", "/devices"),
    ("DELETE", "/devices/{token}"),
    ("GET", "/stats/devices"),
    ("POST", "/attachments"),
    ("GET", "/attachments/{id}"),
];

/// The face's address (the server's and the prefix it is mounted under), for links to its
/// own routes.
pub(crate) struct Prefix(pub String);

pub(crate) fn base(app: &App, req: &HttpRequest, prefix: &Prefix) -> String {
    format!(
        "{}{}",
        crate::http::files::base_url(app.settings.public_url.as_deref(), req),
        prefix.0
    )
}

pub fn routes(cfg: &mut web::ServiceConfig, prefix: &str) {
    cfg.service(
        web::scope(prefix)
            .app_data(web::Data::new(Prefix(prefix.to_string())))
            .service(
                web::resource("/attachments")
                    .route(web::post().to(attachments::upload))
                    .default_service(not_allowed("POST")),
            )
            .service(
                web::resource("/attachments/{id}")
                    .route(get().to(attachments::download))
                    .default_service(not_allowed("GET, HEAD")),
            )
            .service(
                web::resource("/conversations")
                    .route(get().to(list_conversations))
                    .route(
                        web::post()
                            .to(create_conversation)
                            .wrap(idempotent(&IDEMPOTENT)),
                    )
                    .default_service(not_allowed("GET, HEAD, POST")),
            )
            .service(
                web::resource("/conversations/{uuid}/messages")
                    .route(get().to(conversation_messages))
                    .default_service(not_allowed("GET, HEAD")),
            )
            .service(
                web::resource("/messages")
                    .route(web::post().to(send_message).wrap(idempotent(&IDEMPOTENT)))
                    .default_service(not_allowed("POST")),
            )
            .service(
                web::resource("/messages/{id}/read")
                    .route(web::patch().to(mark_read))
                    .default_service(not_allowed("PATCH")),
            )
            .service(
                web::resource("/messages/{id}/reactions")
                    .route(web::post().to(add_reaction))
                    .default_service(not_allowed("POST")),
            )
            .service(
                web::resource("/devices")
                    .route(web::post().to(register_device))
                    .default_service(not_allowed("POST")),
            )
            .service(
                web::resource("/devices/{token}")
                    .route(web::delete().to(remove_device))
                    .default_service(not_allowed("DELETE")),
            )
            .service(
                web::resource("/stats/devices")
                    .route(get().to(device_stats))
                    .default_service(not_allowed("GET, HEAD")),
            )
            .default_service(web::to(route_not_found)),
    );
}

/// `Idempotency-Key` on the routes that create: keys belong to the token's user.
pub(crate) static IDEMPOTENT: Surface = Surface {
    name: "pigeons",
    identify: identify_caller,
    render: |e| PigeonsError::Core(e).error_response(),
};

fn identify_caller(req: HttpRequest) -> Identifying {
    Box::pin(async move {
        let outcome = Caller::from_request(&req, &mut actix_web::dev::Payload::None).await;
        identified(
            &req,
            outcome,
            |caller| Identity::user(caller.tenant.id, caller.user.id),
            |e| match e {
                PigeonsError::Core(e) if is_fault(&e) => Ok(e),
                refusal => Err(refusal),
            },
        )
    })
}

/// Laravel answers HEAD wherever it answers GET.
fn get() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

fn not_allowed(allowed: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(PigeonsError::MethodNotAllowed {
            method: req.method().to_string(),
            allowed,
        })
    })
}

async fn route_not_found(req: HttpRequest) -> HttpResponse {
    not_found(&req)
}

/// A path under Pigeons' that no route matches: Laravel's NotFoundHttpException.
pub fn not_found(req: &HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&PigeonsError::RouteNotFound(
        req.path().trim_start_matches('/').to_string(),
    ))
}

/// Pigeons names users and conversations by uuid and messages by oid: always text keys, even
/// when all digits.
pub(crate) fn key(text: &str) -> IdRef {
    IdRef::Key(text.to_string())
}

/// 1. EN/Pigeons/Endpoints/ConversationsIndex.md — all of the caller's conversations, latest
///    activity first; the vendor does not paginate.
async fn list_conversations(app: web::Data<App>, caller: Caller) -> PigeonsResult<HttpResponse> {
    let mut data = Vec::new();
    let mut before = None;
    loop {
        let page = app
            .service
            .conversation_page(
                caller.tenant.id,
                Scope::User(caller.user.id),
                before,
                MAX_PAGE,
            )
            .await?;
        data.extend(page.items.iter().map(convert::conversation));
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    Ok(HttpResponse::Ok().json(DataList { data }))
}

/// 2. EN/Pigeons/Endpoints/ConversationsStore.md — 201 when created, 200 with the conversation
///    the two already share under that tag.
async fn create_conversation(
    app: web::Data<App>,
    caller: Caller,
    input: Input,
) -> PigeonsResult<HttpResponse> {
    let request = validate::open_conversation(&input.0)?;
    let (listing, created) = app
        .service
        .open_chat(
            caller.tenant.id,
            caller.user.id,
            key(&request.participant_uuid),
            request.tag,
        )
        .await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(Done {
        message: "Conversation created successfully",
        data: convert::created_conversation(&listing),
    }))
}

/// 3. EN/Pigeons/Endpoints/ConversationMessagesIndex.md — every message, oldest first.
async fn conversation_messages(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    prefix: web::Data<Prefix>,
) -> PigeonsResult<HttpResponse> {
    let base = base(&app, &req, &prefix);
    let thread = app
        .service
        .chat_thread(caller.tenant.id, key(&path), caller.user.id)
        .await?;
    let pbk = caller.tenant.public_key.as_deref();
    Ok(HttpResponse::Ok().json(ThreadDto {
        data: thread
            .messages
            .iter()
            .map(|m| convert::message(m, pbk, &base))
            .collect(),
        conversation: convert::conversation_summary(&thread.conversation),
    }))
}

/// 4. EN/Pigeons/Endpoints/MessagesStore.md.
async fn send_message(
    app: web::Data<App>,
    caller: Caller,
    input: Input,
    req: HttpRequest,
    prefix: web::Data<Prefix>,
) -> PigeonsResult<HttpResponse> {
    let request = validate::send_message(&input.0)?;
    let (attachments, attachment_ids) = attachments::split(request.attachments);
    let sent = app
        .service
        .send_chat_message(
            caller.tenant.id,
            key(&request.conversation_uuid),
            caller.user.id,
            key(&request.receiver_uuid),
            NewMessage {
                body: request.text,
                kind: Some(request.kind),
                metadata: request.metadata,
                attachments,
                attachment_ids,
                device: Some(request.device),
                ..NewMessage::default()
            },
        )
        .await
        .map_err(attachments::as_attachments_field)?;
    Ok(HttpResponse::Created().json(Done {
        message: "Message sent successfully",
        data: convert::message(
            &sent,
            caller.tenant.public_key.as_deref(),
            &base(&app, &req, &prefix),
        ),
    }))
}

/// 5. EN/Pigeons/Endpoints/MessagesRead.md — idempotent; only the receiver.
async fn mark_read(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<String>,
) -> PigeonsResult<HttpResponse> {
    app.service
        .mark_received_read(caller.tenant.id, key(&path), caller.user.id)
        .await?;
    Ok(HttpResponse::Ok().json(Notice {
        message: "Message marked as read",
    }))
}

/// 6. EN/Pigeons/Endpoints/MessagesReactionsStore.md.
async fn add_reaction(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<String>,
    input: Input,
) -> PigeonsResult<HttpResponse> {
    let request = validate::react(&input.0)?;
    app.service
        .react(caller.tenant.id, key(&path), caller.user.id, request.emoji)
        .await?;
    Ok(HttpResponse::Ok().json(Notice {
        message: "Reaction added successfully",
    }))
}

/// 7. EN/Pigeons/Endpoints/DevicesStore.md — the vendor answers in Portuguese.
async fn register_device(
    app: web::Data<App>,
    caller: Caller,
    input: Input,
) -> PigeonsResult<HttpResponse> {
    let request = validate::register_device(&input.0)?;
    let device = app
        .service
        .register_push_device(
            caller.tenant.id,
            caller.user.id,
            request.token,
            request.platform,
            request.device,
        )
        .await?;
    Ok(HttpResponse::Created().json(Done {
        message: "Device token registrado",
        data: DeviceDto {
            id: device.id,
            token: device.token,
            platform: device.platform,
        },
    }))
}

/// 8. EN/Pigeons/Endpoints/DevicesDestroy.md — idempotent.
async fn remove_device(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<String>,
) -> PigeonsResult<HttpResponse> {
    app.service
        .remove_push_device(caller.tenant.id, caller.user.id, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(Notice {
        message: "Device token removido",
    }))
}

/// 9. EN/Pigeons/Endpoints/DeviceStatsShow.md.
async fn device_stats(app: web::Data<App>, caller: Caller) -> PigeonsResult<HttpResponse> {
    let stats = app
        .service
        .messages_per_device_type(caller.tenant.id, caller.user.id)
        .await?;
    Ok(HttpResponse::Ok().json(DataList {
        data: stats
            .into_iter()
            .map(|(id, count)| DeviceStatDto { id, count })
            .collect(),
    }))
}

//! The Respondent Partner API's messaging endpoints (developers.respondent.io → Messaging),
//! served under `/v1/messaging` by default. Auth: `auth.rs`; requests in: `input.rs`; shapes
//! out: `dto.rs` via `convert.rs`; NestJS error bodies: `error.rs`.
//!
//! The partner organization is a tenant; its owner is the API owner, the conversation `user`
//! and the sender of every message sent here. Participants reply through the native API.

mod auth;
mod convert;
mod dto;
pub mod error;
mod input;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use self::auth::Partner;
use self::error::{RespondentError, RespondentResult};
use self::input::{Body, ConversationsQuery, CreateConversation, MessagesQuery};
use crate::app::App;
use crate::domain::ids::is_valid_text_id;
use crate::domain::{IdRef, User};
use crate::error::Error;
use crate::idempotency::{idempotent, identified, is_fault, Identifying, Identity, Surface};
use crate::service::conversations::NewConversation;
use crate::service::messages::NewMessage;
use crate::store::messages::TenantFilter;

pub const DEFAULT_BASE: &str = "/v1/messaging";

/// Every route, as the journal's near misses list them (`control::journal::near`); a test
/// checks each one answers.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/conversations"),
    ("POST", "/conversations"),
    ("GET", "/conversations/{uid}"),
    ("POST", "/conversations/{uid}/messages"),
    ("POST", "/conversations/{uid}/participants"),
    ("POST", "/conversations/{uid}/participants/{user}"),
    ("DELETE", "/conversations/{uid}/participants/{user}"),
    ("GET", "/messages"),
];

pub fn routes(cfg: &mut web::ServiceConfig, prefix: &str) {
    let resource = |path: &str| web::resource(path).default_service(web::to(no_route));
    cfg.service(
        web::scope(prefix)
            .service(
                resource("/conversations")
                    .route(web::get().to(list_conversations))
                    .route(
                        web::post()
                            .to(create_conversation)
                            .wrap(idempotent(&IDEMPOTENT)),
                    ),
            )
            .service(resource("/conversations/{uid}").route(web::get().to(get_conversation)))
            .service(
                resource("/conversations/{uid}/messages")
                    .route(web::post().to(send_message).wrap(idempotent(&IDEMPOTENT))),
            )
            .service(
                resource("/conversations/{uid}/participants")
                    .route(web::post().to(add_participant)),
            )
            .service(
                resource("/conversations/{uid}/participants/{user}")
                    // Deprecated form of "Add a participant": the user id in the path.
                    .route(web::post().to(add_participant_by_path))
                    .route(web::delete().to(remove_participant)),
            )
            .service(resource("/messages").route(web::get().to(list_messages)))
            .default_service(web::to(no_route)),
    );
}

/// `Idempotency-Key` on the routes that create: keys belong to the API owner the partner's
/// keys act as.
pub(crate) static IDEMPOTENT: Surface = Surface {
    name: "respondent",
    identify: identify_partner,
    render: |e| RespondentError::Core(e).error_response(),
};

fn identify_partner(req: HttpRequest) -> Identifying {
    Box::pin(async move {
        let outcome = Partner::from_request(&req, &mut actix_web::dev::Payload::None).await;
        identified(
            &req,
            outcome,
            |partner| Identity::user(partner.tenant, partner.owner.id),
            |e| match e {
                RespondentError::Core(e) if is_fault(&e) => Ok(e),
                refusal => Err(refusal),
            },
        )
    })
}

async fn no_route(req: HttpRequest) -> HttpResponse {
    not_found(&req)
}

/// NestJS's answer for a path or method it has no route for.
pub fn not_found(req: &HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&RespondentError::NoRoute {
        method: req.method().to_string(),
        path: crate::faces::doors::sent_path(req),
    })
}

/// Conversation uids are the oids this face hands out; anything else is simply not found.
fn conversation_uid(text: &str) -> Result<IdRef, Error> {
    if is_valid_text_id(text) {
        Ok(IdRef::Key(text.to_string()))
    } else {
        Err(Error::NotFound("conversation"))
    }
}

/// The user a `foreignId` names, or None.
async fn user_by_foreign_id(
    app: &App,
    partner: &Partner,
    foreign_id: &str,
) -> Result<Option<User>, Error> {
    let mut found = app
        .service
        .users_by_foreign_ids(partner.tenant, vec![foreign_id.to_string()])
        .await?;
    Ok(found.pop().flatten())
}

async fn conversation_response(
    app: &App,
    partner: &Partner,
    uid: IdRef,
) -> Result<dto::Conversation, Error> {
    let full = app
        .service
        .conversation_in_full(partner.tenant, uid, partner.owner.id)
        .await?;
    Ok(convert::conversation(&full, &partner.owner))
}

/// The metadata a list is filtered on: the researcher and the project, when given.
fn metadata_filters(
    external_researcher_id: Option<String>,
    project_id: Option<String>,
) -> Vec<(String, String)> {
    [
        ("externalResearcherId", external_researcher_id),
        ("projectId", project_id),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key.to_string(), value?)))
    .collect()
}

async fn list_conversations(
    app: web::Data<App>,
    partner: Partner,
    req: HttpRequest,
) -> RespondentResult<HttpResponse> {
    let q = ConversationsQuery::parse(req.query_string())?;
    let metadata = metadata_filters(q.external_researcher_id, q.project_id);
    let page = app
        .service
        .conversations_by_metadata(
            partner.tenant,
            partner.owner.id,
            metadata,
            q.paging.offset(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(dto::Paginated {
        total_results: page.total,
        page: q.paging.page,
        page_size: q.paging.page_size,
        results: page
            .items
            .iter()
            .map(|full| convert::conversation(full, &partner.owner))
            .collect(),
    }))
}

async fn create_conversation(
    app: web::Data<App>,
    partner: Partner,
    body: Body,
) -> RespondentResult<HttpResponse> {
    let new = CreateConversation::parse(&body.0)?;
    let users = app
        .service
        .users_by_foreign_ids(partner.tenant, new.participant_user_ids.clone())
        .await?;
    let unknown: Vec<String> = new
        .participant_user_ids
        .iter()
        .zip(&users)
        .enumerate()
        .filter(|(_, (_, user))| user.is_none())
        .map(|(i, (id, _))| {
            format!("participantUserIds.{i} \"{id}\" is not a user of this organization")
        })
        .collect();
    if !unknown.is_empty() {
        return Err(RespondentError::Invalid(unknown));
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("projectId".into(), new.project_id.into());
    for (key, value) in new.external_ids {
        metadata.insert(key.into(), value.into());
    }
    // The API owner first, then the participants as listed.
    let participants = std::iter::once(partner.owner.id)
        .chain(users.into_iter().flatten().map(|u| u.id))
        .map(|id| IdRef::Id(id.0))
        .collect();
    let conv = app
        .service
        .create_conversation(
            partner.tenant,
            NewConversation {
                participants,
                created_by: Some(partner.owner.id),
                metadata: Some(metadata.into()),
                ..Default::default()
            },
        )
        .await?;
    let created = conversation_response(&app, &partner, IdRef::Id(conv.id.0)).await?;
    Ok(HttpResponse::Created().json(created))
}

async fn get_conversation(
    app: web::Data<App>,
    partner: Partner,
    path: web::Path<String>,
) -> RespondentResult<HttpResponse> {
    let found = conversation_response(&app, &partner, conversation_uid(&path)?).await?;
    Ok(HttpResponse::Ok().json(found))
}

async fn send_message(
    app: web::Data<App>,
    partner: Partner,
    path: web::Path<String>,
    body: Body,
) -> RespondentResult<HttpResponse> {
    let uid = conversation_uid(&path)?;
    let text = input::message_body(&body.0)?;
    let message = app
        .service
        .send_message_forbidding_deleted(
            partner.tenant,
            uid,
            partner.owner.id,
            NewMessage {
                body: text,
                ..NewMessage::default()
            },
        )
        .await?;
    let conversation = app
        .service
        .listing(
            partner.tenant,
            IdRef::Id(message.conversation_id.0),
            Some(partner.owner.id),
        )
        .await?;
    Ok(HttpResponse::Created().json(convert::message(
        &message,
        Some(&partner.owner),
        &conversation,
    )))
}

async fn list_messages(
    app: web::Data<App>,
    partner: Partner,
    req: HttpRequest,
) -> RespondentResult<HttpResponse> {
    let q = MessagesQuery::parse(req.query_string())?;
    let metadata = metadata_filters(q.external_researcher_id, q.project_id);
    let page = app
        .service
        .messages_of_tenant(
            partner.tenant,
            partner.owner.id,
            TenantFilter {
                conversation_oid: q.conversation_uid,
                metadata,
                since: q.since,
                until: q.until,
            },
            q.paging.offset(),
        )
        .await?;
    let results = page
        .messages
        .iter()
        .filter_map(|m| {
            let conversation = page.conversation(m.conversation_id)?;
            Some(convert::message(m, page.sender(m.sender_id), conversation))
        })
        .collect();
    Ok(HttpResponse::Ok().json(dto::Paginated {
        total_results: page.total,
        page: q.paging.page,
        page_size: q.paging.page_size,
        results,
    }))
}

/// Adds the user a `foreignId` names; 201 with an empty body.
async fn add(
    app: &App,
    partner: &Partner,
    uid: &str,
    foreign_id: &str,
) -> RespondentResult<HttpResponse> {
    let uid = conversation_uid(uid)?;
    let Some(user) = user_by_foreign_id(app, partner, foreign_id).await? else {
        // The conversation's absence is the first thing to report.
        app.service.conversation(partner.tenant, uid).await?;
        return Err(RespondentError::Invalid(vec![format!(
            "participantUserId \"{foreign_id}\" is not a user of this organization"
        )]));
    };
    app.service
        .add_participant(partner.tenant, uid, IdRef::Id(user.id.0))
        .await?;
    Ok(HttpResponse::Created().finish())
}

async fn add_participant(
    app: web::Data<App>,
    partner: Partner,
    path: web::Path<String>,
    body: Body,
) -> RespondentResult<HttpResponse> {
    let foreign_id = input::participant_user_id(&body.0)?;
    add(&app, &partner, &path, &foreign_id).await
}

async fn add_participant_by_path(
    app: web::Data<App>,
    partner: Partner,
    path: web::Path<(String, String)>,
) -> RespondentResult<HttpResponse> {
    let (uid, foreign_id) = path.into_inner();
    add(&app, &partner, &uid, &foreign_id).await
}

/// `true` when the user was removed, `false` when they were not a participant.
async fn remove_participant(
    app: web::Data<App>,
    partner: Partner,
    path: web::Path<(String, String)>,
) -> RespondentResult<HttpResponse> {
    let (uid, foreign_id) = path.into_inner();
    let uid = conversation_uid(&uid)?;
    let removed = match user_by_foreign_id(&app, &partner, &foreign_id).await? {
        Some(user) => {
            app.service
                .remove_participant(partner.tenant, uid, IdRef::Id(user.id.0))
                .await?
        }
        None => {
            // Nobody by that id is a participant; the conversation must still exist.
            app.service.conversation(partner.tenant, uid).await?;
            false
        }
    };
    Ok(HttpResponse::Ok().json(removed))
}

//! Conversations, participants and the unread summary.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::TenantCaller;
use super::dto::*;
use super::error::ApiResult;
use super::etag::json_with_etag;
use super::extract::{Json, Query};
use super::{path_ref, query_ref};
use crate::app::App;
use crate::auth::Principal;
use crate::domain::IdRef;
use crate::error::Error;
use crate::service::conversations::{ConversationChange, NewConversation, Scope};
use crate::service::page_limit;

/// The caller's conversations by last activity, or with `?as=` another user's (admins). An
/// admin who names nobody gets every conversation of the tenant. `?q=` keeps those with a
/// participant of that name (for a user's own list: someone other than them). Answers carry
/// an ETag; `If-None-Match` gets a 304.
pub async fn list(
    app: web::Data<App>,
    caller: TenantCaller,
    query: Query<ListQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    if q.after.is_some() || q.role.is_some() {
        return Err(Error::invalid(
            if q.after.is_some() { "after" } else { "role" },
            "is not a parameter of this list (use before)",
        )
        .into());
    }
    let limit = page_limit("limit", q.limit, 20)?;
    let viewer = caller.acting_or_admin(&app, query_ref(q.as_user)?).await?;
    let scope = match (viewer, q.q) {
        (Some(user), Some(text)) => Scope::UserSearch(user, text),
        (None, Some(text)) => Scope::Search(text),
        (Some(user), None) => Scope::User(user),
        (None, None) => Scope::Tenant,
    };
    let page = app
        .service
        .conversation_page(caller.tenant, scope, q.before, limit)
        .await?;
    Ok(json_with_etag(
        &req,
        &List {
            data: page.items.into_iter().map(ConversationDto::from).collect(),
            next_cursor: page.next,
        },
    )?)
}

pub async fn create(
    app: web::Data<App>,
    caller: TenantCaller,
    body: Json<CreateConversation>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let creator = caller.acting_or_admin(&app, refs(b.as_user)).await?;
    let mut members: Vec<IdRef> = b.participants.into_iter().map(|r| r.0).collect();
    // Someone who is not an admin starts conversations with their contacts only.
    if let (false, Principal::User { user, .. }) = (caller.is_admin(), &caller.principal) {
        app.service
            .check_may_start((**user).clone(), members.clone())
            .await?;
    }
    if let Some(me) = creator {
        members.insert(0, IdRef::Id(me.0));
    }
    let conv = app
        .service
        .create_conversation(
            caller.tenant,
            NewConversation {
                name: b.name,
                participants: members,
                created_by: creator,
                metadata: b.metadata,
                ..Default::default()
            },
        )
        .await?;
    let listing = app
        .service
        .listing(caller.tenant, IdRef::Id(conv.id.0), creator)
        .await?;
    Ok(HttpResponse::Created().json(ConversationDto::from(listing)))
}

pub async fn get(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    query: Query<AsQuery>,
) -> ApiResult<HttpResponse> {
    let viewer = caller
        .acting_or_admin(&app, query_ref(query.0.as_user)?)
        .await?;
    let listing = app
        .service
        .listing(caller.tenant, path_ref(&path, "conversation")?, viewer)
        .await?;
    Ok(HttpResponse::Ok().json(ConversationDto::from(listing)))
}

pub async fn update(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: Json<UpdateConversation>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let conv = app
        .service
        .update_conversation(
            caller.tenant,
            path_ref(&path, "conversation")?,
            ConversationChange {
                name: b.name,
                archived: b.archived,
                locked: b.locked,
            },
        )
        .await?;
    let listing = app
        .service
        .listing(caller.tenant, IdRef::Id(conv.id.0), None)
        .await?;
    Ok(HttpResponse::Ok().json(ConversationDto::from(listing)))
}

pub async fn delete(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    app.service
        .delete_conversation(caller.tenant, path_ref(&path, "conversation")?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn add_participant(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: Json<AddParticipant>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let p = app
        .service
        .add_participant(
            caller.tenant,
            path_ref(&path, "conversation")?,
            body.0.user.0,
        )
        .await?;
    Ok(HttpResponse::Created().json(ReadStateDto::from(p)))
}

pub async fn remove_participant(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (conv, user) = path.into_inner();
    let removed = app
        .service
        .remove_participant(
            caller.tenant,
            path_ref(&conv, "conversation")?,
            path_ref(&user, "user")?,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RemovedDto { removed }))
}

/// Total unread and per conversation, for the caller or `?as=`.
pub async fn unread(
    app: web::Data<App>,
    caller: TenantCaller,
    query: Query<AsQuery>,
) -> ApiResult<HttpResponse> {
    let user = caller
        .acting_user(&app, query_ref(query.0.as_user)?)
        .await?;
    let summary = app.service.unread_summary(caller.tenant, user).await?;
    Ok(HttpResponse::Ok().json(UnreadDto {
        total: summary.total,
        conversations: summary
            .conversations
            .into_iter()
            .map(|(c, n)| UnreadEntryDto {
                conversation_id: c.id.0,
                uuid: c.uuid,
                unread_count: n,
            })
            .collect(),
    }))
}

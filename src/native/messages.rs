//! Messages and read marks.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::TenantCaller;
use super::dto::*;
use super::error::ApiResult;
use super::etag::json_with_etag;
use super::extract::{Json, OptionalJson, Query};
use super::{path_ref, query_ref};
use crate::app::App;
use crate::domain::{IdRef, MessageKind};
use crate::error::Error;
use crate::service::messages::NewMessage;
use crate::service::page_limit;
use crate::store::messages::Page;

/// A page of messages, oldest first. Without a cursor: the newest `limit`. `before=<seq>`
/// pages back, `after=<seq>` forward; `next_cursor` continues in the same direction. Answers
/// carry an ETag; `If-None-Match` gets a 304.
pub async fn list(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    query: Query<MessagesQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    let limit = page_limit("limit", q.limit, 50)?;
    let page = match (q.before, q.after) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid("after", "cannot be combined with before").into())
        }
        (_, Some(a)) => Page::After(a),
        (b, None) => Page::Before(b),
    };
    let reader = caller.acting_or_admin(&app, query_ref(q.as_user)?).await?;
    let thread = app
        .service
        .messages(
            caller.tenant,
            path_ref(&path, "conversation")?,
            reader,
            page,
            limit,
        )
        .await?;
    let data = thread
        .messages
        .iter()
        .map(|m| {
            let read_by = thread.read_by(m).into_iter().map(|u| u.0).collect();
            MessageDto::new(m.clone(), Some(read_by))
        })
        .collect();
    Ok(json_with_etag(
        &req,
        &List {
            data,
            next_cursor: thread.next.map(|s| s.to_string()),
        },
    )?)
}

pub async fn send(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: Json<SendMessage>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let sender = caller.acting_user(&app, refs(b.as_user)).await?;
    let kind = match b.kind.as_deref() {
        Some(k) => Some(MessageKind::parse(k).ok_or_else(|| {
            Error::invalid("kind", format!("must be one of {}", MessageKind::choices()))
        })?),
        None => None,
    };
    let message = app
        .service
        .send_message(
            caller.tenant,
            path_ref(&path, "conversation")?,
            sender,
            NewMessage {
                body: b.body,
                kind,
                recipient: refs(b.recipient),
                subject: b.subject,
                reply_to: refs(b.reply_to),
                status: None,
                metadata: b.metadata,
                attachments: b.attachments,
                attachment_ids: b.attachment_ids.unwrap_or_default(),
                device: b.device,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(MessageDto::new(message, None)))
}

/// One message; non-admins only in their own conversations.
pub async fn get(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let message = app
        .service
        .message(caller.tenant, path_ref(&path, "message")?)
        .await?;
    if let Some(reader) = caller.acting_or_admin(&app, None).await? {
        app.service
            .listing(
                caller.tenant,
                IdRef::Id(message.conversation_id.0),
                Some(reader),
            )
            .await
            .map_err(|_| Error::NotFound("message"))?;
    }
    Ok(HttpResponse::Ok().json(MessageDto::new(message, None)))
}

pub async fn edit(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: Json<EditMessage>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let editor = caller.acting_or_admin(&app, refs(b.as_user)).await?;
    let message = app
        .service
        .edit_message(caller.tenant, path_ref(&path, "message")?, editor, b.body)
        .await?;
    Ok(HttpResponse::Ok().json(MessageDto::new(message, None)))
}

pub async fn delete(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: OptionalJson<AsOnly>,
) -> ApiResult<HttpResponse> {
    let as_user = body.0.as_user;
    let by = caller.acting_or_admin(&app, refs(as_user)).await?;
    app.service
        .delete_message(caller.tenant, path_ref(&path, "message")?, by)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Marks the conversation read for the caller (or `as`) up to `up_to` (default: all).
pub async fn mark_conversation_read(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: OptionalJson<MarkRead>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let user = caller.acting_user(&app, refs(b.as_user)).await?;
    let state = app
        .service
        .mark_read(
            caller.tenant,
            path_ref(&path, "conversation")?,
            user,
            refs(b.up_to),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ReadStateDto::from(state)))
}

pub async fn mark_message_read(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: OptionalJson<AsOnly>,
) -> ApiResult<HttpResponse> {
    let as_user = body.0.as_user;
    let user = caller.acting_user(&app, refs(as_user)).await?;
    let (message, changed) = app
        .service
        .mark_message_read(caller.tenant, path_ref(&path, "message")?, user)
        .await?;
    Ok(HttpResponse::Ok().json(MarkedDto {
        changed,
        message_id: message.id.0,
    }))
}

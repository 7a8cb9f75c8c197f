//! Patients → Messages (the seed): messages of the caller's conversations with the assistant.
//! The client posts both sides; `assistant` messages are stored as sent by the tenant's
//! assistant user. Parlor never writes a reply itself.

use actix_web::{web, HttpResponse};

use super::auth::Caller;
use super::convert;
use super::dto::MessageDto;
use super::error::{TatiError, TatiResult};
use super::fields::Fields;
use crate::app::App;
use crate::domain::{Conversation, IdRef, Message};
use crate::error::Error;
use crate::service::messages::NewMessage;

/// Core field names in Tati's words.
fn rename(e: Error) -> TatiError {
    match e {
        Error::Invalid { field, message } if field == "body" => {
            TatiError::field("content", message)
        }
        other => other.into(),
    }
}

/// `GET /patients/conversations/{conversation_id}/messages/`: all of them, oldest first.
pub async fn list(
    app: web::Data<App>,
    me: Caller,
    path: web::Path<String>,
) -> TatiResult<HttpResponse> {
    let conv = me.conversation(&app, path.into_inner()).await?;
    let out: Vec<MessageDto> = app
        .service
        .all_messages(me.tenant, IdRef::Id(conv.id.0), me.patient.id)
        .await?
        .iter()
        .map(|m| convert::message(m, &conv, &me.patient))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// `POST /patients/conversations/{conversation_id}/messages/` `{"message_type", "content"}`
/// → 201. Archived conversations take messages too.
pub async fn create(
    app: web::Data<App>,
    me: TatiResult<Caller>,
    path: web::Path<String>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> TatiResult<HttpResponse> {
    let me = me?;
    let conv = me.conversation(&app, path.into_inner()).await?;
    let mut f = Fields::from_body(bytes)?;
    let kind = f.choice("message_type", true, &["user", "assistant"]);
    let content = f.string("content", true);
    f.finish()?;
    let (Some(kind), Some(content)) = (kind, content) else {
        return Err(TatiError::field("content", "This field is required."));
    };
    let (sender, recipient) = if kind == "user" {
        (me.patient.id, me.assistant)
    } else {
        (me.assistant, me.patient.id)
    };
    let sent = app
        .service
        .send_message(
            me.tenant,
            IdRef::Id(conv.id.0),
            sender,
            NewMessage {
                body: content,
                recipient: Some(IdRef::Id(recipient.0)),
                ..Default::default()
            },
        )
        .await
        .map_err(rename)?;
    Ok(HttpResponse::Created().json(convert::message(&sent, &conv, &me.patient)))
}

/// The message `unique_id` and its conversation, when it is in one of the caller's
/// conversations with the assistant.
async fn own_message(
    app: &App,
    me: &Caller,
    unique_id: String,
) -> TatiResult<(Message, Conversation)> {
    let message = app
        .service
        .message(me.tenant, IdRef::Key(unique_id))
        .await?;
    let conv = app
        .service
        .conversation_between(
            me.tenant,
            me.patient.id,
            me.assistant,
            IdRef::Id(message.conversation_id.0),
        )
        .await?;
    Ok((message, conv))
}

/// `GET /patients/messages/{unique_id}/`.
pub async fn get(
    app: web::Data<App>,
    me: Caller,
    path: web::Path<String>,
) -> TatiResult<HttpResponse> {
    let (message, conv) = own_message(&app, &me, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(convert::message(&message, &conv, &me.patient)))
}

/// `PUT /patients/messages/{unique_id}/` `{"content"}`: a partial update; only `content` can
/// change, and `last_updated` moves with it.
pub async fn update(
    app: web::Data<App>,
    me: TatiResult<Caller>,
    path: web::Path<String>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> TatiResult<HttpResponse> {
    let me = me?;
    let (message, conv) = own_message(&app, &me, path.into_inner()).await?;
    let mut f = Fields::from_body(bytes)?;
    let content = f.string("content", false);
    f.finish()?;
    let message = match content {
        // The patient's client writes both sides of the conversation, so it may edit either.
        Some(content) => app
            .service
            .edit_message(me.tenant, IdRef::Id(message.id.0), None, content)
            .await
            .map_err(rename)?,
        None => message,
    };
    Ok(HttpResponse::Ok().json(convert::message(&message, &conv, &me.patient)))
}

/// `DELETE /patients/messages/{unique_id}/` → 204. The message is gone from every face.
pub async fn delete(
    app: web::Data<App>,
    me: Caller,
    path: web::Path<String>,
) -> TatiResult<HttpResponse> {
    let (message, _) = own_message(&app, &me, path.into_inner()).await?;
    app.service
        .delete_message(me.tenant, IdRef::Id(message.id.0), None)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

//! The patient's messaging endpoints (reference pages `_get_conversations`,
//! `_get_conversation`, `_create`, `_mark_read`, `_get_contacts`, `_get_system`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::auth::Patient;
use super::convert;
use super::dto::{
    ContactsDto, ConversationsDto, MessageDto, MessagesDto, OneMessageDto, SystemMessagesDto,
};
use super::error::{MdliveError, MdliveResult};
use super::params::{paging, Params};
use crate::app::App;
use crate::domain::{IdRef, Role, User};
use crate::error::Error;
use crate::service::direct::DirectPage;
use crate::service::messages::NewMessage;

/// `GET /api/v2/patients/{patient_id}/messages/conversations`: one summary per provider the
/// patient has messages with, oldest activity first (the order of the vendor's example).
pub async fn conversations(app: web::Data<App>, me: Patient) -> MdliveResult<HttpResponse> {
    let directs = app
        .service
        .direct_conversations(me.tenant.id, me.user.id, Role::Provider)
        .await?;
    let conversations = directs
        .iter()
        .filter_map(|d| convert::summary(d, me.user.id, me.tenant.utc_offset_minutes))
        .collect();
    Ok(HttpResponse::Ok().json(ConversationsDto { conversations }))
}

/// The page's messages, newest first, each with whether its recipient has read it.
fn render_page(page: &DirectPage, me: &User) -> Vec<MessageDto> {
    let Some(thread) = &page.thread else {
        return Vec::new();
    };
    thread
        .messages
        .iter()
        .map(|m| {
            let recipient = if m.sender_id == me.id {
                page.other.id
            } else {
                me.id
            };
            let unread = !thread.read_by(m).contains(&recipient);
            convert::message(m, me, &page.other, unread)
        })
        .collect()
}

/// `GET /api/v1/patients/{patient_id}/providers/{provider_id}/conversation?page=&per=`.
/// Reading does not mark anything read.
pub async fn thread(
    app: web::Data<App>,
    me: Patient,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> MdliveResult<HttpResponse> {
    let (_, provider_id) = path.into_inner();
    let (page, per) = paging(req.query_string())?;
    let provider = provider_id
        .parse::<i64>()
        .map_err(|_| Error::NotFound("provider"))?;
    let page = app
        .service
        .direct_page(
            me.tenant.id,
            me.user.id,
            crate::domain::UserId(provider),
            Role::Provider,
            page,
            per,
        )
        .await
        .map_err(|e| match e {
            Error::NotFound("user") => Error::NotFound("provider"),
            other => other,
        })?;
    Ok(HttpResponse::Ok().json(MessagesDto {
        messages: render_page(&page, &me.user),
    }))
}

/// `GET /api/v1/patients/{patient_id}/messages/system?page=&per=`: the conversation with the
/// tenant's system user; `unread` counts all of it, not the page.
pub async fn system(
    app: web::Data<App>,
    me: Patient,
    req: HttpRequest,
) -> MdliveResult<HttpResponse> {
    let (page, per) = paging(req.query_string())?;
    let page = app
        .service
        .direct_page_with_role(me.tenant.id, me.user.id, Role::System, page, per)
        .await?;
    let (messages, unread) = match &page {
        Some(p) => (
            render_page(p, &me.user),
            p.me.as_ref().map_or(0, |m| m.unread_count),
        ),
        None => (Vec::new(), 0),
    };
    Ok(HttpResponse::Ok().json(SystemMessagesDto { messages, unread }))
}

/// `GET /api/v1/patients/{patient_id}/messages/contacts`.
pub async fn contacts(app: web::Data<App>, me: Patient) -> MdliveResult<HttpResponse> {
    let contacts = app
        .service
        .contacts(me.tenant.id, me.user.id)
        .await?
        .iter()
        .filter(|u| u.role == Role::Provider)
        .map(convert::provider)
        .collect();
    Ok(HttpResponse::Ok().json(ContactsDto { contacts }))
}

/// `POST /api/v1/patients/{patient_id}/messages` `{"message": {"message_type", "to_id",
/// "subject", "message", "replied_to_message_id"?}}` → 201 with the message.
pub async fn send(
    app: web::Data<App>,
    me: MdliveResult<Patient>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> MdliveResult<HttpResponse> {
    let me = me?;
    let params = Params::from_body(bytes)?;
    let message = params.require("message")?;
    let mut f = message.fields();
    let message_type = f.string("message_type", false);
    let to_id = f.integer("to_id", true);
    let subject = f.string("subject", true);
    let text = f.string("message", true);
    let reply_to = f.integer("replied_to_message_id", false);
    f.finish()?;
    let (Some(to_id), Some(text)) = (to_id, text) else {
        return Err(MdliveError::ParameterMissing("message"));
    };
    let (sent, provider) = app
        .service
        .send_to_contact(
            me.tenant.id,
            me.user.id,
            crate::domain::UserId(to_id),
            Role::Provider,
            NewMessage {
                body: text,
                subject,
                reply_to: reply_to.map(IdRef::Id),
                metadata: Some(json!({
                    "message_type": message_type.unwrap_or_else(|| "follow_up".into())
                })),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| match e {
            Error::NotFound("user") => MdliveError::Core(Error::NotFound("provider")),
            Error::Unprocessable(m) => MdliveError::field("to_id", m),
            Error::Invalid { field, message } => MdliveError::field(
                match field.as_str() {
                    "reply_to" => "replied_to_message_id",
                    "body" => "message",
                    other => other,
                },
                message,
            ),
            other => other.into(),
        })?;
    // Just sent: its recipient cannot have read it yet.
    let dto = convert::message(&sent, &me.user, &provider, true);
    Ok(HttpResponse::Created().json(OneMessageDto { message: dto }))
}

/// `POST` or `PUT /api/v1/patients/{patient_id}/messages/{message_id}/mark_read` → 204.
/// Only for a message sent to the patient; marking it again changes nothing.
pub async fn mark_read(
    app: web::Data<App>,
    me: Patient,
    path: web::Path<(String, String)>,
) -> MdliveResult<HttpResponse> {
    let (_, message_id) = path.into_inner();
    let id = message_id
        .parse::<i64>()
        .map_err(|_| Error::NotFound("message"))?;
    let (message, _changed) = app
        .service
        .mark_message_read(me.tenant.id, IdRef::Id(id), me.user.id)
        .await?;
    if message.sender_id == me.user.id {
        // Nothing was written: one's own messages are always read.
        return Err(MdliveError::field(
            "message_id",
            "is a message you sent; only messages sent to you can be marked read",
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

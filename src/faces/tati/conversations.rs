//! Patients → Conversations: a patient's conversations with the tenant's assistant.

use actix_web::{web, HttpResponse};

use super::auth::Caller;
use super::convert;
use super::dto::ConversationDto;
use super::error::TatiResult;
use super::fields::Fields;
use crate::app::App;
use crate::domain::{ConversationStatus, IdRef};
use crate::service::conversations::ConversationChange;

const STATUSES: &[&str] = &["current", "archived"];

/// `GET /patients/conversations/`: the caller's current conversations, oldest first.
pub async fn list(app: web::Data<App>, me: Caller) -> TatiResult<HttpResponse> {
    let all = app
        .service
        .conversations_between(me.tenant, me.patient.id, me.assistant)
        .await?;
    let current: Vec<ConversationDto> = all
        .iter()
        .filter(|c| c.status == ConversationStatus::Active)
        .map(|c| convert::conversation(c, &me.patient))
        .collect();
    Ok(HttpResponse::Ok().json(current))
}

/// `POST /patients/conversations/` `{"status"?}` → 201.
pub async fn create(
    app: web::Data<App>,
    me: TatiResult<Caller>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> TatiResult<HttpResponse> {
    let me = me?;
    let mut f = Fields::from_body(bytes)?;
    let status = f.choice("status", false, STATUSES);
    f.finish()?;
    let conv = app
        .service
        .start_conversation_between(
            me.tenant,
            me.patient.id,
            me.assistant,
            status.as_deref() == Some("archived"),
        )
        .await?;
    Ok(HttpResponse::Created().json(convert::conversation(&conv, &me.patient)))
}

/// `GET /patients/conversations/{unique_id}/`.
pub async fn get(
    app: web::Data<App>,
    me: Caller,
    path: web::Path<String>,
) -> TatiResult<HttpResponse> {
    let conv = me.conversation(&app, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(convert::conversation(&conv, &me.patient)))
}

/// `PUT /patients/conversations/{unique_id}/` `{"status"}`: archiving sets `archived_date`,
/// `current` clears it.
pub async fn update(
    app: web::Data<App>,
    me: TatiResult<Caller>,
    path: web::Path<String>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> TatiResult<HttpResponse> {
    let me = me?;
    let mut f = Fields::from_body(bytes)?;
    let status = f.choice("status", false, STATUSES);
    f.finish()?;
    let conv = me.conversation(&app, path.into_inner()).await?;
    let conv = match status {
        Some(status) => {
            let change = ConversationChange {
                archived: Some(status == "archived"),
                ..Default::default()
            };
            app.service
                .update_conversation(me.tenant, IdRef::Id(conv.id.0), change)
                .await?
        }
        None => conv,
    };
    Ok(HttpResponse::Ok().json(convert::conversation(&conv, &me.patient)))
}

/// `DELETE /patients/conversations/{unique_id}/` → 204.
pub async fn delete(
    app: web::Data<App>,
    me: Caller,
    path: web::Path<String>,
) -> TatiResult<HttpResponse> {
    let conv = me.conversation(&app, path.into_inner()).await?;
    app.service
        .delete_conversation(me.tenant, IdRef::Id(conv.id.0))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

//! Conversations (API reference → Conversations: getAll, getById, getByFlow, delete,
//! deleteMessage, messageAction, generateMessage).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{Map, Value};

use super::auth::Workspace;
use super::convert;
use super::dto::{ActionDto, ConversationDto, DeletedDto, GeneratedDto};
use super::error::{TrilletError, TrilletResult};
use crate::app::App;
use crate::domain::IdRef;
use crate::error::Error;
use crate::faces::body::{json_object, BodyError};
use crate::service::flows::Review;

fn body(bytes: Result<web::Bytes, actix_web::Error>) -> TrilletResult<Map<String, Value>> {
    json_object(bytes).map_err(|e| match e {
        BodyError::TooLarge => {
            TrilletError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.")
        }
        e @ (BodyError::NotAnObject | BodyError::NotJson(..)) => {
            TrilletError::bad_request(format!("Request body is not valid JSON: {}", e.reason()))
        }
        BodyError::Unreadable(why) => TrilletError::bad_request(why),
    })
}

/// `GET /conversations`: the whole workspace, most recently updated first.
pub async fn list(app: web::Data<App>, workspace: Workspace) -> TrilletResult<HttpResponse> {
    let tenant = workspace.tenant;
    let all = app.service.outreach_list(tenant, None).await?;
    let out: Vec<ConversationDto> = all.iter().map(convert::conversation).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /conversations/{conversationId}`.
pub async fn get(
    app: web::Data<App>,
    workspace: Workspace,
    path: web::Path<String>,
) -> TrilletResult<HttpResponse> {
    let tenant = workspace.tenant;
    let one = app
        .service
        .outreach(tenant, IdRef::Key(path.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(convert::conversation(&one)))
}

/// `GET /conversations/flow/{flowId}`.
pub async fn by_flow(
    app: web::Data<App>,
    workspace: Workspace,
    path: web::Path<String>,
) -> TrilletResult<HttpResponse> {
    let tenant = workspace.tenant;
    let all = app
        .service
        .outreach_list(tenant, Some(path.into_inner()))
        .await?;
    let out: Vec<ConversationDto> = all.iter().map(convert::conversation).collect();
    Ok(HttpResponse::Ok().json(out))
}

/// `DELETE /conversations/{conversationId}`.
pub async fn delete(
    app: web::Data<App>,
    workspace: Workspace,
    path: web::Path<String>,
) -> TrilletResult<HttpResponse> {
    let tenant = workspace.tenant;
    let id = path.into_inner();
    app.service
        .delete_conversation(tenant, IdRef::Key(id.clone()))
        .await?;
    Ok(HttpResponse::Ok().json(DeletedDto {
        status: "success",
        message: format!("Conversation with ID {id} deleted successfully."),
        conversation_id: id,
    }))
}

/// `DELETE /conversations/{conversationId}/message/{messageId}`; any body is ignored.
pub async fn delete_message(
    app: web::Data<App>,
    workspace: Workspace,
    path: web::Path<(String, String)>,
) -> TrilletResult<HttpResponse> {
    let tenant = workspace.tenant;
    let (conv, message) = path.into_inner();
    app.service
        .delete_message_of(
            tenant,
            IdRef::Key(conv.clone()),
            IdRef::Key(message.clone()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(DeletedDto {
        status: "success",
        message: format!("Message with ID {message} deleted successfully."),
        conversation_id: conv,
    }))
}

/// `POST /conversations/{conversationId}/message/{messageId}/action`
/// `{"metadata": {"action": "Approve" | "Edit" | "Reject", "editedMessage"?}}`.
pub async fn action(
    app: web::Data<App>,
    workspace: TrilletResult<Workspace>,
    path: web::Path<(String, String)>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> TrilletResult<HttpResponse> {
    let workspace = workspace?;
    let tenant = workspace.tenant;
    let (conv, message) = path.into_inner();
    let body = body(bytes)?;
    let metadata = match body.get("metadata") {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(TrilletError::bad_request(
                "metadata is required and must be an object.",
            ))
        }
    };
    let review = match metadata.get("action").and_then(Value::as_str) {
        Some("Approve") => Review::Approve,
        Some("Reject") => Review::Reject,
        Some("Edit") => match metadata.get("editedMessage").and_then(Value::as_str) {
            Some(text) if !text.trim().is_empty() => Review::Edit(text.to_string()),
            _ => {
                return Err(TrilletError::bad_request(
                    "metadata.editedMessage is required for the Edit action.",
                ))
            }
        },
        _ => {
            return Err(TrilletError::bad_request(
                "metadata.action must be one of Approve, Edit, Reject.",
            ))
        }
    };
    let (message, outreach) = app
        .service
        .review_message(tenant, IdRef::Key(conv), IdRef::Key(message), review)
        .await
        .map_err(|e| match e {
            Error::Invalid { message, .. } => {
                TrilletError::bad_request(format!("metadata.editedMessage {message}"))
            }
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(ActionDto {
        status: "success",
        message: convert::acted(&outreach, &message),
    }))
}

/// `POST /conversations/message/generate` `{"flowId", "to", "metadata"?, "autopilot",
/// "dynamic"?}`: the flow's opening message to the customer at `to`. No text is invented.
pub async fn generate(
    app: web::Data<App>,
    workspace: TrilletResult<Workspace>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> TrilletResult<HttpResponse> {
    let workspace = workspace?;
    let tenant = workspace.tenant;
    let body = body(bytes)?;
    let text = |key: &str| -> TrilletResult<String> {
        match body.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                Err(TrilletError::bad_request(format!("{key} is required.")))
            }
            Some(_) => Err(TrilletError::bad_request(format!(
                "{key} must be a string."
            ))),
        }
    };
    let flow = text("flowId")?;
    let to = text("to")?;
    let autopilot = match body.get("autopilot") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(TrilletError::bad_request("autopilot must be a boolean.")),
    };
    for key in ["metadata", "dynamic"] {
        if matches!(body.get(key), Some(v) if !v.is_object() && !v.is_null()) {
            return Err(TrilletError::bad_request(format!(
                "{key} must be an object."
            )));
        }
    }
    let metadata = body.get("metadata").filter(|v| v.is_object()).cloned();
    let (conv, message) = app
        .service
        .start_outreach(tenant, flow, to, autopilot, metadata)
        .await?;
    Ok(HttpResponse::Ok().json(GeneratedDto {
        status: "success",
        conversation_id: conv.oid,
        message_id: message.oid,
        message: message.body,
    }))
}

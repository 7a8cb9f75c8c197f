//! Files on the Pigeons face (issue 16). The vendor's send takes `attachments` without saying
//! what they are; here a string in that list names a file uploaded first with
//! `POST /attachments` (Parlor's addition, `multipart/form-data` with `file` and
//! `conversation_uuid`, or the raw body with `?conversation_uuid=&filename=`), and messages
//! list such files with a URL the same credential (token and `X-PUBLIC-KEY`) can fetch.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::dto::Done;
use super::error::{PigeonsError, PigeonsResult};
use super::{base, convert, key, Prefix};
use crate::app::App;
use crate::error::Error;
use crate::http::files::{self, Upload};
use crate::service::attachments::Limits;

#[derive(Deserialize)]
pub struct UploadQuery {
    conversation_uuid: Option<String>,
    filename: Option<String>,
}

/// The send's `attachments`: strings name uploaded files, anything else is kept as given.
pub fn split(list: Option<Value>) -> (Option<Value>, Vec<String>) {
    let Some(Value::Array(items)) = list else {
        return (list, Vec::new());
    };
    let mut given = Vec::new();
    let mut ids = Vec::new();
    for item in items {
        match item {
            Value::String(id) => ids.push(id),
            other => given.push(other),
        }
    }
    (Some(Value::Array(given)), ids)
}

/// A refused file id is the `attachments` field's error here.
pub fn as_attachments_field(e: Error) -> PigeonsError {
    match e {
        Error::Invalid { field, message } if field == "attachment_ids" => {
            PigeonsError::Core(Error::Invalid {
                field: "attachments".into(),
                message,
            })
        }
        e => PigeonsError::Core(e),
    }
}

fn required(field: &str) -> PigeonsError {
    PigeonsError::Validation(vec![(
        field.to_string(),
        vec![format!(
            "The {} field is required.",
            field.replace('_', " ")
        )],
    )])
}

pub async fn upload(
    app: web::Data<App>,
    caller: Caller,
    query: web::Query<UploadQuery>,
    req: HttpRequest,
    payload: web::Payload,
    prefix: web::Data<Prefix>,
) -> PigeonsResult<HttpResponse> {
    let q = query.into_inner();
    let limits = Limits::of(&app.settings);
    files::check_length(&req, limits.max_file)?;
    let upload = Upload::read(&req, payload, q.filename).await?;
    let conversation = upload
        .field("conversation_uuid")
        .map(str::to_owned)
        .or(q.conversation_uuid)
        .ok_or_else(|| required("conversation_uuid"))?;
    let name = upload.filename.unwrap_or_default();
    let attachment = app
        .service
        .upload(
            caller.tenant.id,
            key(&conversation),
            caller.user.id,
            &name,
            limits,
            upload.body,
        )
        .await?;
    Ok(HttpResponse::Created().json(Done {
        message: "Attachment uploaded successfully",
        data: convert::file(&attachment.as_file(), &base(&app, &req, &prefix)),
    }))
}

/// A file's content, for its uploader until it is sent, then for the conversation's
/// participants.
pub async fn download(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> PigeonsResult<HttpResponse> {
    let d = app
        .service
        .download(caller.tenant.id, path.into_inner(), Some(caller.user.id))
        .await?;
    // Symfony's RequestedRangeNotSatisfiable, as Laravel renders it.
    Ok(files::serve(&app.service, &req, d, |_| {
        HttpResponse::RangeNotSatisfiable().json(super::dto::Notice {
            message: "Requested Range Not Satisfiable",
        })
    })
    .await?)
}

//! Attachments: upload into a conversation, the file's metadata, its content.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::TenantCaller;
use super::dto::*;
use super::error::ApiResult;
use super::extract::Query;
use super::{path_ref, query_ref};
use crate::app::App;
use crate::http::files::{self, Upload};
use crate::service::attachments::Limits;

/// `multipart/form-data` with a `file` part, or the file itself as the body (its name in
/// `?filename=` or `X-Parlor-Filename`). The type is detected from the bytes.
pub async fn upload(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    query: Query<UploadQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    let limits = Limits::of(&app.settings);
    files::check_length(&req, limits.max_file)?;
    let uploader = caller.acting_user(&app, query_ref(q.as_user)?).await?;
    let conv = path_ref(&path, "conversation")?;
    let upload = Upload::read(&req, payload, q.filename).await?;
    let name = upload.filename.unwrap_or_default();
    let attachment = app
        .service
        .upload(caller.tenant, conv, uploader, &name, limits, upload.body)
        .await?;
    Ok(HttpResponse::Created().json(AttachmentDto::from(attachment)))
}

/// A file's metadata: for its uploader before it is sent, then for the conversation's
/// participants; admins always. Anyone else: 404.
pub async fn get(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    query: Query<AttachmentQuery>,
) -> ApiResult<HttpResponse> {
    let reader = caller
        .acting_or_admin(&app, query_ref(query.0.as_user)?)
        .await?;
    let a = app
        .service
        .attachment(caller.tenant, path.into_inner(), reader)
        .await?;
    Ok(HttpResponse::Ok().json(AttachmentDto::from(a)))
}

/// A file's content, to the same readers as its metadata.
pub async fn content(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    query: Query<AttachmentQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let reader = caller
        .acting_or_admin(&app, query_ref(query.0.as_user)?)
        .await?;
    let d = app
        .service
        .download(caller.tenant, path.into_inner(), reader)
        .await?;
    Ok(files::serve(&app.service, &req, d, super::error::range_not_satisfiable).await?)
}

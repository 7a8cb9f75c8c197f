//! `GET /users/{user}/export`: a patient's records, for the clinic to hand over (right of
//! access). Streamed: the use case renders a page of messages at a time into a small bounded
//! channel, and the response body drains it, so a long history never sits whole in memory and
//! a slow client slows the reads down instead of piling them up.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::http::header::{
    CacheControl, CacheDirective, ContentDisposition, DispositionParam, DispositionType,
};
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::auth::TenantCaller;
use super::error::ApiResult;
use super::extract::Query;
use super::path_ref;
use crate::app::App;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::export::{Format, Requester};
use crate::service::export::Out;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (the default) or `html`.
    pub format: Option<String>,
}

/// Pieces of the document waiting for the client: a few, each about `FLUSH_AT` bytes.
const IN_FLIGHT: usize = 4;

type Piece = std::result::Result<Bytes, std::io::Error>;

struct Channel(mpsc::Sender<Piece>);

impl Out for Channel {
    async fn put(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.0
            .send(Ok(Bytes::from(bytes)))
            .await
            .map_err(|_| Error::internal("the client left before the export was complete"))
    }
}

struct Body(mpsc::Receiver<Piece>);

impl futures_core::Stream for Body {
    type Item = Piece;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Piece>> {
        self.get_mut().0.poll_recv(cx)
    }
}

pub async fn download(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    query: Query<ExportQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    crate::audit::action("patient.export");
    let format = Format::parse("format", query.0.format.as_deref().unwrap_or("json"))?;
    let subject = app
        .service
        .export_subject(caller.tenant, path_ref(&path, "user")?)
        .await?;
    let requested_by = match &caller.principal {
        Principal::ServerAdmin => Requester::ServerAdmin,
        Principal::User { user, .. } => Requester::User(user.id),
    };
    let file_name = format.file_name(&subject.patient, app.service.now());

    // The request's entry is recorded when the answer starts; this one when the whole
    // document has gone out, with what it held.
    let sent = crate::audit::current().map(|d| crate::audit::lock(&d).entry.clone());
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    let service = app.service.clone();
    actix_web::rt::spawn(async move {
        let mut out = Channel(tx);
        match service
            .export_patient(&subject, format, requested_by, &mut out)
            .await
        {
            Ok(summary) => {
                tracing::info!(
                    tenant = summary.tenant.0,
                    patient = summary.patient.0,
                    conversations = summary.conversations,
                    messages = summary.messages,
                    format = summary.format.as_str(),
                    "patient export sent"
                );
                if let Some(mut entry) = sent {
                    entry.action = "patient.export.sent".into();
                    entry.outcome = "ok".into();
                    entry.status = Some(200);
                    entry.detail = Some(summary.audit_detail());
                    if let Err(e) = service.store.record(entry).await {
                        tracing::error!("an audit entry could not be recorded: {e}");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(
                    patient = subject.patient.id.0,
                    "patient export stopped: {e}"
                );
                // An error in the body makes the server cut the connection, so that the client
                // sees an incomplete download rather than a document that looks whole.
                let _ = out
                    .0
                    .send(Err(std::io::Error::other("the export stopped")))
                    .await;
            }
        }
    });

    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name)],
        })
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .streaming(Body(rx)))
}

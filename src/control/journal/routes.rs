//! The journal's routes under `/__parlor/`: list, one entry, count (`verify`), clear, HAR.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::http::Method;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::mpsc;

use super::entry::NearMiss;
use super::filter::FilterQuery;
use super::store::Row;
use super::{har, Journal};
use crate::control::auth::ServerAdmin;
use crate::domain::time::rfc3339_ms;
use crate::error::Error;
use crate::native::error::ApiResult;
use crate::native::extract::Query;
use crate::openapi::{op, Op};

/// Entries in a page unless `limit` says otherwise, and at most.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;
/// Entries read at a time for the HAR export.
const HAR_PAGE: u32 = 100;

/// The journal's operations, for the control plane's table.
pub fn operations() -> Vec<Op> {
    use crate::control::{ADMIN, ADMIN_INPUT};
    vec![
        op(
            Method::GET,
            "/journal",
            "Recorded requests, newest first, filtered and paged",
            list,
        )
        .query::<FilterQuery>()
        .json::<ListDto>(200)
        .errors(ADMIN_INPUT),
        op(
            Method::DELETE,
            "/journal",
            "Forget every recorded request",
            clear,
        )
        .json::<ClearedDto>(200)
        .errors(ADMIN),
        op(
            Method::GET,
            "/journal/count",
            "How many recorded requests match the filters",
            count,
        )
        .query::<FilterQuery>()
        .json::<CountDto>(200)
        .errors(ADMIN_INPUT),
        op(
            Method::POST,
            "/journal/verify",
            "The same count, the filters as a JSON object (numbers allowed)",
            verify,
        )
        .optional_body::<FilterQuery>()
        .json::<CountDto>(200)
        .errors(ADMIN_INPUT),
        op(Method::GET, "/journal/{id}", "One recorded request", one)
            .json::<EntryDto>(200)
            .errors(&[401, 403, 404]),
        op(
            Method::GET,
            "/journal.har",
            "The recorded requests as HAR 1.2, oldest first, filtered",
            export,
        )
        .query::<FilterQuery>()
        .media(200, &["application/json"])
        .errors(ADMIN_INPUT),
    ]
}

#[derive(Serialize, JsonSchema)]
struct HeaderDto<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize, JsonSchema)]
struct MessageDto<'a> {
    headers: Vec<HeaderDto<'a>>,
    /// The body as recorded (secrets masked; base64 when `body_encoding` says so), or null.
    body: Option<&'a str>,
    body_size: u64,
    body_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_encoding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

#[derive(Serialize, JsonSchema)]
struct EntryDto<'a> {
    id: i64,
    at: String,
    face: &'a str,
    tenant: Option<i64>,
    sandbox: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    query: &'a str,
    /// The route template that answered; null when none matched (see `near_misses`).
    route: Option<&'a str>,
    status: u16,
    duration_ms: f64,
    request: MessageDto<'a>,
    response: MessageDto<'a>,
    near_misses: &'a [NearMiss],
}

fn headers(list: &[(String, String)]) -> Vec<HeaderDto<'_>> {
    list.iter()
        .map(|(name, value)| HeaderDto { name, value })
        .collect()
}

impl<'a> From<&'a Row> for EntryDto<'a> {
    fn from(row: &'a Row) -> Self {
        let doc = &row.doc;
        EntryDto {
            id: row.id,
            at: rfc3339_ms(row.at),
            face: &row.face,
            tenant: row.tenant,
            sandbox: row.sandbox.as_deref(),
            method: &row.method,
            path: &row.path,
            query: &row.query,
            route: doc.route.as_deref(),
            status: row.status,
            duration_ms: row.duration_us as f64 / 1000.0,
            request: MessageDto {
                headers: headers(&doc.request_headers),
                body: row.request_body.as_deref(),
                body_size: doc.request_body.size,
                body_truncated: doc.request_body.truncated,
                body_encoding: doc.request_body.encoding.as_deref(),
                status: None,
            },
            response: MessageDto {
                headers: headers(&doc.response_headers),
                body: row.response_body.as_deref(),
                body_size: doc.response_body.size,
                body_truncated: doc.response_body.truncated,
                body_encoding: doc.response_body.encoding.as_deref(),
                status: Some(row.status),
            },
            near_misses: &doc.near_misses,
        }
    }
}

#[derive(Serialize, JsonSchema)]
struct ListDto<'a> {
    data: Vec<EntryDto<'a>>,
    next_cursor: Option<String>,
    /// Entries not recorded since the start because the journal's queue was full.
    dropped: u64,
}

#[derive(Serialize, JsonSchema)]
struct CountDto {
    count: u64,
    dropped: u64,
}

#[derive(Serialize, JsonSchema)]
struct ClearedDto {
    removed: u64,
}

/// `GET /__parlor/journal`: entries newest first, filtered, paged by `before`.
async fn list(
    _admin: ServerAdmin,
    journal: web::Data<Journal>,
    query: Query<FilterQuery>,
) -> ApiResult<HttpResponse> {
    let filter = query.0.filter()?;
    let limit = match query.0.limit {
        None => DEFAULT_PAGE,
        Some(n) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE}")).into())
        }
    };
    let mut rows = journal.page(filter, limit).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(ListDto {
        data: rows.iter().map(EntryDto::from).collect(),
        next_cursor,
        dropped: journal.dropped(),
    }))
}

/// `GET /__parlor/journal/{id}`.
async fn one(
    _admin: ServerAdmin,
    journal: web::Data<Journal>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id
        .parse::<i64>()
        .map_err(|_| Error::NotFound("journal entry"))?;
    let row = journal
        .get(id)
        .await?
        .ok_or(Error::NotFound("journal entry"))?;
    Ok(HttpResponse::Ok().json(EntryDto::from(&row)))
}

/// `GET /__parlor/journal/count`: how many entries match (WireMock's verify).
async fn count(
    _admin: ServerAdmin,
    journal: web::Data<Journal>,
    query: Query<FilterQuery>,
) -> ApiResult<HttpResponse> {
    counted(&journal, query.0).await
}

/// `POST /__parlor/journal/verify`: the same count, its filters as a JSON object (numbers
/// allowed where the query string would carry digits).
async fn verify(
    _admin: ServerAdmin,
    journal: web::Data<Journal>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let filters = if body.iter().all(u8::is_ascii_whitespace) {
        FilterQuery::default()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid("body", format!("must be a JSON object: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(Error::invalid("body", "must be a JSON object of filters").into());
        };
        let mut fields = serde_json::Map::new();
        for (name, value) in map {
            if name == "limit" || name == "before" {
                return Err(
                    Error::invalid(name, "is a paging parameter; verify counts all").into(),
                );
            }
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Null => continue,
                _ => return Err(Error::invalid(name, "must be a string or a number").into()),
            };
            fields.insert(name, serde_json::Value::String(text));
        }
        serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(|e| {
            let path = e.path().to_string();
            Error::invalid(
                if path == "." { "body".into() } else { path },
                e.into_inner(),
            )
        })?
    };
    counted(&journal, filters).await
}

async fn counted(journal: &Journal, query: FilterQuery) -> ApiResult<HttpResponse> {
    if query.limit.is_some() {
        return Err(Error::invalid("limit", "is a paging parameter; a count counts all").into());
    }
    let filter = query.filter()?;
    Ok(HttpResponse::Ok().json(CountDto {
        count: journal.count(filter).await?,
        dropped: journal.dropped(),
    }))
}

/// `DELETE /__parlor/journal`: every entry recorded so far is removed.
async fn clear(_admin: ServerAdmin, journal: web::Data<Journal>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ClearedDto {
        removed: journal.clear().await?,
    }))
}

type Piece = Result<Bytes, std::io::Error>;

struct Body(mpsc::Receiver<Piece>);

impl futures_core::Stream for Body {
    type Item = Piece;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Piece>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// `GET /__parlor/journal.har`: the matching entries as HAR 1.2, oldest first, streamed a page
/// at a time so that a full journal never sits whole in memory.
async fn export(
    _admin: ServerAdmin,
    journal: web::Data<Journal>,
    query: Query<FilterQuery>,
) -> ApiResult<HttpResponse> {
    if query.0.limit.is_some() || query.0.before.is_some() {
        let field = if query.0.limit.is_some() {
            "limit"
        } else {
            "before"
        };
        return Err(Error::invalid(field, "is a paging parameter; the export holds all").into());
    }
    // Checked now, so that a bad filter is a 400 rather than a broken stream.
    let mut filter = query.0.filter()?;
    let (tx, rx) = mpsc::channel::<Piece>(4);
    let journal = journal.into_inner();
    actix_web::rt::spawn(async move {
        if tx.send(Ok(Bytes::from(har::opening()))).await.is_err() {
            return;
        }
        let mut first = true;
        filter.after = Some(0);
        loop {
            let rows = match journal.page(filter.clone(), HAR_PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            let Some(last) = rows
                .iter()
                .take(HAR_PAGE as usize)
                .next_back()
                .map(|r| r.id)
            else {
                break;
            };
            let mut piece = String::new();
            for row in rows.iter().take(HAR_PAGE as usize) {
                if !first {
                    piece.push(',');
                }
                first = false;
                piece.push_str(&har::entry(row));
            }
            if tx.send(Ok(Bytes::from(piece))).await.is_err() {
                return;
            }
            if rows.len() <= HAR_PAGE as usize {
                break;
            }
            filter.after = Some(last);
        }
        let _ = tx
            .send(Ok(Bytes::from_static(har::CLOSING.as_bytes())))
            .await;
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename("parlor-journal.har".into())],
        })
        .streaming(Body(rx)))
}

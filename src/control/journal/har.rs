//! The journal as HAR 1.2 (the format a browser's dev tools export and open): one entry per
//! recorded request, oldest first, with Parlor's own fields under `_parlor` (custom fields
//! start with an underscore in HAR).

use serde::Serialize;

use super::entry::NearMiss;
use super::store::Row;
use super::stored::BodyInfo;
use crate::domain::time::rfc3339_ms;

/// The document's opening, up to its first entry.
pub fn opening() -> String {
    #[derive(Serialize)]
    struct Creator {
        name: &'static str,
        version: &'static str,
    }
    let creator = serde_json::to_string(&Creator {
        name: "Parlor",
        version: env!("CARGO_PKG_VERSION"),
    })
    .unwrap_or_default();
    format!(r#"{{"log":{{"version":"1.2","creator":{creator},"pages":[],"entries":["#)
}

pub const CLOSING: &str = "]}}";

#[derive(Serialize)]
struct NameValue<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostData<'a> {
    mime_type: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    method: &'a str,
    url: String,
    http_version: &'a str,
    cookies: [(); 0],
    headers: Vec<NameValue<'a>>,
    query_string: Vec<QueryPair>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_data: Option<PostData<'a>>,
    headers_size: i64,
    body_size: i64,
}

#[derive(Serialize)]
struct QueryPair {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Content<'a> {
    size: i64,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response<'a> {
    status: u16,
    status_text: &'static str,
    http_version: &'a str,
    cookies: [(); 0],
    headers: Vec<NameValue<'a>>,
    content: Content<'a>,
    #[serde(rename = "redirectURL")]
    redirect_url: &'a str,
    headers_size: i64,
    body_size: i64,
}

#[derive(Serialize)]
struct Timings {
    send: f64,
    wait: f64,
    receive: f64,
}

#[derive(Serialize)]
struct Parlor<'a> {
    id: i64,
    face: &'a str,
    tenant: Option<i64>,
    sandbox: Option<&'a str>,
    route: Option<&'a str>,
    near_misses: &'a [NearMiss],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HarEntry<'a> {
    started_date_time: String,
    time: f64,
    request: Request<'a>,
    response: Response<'a>,
    cache: Cache,
    timings: Timings,
    #[serde(rename = "_parlor")]
    parlor: Parlor<'a>,
}

#[derive(Serialize)]
struct Cache {}

const CUT: &str = "cut at the journal's body limit";

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn size(body: &Option<String>, info: &BodyInfo) -> i64 {
    if body.is_none() {
        0
    } else {
        i64::try_from(info.size).unwrap_or(i64::MAX)
    }
}

/// One entry of the `entries` array.
pub fn entry(row: &Row) -> String {
    let doc = &row.doc;
    let url = match row.query.as_str() {
        "" => format!("{}://{}{}", doc.scheme, doc.host, row.path),
        q => format!("{}://{}{}?{q}", doc.scheme, doc.host, row.path),
    };
    let ms = row.duration_us as f64 / 1000.0;
    let request_type = header(&doc.request_headers, "content-type").unwrap_or("");
    let response_type =
        header(&doc.response_headers, "content-type").unwrap_or("application/octet-stream");
    let post_data = row.request_body.as_deref().map(|text| PostData {
        mime_type: request_type,
        text,
        comment: doc.request_body.truncated.then_some(CUT),
    });
    let har = HarEntry {
        started_date_time: rfc3339_ms(row.at),
        time: ms,
        request: Request {
            method: &row.method,
            url,
            http_version: &doc.version,
            cookies: [],
            headers: named(&doc.request_headers),
            query_string: form_urlencoded::parse(row.query.as_bytes())
                .map(|(name, value)| QueryPair {
                    name: name.into_owned(),
                    value: value.into_owned(),
                })
                .collect(),
            post_data,
            headers_size: -1,
            body_size: size(&row.request_body, &doc.request_body),
        },
        response: Response {
            status: row.status,
            status_text: actix_web::http::StatusCode::from_u16(row.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or(""),
            http_version: &doc.version,
            cookies: [],
            headers: named(&doc.response_headers),
            content: Content {
                size: i64::try_from(doc.response_body.size).unwrap_or(i64::MAX),
                mime_type: response_type,
                text: row.response_body.as_deref(),
                encoding: doc.response_body.encoding.as_deref(),
                comment: doc.response_body.truncated.then_some(CUT),
            },
            redirect_url: header(&doc.response_headers, "location").unwrap_or(""),
            headers_size: -1,
            body_size: size(&row.response_body, &doc.response_body),
        },
        cache: Cache {},
        timings: Timings {
            send: 0.0,
            wait: ms,
            receive: 0.0,
        },
        parlor: Parlor {
            id: row.id,
            face: &row.face,
            tenant: row.tenant,
            sandbox: row.sandbox.as_deref(),
            route: doc.route.as_deref(),
            near_misses: &doc.near_misses,
        },
    };
    serde_json::to_string(&har).unwrap_or_default()
}

fn named(headers: &[(String, String)]) -> Vec<NameValue<'_>> {
    headers
        .iter()
        .map(|(name, value)| NameValue { name, value })
        .collect()
}

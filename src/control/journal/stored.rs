//! An entry made ready for its row, on the journal's thread: secrets masked (`mask.rs`),
//! headers and bodies as text, and what no filter needs gathered in one JSON document.

use actix_web::http::header::{HeaderMap, CONTENT_TYPE};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::entry::{Captured, Entry, NearMiss};
use super::mask;

/// A body as stored: its text (masked), or base64 when it is not UTF-8.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BodyInfo {
    /// Bytes the whole body had.
    pub size: u64,
    /// Only the first `BODY_CAP` bytes were kept.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub encoding: Option<String>,
}

/// What is stored as one JSON column: everything no filter needs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Doc {
    pub scheme: String,
    pub host: String,
    pub version: String,
    pub route: Option<String>,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub request_body: BodyInfo,
    pub response_body: BodyInfo,
    pub near_misses: Vec<NearMiss>,
}

/// An entry made ready for its row: secrets masked, bodies as text.
pub struct Stored {
    pub at: i64,
    pub face: &'static str,
    pub tenant: Option<i64>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub sandbox: Option<String>,
    pub duration_us: i64,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub doc: Doc,
}

impl Stored {
    /// About the bytes the row takes.
    pub fn size(&self) -> u64 {
        let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        let headers: usize = self
            .doc
            .request_headers
            .iter()
            .chain(&self.doc.response_headers)
            .map(|(k, v)| k.len() + v.len() + 16)
            .sum();
        (128 + self.path.len()
            + self.query.len()
            + text(&self.request_body)
            + text(&self.response_body)
            + headers) as u64
    }
}

impl From<Entry> for Stored {
    fn from(e: Entry) -> Stored {
        let content_type = |headers: &HeaderMap| {
            headers
                .get(CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let request_type = content_type(&e.request_headers);
        let response_type = content_type(&e.response_headers);
        let (request_body, request_info) = stored_body(&e.request_body, request_type.as_deref());
        let (response_body, response_info) =
            stored_body(&e.response_body, response_type.as_deref());
        let masked = |headers: &HeaderMap| {
            headers
                .iter()
                .map(|(k, v)| {
                    let name = k.as_str().to_string();
                    let value = mask::header(&name, &String::from_utf8_lossy(v.as_bytes()));
                    (name, value)
                })
                .collect()
        };
        Stored {
            at: e.at,
            face: e.face,
            tenant: e.tenant,
            method: e.method,
            path: e.path,
            query: mask::query(&e.query),
            status: e.status,
            sandbox: e.sandbox,
            duration_us: i64::try_from(e.duration_us).unwrap_or(i64::MAX),
            request_body,
            response_body,
            doc: Doc {
                scheme: e.scheme,
                host: e.host,
                version: e.version.to_string(),
                route: e.route,
                request_headers: masked(&e.request_headers),
                response_headers: masked(&e.response_headers),
                request_body: request_info,
                response_body: response_info,
                near_misses: e.near_misses,
            },
        }
    }
}

/// A body's stored text: masked UTF-8 (a character cut at the limit left out), else base64.
fn stored_body(body: &Captured, content_type: Option<&str>) -> (Option<String>, BodyInfo) {
    let mut info = BodyInfo {
        size: body.size,
        truncated: body.truncated(),
        encoding: None,
    };
    if body.size == 0 {
        return (None, info);
    }
    let text = match std::str::from_utf8(&body.head) {
        Ok(text) => Some(text),
        // Cut inside a character by the size limit: keep the whole characters before it.
        Err(e) if e.error_len().is_none() && info.truncated => {
            std::str::from_utf8(&body.head[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match text {
        Some(text) => (Some(mask::body(text, content_type)), info),
        None => {
            info.encoding = Some("base64".into());
            (
                Some(base64::engine::general_purpose::STANDARD.encode(&body.head)),
                info,
            )
        }
    }
}

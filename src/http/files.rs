//! Files over HTTP (issue 16), for every surface that serves attachments: reading an upload's
//! body (multipart or raw) as a stream of pieces, and answering a download (single `Range`,
//! `ETag`, a safe `Content-Disposition`, `nosniff`), its content streamed chunk by chunk.
//! What may be uploaded or read is the service's; this is only the wire.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_core::Stream;

use crate::error::{Error, Result};
use crate::service::attachments::{is_inline, served_type, Download};
use crate::service::Service;

/// The header naming a raw upload's file (percent-encoded UTF-8 allowed).
pub const FILENAME_HEADER: &str = "X-Parlor-Filename";

/// A body stream whose errors are the core's: a broken-off or malformed upload is the client's
/// problem, named.
pub struct Pieces<S>(pub S);

impl<S, E> Stream for Pieces<S>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx).map(|p| {
            p.map(|r| {
                r.map_err(|e| Error::invalid("file", format!("could not be read whole ({e})")))
            })
        })
    }
}

/// An upload as it came: the name the client gave the file, the short text fields a form
/// sent before it, and its bytes as they arrive.
pub struct Upload {
    pub filename: Option<String>,
    pub fields: Vec<(String, String)>,
    pub body: UploadBody,
}

/// An upload's bytes: a form's file part (with the form, which must live as long as the part
/// is read), or the request's whole body.
pub enum UploadBody {
    Form(Box<(actix_multipart::Multipart, Pieces<actix_multipart::Field>)>),
    Raw(Pieces<actix_web::web::Payload>),
}

impl Stream for UploadBody {
    type Item = Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            UploadBody::Form(form) => Pin::new(&mut form.1).poll_next(cx),
            UploadBody::Raw(body) => Pin::new(body).poll_next(cx),
        }
    }
}

impl Upload {
    /// The upload `req` carries: a `multipart/form-data` form's file part (`file_field`), named
    /// as the form names it, else `filename`; or the body itself, named `filename`, else by
    /// the `X-Parlor-Filename` header.
    pub async fn read(
        req: &HttpRequest,
        payload: actix_web::web::Payload,
        filename: Option<String>,
    ) -> Result<Upload> {
        if !is_multipart(req) {
            return Ok(Upload {
                filename: raw_filename(req, filename),
                fields: Vec::new(),
                body: UploadBody::Raw(Pieces(payload)),
            });
        }
        let mut form = actix_multipart::Multipart::new(req.headers(), payload);
        let part = file_field(&mut form).await?;
        Ok(Upload {
            filename: part.filename.or(filename),
            fields: part.fields,
            body: UploadBody::Form(Box::new((form, Pieces(part.field)))),
        })
    }

    /// A text field the form sent before the file.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where absolute links to this server start: `public_url`, else the scheme and host the
/// request came to.
pub fn base_url(public_url: Option<&str>, req: &HttpRequest) -> String {
    match public_url {
        Some(url) => url.to_owned(),
        None => {
            let info = req.connection_info();
            let scheme = if req.app_config().secure() {
                "https"
            } else {
                info.scheme()
            };
            format!("{scheme}://{}", info.host())
        }
    }
}

/// Whether the request carries a multipart form (else its body is the file itself).
fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// A raw upload's file name: the query's, else the header's (percent-decoded).
fn raw_filename(req: &HttpRequest, query: Option<String>) -> Option<String> {
    query.or_else(|| {
        let v = req.headers().get(FILENAME_HEADER)?;
        let decoded: Vec<u8> = percent_decode(v.as_bytes());
        Some(String::from_utf8_lossy(&decoded).into_owned())
    })
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&s[i + 1..i + 3]), 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Refuses at once a body that announces more than `max` bytes (plus a multipart envelope's
/// room), before reading any of it.
pub fn check_length(req: &HttpRequest, max: u64) -> Result<()> {
    let envelope = if is_multipart(req) { 64 * 1024 } else { 0 };
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) if n > max + envelope => Err(Error::TooLarge(format!(
            "the file is larger than attachment_max_bytes ({max} bytes)"
        ))),
        _ => Ok(()),
    }
}

/// The most bytes of a form's text field before the file (a caption, an id).
const MAX_TEXT_FIELD: usize = 4096;

/// A multipart upload's file part, its file name, and the text fields that came before it.
struct FilePart {
    field: actix_multipart::Field,
    filename: Option<String>,
    fields: Vec<(String, String)>,
}

/// Multipart fields in turn; the one named `file` (or the first with a file name) is the
/// upload; short text fields before it are kept.
async fn file_field(multipart: &mut actix_multipart::Multipart) -> Result<FilePart> {
    let mut fields = Vec::new();
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut *multipart).poll_next(cx)).await;
        let field = match next {
            None => {
                return Err(Error::invalid(
                    "file",
                    "is required (a form part named \"file\")",
                ))
            }
            Some(Err(e)) => return Err(Error::invalid("file", format!("could not be read ({e})"))),
            Some(Ok(f)) => f,
        };
        let disposition = field.content_disposition();
        let filename = disposition
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        let named_file = disposition.and_then(|d| d.get_name()) == Some("file");
        if named_file || filename.is_some() {
            return Ok(FilePart {
                field,
                filename,
                fields,
            });
        }
        let name = disposition
            .and_then(|d| d.get_name())
            .unwrap_or_default()
            .to_owned();
        let mut field = field;
        let mut text = Vec::new();
        while let Some(piece) = std::future::poll_fn(|cx| Pin::new(&mut field).poll_next(cx)).await
        {
            let piece =
                piece.map_err(|e| Error::invalid("file", format!("could not be read ({e})")))?;
            if text.len() + piece.len() > MAX_TEXT_FIELD {
                return Err(Error::invalid(
                    name,
                    format!("a form field before the file takes at most {MAX_TEXT_FIELD} bytes"),
                ));
            }
            text.extend_from_slice(&piece);
        }
        fields.push((name, String::from_utf8_lossy(&text).into_owned()));
    }
}

/// `Content-Disposition` for a stored name (RFC 6266): an ASCII fallback in `filename`, the
/// exact name percent-encoded in `filename*`. Only pictures and PDFs may show inline.
pub fn disposition(filename: &str, content_type: &str) -> String {
    let kind = if is_inline(content_type) {
        "inline"
    } else {
        "attachment"
    };
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The byte range a request asks for, inclusive, within `size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    All,
    Range(u64, u64),
    /// Outside the file: 416.
    Unsatisfiable,
}

/// Reads a `Range` header: one `bytes=` range (first-last, first-, or -suffix). Several
/// ranges, other units or a malformed header are ignored (the whole file), as RFC 9110
/// allows.
pub fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::All;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // The last n bytes.
        (true, false) => match parse(last) {
            Some(0) => Wanted::Unsatisfiable,
            Some(n) if size > 0 => Wanted::Range(size.saturating_sub(n), size - 1),
            Some(_) => Wanted::Unsatisfiable,
            None => Wanted::All,
        },
        (false, _) => {
            let Some(a) = parse(first) else {
                return Wanted::All;
            };
            let b = if last.is_empty() {
                Some(u64::MAX)
            } else {
                parse(last)
            };
            match b {
                None => Wanted::All,
                Some(b) if b < a => Wanted::All,
                Some(_) if a >= size => Wanted::Unsatisfiable,
                Some(b) => Wanted::Range(a, b.min(size - 1)),
            }
        }
        (true, true) => Wanted::All,
    }
}

/// Answers a download: 304 for a matching `If-None-Match`, 416 for a range outside the file,
/// 206 for one range, else 200. The first chunk needed is read (and checked) before the
/// answer starts, so a damaged file is a clear error rather than a broken-off body; a later
/// damaged chunk ends the body early (never wrong bytes).
/// `unsatisfiable` renders the 416 in the surface's error format (given the file's size).
pub async fn serve(
    service: &Service,
    req: &HttpRequest,
    d: Download,
    unsatisfiable: impl FnOnce(u64) -> HttpResponse,
) -> Result<HttpResponse> {
    let a = &d.attachment;
    let size = a.size.max(0) as u64;
    let etag = format!("\"{}\"", a.sha256.as_deref().unwrap_or_default());
    let common = |status: StatusCode| {
        let mut r = HttpResponse::build(status);
        r.insert_header((header::ETAG, etag.clone()))
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CACHE_CONTROL, "private, no-cache"));
        if a.content_type != "application/pdf" {
            // A file opened in a tab runs nothing and loads nothing.
            r.insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ));
        }
        r
    };
    let header_str = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(tags) = header_str(header::IF_NONE_MATCH) {
        if tags.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
            return Ok(common(StatusCode::NOT_MODIFIED).finish());
        }
    }
    // A range of another version of the file is not this one's.
    let range = match header_str(header::IF_RANGE) {
        Some(tag) if tag.trim() != etag => None,
        _ => header_str(header::RANGE),
    };
    let (status, first, last) = match wanted(range.as_deref(), size) {
        Wanted::All if size == 0 => (StatusCode::OK, 0, 0),
        Wanted::All => (StatusCode::OK, 0, size - 1),
        Wanted::Range(f, l) => (StatusCode::PARTIAL_CONTENT, f, l),
        Wanted::Unsatisfiable => {
            let mut r = unsatisfiable(size);
            *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            let headers = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            headers.insert(
                header::ETAG,
                HeaderValue::from_str(&etag).map_err(Error::internal)?,
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            return Ok(r);
        }
    };
    let length = if size == 0 { 0 } else { last - first + 1 };
    // The chunks that hold [first, last], each with the part of it to send.
    let mut parts = Vec::new();
    let mut offset = 0u64;
    for chunk in &d.chunks {
        let len = chunk.len.max(0) as u64;
        let (start, end) = (offset, offset + len);
        offset = end;
        if length == 0 || end <= first || start > last {
            continue;
        }
        let from = first.saturating_sub(start) as usize;
        let to = ((last + 1).min(end) - start) as usize;
        parts.push((chunk.clone(), from, to));
    }
    let mut parts = parts.into_iter();
    let head = match parts.next() {
        Some((chunk, from, to)) => {
            let data = service.chunk(a.uuid.clone(), chunk).await?;
            Some(Bytes::from(data).slice(from..to))
        }
        None => None,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(1);
    let rest: Vec<_> = parts.collect();
    if let Some(head) = head {
        let service = service.clone();
        let uuid = a.uuid.clone();
        actix_web::rt::spawn(async move {
            if tx.send(Ok(head)).await.is_err() {
                return;
            }
            for (chunk, from, to) in rest {
                let piece = service
                    .chunk(uuid.clone(), chunk)
                    .await
                    .map(|data| Bytes::from(data).slice(from..to));
                let failed = piece.is_err();
                // A closed receiver: the client went away.
                if tx.send(piece).await.is_err() || failed {
                    return;
                }
            }
        });
    }
    let mut r = common(status);
    r.insert_header((header::CONTENT_TYPE, served_type(&a.content_type)))
        .insert_header((
            header::CONTENT_DISPOSITION,
            disposition(&a.filename, &a.content_type),
        ));
    if status == StatusCode::PARTIAL_CONTENT {
        r.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {first}-{last}/{size}"),
        ));
    }
    Ok(r.body(SizedStream::new(length, Body(rx))))
}

/// The body: what the reading task sends, in order.
struct Body(tokio::sync::mpsc::Receiver<Result<Bytes>>);

impl Stream for Body {
    type Item = std::result::Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .poll_recv(cx)
            .map(|p| p.map(|r| r.map_err(|e| BodyError(e.to_string()))))
    }
}

/// A chunk that could not be read mid-answer: the connection is closed early.
#[derive(Debug)]
pub struct BodyError(String);

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(wanted(None, 10), Wanted::All);
        assert_eq!(wanted(Some("bytes=0-4"), 10), Wanted::Range(0, 4));
        assert_eq!(wanted(Some("bytes=5-"), 10), Wanted::Range(5, 9));
        assert_eq!(wanted(Some("bytes=-3"), 10), Wanted::Range(7, 9));
        assert_eq!(wanted(Some("bytes=-30"), 10), Wanted::Range(0, 9));
        assert_eq!(wanted(Some("bytes=8-100"), 10), Wanted::Range(8, 9));
        assert_eq!(wanted(Some("bytes=10-"), 10), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,4-5"), 10), Wanted::All);
        assert_eq!(wanted(Some("items=0-1"), 10), Wanted::All);
        assert_eq!(wanted(Some("bytes=4-2"), 10), Wanted::All);
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            disposition("x-ray.png", "image/png"),
            "inline; filename=\"x-ray.png\"; filename*=UTF-8''x-ray.png"
        );
        assert_eq!(
            disposition("résumé \"a\".svg", "application/octet-stream"),
            "attachment; filename=\"r_sum_ _a_.svg\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22a%22.svg"
        );
    }
}

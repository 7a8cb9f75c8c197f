//! The middleware that records each request to a face or the native API into the journal.
//!
//! It keeps the request's headers, tees the first `BODY_CAP` bytes of the request body as the
//! handler reads it and of the response body as the connection takes it, and submits the
//! entry when the response body is done: at its end (or, for a body of known length, with its
//! last bytes, so that a client that has read the answer finds it in the journal), when the
//! connection drops it, or, for an event stream, which may never end, `STREAM_WINDOW` after the
//! answer started or once its head filled `BODY_CAP`. Masking and storing happen on the
//! journal's thread, not here.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use actix_web::rt::time::{sleep, Sleep};
use actix_web::web::{self, Bytes};
use actix_web::HttpMessage as _;
use futures_core::Stream;

use super::entry::{Captured, Entry};
use super::{near, Journal, BODY_CAP};
use crate::app::App;
use crate::audit::trail::Face;

/// How long an event stream's entry stays open: what it sent in that time is recorded.
pub const STREAM_WINDOW: Duration = Duration::from_secs(2);
/// The header that names a request's sandbox.
pub const SANDBOX_HEADER: &str = "x-parlor-sandbox";
/// Where the native API lives.
const NATIVE: &str = "/parlor/";

type Answer = Pin<Box<dyn Future<Output = Result<ServiceResponse, actix_web::Error>>>>;

/// Runs inside the audit trail's middleware (so that the tenant its draft found is known) and
/// the front door (so that the face is known). Without a journal (a clinic's server) it only
/// passes the request on.
pub fn record<S>(journal: &Option<Arc<Journal>>, mut req: ServiceRequest, routes: &S) -> Answer
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
    S::Future: 'static,
{
    let Some(journal) = journal else {
        return Box::pin(routes.call(req));
    };
    let face = match req.extensions().get::<Face>() {
        Some(face) => Some(face.0),
        None => req.path().starts_with(NATIVE).then_some("native"),
    };
    let (Some(face), Some(app)) = (face, req.app_data::<web::Data<App>>()) else {
        return Box::pin(routes.call(req));
    };
    let started = Instant::now();
    // Where the client sent it, for the HAR's URLs: the Host header, as a browser records it.
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    }
    .to_string();
    let host = match req.headers().get(HOST) {
        Some(host) => String::from_utf8_lossy(host.as_bytes()).into_owned(),
        None => req.app_config().host().to_string(),
    };
    let sent = crate::faces::doors::sent_path(req.request());
    let mut entry = Entry {
        at: app.service.now(),
        face,
        method: req.method().to_string(),
        scheme,
        host,
        path: crate::audit::trail::without_secret(&sent).into_owned(),
        query: req.query_string().to_string(),
        version: version(req.version()),
        request_headers: req.headers().clone(),
        sandbox: req
            .headers()
            .get(SANDBOX_HEADER)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ..Entry::default()
    };
    let routed_path = req.path().to_string();
    let request_body = Rc::new(RefCell::new(Captured::default()));
    // A request without a body (most GETs) keeps its payload as it is.
    let has_body = req.headers().contains_key(TRANSFER_ENCODING)
        || req
            .headers()
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        let payload = req.take_payload();
        req.set_payload(Payload::from(Box::pin(TeePayload {
            inner: payload,
            seen: Rc::clone(&request_body),
        }) as actix_http::BoxedPayloadStream));
    }
    let journal = Arc::clone(journal);
    let answer = routes.call(req);
    Box::pin(async move {
        let answer = answer.await;
        entry.tenant = crate::audit::current()
            .and_then(|draft| crate::audit::lock(&draft).entry.tenant.map(|t| t.0));
        let res = match answer {
            Ok(res) => res,
            Err(e) => {
                entry.status = e.as_response_error().status_code().as_u16();
                let pending = Pending {
                    journal,
                    entry,
                    request_body,
                    started,
                };
                pending.finish();
                return Err(e);
            }
        };
        entry.status = res.status().as_u16();
        if cut_before_answering(&res) {
            // The fault rule reset or closed the connection: the client got no answer at all,
            // whatever placeholder the response holds. Status 0 is HAR's "no response".
            entry.status = 0;
            entry.route = res.request().match_pattern();
            Pending {
                journal,
                entry,
                request_body,
                started,
            }
            .finish();
            return Ok(res);
        }
        entry.response_headers = res.headers().clone();
        entry.route = res.request().match_pattern();
        if entry.route.is_none() && face != "native" {
            if let Some(prefix) = journal.prefix_of(face) {
                entry.near_misses = near::nearest(face, prefix, &entry.method, &routed_path);
            }
        }
        let stream = res
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let pending = Pending {
            journal,
            entry,
            request_body,
            started,
        };
        Ok(res.map_body(move |_, body| {
            let expected = match body.size() {
                BodySize::None | BodySize::Sized(0) => {
                    pending.finish();
                    return body;
                }
                BodySize::Sized(n) => Some(n),
                BodySize::Stream => None,
            };
            BoxBody::new(TeeBody {
                inner: body,
                expected,
                stream,
                window: stream.then(|| Box::pin(sleep(STREAM_WINDOW))),
                pending: Some(pending),
            })
        }))
    })
}

/// A fault rule cut the connection before any of the answer went out (`drop`, `empty`).
fn cut_before_answering(res: &ServiceResponse) -> bool {
    use crate::control::faults::{Connection, Fired};
    res.request()
        .extensions()
        .get::<Fired>()
        .is_some_and(|f| matches!(f.connection, Some(Connection::Drop | Connection::Empty)))
}

fn version(v: actix_web::http::Version) -> &'static str {
    use actix_web::http::Version;
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// An entry waiting for its response body.
struct Pending {
    journal: Arc<Journal>,
    entry: Entry,
    request_body: Rc<RefCell<Captured>>,
    started: Instant,
}

impl Pending {
    fn finish(mut self) {
        self.entry.duration_us =
            u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.entry.request_body = std::mem::take(&mut *self.request_body.borrow_mut());
        self.journal.submit(self.entry);
    }
}

/// The request body, passed on to the handler as it reads it, its first bytes kept.
struct TeePayload {
    inner: Payload,
    seen: Rc<RefCell<Captured>>,
}

impl Stream for TeePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            this.seen.borrow_mut().take(chunk, BODY_CAP);
        }
        polled
    }
}

/// The response body, passed on to the connection, its first bytes kept.
struct TeeBody {
    inner: BoxBody,
    /// The body's length when known: its entry is submitted with its last bytes.
    expected: Option<u64>,
    /// An event stream: submitted once its head is full or its window has passed.
    stream: bool,
    window: Option<Pin<Box<Sleep>>>,
    pending: Option<Pending>,
}

impl TeeBody {
    fn finish(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.finish();
        }
        self.window = None;
    }
}

impl MessageBody for TeeBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(pending) = &mut this.pending {
                    let body = &mut pending.entry.response_body;
                    body.take(chunk, BODY_CAP);
                    let window_over = this.window.as_ref().is_some_and(|w| w.is_elapsed());
                    let done = this.expected.is_some_and(|n| body.size >= n)
                        || (this.stream && body.head.len() >= BODY_CAP)
                        || window_over;
                    if done {
                        this.finish();
                    }
                }
            }
            Poll::Ready(_) => this.finish(),
            Poll::Pending => {
                if let Some(window) = &mut this.window {
                    if window.as_mut().poll(cx).is_ready() {
                        this.finish();
                    }
                }
            }
        }
        polled
    }
}

impl Drop for TeeBody {
    fn drop(&mut self) {
        self.finish();
    }
}

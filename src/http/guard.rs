//! The request guard: one middleware around every route (native API, faces, admin page) for
//! what HTTP/1.1 itself asks of a server, whatever the surface.
//!
//! - **HEAD** is served wherever GET is: the request is routed as a GET, and the answer keeps
//!   its status and headers, including the GET body's `Content-Length`, without the body.
//! - **Upgrade**: Parlor serves no protocol upgrade. actix-http reads the body of a request
//!   asking for a WebSocket until the connection closes, so `POST` + `Upgrade: websocket` + a
//!   body was never answered. Such a request is served as an ordinary one, its body being the
//!   `Content-Length` bytes it declares, and the connection closes after the answer.
//! - **Slow bodies**: a body must keep arriving (`body_read_timeout_seconds` between reads) and
//!   be complete within `body_timeout_seconds`; otherwise the answer is 408 and the connection
//!   closes. actix-http limits only how long a request head may take.
//! - **HSTS**: with built-in TLS every answer says `Strict-Transport-Security`, so a browser
//!   that reached the server over HTTPS once never falls back to plain HTTP for a year.

use std::cell::Cell;
use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{ConnectionType, Method};
use actix_web::rt::time::{sleep, Instant, Sleep};
use actix_web::web::Bytes;
use actix_web::{HttpMessage as _, HttpResponse};
use futures_core::Stream;

use super::framing::HEAD_MARK;
use crate::telemetry::requests::REQUEST_ID_HEADER;

/// How long a request body may take.
/// In the extensions of a HEAD request, which everything inside the guard sees as a GET.
#[derive(Clone, Copy, Debug)]
pub struct Head;

#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// Longest wait for the next piece of a body.
    pub between_reads: Duration,
    /// Longest time from the first wait for a body to its end.
    pub total: Duration,
}

/// The middleware; `.wrap(RequestGuard::new(limits))` as the outermost layer of the app.
#[derive(Clone, Copy)]
pub struct RequestGuard {
    limits: BodyLimits,
    hsts: bool,
}

/// A year, the value browsers' preload lists ask for; no `includeSubDomains`, since other
/// hosts under the clinic's domain are not Parlor's to vouch for.
const HSTS: &str = "max-age=31536000";

impl RequestGuard {
    pub fn new(limits: BodyLimits) -> Self {
        RequestGuard {
            limits,
            hsts: false,
        }
    }

    /// Every answer carries HSTS (`on`: the server speaks TLS itself).
    pub fn hsts(self, on: bool) -> Self {
        RequestGuard { hsts: on, ..self }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestGuard
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = Guarded<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(Guarded {
            service,
            limits: self.limits,
            hsts: self.hsts,
        }))
    }
}

pub struct Guarded<S> {
    service: S,
    limits: BodyLimits,
    hsts: bool,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for Guarded<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Answer<B>>>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let head = req.method() == Method::HEAD || req.method().as_str() == HEAD_MARK;
        if head {
            req.head_mut().method = Method::GET;
            req.extensions_mut().insert(Head);
        }
        let upgrade = req.headers().contains_key(header::UPGRADE) || req.head().upgrade();
        let timed_out = Rc::new(Cell::new(false));
        let payload = req.take_payload();
        if !matches!(payload, Payload::None) {
            let payload = match upgrade.then(|| declared_length(&req)).flatten() {
                Some(length) => Payload::from(boxed(Declared {
                    inner: payload,
                    left: length,
                })),
                None => payload,
            };
            req.set_payload(Payload::from(boxed(Timed::new(
                payload,
                self.limits,
                Rc::clone(&timed_out),
            ))));
        }
        let limits = self.limits;
        let hsts = self.hsts;
        let answer = self.service.call(req);
        Box::pin(async move {
            let res = answer.await?;
            if timed_out.get() {
                let request = res.request().clone();
                // The answer replaced still names the request (`telemetry::requests`).
                let id = res.headers().get(&REQUEST_ID_HEADER).cloned();
                let mut res =
                    ServiceResponse::new(request, request_timeout(limits)).map_into_right_body();
                if let Some(id) = id {
                    res.headers_mut().insert(REQUEST_ID_HEADER.clone(), id);
                }
                if hsts {
                    strict_transport(&mut res);
                }
                return Ok(res);
            }
            let mut res = if head {
                without_body(res)
            } else {
                res.map_into_left_body()
            };
            if upgrade {
                // Not `Connection: upgrade`, which would announce a switch that is not made.
                res.response_mut()
                    .head_mut()
                    .set_connection_type(ConnectionType::Close);
            }
            if hsts {
                strict_transport(&mut res);
            }
            Ok(res)
        })
    }
}

fn strict_transport<B>(res: &mut ServiceResponse<B>) {
    res.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
}

fn boxed(
    stream: impl Stream<Item = Result<Bytes, PayloadError>> + 'static,
) -> actix_http::BoxedPayloadStream {
    Box::pin(stream)
}

/// The body length an upgrade request declares: actix-http would read its body until the
/// connection closes. `None` when it is chunked, which actix-http frames itself.
fn declared_length(req: &ServiceRequest) -> Option<u64> {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return None;
    }
    Some(
        headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
    )
}

fn request_timeout(limits: BodyLimits) -> HttpResponse {
    HttpResponse::RequestTimeout()
        .force_close()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "The request body did not arrive in time: each part must follow within {} s and \
             the whole body within {} s.\n",
            limits.between_reads.as_secs(),
            limits.total.as_secs()
        ))
}

/// The answer to a HEAD: the GET's status and headers, with the length its body would have
/// had, and no body.
fn without_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B>> {
    res.map_body(|head, body| match body.size() {
        BodySize::None => EitherBody::right(BoxBody::new(actix_http::body::None::new())),
        size => {
            let bodyless =
                head.status.is_informational() || matches!(head.status.as_u16(), 204 | 304);
            if let (BodySize::Sized(n), false) = (size, bodyless) {
                head.headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
            // A body of unknown size without chunking: actix-http writes the Content-Length
            // set above and nothing else, whether or not its codec took the request for a HEAD.
            head.no_chunking(true);
            EitherBody::right(BoxBody::new(NoBody))
        }
    })
}

struct NoBody;

impl MessageBody for NoBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}

/// A body cut off after the length the request declared.
struct Declared {
    inner: Payload,
    left: u64,
}

impl Stream for Declared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(mut chunk))) => {
                let keep = usize::try_from(this.left).map_or(chunk.len(), |l| l.min(chunk.len()));
                chunk.truncate(keep);
                this.left -= keep as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}

/// A body that fails with a timeout when the client stops sending it. The clocks start when a
/// handler first waits for the body, so time the server itself took does not count.
struct Timed {
    inner: Payload,
    limits: BodyLimits,
    between: Option<Pin<Box<Sleep>>>,
    total: Option<Pin<Box<Sleep>>>,
    timed_out: Rc<Cell<bool>>,
}

impl Timed {
    fn new(inner: Payload, limits: BodyLimits, timed_out: Rc<Cell<bool>>) -> Self {
        Timed {
            inner,
            limits,
            between: None,
            total: None,
            timed_out,
        }
    }
}

impl Stream for Timed {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.timed_out.get() {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                if let Some(timer) = &mut this.between {
                    timer
                        .as_mut()
                        .reset(Instant::now() + this.limits.between_reads);
                }
                return Poll::Ready(item);
            }
            Poll::Pending => {}
        }
        let limits = this.limits;
        let between = this
            .between
            .get_or_insert_with(|| Box::pin(sleep(limits.between_reads)));
        let total = this
            .total
            .get_or_insert_with(|| Box::pin(sleep(limits.total)));
        if between.as_mut().poll(cx).is_ready() || total.as_mut().poll(cx).is_ready() {
            this.timed_out.set(true);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}

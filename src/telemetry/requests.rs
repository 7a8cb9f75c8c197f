//! One log line and two metrics per request, and its request id.
//!
//! The middleware runs inside the request guard, outside everything else (the front door, the
//! sandboxes' admission, the audit trail), so every answer the app gives passes it: a face's
//! own 404, a CORS preflight, a refusal. It
//! - takes the request id from `X-Request-Id` when the client sends a sane one (1 to 128
//!   visible ASCII characters), else makes one (a UUIDv7), leaves it in the request's
//!   extensions (`RequestId`: the audit trail records the same id) and echoes it in the answer;
//! - logs one line at INFO, target `parlor::request`: request id, method, route template
//!   (never the path: no id, no invite secret, no query string), status, duration, surface and
//!   the tenant the caller was resolved to, if it was;
//! - counts the request and its latency by surface, route template, method and status class
//!   when metrics are on.
//!
//! The tenant and the surface are learnt while the request runs: the service's credential
//! checks tell the audit trail who the caller is (`audit::identify`), which tells this module
//! too (`note_tenant`, `note_surface`), through a task-local that this middleware scopes around
//! the request, whether or not the audit trail is on.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpMessage as _;
use metrics::Label;

use super::{exporter, names};
use crate::audit::trail::Face;
use crate::domain::TenantId;

/// The header a request id comes in and goes out with.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest request id taken from a client; a longer one is replaced, not cut.
const MAX_ID: usize = 128;
/// The route label of a request no route matched: one label, whatever the path.
pub const UNMATCHED: &str = "unmatched";
/// Where the log lines go.
pub const TARGET: &str = "parlor::request";

/// The request's id, in its extensions for whoever records it (the audit trail).
#[derive(Clone, Debug)]
pub struct RequestId(pub Rc<str>);

impl RequestId {
    /// The client's `X-Request-Id` when it is sane, else a new one.
    fn of(headers: &HeaderMap) -> RequestId {
        let sent = headers
            .get(&REQUEST_ID_HEADER)
            .map(HeaderValue::as_bytes)
            .filter(|v| is_sane(v))
            .and_then(|v| std::str::from_utf8(v).ok());
        RequestId(match sent {
            Some(id) => id.into(),
            None => {
                crate::domain::idgen::unseeded_uuid(chrono::Utc::now().timestamp_millis()).into()
            }
        })
    }
}

/// 1 to `MAX_ID` visible ASCII characters: nothing that could break a log line or a header.
fn is_sane(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_ID && id.iter().all(u8::is_ascii_graphic)
}

/// What the request's handling learnt about its caller.
#[derive(Clone, Copy, Default)]
struct Noted {
    tenant: Option<i64>,
    surface: Option<&'static str>,
}

tokio::task_local! {
    static NOTED: Rc<Cell<Noted>>;
}

/// The running request acts in `tenant` (its caller's, or the one a server admin named).
pub fn note_tenant(tenant: TenantId) {
    let _ = NOTED.try_with(|n| {
        n.set(Noted {
            tenant: Some(tenant.0),
            ..n.get()
        })
    });
}

/// The running request came through `surface` although its path is another's (the admin
/// page's and the clinic app's calls to the native API, with their session cookie).
pub fn note_surface(surface: &'static str) {
    let _ = NOTED.try_with(|n| {
        n.set(Noted {
            surface: Some(surface),
            ..n.get()
        })
    });
}

/// The middleware (`App::wrap_fn`).
pub fn observe<S, B>(
    req: ServiceRequest,
    routes: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: 'static,
{
    let started = Instant::now();
    let id = RequestId::of(req.headers());
    req.extensions_mut().insert(id.clone());
    // The guard serves HEAD as GET; the log says what the client asked.
    let method = if req.extensions().contains::<crate::http::Head>() {
        Method::HEAD
    } else {
        req.method().clone()
    };
    // No clone of the request may be held across the call: routing needs it unshared.
    let by_path = surface_of(req.path());
    let noted = Rc::new(Cell::new(Noted::default()));
    let answer = NOTED.scope(noted.clone(), routes.call(req));
    async move {
        let metrics = exporter::enabled();
        let log = tracing::enabled!(target: TARGET, tracing::Level::INFO);
        let header = HeaderValue::from_str(&id.0).ok();
        let (answer, route, face, status) = match answer.await {
            Ok(mut res) => {
                if let Some(value) = header {
                    res.headers_mut().insert(REQUEST_ID_HEADER.clone(), value);
                }
                // Finding the template costs a walk of the routes: only when it is used.
                let route = (metrics || log)
                    .then(|| res.request().match_pattern())
                    .flatten();
                let face = res.request().extensions().get::<Face>().map(|f| f.0);
                let status = res.status();
                (Ok(res), route, face, status)
            }
            // A middleware's error, answered as actix would answer it, with the id too.
            Err(e) => {
                let mut response = e.error_response();
                if let Some(value) = header {
                    response
                        .headers_mut()
                        .insert(REQUEST_ID_HEADER.clone(), value);
                }
                let status = response.status();
                let e = actix_web::error::InternalError::from_response(e, response);
                (Err(e.into()), None, None, status)
            }
        };
        if metrics || log {
            let noted = noted.get();
            let seen = Seen {
                route,
                surface: noted.surface.or(face).unwrap_or(by_path),
                method: method_label(&method),
                status,
                seconds: started.elapsed().as_secs_f64(),
            };
            if metrics {
                seen.count();
            }
            if log {
                seen.log(&id, noted.tenant);
            }
        }
        answer
    }
}

/// What one answered request is measured by.
struct Seen {
    route: Option<String>,
    surface: &'static str,
    method: &'static str,
    status: StatusCode,
    seconds: f64,
}

impl Seen {
    fn route(&self) -> &str {
        self.route.as_deref().unwrap_or(UNMATCHED)
    }

    fn count(&self) {
        let labels = vec![
            Label::from_static_parts("surface", self.surface),
            Label::new("route", self.route().to_string()),
            Label::from_static_parts("method", self.method),
            Label::from_static_parts("status", status_class(self.status)),
        ];
        metrics::counter!(names::REQUESTS, labels.iter()).increment(1);
        metrics::histogram!(names::REQUEST_SECONDS, labels).record(self.seconds);
    }

    fn log(&self, id: &RequestId, tenant: Option<i64>) {
        tracing::info!(
            target: TARGET,
            request_id = %id.0,
            method = %self.method,
            route = %self.route(),
            status = self.status.as_u16(),
            duration_ms = (self.seconds * 1e6).round() / 1e3,
            surface = %self.surface,
            tenant,
            "answered"
        );
    }
}

/// The surface of a path that no face claimed and no session named.
fn surface_of(path: &str) -> &'static str {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under(crate::control::PREFIX) {
        "control"
    } else if under("/parlor") {
        "native"
    } else if under("/admin") {
        "admin"
    } else if under("/app") {
        "app"
    } else {
        "server"
    }
}

/// A method as a label: the standard ones by name, anything else as one label, so that a
/// client inventing methods cannot make new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_taken_only_when_it_is_sane() {
        assert!(is_sane(b"abc-123_XYZ.req:1"));
        assert!(is_sane(&[b'a'; MAX_ID]));
        assert!(!is_sane(&[b'a'; MAX_ID + 1]));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"has space"));
        assert!(!is_sane(b"line\nbreak"));
        assert!(!is_sane("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn paths_outside_the_faces_have_their_surface() {
        assert_eq!(surface_of("/parlor/v1/conversations"), "native");
        assert_eq!(surface_of("/__parlor/journal"), "control");
        assert_eq!(surface_of("/admin"), "admin");
        assert_eq!(surface_of("/app/index.js"), "app");
        assert_eq!(surface_of("/apple"), "server");
        assert_eq!(surface_of("/healthz"), "server");
    }
}

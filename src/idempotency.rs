//! The `Idempotency-Key` middleware, wrapped around every route that creates a message or a
//! conversation, on the native API and on each face (`Route::wrap(idempotent(&SURFACE))`).
//!
//! A request without the header passes straight through. With it: the surface's own
//! authentication says who is calling in which tenant (credentials it refuses go on to the
//! handler, which refuses them in its own words); an in-process lock per key makes concurrent
//! retries wait for the first; an earlier use of the key is replayed or refused; otherwise the
//! handler runs carrying a claim on the key that its first write stores in the same
//! transaction, and a 2xx answer is recorded for retries. The rules are
//! `service::idempotency`'s; errors are rendered by the surface in its own format.
//!
//! The keyed handling runs as its own task: a client that hangs up mid-request (the very case
//! the key is for) must not cancel it between the write and recording the answer.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{to_bytes, BoxBody};
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};

use crate::app::App;
use crate::auth::secret;
use crate::domain::{TenantId, UserId};
use crate::error::Error;
use crate::service::idempotency::{
    carrying, parse_key, request_hash, Answer, Earlier, KeyScope, Outcome, HEADER,
};

/// Sent with a replayed answer.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// Who is calling, as far as keys are concerned: the tenant, and who the credentials speak
/// for within it (not the credential itself, so that a refreshed token still finds its keys).
pub struct Identity {
    pub tenant: TenantId,
    pub caller: String,
}

impl Identity {
    pub fn user(tenant: TenantId, user: UserId) -> Self {
        Self {
            tenant,
            caller: format!("user:{}", user.0),
        }
    }

    pub fn server_admin(tenant: TenantId) -> Self {
        Self {
            tenant,
            caller: "server-admin".into(),
        }
    }

    /// An API key that acts for no user, by its presented secret (hashed: never stored in clear).
    pub fn api_key(tenant: TenantId, presented: &str) -> Self {
        Self {
            tenant,
            caller: format!("api-key:{}", hex::encode(&secret::digest(presented)[..16])),
        }
    }
}

/// Why a caller was not identified.
pub enum Unidentified {
    /// The credentials do not check out: the handler refuses them its own way.
    Refused,
    /// The server could not tell (storage unavailable, a bug).
    Failed(Error),
}

impl From<Error> for Unidentified {
    fn from(e: Error) -> Self {
        if is_fault(&e) {
            Unidentified::Failed(e)
        } else {
            Unidentified::Refused
        }
    }
}

pub type Identifying = Pin<Box<dyn Future<Output = Result<Identity, Unidentified>>>>;

/// An API surface (the native API or a face) as the middleware needs it.
pub struct Surface {
    /// Keeps the same caller's keys on different surfaces apart.
    pub name: &'static str,
    /// Who is calling, by the surface's own authentication.
    pub identify: fn(HttpRequest) -> Identifying,
    /// An error in the surface's format.
    pub render: fn(Error) -> HttpResponse,
}

/// The outcome of a surface's authentication, kept in the request by `identified` so that the
/// handler's extractor takes it instead of resolving the caller a second time.
struct Resolved<T>(T);

/// For a surface's `identify`: the outcome of its extractor, as an identity. A caller or a
/// refusal is left in the request for the handler's extractor (`resolved`), so that a keyed
/// request resolves its caller once; `fault` picks out the errors that stop the request here.
pub fn identified<T: 'static, E: 'static>(
    req: &HttpRequest,
    outcome: Result<T, E>,
    identity: impl FnOnce(&T) -> Identity,
    fault: impl FnOnce(E) -> Result<Error, E>,
) -> Result<Identity, Unidentified> {
    match outcome {
        Ok(caller) => {
            let found = identity(&caller);
            req.extensions_mut().insert(Resolved(Ok::<T, E>(caller)));
            Ok(found)
        }
        Err(e) => match fault(e) {
            Ok(fault) => Err(Unidentified::Failed(fault)),
            Err(refusal) => {
                req.extensions_mut().insert(Resolved(Err::<T, E>(refusal)));
                Err(Unidentified::Refused)
            }
        },
    }
}

/// For an extractor: the outcome `identified` left in the request, taken out of it.
pub fn resolved<T: 'static, E: 'static>(req: &HttpRequest) -> Option<Result<T, E>> {
    req.extensions_mut()
        .remove::<Resolved<Result<T, E>>>()
        .map(|r| r.0)
}

/// An extractor's future that resolves the caller once per request: the outcome the middleware
/// already left in the request (`resolved`), else `authenticate`'s.
pub fn resolve_once<T, E, F, Fut>(
    req: &HttpRequest,
    authenticate: F,
) -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>>>>
where
    T: 'static,
    E: 'static,
    F: FnOnce(HttpRequest) -> Fut + 'static,
    Fut: Future<Output = Result<T, E>> + 'static,
{
    let req = req.clone();
    Box::pin(async move {
        match resolved(&req) {
            Some(outcome) => outcome,
            None => authenticate(req).await,
        }
    })
}

/// Whether a core error is the server's fault (storage, a bug) rather than a refusal.
pub fn is_fault(e: &Error) -> bool {
    matches!(e, Error::Internal(_) | Error::Unavailable { .. })
}

/// The app a request is served by.
pub fn app_of(req: &HttpRequest) -> Result<web::Data<App>, Unidentified> {
    App::of(req).map_err(Unidentified::Failed)
}

/// The middleware for one route of `surface`.
pub fn idempotent(surface: &'static Surface) -> Idempotent {
    Idempotent(surface)
}

pub struct Idempotent(&'static Surface);

impl<S> Transform<S, ServiceRequest> for Idempotent
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Transform = IdempotentService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(IdempotentService {
            service: Rc::new(service),
            surface: self.0,
        }))
    }
}

pub struct IdempotentService<S> {
    service: Rc<S>,
    surface: &'static Surface,
}

type Answering = Pin<Box<dyn Future<Output = Result<ServiceResponse, actix_web::Error>>>>;

impl<S> Service<ServiceRequest> for IdempotentService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Future = Answering;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if !req.headers().contains_key(HEADER) {
            let service = self.service.clone();
            return Box::pin(async move { service.call(req).await });
        }
        let surface = self.surface;
        let handling = actix_web::rt::spawn(crate::audit::carry(keyed(
            self.service.clone(),
            surface,
            req,
        )));
        Box::pin(async move {
            handling.await.map_err(|e| {
                let response = (surface.render)(Error::internal(format!("keyed request: {e}")));
                actix_web::Error::from(actix_web::error::InternalError::from_response(e, response))
            })?
        })
    }
}

async fn keyed<S>(
    service: Rc<S>,
    surface: &'static Surface,
    mut req: ServiceRequest,
) -> Result<ServiceResponse, actix_web::Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    let refuse = |req: ServiceRequest, e: Error| Ok(req.into_response((surface.render)(e)));
    let identity = match (surface.identify)(req.request().clone()).await {
        Ok(identity) => identity,
        Err(Unidentified::Refused) => return service.call(req).await,
        Err(Unidentified::Failed(e)) => return refuse(req, e),
    };
    let Ok(app) = app_of(req.request()) else {
        return refuse(req, Error::internal("app data missing"));
    };
    let key = match req.headers().get_all(HEADER).collect::<Vec<_>>().as_slice() {
        [one] => parse_key(one.as_bytes()),
        _ => Err(Error::invalid(HEADER, "must be sent once")),
    };
    let key = match key {
        Ok(key) => key,
        Err(e) => return refuse(req, e),
    };
    let body = match read_body(&mut req).await {
        Ok(body) => body,
        Err(e) => return refuse(req, e),
    };
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_string(), |pq| pq.as_str().to_string());
    let request = request_hash(req.method().as_str(), &target, &body);
    let scope = KeyScope {
        tenant: identity.tenant,
        caller: format!("{}:{}", surface.name, identity.caller),
        key,
    };

    let _held = app.idempotency.lock(scope.clone()).await;
    match app
        .service
        .earlier_use(scope.clone(), request.clone())
        .await
    {
        Ok(Earlier::Unused) => {}
        Ok(Earlier::Answered(answer)) => return Ok(req.into_response(replay(answer))),
        Ok(Earlier::Different) => {
            return refuse(
                req,
                Error::Unprocessable(format!(
                    "Idempotency-Key \"{}\" was used for a different request (method, path or \
                     body) in the last 24 hours; a new request needs a new key",
                    scope.key
                )),
            )
        }
        Ok(Earlier::InDoubt) => {
            return refuse(
                req,
                Error::Conflict(format!(
                    "the request first sent with Idempotency-Key \"{}\" was stored, but its \
                     answer was lost before it could be recorded; it is not stored again: look \
                     up what it created instead of retrying",
                    scope.key
                )),
            )
        }
        Err(e) => return refuse(req, e),
    }

    let claim = app.service.claim(scope, request);
    let (response, outcome) = match carrying(claim.clone(), service.call(req)).await {
        Ok(response) if response.status().is_success() => {
            match answer_of(surface, response).await {
                Ok((response, answer)) => (Ok(response), Outcome::Answered(answer)),
                Err(response) => (Ok(response), Outcome::Failed),
            }
        }
        Ok(response) if response.status().is_server_error() => (Ok(response), Outcome::Failed),
        Ok(response) => (Ok(response), Outcome::Refused),
        Err(e) => (Err(e), Outcome::Failed),
    };
    let key = claim.scope.key.clone();
    if let Err(e) = app.service.conclude(claim, outcome).await {
        // The answer goes out anyway; a retry will find the key in doubt.
        tracing::warn!("Idempotency-Key \"{key}\": the answer was not recorded: {e}");
    }
    response
}

/// The whole request body, put back for the handler to read. The extractor has decoded any
/// `Content-Encoding`, so the headers are made to describe the plain bytes put back.
async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, Error> {
    let (http, payload) = req.parts_mut();
    let bytes = web::Bytes::from_request(http, payload).await.map_err(|e| {
        if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge("the request body is over the configured limit".into())
        } else {
            Error::invalid("body", format!("could not be read: {e}"))
        }
    })?;
    let headers = req.headers_mut();
    headers.remove(CONTENT_ENCODING);
    headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    req.set_payload(Payload::from(bytes.clone()));
    Ok(bytes)
}

/// A successful response with its body read out, to send and to record.
async fn answer_of(
    surface: &Surface,
    response: ServiceResponse,
) -> Result<(ServiceResponse, Answer), ServiceResponse> {
    let (req, res) = response.into_parts();
    let status = res.status();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (res, body) = res.into_parts();
    match to_bytes(body).await {
        Ok(bytes) => {
            let answer = Answer {
                status: status.as_u16(),
                content_type,
                body: bytes.to_vec(),
            };
            Ok((
                ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))),
                answer,
            ))
        }
        Err(e) => Err(ServiceResponse::new(
            req,
            (surface.render)(Error::internal(format!(
                "reading a response to record it: {e}"
            ))),
        )),
    }
}

/// The recorded answer, sent again.
fn replay(answer: Answer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    if let Some(content_type) = answer.content_type {
        response.insert_header((CONTENT_TYPE, content_type));
    }
    response
        .insert_header((REPLAYED_HEADER, "true"))
        .body(answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(n: &i64) -> Identity {
        Identity::user(TenantId(1), UserId(*n))
    }

    fn no_fault(e: String) -> Result<Error, String> {
        Err(e)
    }

    #[test]
    fn a_caller_or_a_refusal_is_handed_to_the_extractor_once() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let found = identified(&req, Ok::<i64, String>(7), identity, no_fault);
        assert!(matches!(
            found,
            Ok(Identity {
                tenant: TenantId(1),
                ..
            })
        ));
        assert_eq!(resolved::<i64, String>(&req), Some(Ok(7)));
        assert_eq!(resolved::<i64, String>(&req), None);

        let refused = identified(&req, Err::<i64, _>("no".to_string()), identity, no_fault);
        assert!(matches!(refused, Err(Unidentified::Refused)));
        assert_eq!(resolved::<i64, String>(&req), Some(Err("no".into())));
    }

    #[test]
    fn a_fault_stops_the_request_and_leaves_nothing() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let failed = identified(&req, Err::<i64, _>("disk".to_string()), identity, |e| {
            Ok(Error::internal(e))
        });
        assert!(matches!(
            failed,
            Err(Unidentified::Failed(Error::Internal(_)))
        ));
        assert_eq!(resolved::<i64, String>(&req), None);
    }
}

//! Where requests meet the fault rules: before routing, inside the front door (so the face is
//! known and the path is read as its framework reads it). Only the faces and the native API
//! are faulted, never the control plane, the admin page or the health checks.
//!
//! A clinic's server has no rules: `Faulting(None)` passes every request on after one branch.
//! A stand-in without live rules pays one atomic load more.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpResponse};

use super::rule::{Connection, Effect, Seen, NATIVE};
use super::{Faults, Verdict};
use crate::audit::trail::Face;
use crate::domain::TenantId;
use crate::faces::FACES;
use crate::http::cut::{Cut, CutHandle};
use crate::idempotency::Surface;

use crate::control::state::SANDBOX_HEADER;
/// Where the native API lives.
const NATIVE_PREFIX: &str = "/parlor/";

/// Left in a faulted request's extensions, for what records requests (the journal): the rule
/// that fired, and the connection effect that replaced or cut the answer it sees, if any.
#[derive(Clone, Copy, Debug)]
pub struct Fired {
    pub rule: u64,
    pub connection: Option<Connection>,
}

/// The middleware (`App::wrap`), with the stand-in's rules or none.
pub struct Faulting(pub Option<Arc<Faults>>);

impl<S> Transform<S, ServiceRequest> for Faulting
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Transform = FaultingService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(FaultingService {
            service: Rc::new(service),
            faults: self.0.clone(),
        }))
    }
}

pub struct FaultingService<S> {
    service: Rc<S>,
    faults: Option<Arc<Faults>>,
}

type Answer = Pin<Box<dyn Future<Output = Result<ServiceResponse, actix_web::Error>>>>;

impl<S> Service<ServiceRequest> for FaultingService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Future = Answer;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Answer {
        let Some(faults) = self.faults.as_ref().filter(|f| f.armed()) else {
            return Box::pin(self.service.call(req));
        };
        let Some(surface) = surface_of(&req) else {
            return Box::pin(self.service.call(req));
        };
        let verdict = faults.verdict(&seen(&req, surface), None);
        match verdict {
            Verdict::Pass => Box::pin(self.service.call(req)),
            Verdict::Fire(effect) => Box::pin(apply(self.service.clone(), req, surface, effect)),
            Verdict::NeedTenant => {
                let service = self.service.clone();
                let faults = faults.clone();
                Box::pin(async move {
                    let tenant = tenant_of(&req, surface).await;
                    let verdict = faults.verdict(&seen(&req, surface), Some(tenant));
                    match verdict {
                        Verdict::Fire(effect) => apply(service, req, surface, effect).await,
                        Verdict::Pass | Verdict::NeedTenant => service.call(req).await,
                    }
                })
            }
        }
    }
}

/// "native", a face's name, or `None` for what is neither (never faulted).
fn surface_of(req: &ServiceRequest) -> Option<&'static str> {
    if let Some(face) = req.extensions().get::<Face>() {
        return Some(face.0);
    }
    if req.path().starts_with(NATIVE_PREFIX) {
        return Some(NATIVE);
    }
    None
}

/// What a HEAD request is seen as (the request guard routes it as a GET).
static HEAD: Method = Method::HEAD;

fn seen<'r>(req: &'r ServiceRequest, surface: &'r str) -> Seen<'r> {
    let head = req.extensions().contains::<crate::http::Head>();
    Seen {
        surface,
        path: req.path(),
        method: if head { &HEAD } else { req.method() },
        sandbox: req
            .headers()
            .get(SANDBOX_HEADER)
            .and_then(|v| v.to_str().ok()),
    }
}

/// The caller's tenant by the surface's own authentication, left in the request for the
/// handler's extractor (`idempotency::identified`), so that it is resolved once. `None` when
/// the credentials do not check out: a rule for a tenant does not take that request.
async fn tenant_of(req: &ServiceRequest, surface: &str) -> Option<TenantId> {
    let identify = identifier(surface)?.identify;
    identify(req.request().clone()).await.ok().map(|i| i.tenant)
}

fn identifier(surface: &str) -> Option<&'static Surface> {
    if surface == NATIVE {
        return Some(&crate::native::IDEMPOTENT);
    }
    FACES.iter().find(|f| f.name == surface).map(|f| f.surface)
}

/// An error of `status` as the surface renders it.
fn render(surface: &str, status: StatusCode, retry_after: Option<u64>) -> HttpResponse {
    match FACES.iter().find(|f| f.name == surface) {
        Some(face) => (face.fault)(status, retry_after),
        None => crate::native::error::fault(status, retry_after),
    }
}

async fn apply<S>(
    service: Rc<S>,
    req: ServiceRequest,
    surface: &'static str,
    effect: Effect,
) -> Result<ServiceResponse, actix_web::Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    req.extensions_mut().insert(Fired {
        rule: effect.rule,
        connection: effect.connection,
    });
    if let Some(delay) = effect.delay {
        actix_web::rt::time::sleep(delay).await;
    }
    if let Some((status, retry_after)) = effect.status {
        return Ok(req.into_response(render(surface, status, retry_after)));
    }
    let Some(connection) = effect.connection else {
        return service.call(req).await;
    };
    let Some(handle) = req.conn_data::<CutHandle>().cloned() else {
        // Every connection of a stand-in carries a handle (`http::serve`'s `cuts`).
        tracing::warn!("fault rule: no connection handle, the request is served normally");
        return service.call(req).await;
    };
    match connection {
        Connection::Truncate => {
            let head = req.extensions().contains::<crate::http::Head>();
            let response = service.call(req).await?;
            handle.order(if head { Cut::HeadOnly } else { Cut::Truncate });
            Ok(response)
        }
        Connection::Drop | Connection::Empty => {
            handle.order(match connection {
                Connection::Drop => Cut::Reset,
                _ => Cut::Empty,
            });
            // Never sent: the connection ends when it is about to be written.
            Ok(req.into_response(HttpResponse::ServiceUnavailable().finish()))
        }
    }
}

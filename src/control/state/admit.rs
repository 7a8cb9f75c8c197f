//! The middleware in front of every route of a stand-in: picks the app that serves the request
//! (the server's own, or the sandbox its `X-Parlor-Sandbox` header names, opened on first use)
//! and lets it in through that app's gate.
//!
//! A sandbox's app replaces the server's for the whole request: its `web::Data<App>` is put in a
//! data container of the request, which actix searches before the app's own
//! (`HttpRequest::app_data` looks from the newest container back), so every handler, extractor
//! and middleware inside this one takes the sandbox's app without knowing sandboxes exist.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{Extensions, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{HttpMessage, HttpResponse};

use super::gate::Held;
use super::sandboxes::{Origin, Sandbox};
use super::{Name, State};
use crate::error::Error;

/// The header that names a request's sandbox.
pub const SANDBOX_HEADER: &str = "X-Parlor-Sandbox";
/// On a sandbox's first request: the snapshot it starts from (else the start state).
pub const FROM_HEADER: &str = "X-Parlor-Sandbox-From";

/// The sandbox a request was served by, left in its extensions (for the request journal).
#[derive(Clone, Debug)]
pub struct InSandbox(pub String);

/// `App::wrap(Admission(state))`; `None` (not a stand-in) passes every request straight on.
pub struct Admission(pub Option<Arc<State>>);

impl<S> Transform<S, ServiceRequest> for Admission
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Transform = Admit<S>;
    type InitError = ();
    type Future = Ready<Result<Admit<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(Admit {
            service: Rc::new(service),
            state: self.0.clone(),
        }))
    }
}

pub struct Admit<S> {
    service: Rc<S>,
    state: Option<Arc<State>>,
}

type Answer = Pin<Box<dyn Future<Output = Result<ServiceResponse, actix_web::Error>>>>;

impl<S> Service<ServiceRequest> for Admit<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse;
    type Error = actix_web::Error;
    type Future = Answer;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Answer {
        let Some(state) = self.state.clone() else {
            return Box::pin(self.service.call(req));
        };
        Box::pin(admit(state, self.service.clone(), req))
    }
}

/// What the request asks for by its headers.
struct Asked {
    sandbox: Option<Name>,
    from: Option<Origin>,
}

impl Asked {
    fn of(req: &ServiceRequest) -> Result<Asked, Error> {
        let header = |name: &str| -> Result<Option<Name>, Error> {
            req.headers()
                .get(name)
                .map(|v| {
                    v.to_str()
                        .map_err(|_| Error::invalid(name, "must be a name"))
                        .and_then(|text| Name::parse(name, text.trim()))
                })
                .transpose()
        };
        let asked = Asked {
            sandbox: header(SANDBOX_HEADER)?,
            from: header(FROM_HEADER)?.map(Origin::Snapshot),
        };
        if asked.sandbox.is_none() && asked.from.is_some() {
            return Err(Error::invalid(
                FROM_HEADER,
                format!(
                    "names the snapshot a new sandbox starts from: send it with {SANDBOX_HEADER}"
                ),
            ));
        }
        Ok(asked)
    }
}

async fn admit<S>(
    state: Arc<State>,
    routes: Rc<S>,
    mut req: ServiceRequest,
) -> Result<ServiceResponse, actix_web::Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error> + 'static,
{
    let asked = match Asked::of(&req) {
        Ok(asked) => asked,
        Err(e) => return Ok(refuse(req, e)),
    };
    let control = req.path().starts_with(crate::control::PREFIX);
    // Listing, opening or closing sandboxes is the server's business, not one sandbox's.
    let about_sandboxes = req.path().starts_with(super::sandboxes::PATH);
    let sandbox = match asked.sandbox {
        Some(name) if !about_sandboxes => Some((name, asked.from)),
        _ => None,
    };
    let (app, sandbox, pass) = match sandbox {
        None => {
            let pass = if control {
                None
            } else {
                Some(state.main.gate.enter().await)
            };
            (state.main.clone(), None, pass)
        }
        Some((name, from)) => match enter(&state, &name, from, control).await {
            Ok((sandbox, pass)) => (sandbox.app.clone(), Some(sandbox), pass),
            Err(e) => return Ok(refuse(req, e)),
        },
    };
    if let Some(sandbox) = &sandbox {
        let mut data = Extensions::new();
        data.insert(app.clone());
        req.add_data_container(Rc::new(data));
        req.extensions_mut()
            .insert(InSandbox(sandbox.name().as_str().to_owned()));
        sandbox.used(&state.main.service);
    }
    let response = routes.call(req).await?;
    let Some(pass) = pass else {
        return Ok(response);
    };
    if is_event_stream(&response) {
        // A stream never ends by itself; a restore tells it instead (a `reset` event).
        return Ok(response);
    }
    Ok(response.map_body(|_, body| BoxBody::new(Held { body, _pass: pass })))
}

/// Opens (or finds) the sandbox and, for a request other than the control plane's, enters its
/// gate. A sandbox closed while the request waited (deleted, or the least recently used past
/// the cap) is opened again: the request is served by a fresh one, as a later request would be.
async fn enter(
    state: &State,
    name: &Name,
    from: Option<Origin>,
    control: bool,
) -> Result<(Arc<Sandbox>, Option<super::gate::Pass>), Error> {
    loop {
        let sandbox = state.sandboxes.open(state, name, from.clone()).await?;
        if control {
            return Ok((sandbox, None));
        }
        let pass = sandbox.app.gate.enter().await;
        if !sandbox.is_closed() {
            return Ok((sandbox, Some(pass)));
        }
    }
}

fn is_event_stream(response: &ServiceResponse) -> bool {
    response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// A bad sandbox header or a sandbox that cannot be opened, in the format of the surface the
/// request is for: the face's (the front door has named it), else the native API's.
fn refuse(req: ServiceRequest, e: Error) -> ServiceResponse {
    let face = req
        .extensions()
        .get::<crate::audit::trail::Face>()
        .map(|f| f.0);
    let render = match face {
        Some("mdlive") => crate::faces::mdlive::IDEMPOTENT.render,
        Some("pigeons") => crate::faces::pigeons::IDEMPOTENT.render,
        Some("respondent") => crate::faces::respondent::IDEMPOTENT.render,
        Some("tati") => crate::faces::tati::IDEMPOTENT.render,
        Some("trillet") => crate::faces::trillet::IDEMPOTENT.render,
        _ => native,
    };
    req.into_response(render(e))
}

fn native(e: Error) -> HttpResponse {
    actix_web::ResponseError::error_response(&crate::native::error::ApiError(e))
}

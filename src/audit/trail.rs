//! The middleware that gives each request to the native API or a face its audit draft and,
//! once the answer is ready, records it (unless a write of the request already did).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::{web, HttpMessage as _};

use super::{object, outcome_of, Draft, Entry, Shared};
use crate::app::App;

/// The face a request's path belongs to, left in the request by the front door.
#[derive(Clone, Copy, Debug)]
pub struct Face(pub &'static str);

/// Where the native API lives; the admin page's calls come here too (surface "admin" once
/// their session cookie is accepted).
const NATIVE: &str = "/parlor/";

/// The request's correlation id: the client's `X-Request-Id` when it sends a usable one.
pub const REQUEST_ID: &str = "X-Request-Id";

type Answer = Pin<Box<dyn Future<Output = Result<ServiceResponse, actix_web::Error>>>>;

/// Runs before routing, inside the front door (`App::wrap_fn`).
pub fn record<S>(enabled: bool, req: ServiceRequest, routes: &S) -> Answer
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
    S::Future: 'static,
{
    let surface = match req.extensions().get::<Face>() {
        Some(face) => Some(face.0),
        None => req.path().starts_with(NATIVE).then_some("native"),
    };
    let (Some(surface), true, false) = (surface, enabled, req.method() == Method::OPTIONS) else {
        return Box::pin(routes.call(req));
    };
    let Some(app) = req.app_data::<web::Data<App>>().cloned() else {
        return Box::pin(routes.call(req));
    };
    let draft = Shared::default();
    {
        let mut d = super::lock(&draft);
        let at = app.service.now();
        d.entry = Entry {
            at,
            surface: surface.to_string(),
            action: action_of(req.method(), req.path()).to_string(),
            route: Some(format!("{} {}", req.method(), without_secret(req.path()))),
            client: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent: header(&req, "user-agent", 256),
            // The id the request's log line and answer carry (`telemetry::requests`).
            request_id: req
                .extensions()
                .get::<crate::telemetry::requests::RequestId>()
                .map(|id| id.0.to_string())
                .or_else(|| header(&req, REQUEST_ID, 128))
                // Not from the service's seeded ids: every request, sandboxed or not, makes
                // one, and taking them from a shared sequence would let concurrent requests
                // shift each other's ids.
                .or_else(|| Some(crate::domain::idgen::unseeded_uuid(at))),
            ..Entry::default()
        };
    }
    let answer = super::scope(draft.clone(), routes.call(req));
    Box::pin(async move {
        let answer = answer.await;
        let status = match &answer {
            Ok(res) => res.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        if let Some(entry) = finish(&draft, &answer, status.as_u16()) {
            if let Err(e) = app.service.store.record(entry).await {
                tracing::error!("an audit entry could not be recorded: {e}");
            }
        }
        answer
    })
}

/// The entry to record for an answered request, if it needs one.
fn finish(
    draft: &Shared,
    answer: &Result<ServiceResponse, actix_web::Error>,
    status: u16,
) -> Option<Entry> {
    let Draft { entry, written } = std::mem::take(&mut *super::lock(draft));
    // No route matched (a face's own 404 for an unknown path): nothing was asked of any record.
    let matched = answer
        .as_ref()
        .ok()
        .map(|res| res.request().match_pattern().is_some())
        .unwrap_or(true);
    // 304: the client already holds what it asked for, recorded when it was sent.
    if (written && status < 400) || !matched || status == 304 {
        return None;
    }
    let mut entry = entry;
    entry.status = Some(status);
    entry.outcome = outcome_of(status).to_string();
    if entry.outcome != "ok" {
        if let Ok(res) = answer {
            requested(&mut entry, res);
        }
    }
    Some(entry)
}

/// A path parameter that is a credential (an invite link's secret): never recorded.
const SECRET_PARAM: &str = "secret";

/// The path as recorded: an invite link's secret replaced by `{secret}`, since whoever reads
/// the trail must not be able to use the link.
pub fn without_secret(path: &str) -> std::borrow::Cow<'_, str> {
    let invites = concat!("/parlor/v1", "/invites/");
    match path.strip_prefix(invites) {
        Some(rest) if !rest.is_empty() => format!("{invites}{{{SECRET_PARAM}}}").into(),
        _ => path.into(),
    }
}

/// A refused or failed request names the ids its path asked for, found or not.
fn requested(entry: &mut Entry, res: &ServiceResponse) {
    let req = res.request();
    let Some(pattern) = req.match_pattern() else {
        return;
    };
    let segments: Vec<&str> = pattern.split('/').collect();
    for (name, value) in req.match_info().iter() {
        if name == SECRET_PARAM {
            continue;
        }
        let before = segments
            .iter()
            .position(|s| s.contains(&format!("{{{name}")))
            .and_then(|i| i.checked_sub(1))
            .map_or("", |i| segments[i]);
        entry.touch(kind_of(name, before), value);
    }
}

/// The kind of record a path parameter names, from its name or the segment before it
/// (`/conversations/{id}`).
fn kind_of(name: &str, before: &str) -> &'static str {
    let said = |word: &str| name.contains(word) || before.contains(word);
    if said("message") {
        object::MESSAGE
    } else if said("conversation") || said("chat") || said("thread") {
        object::CONVERSATION
    } else if said("user") || said("patient") || said("provider") || said("participant") {
        object::USER
    } else if said("token") {
        object::TOKEN
    } else if said("key") {
        object::API_KEY
    } else if said("tenant") {
        object::TENANT
    } else {
        "record"
    }
}

/// What a request does, by its method (and a read receipt by its path).
fn action_of(method: &Method, path: &str) -> &'static str {
    let path = path.trim_end_matches('/');
    let signs_in = [
        "/login",
        "/session",
        "/token",
        // MDLIVE's token calls (single sign-on, API key, and the refresh).
        "/auth_token",
        "/auth_extend",
    ]
    .iter()
    .any(|end| path.ends_with(end));
    match *method {
        Method::POST if signs_in => "sign_in",
        Method::DELETE if path.ends_with("/session") => "sign_out",
        Method::GET | Method::HEAD => "read",
        _ if path.ends_with("/read") || path.ends_with("/seen") || path.ends_with("/mark_read") => {
            "mark_read"
        }
        Method::POST => "create",
        Method::PUT | Method::PATCH => "update",
        Method::DELETE => "delete",
        _ => "other",
    }
}

/// A header's text, cut to `max` characters; only printable ASCII is kept.
fn header(req: &ServiceRequest, name: &str, max: usize) -> Option<String> {
    let value = req.headers().get(name)?.to_str().ok()?;
    let kept: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(max)
        .collect();
    (!kept.trim().is_empty()).then_some(kept)
}

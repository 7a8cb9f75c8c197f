//! The stand-in control plane under `/__parlor/` (issue 15): what a test suite needs from the
//! server it points at instead of a vendor's API. It answers only the server admin
//! (`auth::ServerAdmin`) and exists only when the server runs as a stand-in: with `--demo`,
//! with `--fixture`, or with `stand_in = true`. In a clinic's configuration its routes are not
//! registered at all, so every `/__parlor/` path is the server's plain 404.

pub mod auth;
pub mod clock;
pub mod faults;
pub mod ids;
pub mod journal;
pub mod state;

use std::sync::OnceLock;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use schemars::JsonSchema;
use serde::Serialize;

use crate::app::App;
use crate::native::error::ApiResult;
use crate::openapi::{self, op, Op};
use auth::ServerAdmin;

/// Where every control-plane route lives.
pub const PREFIX: &str = "/__parlor";

/// What the server was started with: the state a reset returns to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// Nothing was loaded at start (`stand_in = true` on its own).
    Empty,
    /// The built-in demo data (`--demo`).
    Demo,
    /// A fixture file (`--fixture`), by the name it was given.
    Fixture(String),
}

impl Start {
    fn describe(&self) -> StartDto {
        match self {
            Start::Empty => StartDto {
                kind: "empty",
                fixture: None,
            },
            Start::Demo => StartDto {
                kind: "demo",
                fixture: None,
            },
            Start::Fixture(name) => StartDto {
                kind: "fixture",
                fixture: Some(name.clone()),
            },
        }
    }
}

/// The control plane's own state, shared by its routes (app data).
pub struct ControlPlane {
    pub start: Start,
    /// Fault rules (`faults`), also read by their middleware before routing.
    pub faults: std::sync::Arc<faults::Faults>,
}

impl ControlPlane {
    pub fn new(start: Start) -> Self {
        Self {
            start,
            faults: Default::default(),
        }
    }
}

/// Whether the control plane is served: only for a stand-in, never in a clinic's
/// configuration.
pub fn enabled(stand_in: bool, demo: bool, fixture: bool) -> bool {
    stand_in || demo || fixture
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope(PREFIX);
    for (path, ops) in openapi::by_path(operations()) {
        let mut resource = web::resource(path);
        for op in ops {
            resource = resource.route(op.route);
        }
        scope = scope.service(resource);
    }
    cfg.service(scope);
}

/// What every control-plane route may refuse: no credential, or not the server admin's.
pub(crate) const ADMIN: &[u16] = &[401, 403];
/// ... and, for a route that reads a body, the body.
pub(crate) const ADMIN_INPUT: &[u16] = &[400, 401, 403];

/// Every control-plane operation, relative to `PREFIX`: the routes are registered from it and
/// `GET /__parlor/openapi.json` is generated from it. A new route is one entry here.
pub fn operations() -> Vec<Op> {
    let mut ops = vec![
        op(
            Method::GET,
            "",
            "What this stand-in was started with, and its clock",
            info,
        )
        .json::<InfoDto>(200)
        .errors(ADMIN),
        op(
            Method::GET,
            "/openapi.json",
            "This document: the control plane in OpenAPI 3.1",
            openapi_json,
        )
        .json_with(200, openapi::any_object)
        .errors(ADMIN),
    ];
    ops.extend(clock::operations());
    ops.extend(ids::operations());
    ops.extend(state::operations());
    ops.extend(faults::operations());
    ops.extend(journal::operations());
    ops
}

const INFO: openapi::Info = openapi::Info {
    title: "Parlor stand-in control plane",
    description: "Served only when Parlor runs as a stand-in (--demo, --fixture, \
                  stand_in = true), and only to the server admin.",
    base: PREFIX,
};

/// `GET /__parlor/openapi.json`: for the server admin, like every control-plane route.
/// Generated on the first call, then kept.
async fn openapi_json(_admin: ServerAdmin) -> HttpResponse {
    static TEXT: OnceLock<String> = OnceLock::new();
    openapi::serve(&TEXT, || {
        openapi::document(&INFO, &operations(), crate::auth::sessions::COOKIE)
    })
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "StartState")]
struct StartDto {
    /// `empty`, `demo` or `fixture`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixture: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Info")]
struct InfoDto {
    version: &'static str,
    start: StartDto,
    /// Parlor's clock, which every timestamp follows.
    now: String,
}

/// `GET /__parlor`: what this stand-in was started with, and its clock.
async fn info(
    _admin: ServerAdmin,
    app: web::Data<App>,
    plane: web::Data<ControlPlane>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(InfoDto {
        version: env!("CARGO_PKG_VERSION"),
        start: plane.start.describe(),
        now: crate::domain::time::rfc3339_ms(app.service.now()),
    }))
}

#[cfg(test)]
mod document_tests {
    #[test]
    fn no_request_and_reply_types_claim_one_schema_name() {
        let conflicts = crate::openapi::conflicts(&super::INFO, &super::operations());
        assert!(conflicts.is_empty(), "{conflicts:?}");
    }
}

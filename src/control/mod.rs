//! The stand-in control plane under `/__parlor/` (issue 15): what a test suite needs from the
//! server it points at instead of a vendor's API. It answers only the server admin
//! (`auth::ServerAdmin`) and exists only when the server runs as a stand-in: with `--demo`,
//! with `--fixture`, or with `stand_in = true`. In a clinic's configuration its routes are not
//! registered at all, so every `/__parlor/` path is the server's plain 404.

pub mod auth;
pub mod journal;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::app::App;
use crate::native::error::ApiResult;
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
}

impl ControlPlane {
    pub fn new(start: Start) -> Self {
        Self { start }
    }
}

/// Whether the control plane is served: only for a stand-in, never in a clinic's
/// configuration.
pub fn enabled(stand_in: bool, demo: bool, fixture: bool) -> bool {
    stand_in || demo || fixture
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .route("", web::get().to(info))
            .configure(journal::routes),
    );
}

#[derive(Serialize)]
struct StartDto {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixture: Option<String>,
}

#[derive(Serialize)]
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

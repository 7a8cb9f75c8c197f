//! Vendor faces: the one store served in five vendors' wire formats, one folder per vendor.
//!
//! Each face is a thin adapter over `service`: its own routes, typed DTOs in the vendor's
//! field order, explicit conversion from domain values, its own auth and its own error bodies.
//! A face never lets Parlor's native error format through, and sees one tenant: the one its
//! credentials resolve to.

pub mod body;
pub mod cors;
pub mod doors;
pub mod framework;
pub mod mdlive;
pub mod pigeons;
pub mod respondent;
pub mod stand_in;
pub mod tati;
pub mod text;
pub mod trillet;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::Settings;
use framework::Framework;

/// A face: its `[faces.<name>]` key, the path prefix it is served under unless re-based, how it
/// registers its routes under a prefix ("" for the root), the framework whose habits it keeps,
/// the first path segments it serves when mounted at the root ("" for everything), and its
/// answer for a path of its own that no route matches. `surface` resolves its caller
/// (`idempotency`); `fault` renders an error of a given status, with `Retry-After` if given, as
/// the vendor does (a stand-in's fault rules, `control::faults`).
pub struct Face {
    pub name: &'static str,
    pub default_base: &'static str,
    pub routes: fn(&mut web::ServiceConfig, &str),
    pub framework: Framework,
    pub roots: &'static [&'static str],
    pub not_found: fn(&HttpRequest) -> HttpResponse,
    pub surface: &'static crate::idempotency::Surface,
    pub fault: fn(StatusCode, Option<u64>) -> HttpResponse,
}

/// Every face Parlor serves. Faces with a longer prefix come first, so that a face mounted at
/// the root never shadows one mounted under a path.
pub const FACES: &[Face] = &[
    Face {
        name: "pigeons",
        default_base: pigeons::BASE,
        routes: pigeons::routes,
        framework: Framework::Laravel,
        roots: &[""],
        not_found: pigeons::not_found,
        surface: &pigeons::IDEMPOTENT,
        fault: pigeons::error::fault,
    },
    Face {
        name: "respondent",
        default_base: respondent::DEFAULT_BASE,
        routes: respondent::routes,
        framework: Framework::Express,
        roots: &[""],
        not_found: respondent::not_found,
        surface: &respondent::IDEMPOTENT,
        fault: respondent::error::fault,
    },
    Face {
        name: "trillet",
        default_base: trillet::BASE,
        routes: trillet::routes,
        framework: Framework::Express,
        roots: &[""],
        not_found: trillet::not_found,
        surface: &trillet::IDEMPOTENT,
        fault: trillet::error::fault,
    },
    Face {
        name: "tati",
        default_base: tati::BASE,
        routes: tati::routes,
        framework: Framework::Django,
        roots: &[""],
        not_found: tati::not_found,
        surface: &tati::IDEMPOTENT,
        fault: tati::error::fault,
    },
    Face {
        name: "mdlive",
        default_base: mdlive::BASE,
        routes: mdlive::routes,
        framework: Framework::Rails,
        // Served from the root by default: it claims its own paths, not the whole server.
        roots: &["/api", "/auth"],
        not_found: mdlive::not_found,
        surface: &mdlive::IDEMPOTENT,
        fault: mdlive::error::fault,
    },
];

/// The prefix a face is served under: its configured or default base path, with "/" as "".
pub fn prefix(settings: &Settings, face: &Face) -> String {
    let base = settings
        .face(face.name)
        .base_path
        .unwrap_or_else(|| face.default_base.to_string());
    base.trim_end_matches('/').to_string()
}

/// Registers every enabled face.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &Settings) {
    for face in FACES {
        if settings.face(face.name).enabled {
            (face.routes)(cfg, &prefix(settings, face));
        }
    }
}

//! Vendor faces: the one store served in five vendors' wire formats, one folder per vendor.
//!
//! Each face is a thin adapter over `service`: its own routes, typed DTOs in the vendor's
//! field order, explicit conversion from domain values, its own auth and its own error bodies.
//! A face never lets Parlor's native error format through, and sees one tenant: the one its
//! credentials resolve to.

use actix_web::web;

use crate::config::Settings;

pub mod respondent;

/// A face: its `[faces.<name>]` key, the path prefix it is served under unless re-based, and
/// how it registers its routes under a prefix ("" for the root).
pub struct Face {
    pub name: &'static str,
    pub default_base: &'static str,
    pub routes: fn(&mut web::ServiceConfig, &str),
}

/// Every face Parlor serves. Faces with a longer prefix come first, so that a face mounted at
/// the root never shadows one mounted under a path.
pub const FACES: &[Face] = &[Face {
    name: "respondent",
    default_base: respondent::DEFAULT_BASE,
    routes: respondent::routes,
}];

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

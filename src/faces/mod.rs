//! Vendor faces: the one store served in five vendors' wire formats, one folder per vendor.
//!
//! Each face is a thin adapter over `service`: its own routes, typed DTOs in the vendor's
//! field order, explicit conversion from domain values, its own auth and its own error bodies.
//! A face never lets Parlor's native error format through, and sees one tenant: the one its
//! credentials resolve to.

pub mod cors;
pub mod doors;
pub mod framework;
pub mod mdlive;
pub mod pigeons;
pub mod respondent;
pub mod stand_in;
pub mod tati;
pub mod trillet;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::Settings;
use framework::Framework;

/// A face: its `[faces.<name>]` key, the path prefix it is served under unless re-based, how it
/// registers its routes under a prefix ("" for the root), the framework whose habits it keeps,
/// the first path segments it serves when mounted at the root ("" for everything), and its
/// answer for a path of its own that no route matches.
pub struct Face {
    pub name: &'static str,
    pub default_base: &'static str,
    pub routes: fn(&mut web::ServiceConfig, &str),
    pub framework: Framework,
    pub roots: &'static [&'static str],
    pub not_found: fn(&HttpRequest) -> HttpResponse,
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
    },
    Face {
        name: "respondent",
        default_base: respondent::DEFAULT_BASE,
        routes: respondent::routes,
        framework: Framework::Express,
        roots: &[""],
        not_found: respondent::not_found,
    },
    Face {
        name: "trillet",
        default_base: trillet::BASE,
        routes: trillet::routes,
        framework: Framework::Express,
        roots: &[""],
        not_found: trillet::not_found,
    },
    Face {
        name: "tati",
        default_base: tati::BASE,
        routes: tati::routes,
        framework: Framework::Django,
        roots: &[""],
        not_found: tati::not_found,
    },
    Face {
        name: "mdlive",
        default_base: mdlive::BASE,
        routes: mdlive::routes,
        framework: Framework::Rails,
        // Served from the root by default: it claims its own paths, not the whole server.
        roots: &["/api", "/auth"],
        not_found: mdlive::not_found,
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

/// `text` with its first letter upper-cased: the core's "conversation not found" as the
/// vendors write it.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Why a face could not read a request body.
pub enum BodyError {
    /// Over the configured `body_limit`.
    TooLarge,
    /// JSON, but not an object.
    NotAnObject,
    /// Not JSON: the parser's complaint, and the body it was about.
    NotJson(serde_json::Error, web::Bytes),
    /// The stream broke.
    Unreadable(String),
}

impl BodyError {
    /// What was wrong, in plain words.
    pub fn reason(&self) -> String {
        match self {
            BodyError::TooLarge => "the request body is over the configured limit".into(),
            BodyError::NotAnObject => "the request body must be a JSON object".into(),
            BodyError::NotJson(e, _) => e.to_string(),
            BodyError::Unreadable(why) => why.clone(),
        }
    }
}

/// A request body as a JSON object; an empty body is an empty object. Every face that reads
/// bodies field by field (as Rails, Django, Laravel and NestJS do) starts here and renders
/// `BodyError` its own way.
pub fn json_object(
    bytes: Result<web::Bytes, actix_web::Error>,
) -> Result<serde_json::Map<String, serde_json::Value>, BodyError> {
    let bytes = bytes.map_err(|e| {
        if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Unreadable(e.to_string())
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(&bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(e) => Err(BodyError::NotJson(e, bytes)),
    }
}

/// Registers every enabled face.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &Settings) {
    for face in FACES {
        if settings.face(face.name).enabled {
            (face.routes)(cfg, &prefix(settings, face));
        }
    }
}

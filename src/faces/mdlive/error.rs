//! MDLIVE's Rails-style errors: `{"error": "..."}`, and for validation failures (422)
//! `{"errors": {"field": ["message", ...]}}` (reference page `_response_codes`).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;
use crate::faces::text::capitalized;

#[derive(Debug)]
pub enum MdliveError {
    /// A required top-level parameter is absent (Rails' `ParameterMissing`): 400.
    ParameterMissing(&'static str),
    /// The body is not JSON: 400.
    BadRequest(String),
    /// 401.
    Unauthorized(&'static str),
    /// Field errors: 422.
    Invalid(BTreeMap<String, Vec<String>>),
    /// Anything the core refused, rendered by kind.
    Core(Error),
}

pub type MdliveResult<T> = Result<T, MdliveError>;

impl MdliveError {
    /// A 422 for one field.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        MdliveError::Invalid(BTreeMap::from([(name.to_string(), vec![message.into()])]))
    }
}

impl From<Error> for MdliveError {
    fn from(e: Error) -> Self {
        MdliveError::Core(e)
    }
}

impl std::fmt::Display for MdliveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

#[derive(Serialize)]
struct ErrorsBody<'a> {
    errors: &'a BTreeMap<String, Vec<String>>,
}

impl ResponseError for MdliveError {
    fn status_code(&self) -> StatusCode {
        match self {
            MdliveError::ParameterMissing(_) | MdliveError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            MdliveError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            MdliveError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            MdliveError::Core(e) => match e {
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                Error::Invalid { .. } | Error::Duplicate { .. } | Error::Unprocessable(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                Error::Conflict(_) => StatusCode::CONFLICT,
                Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = match self {
            MdliveError::ParameterMissing(name) => {
                // Rails' own wording for a missing `params.require(...)`.
                format!("param is missing or the value is empty: {name}")
            }
            MdliveError::BadRequest(m) => m.clone(),
            MdliveError::Unauthorized(m) => (*m).to_string(),
            MdliveError::Invalid(errors) => {
                return HttpResponse::build(status).json(ErrorsBody { errors });
            }
            MdliveError::Core(e) => match e {
                Error::NotFound(what) => capitalized(&format!("{what} not found")),
                // Rails answers a uniqueness validation like any other: 422 by field.
                Error::Invalid { field, message } | Error::Duplicate { field, message } => {
                    let errors = BTreeMap::from([(field.clone(), vec![message.clone()])]);
                    return HttpResponse::build(status).json(ErrorsBody { errors: &errors });
                }
                Error::Unprocessable(m) => {
                    let errors = BTreeMap::from([("base".to_string(), vec![m.clone()])]);
                    return HttpResponse::build(status).json(ErrorsBody { errors: &errors });
                }
                Error::Internal(cause) => {
                    tracing::error!("mdlive face: {cause}");
                    "Internal Server Error".into()
                }
                other => other.to_string(),
            },
        };
        let mut response = HttpResponse::build(status);
        if let MdliveError::Core(e) = self {
            if let Some(seconds) = e.retry_after() {
                response.insert_header(("Retry-After", seconds.to_string()));
            }
        }
        response.json(ErrorBody { error: message })
    }
}

/// A stand-in's fault rule (`control::faults`): an answer with `status` the Rails way. A 429
/// says what Rack::Attack's throttle says ("Retry later"); a 500 what an unhandled exception
/// says here.
pub fn fault(status: StatusCode, retry_after: Option<u64>) -> HttpResponse {
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "Retry later",
        other => other.canonical_reason().unwrap_or("Error"),
    };
    let mut response = HttpResponse::build(status);
    if let Some(seconds) = retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response.json(ErrorBody {
        error: message.to_string(),
    })
}

//! Django REST Framework's error bodies (Tati "Getting Started" → status codes): `{"detail":
//! "..."}`, and for validation `{"field": ["message", ...]}`.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

#[derive(Debug)]
pub enum TatiError {
    /// No `Authorization` header: 401.
    NoCredentials,
    /// A token we do not know: 401.
    InvalidToken,
    /// 403.
    NoPermission,
    /// 404.
    NotFound,
    /// 405, naming the method.
    MethodNotAllowed(String),
    /// 400 with a `detail` (a body that is not JSON).
    BadRequest(String),
    /// 400 with messages per field (`non_field_errors` for the whole request).
    Invalid(BTreeMap<String, Vec<String>>),
    /// 413.
    TooLarge,
    /// 429: too many failed sign-ins; the seconds until the next try.
    Throttled(u64),
    /// 503: the server cannot serve now; the cause and the seconds for `Retry-After`.
    Unavailable(String, Option<u32>),
    /// A bug or an I/O failure; logged, never sent.
    Internal(String),
}

pub type TatiResult<T> = Result<T, TatiError>;

impl TatiError {
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        TatiError::Invalid(BTreeMap::from([(name.to_string(), vec![message.into()])]))
    }
}

impl From<Error> for TatiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(_) => TatiError::NotFound,
            Error::Forbidden(_) => TatiError::NoPermission,
            Error::Unauthenticated(_) => TatiError::InvalidToken,
            // DRF's unique validators fail like any other field validation: 400 by field.
            Error::Invalid { field, message } | Error::Duplicate { field, message } => {
                TatiError::field(&field, message)
            }
            Error::Conflict(m) | Error::Unprocessable(m) => TatiError::field("non_field_errors", m),
            Error::TooLarge(_) => TatiError::TooLarge,
            Error::Unavailable {
                message,
                retry_after,
            } => TatiError::Unavailable(message, retry_after),
            Error::Internal(cause) => TatiError::Internal(cause),
        }
    }
}

impl std::fmt::Display for TatiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[derive(Serialize)]
struct Detail {
    detail: String,
}

impl ResponseError for TatiError {
    fn status_code(&self) -> StatusCode {
        match self {
            TatiError::NoCredentials | TatiError::InvalidToken => StatusCode::UNAUTHORIZED,
            TatiError::NoPermission => StatusCode::FORBIDDEN,
            TatiError::NotFound => StatusCode::NOT_FOUND,
            TatiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            TatiError::BadRequest(_) | TatiError::Invalid(_) => StatusCode::BAD_REQUEST,
            TatiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            TatiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            TatiError::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
            TatiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let detail = match self {
            TatiError::NoCredentials => "Authentication credentials were not provided.".into(),
            TatiError::InvalidToken => "Invalid token.".into(),
            TatiError::NoPermission => "You do not have permission to perform this action.".into(),
            TatiError::NotFound => "Not found.".into(),
            TatiError::MethodNotAllowed(m) => format!("Method \"{m}\" not allowed."),
            TatiError::BadRequest(m) => m.clone(),
            TatiError::TooLarge => "Request body is too large.".into(),
            // DRF's `Throttled` exception: its detail, and the wait in `Retry-After`.
            TatiError::Throttled(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                let unit = if *seconds == 1 { "second" } else { "seconds" };
                format!("Request was throttled. Expected available in {seconds} {unit}.")
            }
            TatiError::Unavailable(message, retry_after) => {
                if let Some(seconds) = retry_after {
                    response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                }
                message.clone()
            }
            TatiError::Internal(cause) => {
                tracing::error!("tati face: {cause}");
                "A server error occurred.".into()
            }
            TatiError::Invalid(errors) => return response.json(errors),
        };
        if matches!(self, TatiError::NoCredentials | TatiError::InvalidToken) {
            // DRF's TokenAuthentication names its scheme on 401s.
            response.insert_header((header::WWW_AUTHENTICATE, "Token"));
        }
        response.json(Detail { detail })
    }
}

/// A stand-in's fault rule (`control::faults`): an answer with `status` as DRF sends it. A 429
/// is DRF's `Throttled`, a 500 `APIException`; any other status has DRF's wording where DRF
/// has an exception for it, else the status's reason.
pub fn fault(status: StatusCode, retry_after: Option<u64>) -> HttpResponse {
    let detail = match status {
        StatusCode::TOO_MANY_REQUESTS => {
            let mut response = HttpResponse::build(status);
            let detail = match retry_after {
                Some(seconds) => {
                    response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                    let unit = if seconds == 1 { "second" } else { "seconds" };
                    format!("Request was throttled. Expected available in {seconds} {unit}.")
                }
                None => "Request was throttled.".into(),
            };
            return response.json(Detail { detail });
        }
        StatusCode::INTERNAL_SERVER_ERROR => "A server error occurred.".into(),
        StatusCode::BAD_REQUEST => "Malformed request.".into(),
        StatusCode::UNAUTHORIZED => "Authentication credentials were not provided.".into(),
        StatusCode::FORBIDDEN => "You do not have permission to perform this action.".into(),
        StatusCode::NOT_FOUND => "Not found.".into(),
        StatusCode::NOT_ACCEPTABLE => "Could not satisfy the request Accept header.".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type in request.".into(),
        other => format!("{}.", other.canonical_reason().unwrap_or("Error")),
    };
    let mut response = HttpResponse::build(status);
    if let Some(seconds) = retry_after {
        response.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    response.json(Detail { detail })
}

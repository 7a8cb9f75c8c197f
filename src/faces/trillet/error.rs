//! Trillet's errors: `{"status": "error", "message": "..."}` (the face file's **Decision**; the
//! API introduction lists the codes).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;
use crate::faces::text::capitalized;

#[derive(Debug)]
pub struct TrilletError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for `Retry-After`, on a 503.
    pub retry_after: Option<u32>,
}

pub type TrilletResult<T> = Result<T, TrilletError>;

impl TrilletError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<Error> for TrilletError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(what) => Self::new(
                StatusCode::NOT_FOUND,
                capitalized(&format!("{what} not found.")),
            ),
            Error::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, m),
            Error::Unauthenticated(m) => Self::new(StatusCode::UNAUTHORIZED, m),
            Error::Invalid { field, message } => Self::bad_request(format!("{field} {message}")),
            Error::Conflict(m) | Error::Unprocessable(m) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, m)
            }
            Error::Duplicate { field, message } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{field} {message}"),
            ),
            Error::TooLarge(m) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, m),
            Error::Unavailable {
                message,
                retry_after,
            } => Self {
                retry_after,
                ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
            },
            Error::Internal(cause) => {
                tracing::error!("trillet face: {cause}");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

impl std::fmt::Display for TrilletError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    status: &'static str,
    message: &'a str,
}

impl ResponseError for TrilletError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(Body {
            status: "error",
            message: &self.message,
        })
    }
}

/// A stand-in's fault rule (`control::faults`): an answer with `status` in Trillet's shape. A
/// 429 says what Express's rate limiter says; a 500 what an unhandled error says here.
pub fn fault(status: StatusCode, retry_after: Option<u64>) -> HttpResponse {
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "Too many requests, please try again later.",
        StatusCode::INTERNAL_SERVER_ERROR => "Internal server error.",
        other => other.canonical_reason().unwrap_or("Error"),
    };
    let mut response = HttpResponse::build(status);
    if let Some(seconds) = retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response.json(Body {
        status: "error",
        message,
    })
}

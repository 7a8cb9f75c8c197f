//! The native API's error body: `{"error": {"code": "...", "message": "...", "field"?: "..."}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

/// The core error, rendered the native way.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Every error the native API (and the control plane) answers; the OpenAPI documents' `Error`.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct Body<'a> {
    error: Detail<'a>,
}

/// The schema of the error body, by the name the documents use.
pub type ErrorBody = Body<'static>;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "ErrorDetail")]
struct Detail<'a> {
    /// Machine-readable: `not_found`, `invalid`, `unauthenticated`, ...
    code: &'a str,
    message: String,
    /// The request field at fault, for `invalid` and `conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match &self.0 {
            Error::NotFound(_) => "not_found",
            Error::Forbidden(_) => "forbidden",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Invalid { .. } => "invalid",
            Error::Conflict(_) | Error::Duplicate { .. } => "conflict",
            Error::Unprocessable(_) => "unprocessable",
            Error::TooLarge(_) => "too_large",
            Error::Unavailable { .. } => "unavailable",
            Error::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            Error::Conflict(_) | Error::Duplicate { .. } => StatusCode::CONFLICT,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (message, field) = match &self.0 {
            Error::Internal(cause) => {
                tracing::error!("internal error: {cause}");
                ("internal server error".to_string(), None)
            }
            Error::Invalid { field, message } => {
                (format!("{field}: {message}"), Some(field.as_str()))
            }
            Error::Duplicate { field, message } => {
                (format!("{field} {message}"), Some(field.as_str()))
            }
            other => (other.to_string(), None),
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self.0, Error::Unauthenticated(_)) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(seconds) = self.0.retry_after() {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(Body {
            error: Detail {
                code: self.code(),
                message,
                field,
            },
        })
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// 405 for a method a path does not take, with the `Allow` header.
pub fn method_not_allowed(method: &actix_web::http::Method, allow: &str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", allow.to_string()))
        .json(Body {
            error: Detail {
                code: "method_not_allowed",
                message: format!("{method} is not allowed here; use {allow}"),
                field: None,
            },
        })
}

/// 416 for a range outside a file of `size` bytes.
pub fn range_not_satisfiable(size: u64) -> HttpResponse {
    HttpResponse::RangeNotSatisfiable().json(Body {
        error: Detail {
            code: "range_not_satisfiable",
            message: format!("the range is outside the file ({size} bytes)"),
            field: None,
        },
    })
}

/// 429 for a client that failed to sign in too often, with `Retry-After`.
pub fn too_many_attempts(seconds: u64) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header(("Retry-After", seconds.to_string()))
        .json(Body {
            error: Detail {
                code: "too_many_attempts",
                message: format!("too many failed sign-ins; try again in {seconds} seconds"),
                field: None,
            },
        })
}

/// A stand-in's fault rule (`control::faults`): an answer with `status` in the native format,
/// coded as the native API codes its own errors of that status.
pub fn fault(status: StatusCode, retry_after: Option<u64>) -> HttpResponse {
    let reason = status.canonical_reason().unwrap_or("error");
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("invalid", reason.to_lowercase()),
        StatusCode::UNAUTHORIZED => ("unauthenticated", reason.to_lowercase()),
        StatusCode::FORBIDDEN => ("forbidden", reason.to_lowercase()),
        StatusCode::NOT_FOUND => ("not_found", reason.to_lowercase()),
        StatusCode::CONFLICT => ("conflict", reason.to_lowercase()),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", reason.to_lowercase()),
        StatusCode::UNPROCESSABLE_ENTITY => ("unprocessable", reason.to_lowercase()),
        StatusCode::TOO_MANY_REQUESTS => (
            "too_many_requests",
            match retry_after {
                Some(seconds) => format!("too many requests; try again in {seconds} seconds"),
                None => "too many requests".into(),
            },
        ),
        StatusCode::SERVICE_UNAVAILABLE => ("unavailable", reason.to_lowercase()),
        StatusCode::INTERNAL_SERVER_ERROR => ("internal", "internal server error".into()),
        other if other.is_server_error() => ("internal", reason.to_lowercase()),
        _ => ("error", reason.to_lowercase()),
    };
    let mut response = HttpResponse::build(status);
    if let Some(seconds) = retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response.json(Body {
        error: Detail {
            code,
            message,
            field: None,
        },
    })
}

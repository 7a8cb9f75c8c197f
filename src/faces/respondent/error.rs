//! Every Respondent error is a NestJS exception body (developers.respondent.io: the Partner API
//! is a NestJS service): `{"statusCode", "message", "error"}`, with `message` a list for
//! validation failures.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::dto::{ErrorBody, ErrorMessage};
use crate::error::Error;
use crate::faces::text::capitalized;

#[derive(Debug)]
pub enum RespondentError {
    /// A core error, rendered once here.
    Core(Error),
    /// Request validation (NestJS `ValidationPipe`): every violated constraint.
    Invalid(Vec<String>),
    /// A body that is not JSON at all: body-parser's single message.
    Malformed(String),
    /// No route: NestJS answers `Cannot <METHOD> <path>`.
    NoRoute { method: String, path: String },
}

impl From<Error> for RespondentError {
    fn from(e: Error) -> Self {
        RespondentError::Core(e)
    }
}

impl std::fmt::Display for RespondentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RespondentError::Core(e) => e.fmt(f),
            RespondentError::Invalid(list) => f.write_str(&list.join("; ")),
            RespondentError::Malformed(text) => f.write_str(text),
            RespondentError::NoRoute { method, path } => write!(f, "Cannot {method} {path}"),
        }
    }
}

pub type RespondentResult<T> = Result<T, RespondentError>;

/// Core messages read "the conversation is locked"; NestJS services say "Conversation is
/// locked".
fn sentence(text: &str) -> String {
    capitalized(text.strip_prefix("the ").unwrap_or(text))
}

impl RespondentError {
    /// Status, message and the reason phrase NestJS puts in `error` (None: left out).
    fn parts(&self) -> (StatusCode, ErrorMessage, Option<&'static str>) {
        use ErrorMessage::{List, Text};
        match self {
            RespondentError::Invalid(list) => (
                StatusCode::BAD_REQUEST,
                List(list.clone()),
                Some("Bad Request"),
            ),
            RespondentError::Malformed(text) => (
                StatusCode::BAD_REQUEST,
                Text(text.clone()),
                Some("Bad Request"),
            ),
            RespondentError::NoRoute { method, path } => (
                StatusCode::NOT_FOUND,
                Text(format!("Cannot {method} {path}")),
                Some("Not Found"),
            ),
            RespondentError::Core(e) => match e {
                Error::NotFound(what) => (
                    StatusCode::NOT_FOUND,
                    Text(sentence(&format!("{what} not found"))),
                    Some("Not Found"),
                ),
                // `new UnauthorizedException()`: no `error` key.
                Error::Unauthenticated(_) => {
                    (StatusCode::UNAUTHORIZED, Text("Unauthorized".into()), None)
                }
                Error::Forbidden(text) => (
                    StatusCode::FORBIDDEN,
                    Text(sentence(text)),
                    Some("Forbidden"),
                ),
                Error::Invalid { field, message } => (
                    StatusCode::BAD_REQUEST,
                    List(vec![format!("{field} {message}")]),
                    Some("Bad Request"),
                ),
                Error::Conflict(text) => {
                    (StatusCode::CONFLICT, Text(sentence(text)), Some("Conflict"))
                }
                // NestJS `ConflictException`.
                Error::Duplicate { field, message } => (
                    StatusCode::CONFLICT,
                    Text(sentence(&format!("{field} {message}"))),
                    Some("Conflict"),
                ),
                Error::Unprocessable(text) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Text(sentence(text)),
                    Some("Unprocessable Entity"),
                ),
                // body-parser's text for an over-long body.
                Error::TooLarge(_) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Text("request entity too large".into()),
                    Some("Payload Too Large"),
                ),
                Error::Unavailable { message, .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Text(message.clone()),
                    Some("Service Unavailable"),
                ),
                // The cause is logged by `error_response`, never sent.
                Error::Internal(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Text("Internal server error".into()),
                    None,
                ),
            },
        }
    }
}

impl ResponseError for RespondentError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let RespondentError::Core(Error::Internal(cause)) = self {
            tracing::error!("internal error: {cause}");
        }
        let (status, message, error) = self.parts();
        let mut response = HttpResponse::build(status);
        if let RespondentError::Core(e) = self {
            if let Some(seconds) = e.retry_after() {
                response.insert_header(("Retry-After", seconds.to_string()));
            }
        }
        response.json(ErrorBody {
            status_code: status.as_u16(),
            message,
            error,
        })
    }
}

/// A stand-in's fault rule (`control::faults`): an answer with `status` as NestJS sends it. A
/// 429 is `@nestjs/throttler`'s `ThrottlerException`, a 500 an unhandled error, any other
/// status a built-in exception thrown without a message (its reason as the message, no
/// `error`).
pub fn fault(status: StatusCode, retry_after: Option<u64>) -> HttpResponse {
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "ThrottlerException: Too Many Requests",
        StatusCode::INTERNAL_SERVER_ERROR => "Internal server error",
        other => other.canonical_reason().unwrap_or("Error"),
    };
    let mut response = HttpResponse::build(status);
    if let Some(seconds) = retry_after {
        response.insert_header(("Retry-After", seconds.to_string()));
    }
    response.json(ErrorBody {
        status_code: status.as_u16(),
        message: ErrorMessage::Text(message.into()),
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn core_messages_become_sentences() {
        assert_eq!(
            sentence("the conversation is locked"),
            "Conversation is locked"
        );
        assert_eq!(sentence("conversation not found"), "Conversation not found");
        assert_eq!(sentence(""), "");
    }
}

//! Pigeons renders errors the Laravel way: `{"message": "..."}`, plus `"errors"` keyed by the
//! field's dotted path for validation failures (422).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::faces::text::capitalized;

/// Everything a Pigeons request can fail with. The core `Error` converts once (`From`).
#[derive(Debug)]
pub enum PigeonsError {
    /// No bearer token, or one that does not check out.
    Unauthenticated,
    /// A valid token without the `backoffice` ability.
    MissingAbility,
    /// `X-PUBLIC-KEY` missing, unknown, or another tenant's.
    InvalidPlatformKey,
    /// Laravel validation: `(field path, messages)` in rule order.
    Validation(Vec<(String, Vec<String>)>),
    /// No route under the prefix matches the path (`path` without its leading slash).
    RouteNotFound(String),
    /// The path exists with other methods.
    MethodNotAllowed {
        method: String,
        allowed: &'static str,
    },
    Core(Error),
}

impl From<Error> for PigeonsError {
    fn from(e: Error) -> Self {
        PigeonsError::Core(e)
    }
}

impl std::fmt::Display for PigeonsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

pub type PigeonsResult<T> = Result<T, PigeonsError>;

// EN/Pigeons/Endpoints/*.md: 422 bodies say "The given data was invalid." (Laravel's wording).
const INVALID: &str = "The given data was invalid.";

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

/// `"errors": {}` — Laravel's empty error bag.
#[derive(Serialize)]
struct NoErrors {}

#[derive(Serialize)]
struct PlatformKey<'a> {
    message: &'a str,
    errors: NoErrors,
}

#[derive(Serialize)]
struct Validation<'a> {
    message: &'a str,
    errors: FieldErrors<'a>,
}

/// The error bag in the order the fields were checked (a map would sort them).
struct FieldErrors<'a>(&'a [(String, Vec<String>)]);

impl Serialize for FieldErrors<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (field, messages) in self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// How a field the service names is called in Pigeons requests.
fn pigeons_field(field: &str) -> &str {
    match field {
        "body" => "context_text",
        "kind" => "context_type",
        "recipient" => "receiver_uuid",
        "participant" => "participant_uuid",
        other => other,
    }
}

/// Laravel's attribute name in messages: `context_text` → `context text`.
pub fn attribute(field: &str) -> String {
    field.replace('_', " ")
}

/// A core validation error as Laravel words it.
fn invalid_field(field: &str, message: &str) -> (String, Vec<String>) {
    let name = pigeons_field(field);
    let text = match (field, message) {
        ("recipient", _) | ("participant", "no such user") => {
            format!("The selected {} is invalid.", attribute(name))
        }
        _ => format!("The {} {}.", attribute(name), message.trim_end_matches('.')),
    };
    (name.to_string(), vec![text])
}

impl ResponseError for PigeonsError {
    fn status_code(&self) -> StatusCode {
        match self {
            PigeonsError::Unauthenticated | PigeonsError::InvalidPlatformKey => {
                StatusCode::UNAUTHORIZED
            }
            PigeonsError::MissingAbility => StatusCode::FORBIDDEN,
            PigeonsError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PigeonsError::RouteNotFound(_) => StatusCode::NOT_FOUND,
            PigeonsError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            PigeonsError::Core(e) => match e {
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
        let mut out = HttpResponse::build(self.status_code());
        match self {
            // Laravel's AuthenticationException.
            PigeonsError::Unauthenticated => out.json(Message {
                message: "Unauthenticated.",
            }),
            // Laravel's AuthorizationException (Sanctum's ability middleware).
            PigeonsError::MissingAbility => out.json(Message {
                message: "This action is unauthorized.",
            }),
            // EN/Pigeons (auth): the platform-key middleware answers with an empty error bag.
            PigeonsError::InvalidPlatformKey => out.json(PlatformKey {
                message: "Invalid platform key.",
                errors: NoErrors {},
            }),
            PigeonsError::Validation(errors) => out.json(Validation {
                message: INVALID,
                errors: FieldErrors(errors),
            }),
            // Laravel's router: NotFoundHttpException / MethodNotAllowedHttpException.
            PigeonsError::RouteNotFound(path) => out.json(Message {
                message: &format!("The route {path} could not be found."),
            }),
            PigeonsError::MethodNotAllowed { method, allowed } => {
                out.insert_header((header::ALLOW, allowed.to_string()));
                out.json(Message {
                    message: &format!(
                        "The {method} method is not supported for this route. Supported methods: {allowed}."
                    ),
                })
            }
            PigeonsError::Core(e) => match e {
                // EN/Pigeons/Endpoints/ConversationMessagesIndex.md, MessagesRead.md:
                // "Conversation not found", "Message not found".
                Error::NotFound(noun) => out.json(Message {
                    message: &format!("{} not found", capitalized(noun)),
                }),
                // EN/Pigeons/Endpoints/MessagesRead.md: 403 {"message": "Unauthorized"}.
                Error::Forbidden(_) => out.json(Message {
                    message: "Unauthorized",
                }),
                Error::Unauthenticated(_) => out.json(Message {
                    message: "Unauthenticated.",
                }),
                // Laravel's `unique` rule fails like any other rule: 422 by field.
                Error::Invalid { field, message } | Error::Duplicate { field, message } => out
                    .json(Validation {
                        message: INVALID,
                        errors: FieldErrors(&[invalid_field(field, message)]),
                    }),
                Error::Conflict(text) | Error::Unprocessable(text) => {
                    out.json(Message { message: text })
                }
                Error::TooLarge(_) => out.json(Message {
                    message: "The POST data is too large.",
                }),
                Error::Unavailable {
                    message,
                    retry_after,
                } => {
                    if let Some(seconds) = retry_after {
                        out.insert_header((header::RETRY_AFTER, seconds.to_string()));
                    }
                    out.json(Message { message })
                }
                Error::Internal(cause) => {
                    tracing::error!("internal error: {cause}");
                    // Laravel's production message for unhandled exceptions.
                    out.json(Message {
                        message: "Server Error",
                    })
                }
            },
        }
    }
}

/// A stand-in's fault rule (`control::faults`): an answer with `status` as Laravel sends it.
/// Laravel's throttle middleware says "Too Many Attempts."; an unhandled exception is "Server
/// Error"; any other status is an `abort(status)`, worded with the status's reason.
pub fn fault(status: StatusCode, retry_after: Option<u64>) -> HttpResponse {
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => "Too Many Attempts.",
        StatusCode::INTERNAL_SERVER_ERROR => "Server Error",
        other => other.canonical_reason().unwrap_or("Error"),
    };
    let mut out = HttpResponse::build(status);
    if let Some(seconds) = retry_after {
        out.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    out.json(Message { message })
}

//! The one error type of the core. Faces and the native API render it in their own formats;
//! internal causes are logged where they are turned into a response, never sent to clients.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist *for this caller* (another tenant's ids land here too).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No credentials, or credentials that do not check out.
    #[error("{0}")]
    Unauthenticated(String),
    /// Client input that does not parse or breaks a rule; `field` names the JSON path.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request is well-formed but conflicts with what is stored (duplicates, state).
    #[error("{0}")]
    Conflict(String),
    /// A value that must be unique is already taken: `field` names the input that holds it,
    /// `message` says what is wrong with it ("is taken in this tenant").
    #[error("{field} {message}")]
    Duplicate { field: String, message: String },
    /// The request is understood but the state of the target does not allow it.
    #[error("{0}")]
    Unprocessable(String),
    /// The request body is over the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// The server cannot serve this now (storage full or damaged, overloaded). The message
    /// names the cause in words a client may see; `retry_after` (seconds) is sent as
    /// `Retry-After` when the condition is expected to pass.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<u32>,
    },
    /// A bug or an I/O failure. The text is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden(message.into())
    }

    pub fn unavailable(message: impl Into<String>, retry_after: Option<u32>) -> Self {
        Error::Unavailable {
            message: message.into(),
            retry_after,
        }
    }

    /// The `Retry-After` seconds to send with this error, if any.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Error::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn internal(cause: impl fmt::Display) -> Self {
        Error::Internal(cause.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if let Some(fault) = StorageFault::of_sqlite(&e) {
            return fault.error();
        }
        if let rusqlite::Error::SqliteFailure(code, msg) = &e {
            if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            {
                // SQLite's text names tables and columns: it goes to the log, never to a client.
                let columns = msg
                    .as_deref()
                    .and_then(|m| m.strip_prefix("UNIQUE constraint failed: "))
                    .unwrap_or_default();
                return match crate::store::constraints::duplicate(columns) {
                    Some((field, message)) => Error::Duplicate {
                        field: field.into(),
                        message: message.into(),
                    },
                    None => {
                        tracing::warn!("unexpected uniqueness failure: {e}");
                        Error::Conflict("this conflicts with a record that already exists".into())
                    }
                };
            }
        }
        Error::Internal(e.to_string())
    }
}

/// A database error that is about the storage rather than the request: the disk is full, or the
/// file is damaged. Clients get a 503 naming the cause; the store watches for these to stop
/// writes and turn `/readyz` red (`store::health`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFault {
    /// SQLITE_FULL: the disk (or `max_page_count`) has no room for the write.
    Full,
    /// SQLITE_CORRUPT or SQLITE_NOTADB: the file is malformed.
    Damaged,
}

impl StorageFault {
    const FULL: &'static str = "the server's storage is full; the change was not stored";
    const DAMAGED: &'static str =
        "the server's database file is damaged; an administrator must restore it from a backup";

    pub fn of_sqlite(e: &rusqlite::Error) -> Option<StorageFault> {
        match e.sqlite_error_code()? {
            rusqlite::ErrorCode::DiskFull => Some(StorageFault::Full),
            rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => {
                Some(StorageFault::Damaged)
            }
            _ => None,
        }
    }

    /// The fault an error stands for, when it is one of ours.
    pub fn of(e: &Error) -> Option<StorageFault> {
        match e {
            Error::Unavailable { message, .. } if message == Self::FULL => Some(StorageFault::Full),
            Error::Unavailable { message, .. } if message == Self::DAMAGED => {
                Some(StorageFault::Damaged)
            }
            _ => None,
        }
    }

    /// The 503 clients see. A full disk usually clears once someone frees space, so clients
    /// are told to come back; a damaged file needs a person and a backup.
    pub fn error(self) -> Error {
        match self {
            StorageFault::Full => Error::unavailable(Self::FULL, Some(60)),
            StorageFault::Damaged => Error::unavailable(Self::DAMAGED, None),
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::Internal(format!("read pool: {e}"))
    }
}

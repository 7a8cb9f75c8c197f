//! Reading a request body as a JSON object, for the faces that read bodies field by field
//! (as Rails, Django, Laravel and NestJS do); each renders `BodyError` its own way.

use actix_web::web;

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

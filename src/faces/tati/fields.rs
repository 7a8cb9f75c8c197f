//! Request bodies read the way a DRF serializer reads them: every field's problems at once, in
//! DRF's words.

use std::collections::BTreeMap;

use actix_web::web;
use serde_json::{Map, Value};

use super::error::{TatiError, TatiResult};
use crate::faces::body::{json_object, BodyError};

pub struct Fields {
    body: Map<String, Value>,
    errors: BTreeMap<String, Vec<String>>,
}

impl Fields {
    pub fn from_body(bytes: Result<web::Bytes, actix_web::Error>) -> TatiResult<Fields> {
        let body = json_object(bytes).map_err(|e| match e {
            BodyError::TooLarge => TatiError::TooLarge,
            e @ (BodyError::NotAnObject | BodyError::NotJson(..)) => {
                TatiError::BadRequest(format!("JSON parse error - {}", e.reason()))
            }
            BodyError::Unreadable(why) => TatiError::BadRequest(why),
        })?;
        Ok(Fields {
            body,
            errors: BTreeMap::new(),
        })
    }

    fn complain(&mut self, key: &str, message: String) {
        self.errors
            .entry(key.to_string())
            .or_default()
            .push(message);
    }

    /// A text field. Absent: None (an error when `required`); blank, null or not text: an
    /// error.
    pub fn string(&mut self, key: &str, required: bool) -> Option<String> {
        match self.body.get(key) {
            None => {
                if required {
                    self.complain(key, "This field is required.".into());
                }
                None
            }
            Some(Value::Null) => {
                self.complain(key, "This field may not be null.".into());
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.complain(key, "This field may not be blank.".into());
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                self.complain(key, "Not a valid string.".into());
                None
            }
        }
    }

    /// One of `choices`.
    pub fn choice(&mut self, key: &str, required: bool, choices: &[&str]) -> Option<String> {
        let value = self.string(key, required)?;
        if choices.contains(&value.as_str()) {
            Some(value)
        } else {
            self.complain(key, format!("\"{value}\" is not a valid choice."));
            None
        }
    }

    pub fn finish(self) -> TatiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(TatiError::Invalid(self.errors))
        }
    }
}

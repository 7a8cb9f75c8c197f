//! Request bodies as a Rails controller reads them: `params.require(:message)` answers 400
//! when the key is missing, numbers may arrive as JSON numbers or numeric strings, and every
//! field's problems are reported together in one 422.

use std::collections::BTreeMap;

use actix_web::web;
use serde_json::{Map, Value};

use super::error::{MdliveError, MdliveResult};
use crate::error::Error;
use crate::faces::body::{json_object, BodyError};

/// A JSON object body, or one of its nested objects.
pub struct Params(Map<String, Value>);

impl Params {
    /// An empty body is an empty object (every `require` then answers 400).
    pub fn from_body(bytes: Result<web::Bytes, actix_web::Error>) -> MdliveResult<Params> {
        json_object(bytes).map(Params).map_err(|e| match e {
            BodyError::TooLarge => {
                MdliveError::Core(Error::TooLarge("The request body is too large".into()))
            }
            e @ (BodyError::NotAnObject | BodyError::NotJson(..)) => {
                MdliveError::BadRequest(format!(
                    "Error occurred while parsing request parameters: {}",
                    e.reason()
                ))
            }
            BodyError::Unreadable(why) => {
                MdliveError::BadRequest(format!("The request body could not be read: {why}"))
            }
        })
    }

    /// The nested object under `key`; 400 when it is missing, empty or not an object.
    pub fn require(&self, key: &'static str) -> MdliveResult<Params> {
        match self.0.get(key) {
            Some(Value::Object(map)) if !map.is_empty() => Ok(Params(map.clone())),
            _ => Err(MdliveError::ParameterMissing(key)),
        }
    }

    /// Reads fields, collecting every problem.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            params: self,
            errors: BTreeMap::new(),
        }
    }
}

pub struct Fields<'a> {
    params: &'a Params,
    errors: BTreeMap<String, Vec<String>>,
}

impl Fields<'_> {
    fn complain(&mut self, key: &str, message: &str) {
        self.errors
            .entry(key.to_string())
            .or_default()
            .push(message.to_string());
    }

    /// A string; numbers are taken as their text. Blank counts as absent.
    pub fn string(&mut self, key: &str, required: bool) -> Option<String> {
        let text = match self.params.0.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                self.complain(key, "must be a string");
                return None;
            }
        };
        if text.is_none() && required {
            self.complain(key, "can't be blank");
        }
        text
    }

    /// An integer, as a JSON number or a numeric string.
    pub fn integer(&mut self, key: &str, required: bool) -> Option<i64> {
        let value = match self.params.0.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Some(i),
                None => {
                    self.complain(key, "must be an integer");
                    return None;
                }
            },
            Some(Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(i) => Some(i),
                Err(_) => {
                    self.complain(key, "is not a number");
                    return None;
                }
            },
            Some(_) => {
                self.complain(key, "is not a number");
                return None;
            }
        };
        if value.is_none() && required {
            self.complain(key, "can't be blank");
        }
        value
    }

    /// Records a problem found by the caller.
    pub fn invalid(&mut self, key: &str, message: &str) {
        self.complain(key, message);
    }

    /// 422 with every problem, if there were any.
    pub fn finish(self) -> MdliveResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(MdliveError::Invalid(self.errors))
        }
    }
}

/// `page`/`per` query values: `page` from 1 (default 1), `per` 1–100 (default 20; larger
/// values are capped at 100, as the vendor caps them).
pub fn paging(query: &str) -> MdliveResult<(u32, u32)> {
    let mut page = 1;
    let mut per = 20;
    let mut errors = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let target = match key.as_ref() {
            "page" => &mut page,
            "per" => &mut per,
            _ => continue,
        };
        match value.trim().parse::<u32>() {
            Ok(n) if n >= 1 => *target = n,
            _ => {
                errors.insert(
                    key.into_owned(),
                    vec!["must be a whole number of at least 1".to_string()],
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(MdliveError::Invalid(errors));
    }
    Ok((page, per.min(100)))
}

//! Laravel-style request validation: the body is read as a JSON object (a body that is not one
//! validates like an empty one, as in Laravel), every rule of every field is checked, and all
//! failures come back together, keyed by dotted path, in rule order.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use serde_json::{Map, Value};

use super::dto::{OpenConversation, React, RegisterDevice, SendMessage, DEVICE_FIELDS};
use super::error::{attribute, PigeonsError};
use crate::domain::{MessageKind, Tag};
use crate::error::Error;
use crate::faces::body::{json_object, BodyError};

// EN/Pigeons/Endpoints/MessagesStore.md: context_text max:5000.
pub const MAX_TEXT: usize = 5000;
// EN/Pigeons/Endpoints/MessagesReactionsStore.md: emoji max:10.
pub const MAX_EMOJI: usize = 10;
/// Decision: the vendor does not say; FCM and APNs tokens fit well within this.
pub const MAX_DEVICE_TOKEN: usize = 512;
/// Laravel's usual `max:255` for short strings (device fields, taggable_type).
pub const MAX_SHORT: usize = 255;

pub const CONTEXT_TYPES: &[&str] = &["text", "image", "file", "audio", "video"];
pub const DEVICE_TYPES: &[&str] = &["mobile", "web", "desktop"];
pub const PLATFORMS: &[&str] = &["android", "ios", "web"];

/// A request body as a JSON object.
pub struct Input(pub Map<String, Value>);

impl FromRequest for Input {
    type Error = PigeonsError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PigeonsError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            // Laravel validates a body that is not a JSON object as an empty one.
            match json_object(bytes.await) {
                Ok(map) => Ok(Input(map)),
                Err(BodyError::NotAnObject | BodyError::NotJson(..)) => Ok(Input(Map::new())),
                Err(BodyError::TooLarge) => Err(PigeonsError::Core(Error::TooLarge(
                    "body over the configured limit".into(),
                ))),
                Err(BodyError::Unreadable(_)) => Err(PigeonsError::Core(Error::invalid(
                    "body",
                    "could not be read",
                ))),
            }
        })
    }
}

/// Collects failures while reading fields.
struct Rules<'a> {
    input: &'a Map<String, Value>,
    errors: Vec<(String, Vec<String>)>,
}

impl<'a> Rules<'a> {
    fn new(input: &'a Map<String, Value>) -> Self {
        Rules {
            input,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, field: &str, message: String) {
        match self.errors.iter_mut().find(|(f, _)| f == field) {
            Some((_, messages)) => messages.push(message),
            None => self.errors.push((field.to_string(), vec![message])),
        }
    }

    /// The value at a dotted path. Laravel trims strings and turns empty ones into null
    /// (TrimStrings, ConvertEmptyStringsToNull), so those count as absent, as do null and `[]`.
    fn get(&self, path: &str) -> Option<&'a Value> {
        let mut parts = path.split('.');
        let mut value = self.input.get(parts.next()?)?;
        for part in parts {
            value = value.as_object()?.get(part)?;
        }
        match value {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::Array(a) if a.is_empty() => None,
            Value::Object(o) if o.is_empty() => None,
            v => Some(v),
        }
    }

    fn required(&mut self, path: &str) -> Option<&'a Value> {
        let value = self.get(path);
        if value.is_none() {
            self.fail(path, format!("The {} field is required.", attribute(path)));
        }
        value
    }

    /// `string|max:N` on a present value; the trimmed string when it passes.
    fn string(&mut self, path: &str, value: Option<&Value>, max: usize) -> Option<String> {
        match value? {
            Value::String(s) => {
                let s = s.trim();
                if s.chars().count() > max {
                    self.fail(
                        path,
                        format!(
                            "The {} may not be greater than {max} characters.",
                            attribute(path)
                        ),
                    );
                    return None;
                }
                Some(s.to_string())
            }
            _ => {
                self.fail(path, format!("The {} must be a string.", attribute(path)));
                None
            }
        }
    }

    /// `in:a,b,c` on a present value.
    fn one_of(&mut self, path: &str, value: Option<&Value>, choices: &[&str]) -> Option<String> {
        let value = value?;
        match value.as_str().map(str::trim) {
            Some(s) if choices.contains(&s) => Some(s.to_string()),
            _ => {
                self.fail(
                    path,
                    format!("The selected {} is invalid.", attribute(path)),
                );
                None
            }
        }
    }

    fn required_string(&mut self, path: &str, max: usize) -> Option<String> {
        let value = self.required(path);
        self.string(path, value, max)
    }

    fn optional_string(&mut self, path: &str, max: usize) -> Option<String> {
        let value = self.get(path);
        self.string(path, value, max)
    }

    /// `nullable|array` where a list is expected.
    fn optional_list(&mut self, path: &str) -> Option<Value> {
        match self.get(path)? {
            v @ Value::Array(_) => Some(v.clone()),
            _ => {
                self.fail(path, format!("The {} must be an array.", attribute(path)));
                None
            }
        }
    }

    /// `nullable|array` where a key-value object is expected.
    fn optional_object(&mut self, path: &str) -> Option<Value> {
        match self.get(path)? {
            v @ Value::Object(_) => Some(v.clone()),
            _ => {
                self.fail(path, format!("The {} must be an array.", attribute(path)));
                None
            }
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, PigeonsError> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(PigeonsError::Validation(self.errors)),
        }
    }
}

/// EN/Pigeons/Endpoints/ConversationsStore.md.
pub fn open_conversation(input: &Map<String, Value>) -> Result<OpenConversation, PigeonsError> {
    let mut r = Rules::new(input);
    let participant = r.required_string("participant_uuid", MAX_SHORT);
    let kind = r.optional_string("taggable_type", MAX_SHORT);
    let id = match r.get("taggable_id") {
        Some(v @ (Value::Number(_) | Value::String(_))) => Some(v.clone()),
        Some(_) => {
            r.fail(
                "taggable_id",
                "The taggable id must be a string or an integer.".into(),
            );
            None
        }
        None => None,
    };
    if id.is_some() && r.get("taggable_type").is_none() {
        r.fail(
            "taggable_type",
            "The taggable type field is required when taggable id is present.".into(),
        );
    }
    let tag = kind.map(|kind| Tag {
        kind,
        id,
        info: None,
    });
    r.finish(participant.map(|participant_uuid| OpenConversation {
        participant_uuid,
        tag,
    }))
}

/// EN/Pigeons/Endpoints/MessagesStore.md.
pub fn send_message(input: &Map<String, Value>) -> Result<SendMessage, PigeonsError> {
    let mut r = Rules::new(input);
    let conversation = r.required_string("conversation_uuid", MAX_SHORT);
    let receiver = r.required_string("receiver_uuid", MAX_SHORT);
    let text = r.required_string("context_text", MAX_TEXT);
    let kind = r.required("context_type");
    let kind = r
        .one_of("context_type", kind, CONTEXT_TYPES)
        .and_then(|k| MessageKind::parse(&k));
    let attachments = r.optional_list("attachments");
    let metadata = r.optional_object("metadata");
    let device = r.required("device");
    if device.is_some_and(|d| !d.is_object()) {
        r.fail("device", "The device must be an array.".into());
    }
    let mut fields = Map::new();
    for name in DEVICE_FIELDS {
        let path = format!("device.{name}");
        let value = match *name {
            "type" => {
                let v = r.required(&path);
                r.one_of(&path, v, DEVICE_TYPES)
            }
            "os" => r.required_string(&path, MAX_SHORT),
            _ => r.optional_string(&path, MAX_SHORT),
        };
        if let Some(v) = value {
            fields.insert((*name).to_string(), Value::String(v));
        }
    }
    let request = (|| {
        Some(SendMessage {
            conversation_uuid: conversation?,
            receiver_uuid: receiver?,
            text: text?,
            kind: kind?,
            attachments,
            metadata,
            device: Value::Object(fields),
        })
    })();
    r.finish(request)
}

/// EN/Pigeons/Endpoints/MessagesReactionsStore.md.
pub fn react(input: &Map<String, Value>) -> Result<React, PigeonsError> {
    let mut r = Rules::new(input);
    let emoji = r.required_string("emoji", MAX_EMOJI);
    r.finish(emoji.map(|emoji| React { emoji }))
}

/// EN/Pigeons/Endpoints/DevicesStore.md.
pub fn register_device(input: &Map<String, Value>) -> Result<RegisterDevice, PigeonsError> {
    let mut r = Rules::new(input);
    let token = r.required_string("token", MAX_DEVICE_TOKEN);
    let platform = r.required("platform");
    let platform = r.one_of("platform", platform, PLATFORMS);
    // Decision: the vendor leaves `device` open; a name or an object of details is kept as given.
    let device = match r.get("device") {
        Some(v @ (Value::String(_) | Value::Object(_))) => Some(v.clone()),
        Some(_) => {
            r.fail("device", "The device must be a string.".into());
            None
        }
        None => None,
    };
    let request = (|| {
        Some(RegisterDevice {
            token: token?,
            platform: platform?,
            device,
        })
    })();
    r.finish(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(e: PigeonsError) -> Vec<(String, Vec<String>)> {
        match e {
            PigeonsError::Validation(v) => v,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn an_empty_send_names_every_required_field_in_rule_order() {
        let Value::Object(empty) = json!({}) else {
            unreachable!()
        };
        let e = errors(send_message(&empty).err().unwrap());
        let fields: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "conversation_uuid",
                "receiver_uuid",
                "context_text",
                "context_type",
                "device",
                "device.type",
                "device.os"
            ]
        );
        assert_eq!(e[2].1, ["The context text field is required."]);
        assert_eq!(e[5].1, ["The device.type field is required."]);
    }
}

//! The OpenAPI 3.1 documents (`/parlor/v1/openapi.json`, `/__parlor/openapi.json`): each is a
//! well-formed document, and every operation it lists answers, live, what it says.

mod control;
mod document;
mod native;

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::Resp;

/// A served document, and which of its operations a test has seen succeed.
pub struct Contract {
    doc: Value,
    /// Every component schema closed to properties it does not name, so that a reply carrying a
    /// field its type does not declare fails, not just one missing a declared field.
    closed: Value,
    seen: RefCell<BTreeSet<(String, String)>>,
}

impl Contract {
    pub fn new(doc: Value) -> Self {
        let mut closed = doc["components"].clone();
        if let Some(Value::Object(schemas)) = closed.get_mut("schemas") {
            for schema in schemas.values_mut() {
                close(schema);
            }
        }
        Contract {
            doc,
            closed,
            seen: RefCell::new(BTreeSet::new()),
        }
    }

    /// Every (method, path template) the document lists.
    pub fn operations(&self) -> BTreeSet<(String, String)> {
        let mut all = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                all.insert((method.to_uppercase(), path.clone()));
            }
        }
        all
    }

    /// Checks a live answer to `method path` (no query string) against the document: the
    /// status is one the operation declares (or its `default`), and the body matches that
    /// response's schema or media type. A 2xx counts the operation as exercised.
    pub fn check(&self, method: &str, path: &str, r: &Resp) {
        let template = self
            .template(path)
            .unwrap_or_else(|| panic!("{path} is no path of the document"));
        let operation = &self.doc["paths"][&template][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not in the document"
        );
        let responses = &operation["responses"];
        let status = r.status.to_string();
        let response = if responses[&status].is_object() {
            &responses[&status]
        } else {
            &responses["default"]
        };
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which the document does not declare"
        );
        let content = &response["content"];
        match content.as_object() {
            None => assert!(
                r.text.is_empty(),
                "{method} {path}: the document says no body, got {}",
                r.text
            ),
            Some(media) => {
                let got = r.header("content-type").unwrap_or("");
                let declared = media
                    .keys()
                    .find(|m| essence(m) == essence(got))
                    .unwrap_or_else(|| {
                        panic!("{method} {path}: {got} is not among {:?}", media.keys())
                    });
                if let Some(schema) = media[declared].get("schema") {
                    let errors = self.errors(schema, &r.body);
                    assert!(
                        errors.is_empty(),
                        "{method} {path} ({status}) does not match its schema: {errors:#?}\n{}",
                        r.text
                    );
                }
            }
        }
        if (200..300).contains(&r.status) {
            self.seen
                .borrow_mut()
                .insert((method.to_uppercase(), template));
        }
    }

    /// Fails naming every operation of the document that no check saw succeed.
    pub fn assert_all_exercised(&self) {
        let seen = self.seen.borrow();
        let missing: Vec<_> = self.operations().difference(&seen).cloned().collect();
        assert!(
            missing.is_empty(),
            "operations of the document never exercised: {missing:#?}"
        );
    }

    fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.closed,
            "allOf": [schema],
        });
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .expect("the schema compiles");
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }

    /// The document's path template that `path` is an instance of, preferring literal
    /// segments over `{parameters}`.
    fn template(&self, path: &str) -> Option<String> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .keys()
            .filter_map(|t| {
                let parts: Vec<&str> = t.split('/').collect();
                if parts.len() != wanted.len() {
                    return None;
                }
                let mut literal = 0;
                for (p, w) in parts.iter().zip(&wanted) {
                    if p.starts_with('{') && p.ends_with('}') && !w.is_empty() {
                        continue;
                    }
                    if p != w {
                        return None;
                    }
                    literal += 1;
                }
                Some((literal, t.clone()))
            })
            .max()
            .map(|(_, t)| t)
    }
}

/// `application/json; charset=utf-8` → `application/json`.
fn essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Adds `unevaluatedProperties: false` to an object schema that names its properties.
fn close(schema: &mut Value) {
    if let Value::Object(map) = schema {
        if map.contains_key("properties")
            && !map.contains_key("additionalProperties")
            && !map.contains_key("unevaluatedProperties")
        {
            map.insert("unevaluatedProperties".into(), Value::Bool(false));
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(Value::Array(items)) = map.get_mut(key) {
                items.iter_mut().for_each(close);
            }
        }
    }
}

/// Every `$ref` anywhere in `value`.
pub fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// Resolves a local `$ref` (`#/components/schemas/X`) in `doc`.
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

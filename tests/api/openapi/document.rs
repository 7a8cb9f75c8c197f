//! Both documents are OpenAPI 3.1 as the specification shapes it, and self-contained.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{refs, resolve};
use crate::helpers::{python_check, spawn_demo};

/// What a client generator relies on: the version, `info`, `paths` whose operations each have
/// a unique `operationId`, declared path parameters and responses, component names of the
/// allowed characters, and every `$ref` resolving inside the document.
fn assert_well_formed(doc: &Value, base: &str) {
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "{version}");
    assert!(doc["info"]["title"].is_string());
    assert!(doc["info"]["version"].is_string());
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in schemas.keys() {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)),
            "component name {name} is not allowed by OpenAPI"
        );
    }
    let mut ids = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        assert!(path.starts_with(base), "{path}");
        let declared: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().expect("path item") {
            assert!(
                ["get", "put", "post", "delete", "patch"].contains(&method.as_str()),
                "{method}"
            );
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "operationId {id} twice");
            assert!(op["summary"].is_string());
            let in_path: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().expect("name"))
                .collect();
            assert_eq!(in_path, declared, "{method} {path}");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} has no success response"
            );
            assert!(responses.contains_key("default"));
        }
    }
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(!all.is_empty());
    for r in &all {
        assert!(resolve(doc, r).is_some(), "$ref {r} resolves to nothing");
    }
}

#[test]
fn the_native_document_is_openapi_3_1_and_every_ref_resolves() {
    let app = spawn_demo();
    let r = app.get("/parlor/v1/openapi.json").send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_well_formed(&r.body, "/parlor/v1/");
    assert_valid_openapi(&r.body);
    // Generated from the DTOs: a request type rejects unknown fields, a reply names each of
    // its fields, and the error body is the one every failure answers.
    let schemas = &r.body["components"]["schemas"];
    assert_eq!(schemas["CreateConversation"]["additionalProperties"], false);
    assert!(schemas["MessageDto"]["required"]
        .as_array()
        .unwrap()
        .contains(&"created_at".into()));
    assert_eq!(
        schemas["Error"]["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorDetail"
    );
    let send = &r.body["paths"]["/parlor/v1/conversations/{conv}/messages"]["post"];
    assert_eq!(
        send["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/SendMessage"
    );
    assert!(send["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"));
    let list = &r.body["paths"]["/parlor/v1/conversations"]["get"]["parameters"];
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "as" && p["in"] == "query"));
}

#[test]
fn the_control_plane_document_is_openapi_3_1_and_every_ref_resolves() {
    let app = spawn_demo();
    let r = app.get("/__parlor/openapi.json").admin().send();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_well_formed(&r.body, "/__parlor");
    assert_valid_openapi(&r.body);
}

fn validator_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_OPENAPI_VALIDATOR").is_ok_and(|v| v == "1")
}

const VALIDATE: &str = r#"
import json, sys
from openapi_spec_validator import validate
try:
    validate(json.load(sys.stdin))
except Exception as e:
    print("invalid:", e)
    sys.exit(3)
print("valid")
"#;

/// The document checked by an independent implementation against the OpenAPI 3.1
/// specification's own schema (`openapi-spec-validator` from PyPI); skipped, saying so, when
/// it is not installed and not required.
fn assert_valid_openapi(doc: &Value) {
    let Some((code, stdout, stderr)) = python_check(
        VALIDATE,
        doc,
        "openapi-spec-validator",
        validator_required(),
    ) else {
        return;
    };
    assert_eq!(code, Some(0), "{stdout} {stderr}");
}

//! A value that must be unique and is already taken is answered with the input field at fault
//! and plain words, never with the database's table and column names.

use parlor::fixture::{self, Document};
use serde_json::{json, Value};

use crate::helpers::*;

/// Nothing in an answer may come from SQLite's own text.
fn assert_no_database_text(body: &Value) {
    let text = body.to_string();
    for leak in [
        "users.",
        "tenants.",
        "tokens.",
        "api_keys.",
        "tenant_id",
        "token_hash",
        "secret_hash",
        "UNIQUE",
        "constraint",
        "an entry with the same",
    ] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
}

fn assert_taken(r: &Resp, field: &str, message: &str) {
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"error": {"code": "conflict", "message": message, "field": field}})
    );
    assert_no_database_text(&r.body);
}

#[test]
fn a_taken_username_names_the_field_not_the_columns() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let first = app.create_user(t, json!({"role": "staff", "username": "desk"}));
    let post = |body: Value| app.post("/parlor/v1/users").admin().tenant(t).json(&body);

    let r = post(json!({"role": "staff", "username": "desk"}));
    assert_taken(&r, "username", "username is taken in this tenant");

    // Renaming someone else to it is the same refusal.
    let other = app.create_user(t, json!({"role": "staff", "username": "other"}));
    let r = app
        .patch(&format!("/parlor/v1/users/{}", other["id"]))
        .admin()
        .tenant(t)
        .json(&json!({"username": "desk"}));
    assert_taken(&r, "username", "username is taken in this tenant");

    // The same name in another tenant is fine.
    let elsewhere = app.create_tenant("Elsewhere");
    app.create_user(elsewhere, json!({"role": "staff", "username": "desk"}));

    let r = post(json!({"uuid": first["uuid"]}));
    assert_taken(&r, "uuid", "uuid is already used by another user");
    let r = post(json!({"oid": first["oid"]}));
    assert_taken(&r, "oid", "oid is already used by another user");
}

#[test]
fn taken_tenant_keys_name_their_field() {
    let app = spawn_app();
    let r = app.post("/parlor/v1/tenants").admin().json(&json!({
        "name": "First", "public_key": "pk_1", "workspace_id": "ws_1"
    }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let post = |body: Value| app.post("/parlor/v1/tenants").admin().json(&body);
    assert_taken(
        &post(json!({"name": "Second", "public_key": "pk_1"})),
        "public_key",
        "public_key is already used by another tenant",
    );
    assert_taken(
        &post(json!({"name": "Second", "workspace_id": "ws_1"})),
        "workspace_id",
        "workspace_id is already used by another tenant",
    );
}

fn load(app: &TestApp, doc: &Value) -> String {
    let doc = Document::parse(&doc.to_string()).unwrap();
    fixture::load_blocking(&app.service, doc)
        .unwrap_err()
        .to_string()
}

#[test]
fn fixture_duplicates_name_the_json_path_and_field() {
    let app = spawn_app();
    let doc = json!({
        "tenants": [{"key": "t", "name": "T", "api_keys": [
            {"key": "k1", "secret": "secret-one-123"},
            {"key": "k1", "secret": "secret-two-456"}
        ]}],
        "users": []
    });
    let err = load(&app, &doc);
    assert_eq!(
        err,
        "tenants[0].api_keys[1].key: is already used by another API key"
    );

    let doc = json!({
        "tenants": [{"key": "t", "name": "T"}],
        "users": [
            {"key": "a", "tenant": "t", "role": "staff", "tokens": [{"token": "same-token-1234"}]},
            {"key": "b", "tenant": "t", "role": "staff", "tokens": [
                {"token": "other-token-123"}, {"token": "same-token-1234"}
            ]}
        ]
    });
    let err = load(&app, &doc);
    assert_eq!(err, "users[1].tokens[1].token: is already registered");

    let doc = json!({
        "tenants": [{"key": "t", "name": "T"}],
        "users": [
            {"key": "a", "tenant": "t", "role": "staff", "username": "desk"},
            {"key": "b", "tenant": "t", "role": "staff", "username": "desk"}
        ]
    });
    let err = load(&app, &doc);
    assert_eq!(err, "users[1].username: is taken in this tenant");
}

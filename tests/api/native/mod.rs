//! The native API: every endpoint, its auth failures and its bad input.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use crate::helpers::*;

mod authority;
mod bad_input;
mod conversations;
mod credentials;
mod isolation;
mod known_callers;
mod messages;
mod read_state;
mod session;
mod tenants;
mod users;

#[test]
fn health_and_readiness_answer() {
    let app = spawn_app();
    let r = app.get("/healthz").send();
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
    let r = app.get("/readyz").send();
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
}

#[test]
fn a_reply_played_through_the_native_api_raises_the_patients_unread_count() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let patient = app.create_user(t, json!({"role": "patient", "display_name": "Pat"}))["id"]
        .as_i64()
        .unwrap();
    let provider = app.create_user(t, json!({"role": "provider", "display_name": "Dr P"}))["id"]
        .as_i64()
        .unwrap();
    let conv = app.create_conversation(t, &[patient, provider])["id"]
        .as_i64()
        .unwrap();
    app.send_as(t, conv, provider, "Your results are in");
    assert_eq!(app.unread(t, conv, patient), 1);
    assert_eq!(app.unread(t, conv, provider), 0);
}

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/// 2026-01-01T00:00:00Z, for tests that freeze the clock.
const T0: i64 = 1_767_225_600_000;

fn v1(path: &str) -> String {
    format!("/parlor/v1{path}")
}

fn id(v: &Value) -> i64 {
    v["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id in {v}"))
}

/// The integer ids of a list response's `data`, in order.
fn ids(list: &Value) -> Vec<i64> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array in {list}"))
        .iter()
        .map(id)
        .collect()
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn assert_ts(v: &Value) {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {v}"));
    assert!(
        DateTime::parse_from_rfc3339(text).is_ok(),
        "not RFC 3339: {text}"
    );
}

fn assert_ints(v: &Value, keys: &[&str]) {
    for k in keys {
        assert!(v[k].is_i64(), "{k} should be an integer in {v}");
    }
}

fn assert_strings(v: &Value, keys: &[&str]) {
    for k in keys {
        assert!(v[k].is_string(), "{k} should be a string in {v}");
    }
}

fn assert_nulls(v: &Value, keys: &[&str]) {
    for k in keys {
        assert!(
            v.get(k).is_some_and(Value::is_null),
            "{k} should be present and null in {v}"
        );
    }
}

fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
    assert!(r.body["error"]["message"].is_string(), "{}", r.body);
}

/// A 400 whose `field` is exactly `field`.
fn assert_invalid(r: &Resp, field: &str) {
    assert_error(r, 400, "invalid");
    assert_eq!(
        r.body["error"]["field"].as_str(),
        Some(field),
        "the error should name `{field}`: {}",
        r.body
    );
}

/// A 400 whose `field` or message names `name` (missing and unknown fields).
fn assert_invalid_names(r: &Resp, name: &str) {
    assert_error(r, 400, "invalid");
    let named = r.body["error"]["field"].as_str() == Some(name)
        || r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(name));
    assert!(named, "the error should name `{name}`: {}", r.body);
}

fn assert_user_shape(u: &Value) {
    assert_ints(u, &["id", "tenant_id"]);
    assert_strings(u, &["uuid", "oid", "role", "display_name"]);
    assert!(u["has_password"].is_boolean(), "{u}");
    assert_ts(&u["created_at"]);
    assert_ts(&u["updated_at"]);
    assert!(u.get("password").is_none() && u.get("password_hash").is_none());
}

fn assert_conversation_shape(c: &Value) {
    assert_ints(c, &["id", "message_count"]);
    assert_strings(c, &["uuid", "oid", "status"]);
    assert!(c["locked"].is_boolean(), "{c}");
    assert!(c["metadata"].is_object(), "{c}");
    assert!(c["participants"].is_array(), "{c}");
    assert_ts(&c["created_at"]);
    assert_ts(&c["updated_at"]);
    for p in c["participants"].as_array().unwrap() {
        assert_ints(&p["user"], &["id"]);
        assert_strings(&p["user"], &["uuid", "display_name", "role"]);
        assert_ts(&p["joined_at"]);
        assert_ints(p, &["unread_count", "last_read_seq"]);
        assert!(p["muted"].is_boolean(), "{p}");
    }
}

fn assert_message_shape(m: &Value) {
    assert_ints(m, &["id", "conversation_id", "seq", "sender_id"]);
    assert_strings(m, &["uuid", "oid", "body", "kind"]);
    assert!(m["metadata"].is_object(), "{m}");
    assert!(m["attachments"].is_array(), "{m}");
    assert_ts(&m["created_at"]);
    assert_ts(&m["updated_at"]);
}

fn freeze(app: &TestApp, ms: i64) {
    app.service.clock.freeze(ms);
}

/// Moves a frozen clock forward.
fn tick(app: &TestApp, ms: i64) {
    let now = app.service.clock.now_ms();
    app.service.clock.freeze(now + ms);
}

/// A tenant with its owner (a tenant admin) and a patient and a provider, each with a token.
struct Clinic {
    t: i64,
    uuid: String,
    owner: i64,
    /// The owner's token: a tenant admin.
    admin: String,
    patient: i64,
    patient_token: String,
    provider: i64,
    provider_token: String,
}

fn clinic(app: &TestApp, name: &str) -> Clinic {
    let t = app.create_tenant(name);
    let tenant = app.get(&v1(&format!("/tenants/{t}"))).admin().send().body;
    let owner = tenant["owner_id"].as_i64().unwrap();
    let patient = id(&app.create_user(
        t,
        json!({"role": "patient", "first_name": "Pat", "last_name": "Smith"}),
    ));
    let provider = id(&app.create_user(
        t,
        json!({"role": "provider", "display_name": "Dr Who", "prefix": "Dr"}),
    ));
    Clinic {
        t,
        uuid: tenant["uuid"].as_str().unwrap().to_string(),
        owner,
        admin: app.token_for(t, owner, &["*"]),
        patient,
        patient_token: app.token_for(t, patient, &["*"]),
        provider,
        provider_token: app.token_for(t, provider, &["native"]),
    }
}

/// A conversation between the clinic's patient and provider.
fn visit(app: &TestApp, c: &Clinic) -> i64 {
    id(&app.create_conversation(c.t, &[c.patient, c.provider]))
}

fn staff(app: &TestApp, c: &Clinic, name: &str) -> i64 {
    id(&app.create_user(c.t, json!({"role": "staff", "display_name": name})))
}

fn send(app: &TestApp, token: &str, conv: i64, body: &Value) -> Resp {
    app.post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(token)
        .json(body)
}

/// The conversation as the server admin sees it.
fn conversation(app: &TestApp, t: i64, conv: i64) -> Value {
    let r = app
        .get(&v1(&format!("/conversations/{conv}")))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// Every live message of a conversation, oldest first, as the server admin sees them.
fn thread(app: &TestApp, t: i64, conv: i64) -> Vec<Value> {
    let r = app
        .get(&v1(&format!("/conversations/{conv}/messages?limit=100")))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

fn unread_summary(app: &TestApp, t: i64, user: i64) -> Value {
    let r = app
        .get(&v1(&format!("/unread?as={user}")))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// What a rejected write must leave untouched in a conversation.
#[derive(Debug, PartialEq)]
struct Snapshot {
    message_count: Value,
    last_message: Value,
    unread: Vec<i64>,
    messages: Vec<Value>,
    name: Value,
    status: Value,
    locked: Value,
}

fn snapshot(app: &TestApp, t: i64, conv: i64, users: &[i64]) -> Snapshot {
    let c = conversation(app, t, conv);
    Snapshot {
        message_count: c["message_count"].clone(),
        last_message: c["last_message"].clone(),
        unread: users.iter().map(|u| app.unread(t, conv, *u)).collect(),
        messages: thread(app, t, conv),
        name: c["name"].clone(),
        status: c["status"].clone(),
        locked: c["locked"].clone(),
    }
}

fn login(app: &TestApp, tenant: Value, username: &str, password: &str) -> Resp {
    app.post(&v1("/auth/login"))
        .json(&json!({"tenant": tenant, "username": username, "password": password}))
}

/// Follows `next_cursor` through a list, `param` naming the cursor parameter; returns the ids
/// of every page.
fn pages(app: &TestApp, token: Option<&str>, t: i64, first: &str, param: &str) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    let mut url = first.to_string();
    loop {
        let req = app.get(&url);
        let r = match token {
            Some(tok) => req.bearer(tok).send(),
            None => req.admin().tenant(t).send(),
        };
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        out.push(ids(&r.body));
        match &r.body["next_cursor"] {
            Value::Null => return out,
            Value::String(cursor) => {
                assert!(out.len() < 50, "paging does not end");
                url = format!("{first}&{param}={cursor}");
            }
            other => panic!("next_cursor should be a string or null, got {other}"),
        }
    }
}

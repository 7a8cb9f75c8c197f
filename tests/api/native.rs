//! The native API: every endpoint, its auth failures and its bad input.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use crate::helpers::*;

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

// ---------------------------------------------------------------------------------------------
// Sign-in and /me
// ---------------------------------------------------------------------------------------------

#[test]
fn login_with_username_and_password_returns_a_working_token_and_the_user() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let nurse = app.create_user(
        c.t,
        json!({"role": "staff", "display_name": "Nurse Joy", "username": "joy", "password": "correct horse"}),
    );
    assert_eq!(nurse["has_password"], true);

    let r = login(&app, json!(c.t), "joy", "correct horse");
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["token"].as_str().expect("token").to_string();
    assert!(!token.is_empty());
    assert_user_shape(&r.body["user"]);
    assert_eq!(r.body["user"]["id"], nurse["id"]);
    assert_eq!(r.body["user"]["username"], "joy");

    let me = app.get(&v1("/me")).bearer(&token).send();
    assert_eq!((me.status, me.body["id"].as_i64()), (200, Some(id(&nurse))));

    // The tenant may be named by uuid too.
    let r = login(&app, json!(c.uuid), "joy", "correct horse");
    assert_eq!(r.status, 200, "{}", r.body);

    // Login tokens are listed (without their secret), expire, and may do everything.
    let tokens = app
        .get(&v1(&format!("/users/{}/tokens", id(&nurse))))
        .bearer(&c.admin)
        .send();
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let data = tokens.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for t in data {
        assert_eq!(t["label"], "login");
        assert_eq!(t["abilities"], json!(["*"]));
        assert_ts(&t["expires_at"]);
        assert!(t.get("token").is_none());
    }
    assert!(!tokens.body.to_string().contains(&token));
}

#[test]
fn every_login_failure_is_the_same_401() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    app.create_user(a.t, json!({"username": "joy", "password": "correct horse"}));
    app.create_user(a.t, json!({"username": "nopass"}));

    let failures = [
        login(&app, json!(a.t), "joy", "wrong horse"),
        login(&app, json!(a.t), "nobody", "correct horse"),
        login(&app, json!(a.t), "nopass", "correct horse"),
        login(&app, json!(a.t), "nopass", ""),
        login(&app, json!(b.t), "joy", "correct horse"),
        login(&app, json!(999_999), "joy", "correct horse"),
        login(&app, json!("no-such-tenant"), "joy", "correct horse"),
    ];
    let first = failures[0].body["error"]["message"].clone();
    for r in &failures {
        assert_error(r, 401, "unauthenticated");
        assert_eq!(
            r.body["error"]["message"], first,
            "failures must not tell which part was wrong"
        );
    }
}

#[test]
fn login_rejects_malformed_requests_with_400() {
    let app = spawn_app();
    let c = clinic(&app, "A");
    let r = app
        .post(&v1("/auth/login"))
        .json(&json!({"tenant": c.t, "username": "joy"}));
    assert_invalid_names(&r, "password");
    let r = app
        .post(&v1("/auth/login"))
        .json(&json!({"tenant": c.t, "username": 5, "password": "x"}));
    assert_invalid(&r, "username");
    let r = app.post(&v1("/auth/login")).json(
        &json!({"tenant": c.t, "username": "joy", "password": "correct horse", "remember": true}),
    );
    assert_invalid_names(&r, "remember");
    let r = app
        .post(&v1("/auth/login"))
        .raw("application/json", "{\"tenant\": ");
    assert_invalid(&r, "body");
}

#[test]
fn me_describes_the_calling_user_or_the_server_admin() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");

    let r = app.get(&v1("/me")).admin().send();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"server_admin": true}));

    let r = app.get(&v1("/me")).bearer(&c.admin).send();
    assert_eq!((r.status, r.body["id"].as_i64()), (200, Some(c.owner)));
    assert_eq!(r.body["role"], "admin");

    let r = app.get(&v1("/me")).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_user_shape(&r.body);
    assert_eq!(r.body["id"], c.patient);
    assert_eq!(r.body["tenant_id"], c.t);
    assert_eq!(r.body["role"], "patient");
    assert_eq!(r.body["display_name"], "Pat Smith");
    assert_eq!(r.body["has_password"], false);
    assert_nulls(
        &r.body,
        &[
            "prefix",
            "gender",
            "email",
            "phone",
            "avatar_url",
            "specialty",
            "external_id",
            "username",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

#[test]
fn tenants_are_created_listed_and_fetched_by_id_or_uuid() {
    let app = spawn_app();
    let r = app
        .post(&v1("/tenants"))
        .admin()
        .json(&json!({"name": "Plain"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let plain = r.body.clone();
    assert_ints(&plain, &["id", "owner_id", "assistant_id"]);
    assert_strings(&plain, &["uuid"]);
    assert_eq!(plain["name"], "Plain");
    assert_eq!(plain["utc_offset"], "+00:00");
    assert_nulls(&plain, &["public_key", "workspace_id"]);
    assert_ts(&plain["created_at"]);

    let r = app.post(&v1("/tenants")).admin().json(&json!({
        "name": "East", "public_key": "pk_east", "workspace_id": "ws_east", "utc_offset": "-05:00"
    }));
    assert_eq!(r.status, 201, "{}", r.body);
    let east = r.body.clone();
    assert_eq!(east["public_key"], "pk_east");
    assert_eq!(east["workspace_id"], "ws_east");
    assert_eq!(east["utc_offset"], "-05:00");

    let list = app.get(&v1("/tenants")).admin().send();
    assert_eq!(list.status, 200);
    assert_eq!(ids(&list.body), vec![id(&plain), id(&east)]);
    assert!(list.body["next_cursor"].is_null());

    for key in [id(&east).to_string(), east["uuid"].as_str().unwrap().into()] {
        let r = app.get(&v1(&format!("/tenants/{key}"))).admin().send();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, east);
    }

    // The owner is a tenant admin and the assistant an assistant, both in the tenant.
    let t = id(&east);
    for (user, role) in [("owner_id", "admin"), ("assistant_id", "assistant")] {
        let r = app
            .get(&v1(&format!("/users/{}", east[user])))
            .admin()
            .tenant(t)
            .send();
        assert_eq!((r.status, r.body["role"].as_str()), (200, Some(role)));
    }

    let r = app.get(&v1("/tenants/999999")).admin().send();
    assert_error(&r, 404, "not_found");
    let r = app.get(&v1("/tenants/no-such-uuid")).admin().send();
    assert_error(&r, 404, "not_found");
}

#[test]
fn tenant_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    app.post(&v1("/tenants"))
        .admin()
        .json(&json!({"name": "First", "public_key": "pk_1"}));
    let post = |body: Value| app.post(&v1("/tenants")).admin().json(&body);

    assert_invalid_names(&post(json!({})), "name");
    assert_invalid(&post(json!({"name": "   "})), "name");
    assert_invalid(&post(json!({"name": 7})), "name");
    assert_invalid(
        &post(json!({"name": "X", "utc_offset": "5 hours"})),
        "utc_offset",
    );
    assert_invalid_names(&post(json!({"name": "X", "colour": "red"})), "colour");
    let r = post(json!({"name": "Second", "public_key": "pk_1"}));
    assert_error(&r, 409, "conflict");

    let list = app.get(&v1("/tenants")).admin().send();
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[test]
fn only_the_server_admin_creates_tenants_and_users_see_only_their_own() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");

    let r = app
        .post(&v1("/tenants"))
        .bearer(&a.admin)
        .json(&json!({"name": "Sneaky"}));
    assert_error(&r, 403, "forbidden");

    let r = app.get(&v1("/tenants")).bearer(&a.patient_token).send();
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.body), vec![a.t]);

    let r = app
        .get(&v1(&format!("/tenants/{}", a.uuid)))
        .bearer(&a.patient_token)
        .send();
    assert_eq!((r.status, id(&r.body)), (200, a.t));
    for key in [b.t.to_string(), b.uuid.clone()] {
        let r = app
            .get(&v1(&format!("/tenants/{key}")))
            .bearer(&a.admin)
            .send();
        assert_error(&r, 404, "not_found");
    }
    assert_eq!(
        app.get(&v1("/tenants")).admin().send().body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

#[test]
fn users_are_created_with_defaults_and_found_by_id_uuid_or_oid() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");

    let r = app
        .post(&v1("/users"))
        .bearer(&c.admin)
        .json(&json!({"first_name": "Ada", "last_name": "Lovelace"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let ada = r.body;
    assert_user_shape(&ada);
    assert_eq!(ada["tenant_id"], c.t);
    assert_eq!(ada["role"], "participant");
    assert_eq!(ada["display_name"], "Ada Lovelace");
    assert_eq!(ada["has_password"], false);
    let oid = ada["oid"].as_str().unwrap();
    assert!(
        oid.len() == 24
            && oid
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{oid}"
    );
    assert_nulls(
        &ada,
        &[
            "prefix",
            "gender",
            "email",
            "phone",
            "avatar_url",
            "specialty",
            "external_id",
            "username",
        ],
    );

    let full = app.create_user(
        c.t,
        json!({
            "role": "provider", "uuid": "dr-house", "oid": "oid_house_1", "first_name": "Greg",
            "last_name": "House", "display_name": "Dr. House", "prefix": "Dr", "gender": "male",
            "email": "house@example.org", "phone": "+1 555 0100", "avatar_url": "https://x/h.png",
            "specialty": "Diagnostics", "external_id": "ext-9", "username": "house",
            "password": "vicodin-free"
        }),
    );
    assert_eq!(full["uuid"], "dr-house");
    assert_eq!(full["oid"], "oid_house_1");
    assert_eq!(full["display_name"], "Dr. House");
    assert_eq!(full["specialty"], "Diagnostics");
    assert_eq!(full["external_id"], "ext-9");
    assert_eq!(full["has_password"], true);

    for key in [
        id(&full).to_string(),
        "dr-house".into(),
        "oid_house_1".into(),
    ] {
        let r = app
            .get(&v1(&format!("/users/{key}")))
            .bearer(&c.admin)
            .send();
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        assert_eq!(r.body, full);
    }
}

#[test]
fn user_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    app.create_user(c.t, json!({"uuid": "taken", "username": "taken"}));
    let count = || {
        app.get(&v1("/users?limit=100"))
            .bearer(&c.admin)
            .send()
            .body["data"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    let post = |body: Value| app.post(&v1("/users")).bearer(&c.admin).json(&body);

    assert_invalid(&post(json!({"role": "doctor"})), "role");
    assert_invalid(&post(json!({"uuid": "has spaces"})), "uuid");
    assert_invalid(&post(json!({"oid": ""})), "oid");
    assert_invalid(&post(json!({"password": "long enough"})), "username");
    assert_invalid(
        &post(json!({"username": "shorty", "password": "short"})),
        "password",
    );
    assert_invalid(&post(json!({"display_name": "  "})), "display_name");
    assert_invalid(&post(json!({"first_name": 5})), "first_name");
    assert_invalid(&post(json!({"role": ["patient"]})), "role");
    assert_invalid_names(&post(json!({"nickname": "Ace"})), "nickname");
    assert_error(&post(json!({"uuid": "taken"})), 409, "conflict");
    assert_error(&post(json!({"username": "taken"})), 409, "conflict");
    assert_invalid(
        &app.post(&v1("/users"))
            .bearer(&c.admin)
            .raw("application/json", ""),
        "body",
    );
    assert_error(
        &app.post(&v1("/users"))
            .bearer(&c.admin)
            .raw("application/json", "[1, 2]"),
        400,
        "invalid",
    );

    assert_eq!(count(), before);
}

#[test]
fn users_are_listed_by_role_and_paged_with_after() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let patients: Vec<i64> = (0..5)
        .map(|i| {
            id(&app.create_user(
                t,
                json!({"role": "patient", "display_name": format!("P{i}")}),
            ))
        })
        .collect();
    app.create_user(t, json!({"role": "provider"}));

    let r = app
        .get(&v1("/users?role=patient&limit=2"))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["next_cursor"].is_string(), "{}", r.body);
    for u in r.body["data"].as_array().unwrap() {
        assert_user_shape(u);
        assert_eq!(u["role"], "patient");
    }

    let got = pages(&app, None, t, &v1("/users?role=patient&limit=2"), "after");
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
    assert_eq!(got.concat(), patients);

    // Without a role: the owner, the assistant, five patients and a provider.
    let all = app.get(&v1("/users")).admin().tenant(t).send();
    assert_eq!(all.body["data"].as_array().unwrap().len(), 8);
    assert!(all.body["next_cursor"].is_null());
    let sorted = {
        let mut v = ids(&all.body);
        v.sort_unstable();
        v
    };
    assert_eq!(ids(&all.body), sorted, "users are listed by id");
}

#[test]
fn users_list_rejects_bad_parameters() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let get = |q: &str| app.get(&v1(&format!("/users?{q}"))).bearer(&c.admin).send();
    for q in ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit="] {
        assert_invalid(&get(q), "limit");
    }
    assert_invalid(&get("role=doctor"), "role");
    assert_invalid(&get("after=abc"), "after");
    assert_invalid_names(&get("page=2"), "page");
    assert_eq!(get("limit=1").status, 200);
    assert_eq!(get("limit=100").status, 200);
}

#[test]
fn users_list_at_the_largest_limit_still_offers_the_next_page() {
    let app = spawn_app();
    let t = app.create_tenant("Big clinic");
    // The owner and the assistant plus 99 patients: 101 users.
    for i in 0..99 {
        app.create_user(
            t,
            json!({"role": "patient", "display_name": format!("P{i}")}),
        );
    }
    let got = pages(&app, None, t, &v1("/users?limit=100"), "after");
    assert_eq!(
        got.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![100, 1],
        "a full page of 100 must carry a next_cursor to the 101st user"
    );
}

#[test]
fn patching_a_user_changes_present_fields_and_null_clears() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let ann = app.create_user(
        c.t,
        json!({"first_name": "Ann", "last_name": "Lee", "email": "ann@example.org", "phone": "555"}),
    );
    tick(&app, 60_000);

    let r = app
        .patch(&v1(&format!("/users/{}", id(&ann))))
        .bearer(&c.admin)
        .json(&json!({"email": null, "specialty": "Cardiology", "display_name": "Dr Ann"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_user_shape(&r.body);
    assert!(r.body["email"].is_null());
    assert_eq!(r.body["phone"], "555", "absent fields stay");
    assert_eq!(r.body["first_name"], "Ann");
    assert_eq!(r.body["last_name"], "Lee");
    assert_eq!(r.body["specialty"], "Cardiology");
    assert_eq!(r.body["display_name"], "Dr Ann");
    assert_eq!(r.body["created_at"], rfc3339(T0));
    assert_eq!(r.body["updated_at"], rfc3339(T0 + 60_000));

    let again = app
        .get(&v1(&format!("/users/{}", id(&ann))))
        .bearer(&c.admin)
        .send();
    assert_eq!(again.body, r.body);

    // An empty patch changes nothing.
    let r = app
        .patch(&v1(&format!("/users/{}", id(&ann))))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["phone"], "555");
    assert_eq!(r.body["specialty"], "Cardiology");
}

#[test]
fn a_changed_password_takes_effect_at_the_next_login() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let ann = id(&app.create_user(
        c.t,
        json!({"username": "ann", "password": "first password"}),
    ));
    assert_eq!(login(&app, json!(c.t), "ann", "first password").status, 200);

    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&c.admin)
        .json(&json!({"password": "second password"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["has_password"], true);
    assert_eq!(login(&app, json!(c.t), "ann", "first password").status, 401);
    assert_eq!(
        login(&app, json!(c.t), "ann", "second password").status,
        200
    );

    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&c.admin)
        .json(&json!({"password": "short"}));
    assert_invalid(&r, "password");
    assert_eq!(
        login(&app, json!(c.t), "ann", "second password").status,
        200
    );

    // A user may change their own password.
    let token = login(&app, json!(c.t), "ann", "second password").body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&token)
        .json(&json!({"password": "third password"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(login(&app, json!(c.t), "ann", "third password").status, 200);
}

#[test]
fn a_user_edits_their_own_profile_but_not_their_username_nor_other_users() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let me = v1(&format!("/users/{}", c.patient));

    let r = app.get(&me).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200);
    let r = app
        .patch(&me)
        .bearer(&c.patient_token)
        .json(&json!({"display_name": "Patty"}));
    assert_eq!(
        (r.status, r.body["display_name"].as_str()),
        (200, Some("Patty"))
    );

    let r = app
        .patch(&me)
        .bearer(&c.patient_token)
        .json(&json!({"username": "patty"}));
    assert_error(&r, 403, "forbidden");
    assert!(app.get(&me).admin().tenant(c.t).send().body["username"].is_null());

    let other = v1(&format!("/users/{}", c.provider));
    assert_error(
        &app.get(&other).bearer(&c.patient_token).send(),
        404,
        "not_found",
    );
    let r = app
        .patch(&other)
        .bearer(&c.patient_token)
        .json(&json!({"display_name": "Hacked"}));
    assert_error(&r, 404, "not_found");
    assert_eq!(
        app.get(&other).admin().tenant(c.t).send().body["display_name"],
        "Dr Who"
    );
}

#[test]
fn setting_a_password_on_a_user_without_a_username_is_rejected_and_changes_nothing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"first_name": "Changed", "password": "long enough"}));
    assert_invalid(&r, "username");
    let now = app.get(&path).bearer(&c.admin).send().body;
    assert_eq!(now["first_name"], "Pat");
    assert_eq!(now["has_password"], false);
}

#[test]
fn patching_a_username_to_blank_or_overlong_is_rejected() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    for bad in ["", "   ", &"u".repeat(151)] {
        let r = app
            .patch(&path)
            .bearer(&c.admin)
            .json(&json!({"username": bad}));
        assert_invalid(&r, "username");
    }
    assert!(app.get(&path).bearer(&c.admin).send().body["username"].is_null());
}

#[test]
fn patching_display_name_to_null_is_rejected_rather_than_ignored() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"display_name": null}));
    assert_invalid(&r, "display_name");
}

#[test]
fn patching_a_user_rejects_wrong_types_and_unknown_fields() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    let patch = |body: Value| app.patch(&path).bearer(&c.admin).json(&body);
    assert_invalid(&patch(json!({"email": 42})), "email");
    assert_invalid(&patch(json!({"display_name": ["x"]})), "display_name");
    assert_invalid(&patch(json!({"display_name": "  "})), "display_name");
    assert_invalid_names(&patch(json!({"role": "admin"})), "role");
    assert_invalid_names(&patch(json!({"shoe_size": 44})), "shoe_size");
    let user = app.get(&path).bearer(&c.admin).send().body;
    assert_eq!(user["role"], "patient");
    assert_eq!(user["display_name"], "Pat Smith");
    assert_error(
        &app.patch(&v1("/users/999999"))
            .bearer(&c.admin)
            .json(&json!({})),
        404,
        "not_found",
    );
}

// ---------------------------------------------------------------------------------------------
// Tokens and API keys
// ---------------------------------------------------------------------------------------------

#[test]
fn a_new_token_shows_its_secret_once_and_is_listed_without_it() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"abilities": ["native"], "label": "mobile app"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["token"].as_str().expect("secret").to_string();
    assert_ints(&r.body, &["id", "user_id"]);
    assert_eq!(r.body["user_id"], c.patient);
    assert_eq!(r.body["abilities"], json!(["native"]));
    assert_eq!(r.body["label"], "mobile app");
    assert_ts(&r.body["created_at"]);
    assert_nulls(&r.body, &["expires_at", "revoked_at"]);

    // Without abilities a token may do everything.
    let r2 = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_eq!(r2.status, 201, "{}", r2.body);
    assert_eq!(r2.body["abilities"], json!(["*"]));
    assert!(r2.body["label"].is_null());

    let me = app.get(&v1("/me")).bearer(&secret).send();
    assert_eq!((me.status, me.body["id"].as_i64()), (200, Some(c.patient)));

    let list = app
        .get(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .send();
    assert_eq!(list.status, 200, "{}", list.body);
    let listed = ids(&list.body);
    assert!(listed.contains(&id(&r.body)) && listed.contains(&id(&r2.body)));
    for t in list.body["data"].as_array().unwrap() {
        assert!(t.get("token").is_none(), "{t}");
        assert_ts(&t["created_at"]);
    }
    assert!(!list.body.to_string().contains(&secret));
    assert!(list.body["next_cursor"].is_null());

    // Users may list their own tokens.
    let own = app
        .get(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&secret)
        .send();
    assert_eq!(own.status, 200);
    assert_eq!(ids(&own.body), listed);
}

#[test]
fn a_revoked_token_gets_401() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"label": "to revoke"}));
    let (token_id, secret) = (id(&r.body), r.body["token"].as_str().unwrap().to_string());
    assert_eq!(app.get(&v1("/me")).bearer(&secret).send().status, 200);

    tick(&app, 1_000);
    let r = app
        .delete(&v1(&format!("/tokens/{token_id}")))
        .bearer(&c.admin)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], token_id);
    assert_eq!(r.body["revoked_at"], rfc3339(T0 + 1_000));
    assert!(r.body.get("token").is_none());

    let r = app.get(&v1("/me")).bearer(&secret).send();
    assert_error(&r, 401, "unauthenticated");
    let r = app.get(&v1("/conversations")).bearer(&secret).send();
    assert_error(&r, 401, "unauthenticated");

    // Revoking again keeps the first revocation time.
    tick(&app, 1_000);
    let r = app
        .delete(&v1(&format!("/tokens/{token_id}")))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(
        (r.status, r.body["revoked_at"].clone()),
        (200, json!(rfc3339(T0 + 1_000)))
    );

    let listed = app
        .get(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .send();
    let row = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id)
        .unwrap()
        .clone();
    assert_eq!(row["revoked_at"], rfc3339(T0 + 1_000));

    for path in ["/tokens/999999", "/tokens/abc", "/tokens/-1"] {
        assert_error(
            &app.delete(&v1(path)).bearer(&c.admin).send(),
            404,
            "not_found",
        );
    }
}

#[test]
fn an_expired_token_gets_401() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"expires_in_minutes": 5}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["created_at"], rfc3339(T0));
    assert_eq!(r.body["expires_at"], rfc3339(T0 + 5 * 60_000));
    let secret = r.body["token"].as_str().unwrap().to_string();

    freeze(&app, T0 + 5 * 60_000 - 1);
    assert_eq!(app.get(&v1("/me")).bearer(&secret).send().status, 200);
    freeze(&app, T0 + 5 * 60_000);
    let r = app.get(&v1("/me")).bearer(&secret).send();
    assert_error(&r, 401, "unauthenticated");
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    freeze(&app, T0 + 60 * 60_000);
    assert_error(
        &app.get(&v1("/unread")).bearer(&secret).send(),
        401,
        "unauthenticated",
    );
}

#[test]
fn token_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}/tokens", c.patient));
    let count = || {
        app.get(&path).bearer(&c.admin).send().body["data"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    let post = |body: Value| app.post(&path).bearer(&c.admin).json(&body);

    assert_invalid(&post(json!({"abilities": []})), "abilities");
    assert_invalid(&post(json!({"abilities": [""]})), "abilities");
    assert_invalid(&post(json!({"abilities": "native"})), "abilities");
    assert_invalid(&post(json!({"abilities": [1]})), "abilities[0]");
    assert_invalid(
        &post(json!({"expires_in_minutes": 0})),
        "expires_in_minutes",
    );
    assert_invalid(
        &post(json!({"expires_in_minutes": -5})),
        "expires_in_minutes",
    );
    assert_invalid(
        &post(json!({"expires_in_minutes": "soon"})),
        "expires_in_minutes",
    );
    assert_invalid_names(&post(json!({"scopes": ["native"]})), "scopes");
    assert_eq!(count(), before);

    let r = app
        .post(&v1("/users/999999/tokens"))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_error(&r, 404, "not_found");
    let r = app.post(&path).bearer(&c.patient_token).json(&json!({}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(count(), before);
}

#[test]
fn only_admins_issue_and_revoke_tokens_and_users_see_only_their_own() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let provider_tokens = app
        .get(&v1(&format!("/users/{}/tokens", c.provider)))
        .bearer(&c.admin)
        .send();
    let provider_token_id = ids(&provider_tokens.body)[0];

    let r = app
        .get(&v1(&format!("/users/{}/tokens", c.provider)))
        .bearer(&c.patient_token)
        .send();
    assert_error(&r, 404, "not_found");
    let r = app
        .delete(&v1(&format!("/tokens/{provider_token_id}")))
        .bearer(&c.patient_token)
        .send();
    assert_error(&r, 403, "forbidden");
    assert_eq!(
        app.get(&v1("/me")).bearer(&c.provider_token).send().status,
        200
    );
}

#[test]
fn api_keys_show_their_secret_once_and_can_be_revoked() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);

    let r = app
        .post(&v1("/api-keys"))
        .bearer(&c.admin)
        .json(&json!({"label": "EHR bridge"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let key = r.body.clone();
    assert_ints(&key, &["id"]);
    assert_strings(&key, &["key", "secret"]);
    assert_eq!(key["label"], "EHR bridge");
    assert_eq!(key["created_at"], rfc3339(T0));
    assert_nulls(&key, &["revoked_at"]);
    let secret = key["secret"].as_str().unwrap().to_string();

    let r = app
        .post(&v1("/api-keys"))
        .admin()
        .tenant(c.t)
        .json(&json!({}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body["label"].is_null());
    let second = id(&r.body);

    let list = app.get(&v1("/api-keys")).bearer(&c.admin).send();
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(ids(&list.body), vec![id(&key), second]);
    assert_eq!(list.body["data"][0]["key"], key["key"]);
    for k in list.body["data"].as_array().unwrap() {
        assert!(k.get("secret").is_none(), "{k}");
    }
    assert!(!list.body.to_string().contains(&secret));

    tick(&app, 500);
    let r = app
        .delete(&v1(&format!("/api-keys/{}", id(&key))))
        .bearer(&c.admin)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["revoked_at"], rfc3339(T0 + 500));
    assert!(r.body.get("secret").is_none());
    tick(&app, 500);
    let again = app
        .delete(&v1(&format!("/api-keys/{}", id(&key))))
        .bearer(&c.admin)
        .send();
    assert_eq!(
        again.body["revoked_at"],
        rfc3339(T0 + 500),
        "the first revocation stands"
    );
    let list = app.get(&v1("/api-keys")).bearer(&c.admin).send();
    assert_eq!(list.body["data"][0]["revoked_at"], rfc3339(T0 + 500));
    assert!(list.body["data"][1]["revoked_at"].is_null());

    for path in ["/api-keys/999999", "/api-keys/abc"] {
        assert_error(
            &app.delete(&v1(path)).bearer(&c.admin).send(),
            404,
            "not_found",
        );
    }
    assert_invalid(
        &app.post(&v1("/api-keys"))
            .bearer(&c.admin)
            .json(&json!({"label": 3})),
        "label",
    );
    assert_invalid_names(
        &app.post(&v1("/api-keys"))
            .bearer(&c.admin)
            .json(&json!({"name": "x"})),
        "name",
    );
    assert_eq!(
        app.get(&v1("/api-keys")).bearer(&c.admin).send().body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Authentication and authority
// ---------------------------------------------------------------------------------------------

#[test]
fn requests_without_valid_credentials_get_401_with_a_bearer_challenge() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let paths = [
        "/me".to_string(),
        "/tenants".into(),
        "/users".into(),
        "/conversations".into(),
        format!("/conversations/{conv}"),
        format!("/conversations/{conv}/messages"),
        "/unread".into(),
        "/api-keys".into(),
    ];
    let headers: [Option<&str>; 6] = [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer    "),
        Some("Token abc"),
        Some("Bearer not-a-real-token"),
    ];
    for path in &paths {
        for header in headers {
            let req = app.get(&v1(path));
            let r = match header {
                Some(h) => req.header("Authorization", h).send(),
                None => req.send(),
            };
            assert_error(&r, 401, "unauthenticated");
            assert_eq!(
                r.header("WWW-Authenticate"),
                Some("Bearer"),
                "{path} {header:?}"
            );
        }
    }
    // Writes are refused the same way and write nothing.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .json(&json!({"body": "anonymous", "as": c.patient}));
    assert_error(&r, 401, "unauthenticated");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);
    // The scheme is case-insensitive.
    let r = app
        .get(&v1("/me"))
        .header("Authorization", &format!("bearer {}", c.patient_token))
        .send();
    assert_eq!(r.status, 200);
}

#[test]
fn a_token_without_the_native_ability_gets_403() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let backoffice = app.token_for(c.t, c.patient, &["backoffice"]);
    for path in [
        "/me".to_string(),
        "/conversations".into(),
        format!("/conversations/{conv}"),
    ] {
        let r = app.get(&v1(&path)).bearer(&backoffice).send();
        assert_error(&r, 403, "forbidden");
    }
    let r = send(&app, &backoffice, conv, &json!({"body": "hi"}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);

    for abilities in [&["native"][..], &["backoffice", "native"], &["*"]] {
        let token = app.token_for(c.t, c.patient, abilities);
        assert_eq!(
            app.get(&v1("/me")).bearer(&token).send().status,
            200,
            "{abilities:?}"
        );
    }
}

#[test]
fn non_admin_users_cannot_call_admin_endpoints() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let extra = staff(&app, &c, "Sam");
    let key = id(&app
        .post(&v1("/api-keys"))
        .bearer(&c.admin)
        .json(&json!({}))
        .body);
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    let tok = &c.patient_token;

    let refused = [
        app.get(&v1("/users")).bearer(tok).send(),
        app.post(&v1("/users"))
            .bearer(tok)
            .json(&json!({"display_name": "X"})),
        app.post(&v1(&format!("/users/{}/tokens", c.patient)))
            .bearer(tok)
            .json(&json!({})),
        app.get(&v1("/api-keys")).bearer(tok).send(),
        app.post(&v1("/api-keys")).bearer(tok).json(&json!({})),
        app.delete(&v1(&format!("/api-keys/{key}")))
            .bearer(tok)
            .send(),
        app.delete(&v1("/tokens/1")).bearer(tok).send(),
        app.patch(&v1(&format!("/conversations/{conv}")))
            .bearer(tok)
            .json(&json!({"name": "mine now", "locked": true})),
        app.delete(&v1(&format!("/conversations/{conv}")))
            .bearer(tok)
            .send(),
        app.post(&v1(&format!("/conversations/{conv}/participants")))
            .bearer(tok)
            .json(&json!({"user": extra})),
        app.delete(&v1(&format!(
            "/conversations/{conv}/participants/{}",
            c.provider
        )))
        .bearer(tok)
        .send(),
        app.post(&v1("/tenants"))
            .bearer(tok)
            .json(&json!({"name": "X"})),
    ];
    for r in &refused {
        assert_error(r, 403, "forbidden");
    }
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    let c_now = conversation(&app, c.t, conv);
    assert_eq!(c_now["participants"].as_array().unwrap().len(), 2);
    let users = app.get(&v1("/users")).bearer(&c.admin).send();
    assert_eq!(users.body["data"].as_array().unwrap().len(), 5);
    let keys = app.get(&v1("/api-keys")).bearer(&c.admin).send();
    assert!(keys.body["data"][0]["revoked_at"].is_null());
}

#[test]
fn a_non_admin_cannot_act_as_another_user() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.patient, "hello"));
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    let tok = &c.patient_token;
    let other = c.provider;

    let refused = [
        app.get(&v1(&format!("/conversations?as={other}")))
            .bearer(tok)
            .send(),
        app.get(&v1(&format!("/conversations/{conv}?as={other}")))
            .bearer(tok)
            .send(),
        app.get(&v1(&format!("/conversations/{conv}/messages?as={other}")))
            .bearer(tok)
            .send(),
        app.get(&v1(&format!("/unread?as={other}")))
            .bearer(tok)
            .send(),
        send(&app, tok, conv, &json!({"body": "forged", "as": other})),
        app.post(&v1(&format!("/conversations/{conv}/read")))
            .bearer(tok)
            .json(&json!({"as": other})),
        app.post(&v1(&format!("/messages/{m}/read")))
            .bearer(tok)
            .json(&json!({"as": other})),
        app.patch(&v1(&format!("/messages/{m}")))
            .bearer(tok)
            .json(&json!({"body": "edited", "as": other})),
        app.delete(&v1(&format!("/messages/{m}")))
            .bearer(tok)
            .json(&json!({"as": other})),
        app.post(&v1("/conversations"))
            .bearer(tok)
            .json(&json!({"participants": [c.patient], "as": other})),
    ];
    for r in &refused {
        assert_error(r, 403, "forbidden");
    }
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    let all = app.get(&v1("/conversations")).admin().tenant(c.t).send();
    assert_eq!(ids(&all.body), vec![conv]);

    // Naming oneself is fine.
    let me = c.patient;
    assert_eq!(
        app.get(&v1(&format!("/conversations?as={me}")))
            .bearer(tok)
            .send()
            .status,
        200
    );
    assert_eq!(
        send(&app, tok, conv, &json!({"body": "me", "as": me})).status,
        201
    );
}

#[test]
fn the_server_admin_must_name_the_tenant_on_tenant_scoped_routes() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    for path in [
        "/users".to_string(),
        "/conversations".into(),
        format!("/conversations/{conv}"),
        "/api-keys".into(),
        format!("/unread?as={}", c.patient),
    ] {
        let r = app.get(&v1(&path)).admin().send();
        assert_invalid(&r, "X-Parlor-Tenant");
    }
    let r = send(
        &app,
        ADMIN_TOKEN,
        conv,
        &json!({"body": "hi", "as": c.patient}),
    );
    assert_invalid(&r, "X-Parlor-Tenant");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);

    let r = app
        .get(&v1("/users"))
        .admin()
        .header("X-Parlor-Tenant", "not a tenant!")
        .send();
    assert_invalid(&r, "X-Parlor-Tenant");
    let r = app.get(&v1("/users")).admin().tenant(999_999).send();
    assert_error(&r, 404, "not_found");
    let r = app
        .get(&v1("/users"))
        .admin()
        .header("X-Parlor-Tenant", &c.uuid)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);

    // Routes that are not about one tenant need no header.
    assert_eq!(app.get(&v1("/me")).admin().send().status, 200);
    assert_eq!(app.get(&v1("/tenants")).admin().send().status, 200);
}

#[test]
fn the_server_admin_must_say_whom_it_acts_as_when_sending_or_reading() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.provider, "hello"));
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);

    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .admin()
        .tenant(c.t)
        .json(&json!({"body": "from nobody"}));
    assert_invalid(&r, "as");
    let r = app.get(&v1("/unread")).admin().tenant(c.t).send();
    assert_invalid(&r, "as");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/read")))
        .admin()
        .tenant(c.t)
        .send();
    assert_invalid(&r, "as");
    let r = app
        .post(&v1(&format!("/messages/{m}/read")))
        .admin()
        .tenant(c.t)
        .send();
    assert_invalid(&r, "as");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
}

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------

#[test]
fn a_user_who_creates_a_conversation_is_in_it() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let r = app
        .post(&v1("/conversations"))
        .bearer(&c.patient_token)
        .json(&json!({
            "name": "Knee pain", "participants": [c.provider], "metadata": {"project": "ortho"}
        }));
    assert_eq!(r.status, 201, "{}", r.body);
    let conv = r.body;
    assert_conversation_shape(&conv);
    assert_eq!(conv["name"], "Knee pain");
    assert_eq!(conv["status"], "active");
    assert_eq!(conv["locked"], false);
    assert_eq!(conv["metadata"], json!({"project": "ortho"}));
    assert_eq!(conv["message_count"], 0);
    assert_eq!(conv["unread_count"], 0);
    assert_nulls(&conv, &["archived_at", "tag", "last_message"]);
    let mut members: Vec<i64> = conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["id"].as_i64().unwrap())
        .collect();
    members.sort_unstable();
    let mut expected = vec![c.patient, c.provider];
    expected.sort_unstable();
    assert_eq!(members, expected);
    for p in conv["participants"].as_array().unwrap() {
        assert_eq!(p["unread_count"], 0);
        assert_eq!(p["last_read_seq"], 0);
        assert_eq!(p["muted"], false);
        assert!(p["last_read_at"].is_null());
    }
    let pat = conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["id"] == c.patient)
        .unwrap()
        .clone();
    assert_eq!(pat["user"]["display_name"], "Pat Smith");
    assert_eq!(pat["user"]["role"], "patient");

    // The provider sees it in their own list.
    let list = app
        .get(&v1("/conversations"))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(ids(&list.body), vec![id(&conv)]);
}

#[test]
fn the_server_admin_creates_conversations_among_the_named_users_only() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(c.t)
        .json(&json!({"participants": [c.patient, c.provider, c.patient]}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_conversation_shape(&r.body);
    assert_nulls(&r.body, &["name", "unread_count"]);
    assert_eq!(r.body["metadata"], json!({}));
    assert_eq!(
        r.body["participants"].as_array().unwrap().len(),
        2,
        "duplicates collapse"
    );

    // Participants may be named by uuid or oid too; `as` makes the admin create as a user.
    let provider = app
        .get(&v1(&format!("/users/{}", c.provider)))
        .bearer(&c.admin)
        .send()
        .body;
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(c.t)
        .json(&json!({
            "participants": [provider["uuid"]], "as": c.patient
        }));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["unread_count"], 0);
    assert_eq!(r.body["participants"].as_array().unwrap().len(), 2);
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(c.t)
        .json(&json!({
            "participants": [provider["oid"]]
        }));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["participants"][0]["user"]["id"], c.provider);
}

#[test]
fn a_tenant_admin_joins_a_conversation_only_as_someone() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let members = |conv: &Value| -> Vec<i64> {
        let mut ids: Vec<i64> = conv["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["user"]["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let mut pair = vec![c.patient, c.provider];
    pair.sort_unstable();
    let create = |body: Value| {
        let r = app.post(&v1("/conversations")).bearer(&c.admin).json(&body);
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    };
    // Without `as` the admin acts for the clinic (as when listing the whole tenant): the
    // conversation is the participants'.
    let set_up = create(json!({"participants": [c.patient, c.provider]}));
    assert_eq!(members(&set_up), pair);
    assert!(set_up["unread_count"].is_null());
    // With `as`, that user creates it and is in it.
    let as_patient = create(json!({"participants": [c.provider], "as": c.patient}));
    assert_eq!(members(&as_patient), pair);
    assert_eq!(as_patient["unread_count"], 0);
    // To take part, the admin lists themselves (or acts as themselves).
    let me = app.get(&v1("/me")).bearer(&c.admin).send().body["id"]
        .as_i64()
        .unwrap();
    let mut with_me = vec![me, c.patient];
    with_me.sort_unstable();
    assert_eq!(
        members(&create(json!({"participants": [me, c.patient]}))),
        with_me
    );
    assert_eq!(
        members(&create(json!({"participants": [c.patient], "as": me}))),
        with_me
    );
}

#[test]
fn conversation_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let post = |body: Value| app.post(&v1("/conversations")).bearer(&c.admin).json(&body);

    assert_invalid_names(&post(json!({"name": "x"})), "participants");
    assert_invalid(&post(json!({"participants": []})), "participants");
    assert_invalid(&post(json!({"participants": "everyone"})), "participants");
    assert_invalid(
        &post(json!({"participants": [c.patient, 999_999]})),
        "participants[1]",
    );
    assert_invalid(
        &post(json!({"participants": ["no-such-user"]})),
        "participants[0]",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient, true]})),
        "participants[1]",
    );
    assert_invalid(
        &post(json!({"participants": ["bad id!"]})),
        "participants[0]",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "metadata": [1, 2]})),
        "metadata",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "name": "n".repeat(201)})),
        "name",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "name": 5})),
        "name",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "as": 999_999})),
        "as",
    );
    assert_invalid_names(
        &post(json!({"participants": [c.patient], "topic": "x"})),
        "topic",
    );
    assert_invalid(
        &app.post(&v1("/conversations"))
            .bearer(&c.admin)
            .raw("application/json", "{\"participants\": [1,"),
        "body",
    );

    let all = app.get(&v1("/conversations")).bearer(&c.admin).send();
    assert_eq!(all.body["data"], json!([]));
}

#[test]
fn a_conversation_is_found_by_id_uuid_or_oid() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let created = app.create_conversation(c.t, &[c.patient, c.provider]);
    for key in [
        id(&created).to_string(),
        created["uuid"].as_str().unwrap().to_string(),
        created["oid"].as_str().unwrap().to_string(),
    ] {
        let r = app
            .get(&v1(&format!("/conversations/{key}")))
            .bearer(&c.patient_token)
            .send();
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        assert_conversation_shape(&r.body);
        assert_eq!(r.body["id"], created["id"]);
        assert_eq!(r.body["unread_count"], 0, "a member sees their own count");
    }
    // An admin without `as` sees no count of their own; with `as` that user's.
    let r = app
        .get(&v1(&format!("/conversations/{}", id(&created))))
        .bearer(&c.admin)
        .send();
    assert!(r.body["unread_count"].is_null());
    app.send_as(c.t, id(&created), c.provider, "hi");
    assert_eq!(app.unread(c.t, id(&created), c.patient), 1);

    for key in [
        "999999",
        "no-such-conversation",
        "bad!id",
        "99999999999999999999999",
    ] {
        let r = app
            .get(&v1(&format!("/conversations/{key}")))
            .bearer(&c.admin)
            .send();
        assert_error(&r, 404, "not_found");
    }
}

#[test]
fn a_non_member_cannot_see_a_conversation() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.provider, "private"));
    let outsider = staff(&app, &c, "Nosy");
    let tok = app.token_for(c.t, outsider, &["native"]);
    for path in [
        format!("/conversations/{conv}"),
        format!("/conversations/{conv}/messages"),
        format!("/messages/{m}"),
    ] {
        assert_error(&app.get(&v1(&path)).bearer(&tok).send(), 404, "not_found");
    }
    let r = app.get(&v1("/conversations")).bearer(&tok).send();
    assert_eq!(r.body["data"], json!([]));
    let r = send(&app, &tok, conv, &json!({"body": "let me in"}));
    assert_error(&r, 403, "forbidden");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&tok)
        .send();
    assert_error(&r, 404, "not_found");
    let r = app
        .post(&v1(&format!("/messages/{m}/read")))
        .bearer(&tok)
        .send();
    assert_error(&r, 404, "not_found");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 1);
}

#[test]
fn a_users_conversations_are_listed_by_last_activity_with_their_unread_counts() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let quiet = visit(&app, &c);
    let older = visit(&app, &c);
    let newer = visit(&app, &c);
    let not_mine = id(&app.create_conversation(c.t, &[c.provider]));
    tick(&app, 1_000);
    app.send_as(c.t, newer, c.provider, "first");
    tick(&app, 1_000);
    app.send_as(c.t, older, c.provider, "second");
    app.send_as(c.t, older, c.provider, "third");
    tick(&app, 1_000);
    app.send_as(c.t, newer, c.patient, "fourth");
    app.send_as(c.t, not_mine, c.provider, "note to self");

    let r = app
        .get(&v1("/conversations"))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), vec![newer, older, quiet]);
    assert!(r.body["next_cursor"].is_null());
    let data = r.body["data"].as_array().unwrap();
    for conv in data {
        assert_conversation_shape(conv);
    }
    assert_eq!(
        data.iter()
            .map(|c| c["unread_count"].clone())
            .collect::<Vec<_>>(),
        // The patient's own reply read everything before it in `newer`.
        vec![json!(0), json!(2), json!(0)]
    );
    let last = &data[0]["last_message"];
    assert_ints(last, &["message_id", "sender_id"]);
    assert_eq!(last["body"], "fourth");
    assert_eq!(last["sender_id"], c.patient);
    assert_eq!(last["created_at"], rfc3339(T0 + 3_000));
    assert!(data[2]["last_message"].is_null());
    assert_eq!(data[1]["message_count"], 2);
}

#[test]
fn an_admin_lists_a_users_conversations_with_as_and_the_whole_tenant_without() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let shared = visit(&app, &c);
    let provider_only = id(&app.create_conversation(c.t, &[c.provider]));
    tick(&app, 1_000);
    app.send_as(c.t, shared, c.provider, "hello");

    let as_patient = app
        .get(&v1(&format!("/conversations?as={}", c.patient)))
        .bearer(&c.admin)
        .send();
    assert_eq!(as_patient.status, 200, "{}", as_patient.body);
    assert_eq!(ids(&as_patient.body), vec![shared]);
    assert_eq!(as_patient.body["data"][0]["unread_count"], 1);

    let patient = app
        .get(&v1(&format!("/users/{}", c.patient)))
        .bearer(&c.admin)
        .send()
        .body;
    let by_uuid = app
        .get(&v1(&format!(
            "/conversations?as={}",
            patient["uuid"].as_str().unwrap()
        )))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(ids(&by_uuid.body), vec![shared]);

    for req in [
        app.get(&v1("/conversations")).bearer(&c.admin),
        app.get(&v1("/conversations")).admin().tenant(c.t),
    ] {
        let r = req.send();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(ids(&r.body), vec![shared, provider_only]);
        for conv in r.body["data"].as_array().unwrap() {
            assert!(conv["unread_count"].is_null(), "{conv}");
        }
    }

    let r = app
        .get(&v1("/conversations?as=999999"))
        .bearer(&c.admin)
        .send();
    assert_invalid(&r, "as");
    let r = app
        .get(&v1("/conversations?as=bad!id"))
        .bearer(&c.admin)
        .send();
    assert_invalid(&r, "as");
}

/// Seven conversations for the patient and provider: four with messages (two at the same
/// moment), three never messaged. Returns them in the order a list must show them.
fn seven_conversations(app: &TestApp, c: &Clinic) -> Vec<i64> {
    freeze(app, T0);
    let cs: Vec<i64> = (0..7).map(|_| visit(app, c)).collect();
    let at = |ms: i64, conv: i64| {
        freeze(app, T0 + ms);
        app.send_as(c.t, conv, c.provider, "ping");
    };
    at(1_000, cs[1]);
    at(2_000, cs[4]);
    at(2_000, cs[2]);
    at(3_000, cs[6]);
    // Latest first; ties by id, newest first; never-messaged last, newest first.
    vec![cs[6], cs[4], cs[2], cs[1], cs[5], cs[3], cs[0]]
}

#[test]
fn conversation_lists_page_with_before_without_duplicates_or_gaps() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let expected = seven_conversations(&app, &c);

    let got = pages(
        &app,
        Some(&c.patient_token),
        c.t,
        &v1("/conversations?limit=3"),
        "before",
    );
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert_eq!(got.concat(), expected);

    let got = pages(
        &app,
        Some(&c.admin),
        c.t,
        &v1(&format!("/conversations?limit=3&as={}", c.provider)),
        "before",
    );
    assert_eq!(got.concat(), expected);

    // The admin's tenant-wide list pages the same way.
    let got = pages(&app, None, c.t, &v1("/conversations?limit=3"), "before");
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert_eq!(got.concat(), expected);

    // One conversation per page, and one page for everything.
    let got = pages(
        &app,
        Some(&c.patient_token),
        c.t,
        &v1("/conversations?limit=1"),
        "before",
    );
    assert_eq!(got.concat(), expected);
    let got = pages(
        &app,
        Some(&c.patient_token),
        c.t,
        &v1("/conversations?limit=7"),
        "before",
    );
    assert_eq!(got, vec![expected.clone()]);
}

#[test]
fn conversation_lists_reject_bad_paging_parameters() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    visit(&app, &c);
    let get = |q: &str| {
        app.get(&v1(&format!("/conversations?{q}")))
            .bearer(&c.patient_token)
            .send()
    };
    for q in ["limit=0", "limit=101", "limit=abc", "limit=-3", "limit=1.5"] {
        assert_invalid(&get(q), "limit");
    }
    for q in [
        "before=abc",
        "before=12",
        "before=1.x",
        "before=99999999999999999999999.1",
    ] {
        assert_invalid(&get(q), "before");
    }
    assert_invalid(&get("after=1"), "after");
    assert_invalid(&get("role=patient"), "role");
    assert_invalid_names(&get("sort=asc"), "sort");
    assert_eq!(get("limit=100").status, 200);
}

#[test]
fn renaming_archiving_and_unarchiving_a_conversation() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let path = v1(&format!("/conversations/{conv}"));
    let patch = |body: Value| app.patch(&path).bearer(&c.admin).json(&body);

    tick(&app, 1_000);
    let r = patch(json!({"name": "Follow-up"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_conversation_shape(&r.body);
    assert_eq!(r.body["name"], "Follow-up");
    assert_eq!(r.body["updated_at"], rfc3339(T0 + 1_000));
    assert!(r.body["unread_count"].is_null());

    let r = patch(json!({"archived": true}));
    assert_eq!(
        (r.body["status"].as_str(), r.body["name"].as_str()),
        (Some("archived"), Some("Follow-up"))
    );
    assert_eq!(r.body["archived_at"], rfc3339(T0 + 1_000));

    // Archiving again keeps the first archive time.
    tick(&app, 1_000);
    let r = patch(json!({"archived": true}));
    assert_eq!(r.body["archived_at"], rfc3339(T0 + 1_000));

    let r = patch(json!({"archived": false}));
    assert_eq!(r.body["status"], "active");
    assert!(r.body["archived_at"].is_null());

    let r = patch(json!({"name": null}));
    assert!(r.body["name"].is_null());

    let r = app.get(&path).bearer(&c.patient_token).send();
    assert_eq!(r.body["status"], "active");
    assert!(r.body["name"].is_null());
}

#[test]
fn a_locked_conversation_refuses_messages_until_unlocked() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.patient, "before the lock");
    let path = v1(&format!("/conversations/{conv}"));

    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"locked": true}));
    assert_eq!((r.status, r.body["locked"].clone()), (200, json!(true)));
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);

    let r = send(&app, &c.provider_token, conv, &json!({"body": "too late"}));
    assert_error(&r, 403, "forbidden");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .admin()
        .tenant(c.t)
        .json(&json!({"body": "even for admins", "as": c.provider}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);

    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"locked": false}));
    assert_eq!(r.body["locked"], false);
    let r = send(
        &app,
        &c.provider_token,
        conv,
        &json!({"body": "open again"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(app.unread(c.t, conv, c.patient), 1);
}

#[test]
fn patching_a_conversation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let path = v1(&format!("/conversations/{conv}"));
    let before = snapshot(&app, c.t, conv, &[c.patient]);
    let patch = |body: Value| app.patch(&path).bearer(&c.admin).json(&body);
    assert_invalid(&patch(json!({"archived": "yes"})), "archived");
    assert_invalid(&patch(json!({"locked": 1})), "locked");
    assert_invalid(
        &patch(json!({"name": "n".repeat(201), "locked": true})),
        "name",
    );
    assert_invalid(&patch(json!({"name": ["a"]})), "name");
    assert_invalid_names(&patch(json!({"status": "archived"})), "status");
    assert_invalid(
        &app.patch(&path)
            .bearer(&c.admin)
            .raw("application/json", ""),
        "body",
    );
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient]), before);
    assert_error(
        &app.patch(&v1("/conversations/999999"))
            .bearer(&c.admin)
            .json(&json!({"name": "x"})),
        404,
        "not_found",
    );
}

#[test]
fn a_deleted_conversation_is_gone_everywhere() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let keep = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.provider, "soon gone"));
    app.send_as(c.t, keep, c.provider, "stays");
    let extra = staff(&app, &c, "Late");

    let r = app
        .delete(&v1(&format!("/conversations/{conv}")))
        .bearer(&c.admin)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);

    let p = |s: String| v1(&s);
    let gone = [
        app.get(&p(format!("/conversations/{conv}")))
            .bearer(&c.patient_token)
            .send(),
        app.get(&p(format!("/conversations/{conv}")))
            .bearer(&c.admin)
            .send(),
        app.get(&p(format!("/conversations/{conv}/messages")))
            .bearer(&c.admin)
            .send(),
        app.get(&p(format!("/messages/{m}")))
            .bearer(&c.admin)
            .send(),
        send(&app, &c.patient_token, conv, &json!({"body": "hello?"})),
        app.patch(&p(format!("/conversations/{conv}")))
            .bearer(&c.admin)
            .json(&json!({"name": "x"})),
        app.delete(&p(format!("/conversations/{conv}")))
            .bearer(&c.admin)
            .send(),
        app.post(&p(format!("/conversations/{conv}/read")))
            .bearer(&c.patient_token)
            .send(),
        app.post(&p(format!("/messages/{m}/read")))
            .bearer(&c.patient_token)
            .send(),
        app.patch(&p(format!("/messages/{m}")))
            .bearer(&c.provider_token)
            .json(&json!({"body": "x"})),
        app.delete(&p(format!("/messages/{m}")))
            .bearer(&c.provider_token)
            .send(),
        app.post(&p(format!("/conversations/{conv}/participants")))
            .bearer(&c.admin)
            .json(&json!({"user": extra})),
        app.delete(&p(format!(
            "/conversations/{conv}/participants/{}",
            c.patient
        )))
        .bearer(&c.admin)
        .send(),
    ];
    for r in &gone {
        assert_error(r, 404, "not_found");
    }
    let mine = app
        .get(&v1("/conversations"))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(ids(&mine.body), vec![keep]);
    let all = app.get(&v1("/conversations")).bearer(&c.admin).send();
    assert_eq!(ids(&all.body), vec![keep]);
    let summary = unread_summary(&app, c.t, c.patient);
    assert_eq!(summary["total"], 1);
    assert_eq!(summary["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(summary["conversations"][0]["conversation_id"], keep);
}

#[test]
fn a_late_joiner_starts_with_nothing_unread_and_sees_later_messages_as_unread() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.provider, "one");
    app.send_as(c.t, conv, c.patient, "two");
    let late = staff(&app, &c, "Late Larry");

    let r = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": late}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_ints(
        &r.body,
        &[
            "conversation_id",
            "user_id",
            "unread_count",
            "last_read_seq",
        ],
    );
    assert_eq!(r.body["conversation_id"], conv);
    assert_eq!(r.body["user_id"], late);
    assert_eq!(r.body["unread_count"], 0);
    assert_eq!(r.body["last_read_seq"], 2);
    assert!(r.body["last_read_at"].is_null());
    assert_eq!(unread_summary(&app, c.t, late)["total"], 0);

    app.send_as(c.t, conv, c.provider, "three");
    assert_eq!(app.unread(c.t, conv, late), 1);
    let summary = unread_summary(&app, c.t, late);
    assert_eq!(summary["total"], 1);
    let list = app
        .get(&v1(&format!("/conversations/{conv}/messages?as={late}")))
        .bearer(&c.admin)
        .send();
    let read: Vec<bool> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["read_by"].as_array().unwrap().contains(&json!(late)))
        .collect();
    assert_eq!(read, vec![true, true, false]);

    // Joining twice conflicts; unknown users and conversations are refused.
    let again = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": late}));
    assert_error(&again, 409, "conflict");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": 999_999}));
    assert_invalid(&r, "user");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_invalid_names(&r, "user");
    let r = app
        .post(&v1("/conversations/999999/participants"))
        .bearer(&c.admin)
        .json(&json!({"user": late}));
    assert_error(&r, 404, "not_found");
    assert_eq!(
        conversation(&app, c.t, conv)["participants"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn removing_a_participant_says_whether_they_were_there() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.provider, "hello");
    let path = v1(&format!("/conversations/{conv}/participants/{}", c.patient));

    let r = app.delete(&path).bearer(&c.admin).send();
    assert_eq!((r.status, r.body.clone()), (200, json!({"removed": true})));
    let r = app.delete(&path).bearer(&c.admin).send();
    assert_eq!((r.status, r.body.clone()), (200, json!({"removed": false})));

    let members = conversation(&app, c.t, conv)["participants"].clone();
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_error(
        &app.get(&v1(&format!("/conversations/{conv}")))
            .bearer(&c.patient_token)
            .send(),
        404,
        "not_found",
    );
    let mine = app
        .get(&v1("/conversations"))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(mine.body["data"], json!([]));
    assert_eq!(unread_summary(&app, c.t, c.patient)["total"], 0);
    let r = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "still here?"}),
    );
    assert_error(&r, 403, "forbidden");

    let r = app
        .delete(&v1(&format!("/conversations/{conv}/participants/999999")))
        .bearer(&c.admin)
        .send();
    assert_error(&r, 404, "not_found");
    let r = app
        .delete(&v1(&format!(
            "/conversations/999999/participants/{}",
            c.provider
        )))
        .bearer(&c.admin)
        .send();
    assert_error(&r, 404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

#[test]
fn sending_returns_the_message_with_every_field() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let first = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "My knee hurts"}),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    let m1 = first.body;
    assert_message_shape(&m1);
    assert_eq!(m1["conversation_id"], conv);
    assert_eq!(m1["seq"], 1);
    assert_eq!(m1["sender_id"], c.patient);
    assert_eq!(m1["kind"], "text");
    assert_eq!(m1["metadata"], json!({}));
    assert_eq!(m1["attachments"], json!([]));
    assert_eq!(m1["created_at"], rfc3339(T0));
    assert_nulls(
        &m1,
        &["recipient_id", "subject", "reply_to_id", "status", "device"],
    );
    assert!(m1.get("read_by").is_none());

    tick(&app, 1_000);
    let patient_uuid = app.get(&v1("/me")).bearer(&c.patient_token).send().body["uuid"].clone();
    let r = send(
        &app,
        &c.provider_token,
        conv,
        &json!({
            "body": "Here is the X-ray", "kind": "image", "recipient": patient_uuid,
            "subject": "Results", "reply_to": m1["uuid"], "metadata": {"priority": "high"},
            "attachments": [{"url": "https://x/xray.png"}], "device": {"os": "ios"}
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let m2 = r.body;
    assert_message_shape(&m2);
    assert_eq!(m2["seq"], 2);
    assert_eq!(m2["kind"], "image");
    assert_eq!(m2["recipient_id"], c.patient);
    assert_eq!(m2["subject"], "Results");
    assert_eq!(m2["reply_to_id"], m1["id"]);
    assert_eq!(m2["metadata"], json!({"priority": "high"}));
    assert_eq!(m2["attachments"], json!([{"url": "https://x/xray.png"}]));
    assert_eq!(m2["device"], json!({"os": "ios"}));

    // The stored message reads back the same.
    let got = app
        .get(&v1(&format!("/messages/{}", id(&m2))))
        .bearer(&c.patient_token)
        .send();
    assert_eq!((got.status, &got.body), (200, &m2));
}

#[test]
fn sending_updates_the_conversation_and_everyone_elses_unread_count() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let nurse = staff(&app, &c, "Nurse");
    app.post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": nurse}));

    tick(&app, 5_000);
    let m = send(&app, &c.provider_token, conv, &json!({"body": "Take two"})).body;
    let conv_now = conversation(&app, c.t, conv);
    assert_eq!(conv_now["message_count"], 1);
    assert_eq!(
        conv_now["last_message"],
        json!({"message_id": m["id"], "body": "Take two", "sender_id": c.provider, "created_at": rfc3339(T0 + 5_000)})
    );
    assert_eq!(conv_now["updated_at"], rfc3339(T0 + 5_000));
    let counts: Vec<i64> = [c.patient, c.provider, nurse]
        .iter()
        .map(|u| app.unread(c.t, conv, *u))
        .collect();
    assert_eq!(counts, vec![1, 0, 1]);
    let provider = conv_now["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["id"] == c.provider)
        .unwrap()
        .clone();
    assert_eq!(
        provider["last_read_seq"], 1,
        "the sender has read their own message"
    );
}

#[test]
fn a_rejected_send_writes_nothing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let other = visit(&app, &c);
    let elsewhere = id(&app.send_as(c.t, other, c.provider, "elsewhere"));
    app.send_as(c.t, conv, c.provider, "hello");
    let outsider = staff(&app, &c, "Outsider");
    let users = [c.patient, c.provider];
    let before = snapshot(&app, c.t, conv, &users);

    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "body"),
        (json!({"body": ""}), "body"),
        (json!({"body": "   "}), "body"),
        (json!({"body": 5}), "body"),
        (json!({"body": "x".repeat(20_001)}), "body"),
        (json!({"body": "hi", "kind": "sticker"}), "kind"),
        (json!({"body": "hi", "kind": 3}), "kind"),
        (json!({"body": "hi", "recipient": 999_999}), "recipient"),
        (json!({"body": "hi", "recipient": outsider}), "recipient"),
        (json!({"body": "hi", "recipient": c.patient}), "recipient"),
        (json!({"body": "hi", "recipient": {"id": 1}}), "recipient"),
        (json!({"body": "hi", "reply_to": 999_999}), "reply_to"),
        (
            json!({"body": "hi", "reply_to": "no-such-message"}),
            "reply_to",
        ),
        (json!({"body": "hi", "reply_to": elsewhere}), "reply_to"),
        (json!({"body": "hi", "metadata": [1]}), "metadata"),
        (json!({"body": "hi", "metadata": "x"}), "metadata"),
        (
            json!({"body": "hi", "attachments": {"a": 1}}),
            "attachments",
        ),
        (json!({"body": "hi", "device": "iphone"}), "device"),
        (json!({"body": "hi", "subject": 9}), "subject"),
        (json!({"body": "hi", "as": true}), "as"),
        (json!({"body": "hi", "urgent": true}), "urgent"),
    ];
    for (body, field) in &cases {
        let r = send(&app, &c.patient_token, conv, body);
        if field == &"urgent" || body.get("body").is_none() {
            assert_invalid_names(&r, field);
        } else {
            assert_invalid(&r, field);
        }
        assert_eq!(snapshot(&app, c.t, conv, &users), before, "after {body}");
    }
    for raw in ["", "{", "{\"body\": \"hi\",}", "null", "\"hi\""] {
        let r = app
            .post(&v1(&format!("/conversations/{conv}/messages")))
            .bearer(&c.patient_token)
            .raw("application/json", raw);
        assert_invalid(&r, "body");
    }
    // Not a participant; not a conversation.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.admin)
        .json(&json!({"body": "hi", "as": outsider}));
    assert_error(&r, 403, "forbidden");
    let r = send(&app, &c.patient_token, 999_999, &json!({"body": "hi"}));
    assert_error(&r, 404, "not_found");
    assert_eq!(snapshot(&app, c.t, conv, &users), before);
    // The tenant admin is not a member and must say whom it sends as.
    let r = send(&app, &c.admin, conv, &json!({"body": "hi"}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(snapshot(&app, c.t, conv, &users), before);
}

#[test]
fn messages_are_listed_oldest_first_and_paged_by_seq() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let sent: Vec<i64> = (1..=7)
        .map(|i| {
            id(&app.send_as(
                c.t,
                conv,
                if i % 2 == 0 { c.patient } else { c.provider },
                &format!("m{i}"),
            ))
        })
        .collect();
    let list = |q: &str| {
        let r = app
            .get(&v1(&format!("/conversations/{conv}/messages{q}")))
            .bearer(&c.patient_token)
            .send();
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.body
    };
    let seqs = |page: &Value| -> Vec<i64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect()
    };

    let all = list("");
    assert_eq!(ids(&all), sent);
    assert_eq!(seqs(&all), (1..=7).collect::<Vec<_>>());
    assert!(all["next_cursor"].is_null());
    for m in all["data"].as_array().unwrap() {
        assert_message_shape(m);
        assert!(m["read_by"].is_array(), "{m}");
    }

    // Backwards from the newest.
    let p1 = list("?limit=3");
    assert_eq!(seqs(&p1), vec![5, 6, 7]);
    assert_eq!(p1["next_cursor"], "5");
    let p2 = list("?limit=3&before=5");
    assert_eq!(seqs(&p2), vec![2, 3, 4]);
    assert_eq!(p2["next_cursor"], "2");
    let p3 = list("?limit=3&before=2");
    assert_eq!(seqs(&p3), vec![1]);
    assert!(p3["next_cursor"].is_null());

    // Forwards from the oldest.
    let f1 = list("?limit=3&after=0");
    assert_eq!(seqs(&f1), vec![1, 2, 3]);
    assert_eq!(f1["next_cursor"], "3");
    let f2 = list("?limit=3&after=3");
    assert_eq!(seqs(&f2), vec![4, 5, 6]);
    assert_eq!(f2["next_cursor"], "6");
    let f3 = list("?limit=3&after=6");
    assert_eq!(seqs(&f3), vec![7]);
    assert!(f3["next_cursor"].is_null());
    assert_eq!(seqs(&list("?after=7")), Vec::<i64>::new());

    // Exactly `limit` left: no further page.
    let exact = list("?limit=4&before=5");
    assert_eq!(seqs(&exact), vec![1, 2, 3, 4]);
    assert!(exact["next_cursor"].is_null());
}

#[test]
fn message_lists_reject_bad_paging_parameters() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.provider, "hi");
    let get = |q: &str| {
        app.get(&v1(&format!("/conversations/{conv}/messages?{q}")))
            .bearer(&c.patient_token)
            .send()
    };
    for q in ["limit=0", "limit=101", "limit=abc", "limit=-1"] {
        assert_invalid(&get(q), "limit");
    }
    assert_invalid(&get("before=abc"), "before");
    assert_invalid(&get("after=x"), "after");
    assert_invalid(&get("before=3&after=1"), "after");
    assert_invalid_names(&get("cursor=3"), "cursor");
    assert_error(
        &app.get(&v1("/conversations/999999/messages"))
            .bearer(&c.admin)
            .send(),
        404,
        "not_found",
    );
}

#[test]
fn message_lists_show_who_has_read_each_message() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let nurse = staff(&app, &c, "Nurse");
    let conv = id(&app.create_conversation(c.t, &[c.patient, c.provider, nurse]));
    let m: Vec<i64> = (1..=3)
        .map(|i| id(&app.send_as(c.t, conv, c.provider, &format!("m{i}"))))
        .collect();
    app.post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&c.patient_token)
        .json(&json!({"up_to": m[1]}));
    app.post(&v1(&format!("/messages/{}/read", m[2])))
        .admin()
        .tenant(c.t)
        .json(&json!({"as": nurse}));
    app.send_as(c.t, conv, c.patient, "m4");

    let read_by: Vec<Vec<i64>> = thread(&app, c.t, conv)
        .iter()
        .map(|msg| {
            let mut v: Vec<i64> = msg["read_by"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_i64().unwrap())
                .collect();
            v.sort_unstable();
            v
        })
        .collect();
    let mut patient_nurse = vec![c.patient, nurse];
    patient_nurse.sort_unstable();
    assert_eq!(
        read_by,
        vec![
            vec![c.patient],
            vec![c.patient],
            patient_nurse,
            // The patient's own message: the provider has not read it yet; the sender is not listed.
            vec![],
        ]
    );
}

#[test]
fn a_message_is_found_by_id_uuid_or_oid_by_those_who_may_see_it() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = app.send_as(c.t, conv, c.provider, "hello");
    for key in [
        id(&m).to_string(),
        m["uuid"].as_str().unwrap().to_string(),
        m["oid"].as_str().unwrap().to_string(),
    ] {
        for token in [&c.patient_token, &c.provider_token, &c.admin] {
            let r = app
                .get(&v1(&format!("/messages/{key}")))
                .bearer(token)
                .send();
            assert_eq!(r.status, 200, "{key}: {}", r.body);
            assert_eq!(r.body, m);
        }
    }
    let r = app
        .get(&v1(&format!("/messages/{}", id(&m))))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(r.body, m);
    for key in ["999999", "no-such-message", "bad!id"] {
        assert_error(
            &app.get(&v1(&format!("/messages/{key}")))
                .bearer(&c.admin)
                .send(),
            404,
            "not_found",
        );
    }
}

#[test]
fn only_the_sender_edits_a_message() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let m = app.send_as(c.t, conv, c.provider, "Tkae two");
    let path = v1(&format!("/messages/{}", id(&m)));

    tick(&app, 1_000);
    let r = app
        .patch(&path)
        .bearer(&c.provider_token)
        .json(&json!({"body": "Take two"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_message_shape(&r.body);
    assert_eq!(r.body["body"], "Take two");
    assert_eq!(r.body["id"], m["id"]);
    assert_eq!(r.body["seq"], m["seq"]);
    assert_eq!(r.body["created_at"], rfc3339(T0));
    assert_eq!(r.body["updated_at"], rfc3339(T0 + 1_000));
    assert_eq!(
        conversation(&app, c.t, conv)["last_message"]["body"],
        "Take two"
    );
    assert_eq!(
        app.unread(c.t, conv, c.patient),
        1,
        "an edit is not a new message"
    );

    let refused = [
        app.patch(&path)
            .bearer(&c.patient_token)
            .json(&json!({"body": "Take ten"})),
        app.patch(&path)
            .bearer(&c.admin)
            .json(&json!({"body": "Take ten", "as": c.patient})),
    ];
    for r in &refused {
        assert_error(r, 403, "forbidden");
    }
    assert_invalid(
        &app.patch(&path)
            .bearer(&c.provider_token)
            .json(&json!({"body": ""})),
        "body",
    );
    assert_invalid(
        &app.patch(&path)
            .bearer(&c.provider_token)
            .json(&json!({"body": 2})),
        "body",
    );
    assert_invalid_names(
        &app.patch(&path).bearer(&c.provider_token).json(&json!({})),
        "body",
    );
    assert_invalid_names(
        &app.patch(&path)
            .bearer(&c.provider_token)
            .json(&json!({"body": "x", "kind": "image"})),
        "kind",
    );
    let now = app.get(&path).bearer(&c.patient_token).send().body;
    assert_eq!(now["body"], "Take two");

    // An admin may correct any message.
    let r = app
        .patch(&path)
        .admin()
        .tenant(c.t)
        .json(&json!({"body": "Take two tablets"}));
    assert_eq!(
        (r.status, r.body["body"].as_str()),
        (200, Some("Take two tablets"))
    );
    assert_error(
        &app.patch(&v1("/messages/999999"))
            .bearer(&c.admin)
            .json(&json!({"body": "x"})),
        404,
        "not_found",
    );
}

#[test]
fn deleting_a_message_drops_it_from_unread_counts_and_moves_last_message_back() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let nurse = staff(&app, &c, "Nurse");
    let conv = id(&app.create_conversation(c.t, &[c.patient, c.provider, nurse]));
    let m1 = app.send_as(c.t, conv, c.provider, "one");
    let m2 = app.send_as(c.t, conv, c.provider, "two");
    // The patient has read both; the nurse neither.
    app.post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (0, 2)
    );

    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m2))))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (0, 1)
    );
    let now = conversation(&app, c.t, conv);
    assert_eq!(now["message_count"], 1);
    assert_eq!(now["last_message"]["message_id"], m1["id"]);
    assert_eq!(now["last_message"]["body"], "one");
    assert_eq!(
        thread(&app, c.t, conv).iter().map(id).collect::<Vec<_>>(),
        vec![id(&m1)]
    );
    assert_error(
        &app.get(&v1(&format!("/messages/{}", id(&m2))))
            .bearer(&c.admin)
            .send(),
        404,
        "not_found",
    );
    assert_error(
        &app.delete(&v1(&format!("/messages/{}", id(&m2))))
            .bearer(&c.provider_token)
            .send(),
        404,
        "not_found",
    );

    // A message read singly by the nurse but not by the patient.
    let m3 = app.send_as(c.t, conv, c.provider, "three");
    app.post(&v1(&format!("/messages/{}/read", id(&m3))))
        .admin()
        .tenant(c.t)
        .json(&json!({"as": nurse}));
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (1, 1)
    );
    // Only the sender (or an admin) may delete.
    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m3))))
        .bearer(&c.patient_token)
        .send();
    assert_error(&r, 403, "forbidden");
    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m3))))
        .bearer(&c.admin)
        .json(&json!({"as": nurse}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 2);

    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m3))))
        .admin()
        .tenant(c.t)
        .json(&json!({"as": c.provider}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (0, 1)
    );
    let summary = unread_summary(&app, c.t, c.patient);
    assert_eq!(summary["total"], 0);

    // An admin deletes the last message: nothing is left.
    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m1))))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    let now = conversation(&app, c.t, conv);
    assert_eq!(now["message_count"], 0);
    assert!(now["last_message"].is_null());
    assert_eq!(app.unread(c.t, conv, nurse), 0);
    assert_eq!(thread(&app, c.t, conv), Vec::<Value>::new());
}

#[test]
fn deleting_the_latest_message_moves_the_conversation_back_in_the_list() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let x = visit(&app, &c);
    let y = visit(&app, &c);
    freeze(&app, T0 + 1_000);
    app.send_as(c.t, x, c.provider, "x1");
    freeze(&app, T0 + 2_000);
    app.send_as(c.t, y, c.provider, "y1");
    freeze(&app, T0 + 3_000);
    let x2 = id(&app.send_as(c.t, x, c.provider, "x2"));
    let order = |token: Option<&str>| {
        let req = app.get(&v1("/conversations"));
        let r = match token {
            Some(t) => req.bearer(t).send(),
            None => req.admin().tenant(c.t).send(),
        };
        ids(&r.body)
    };
    assert_eq!(order(Some(&c.patient_token)), vec![x, y]);
    assert_eq!(order(None), vec![x, y]);

    app.delete(&v1(&format!("/messages/{x2}")))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(order(Some(&c.patient_token)), vec![y, x]);
    assert_eq!(order(None), vec![y, x]);
    assert_eq!(
        conversation(&app, c.t, x)["last_message"]["created_at"],
        rfc3339(T0 + 1_000)
    );
}

// ---------------------------------------------------------------------------------------------
// Read state
// ---------------------------------------------------------------------------------------------

#[test]
fn marking_a_conversation_read_moves_the_horizon_forward_only() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let m: Vec<Value> = (1..=4)
        .map(|i| app.send_as(c.t, conv, c.provider, &format!("m{i}")))
        .collect();
    let path = v1(&format!("/conversations/{conv}/read"));
    assert_eq!(app.unread(c.t, conv, c.patient), 4);

    tick(&app, 1_000);
    let r = app
        .post(&path)
        .bearer(&c.patient_token)
        .json(&json!({"up_to": id(&m[1])}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"conversation_id": conv, "user_id": c.patient, "unread_count": 2,
               "last_read_at": rfc3339(T0 + 1_000), "last_read_seq": 2})
    );

    // Going back is a no-op for the horizon and the count.
    let r = app
        .post(&path)
        .bearer(&c.patient_token)
        .json(&json!({"up_to": id(&m[0])}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["unread_count"].clone(),
            r.body["last_read_seq"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(app.unread(c.t, conv, c.patient), 2);

    // By uuid, then everything (no body, and an empty object).
    let r = app
        .post(&path)
        .bearer(&c.patient_token)
        .json(&json!({"up_to": m[2]["uuid"]}));
    assert_eq!(r.body["last_read_seq"], 3);
    let r = app.post(&path).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["unread_count"].clone(),
            r.body["last_read_seq"].clone()
        ),
        (json!(0), json!(4))
    );
    let r = app.post(&path).bearer(&c.patient_token).json(&json!({}));
    assert_eq!(r.body["unread_count"], 0);
    assert_eq!(app.unread(c.t, conv, c.patient), 0);
    assert_eq!(unread_summary(&app, c.t, c.patient)["total"], 0);

    // An admin marks for a user with `as`.
    app.send_as(c.t, conv, c.patient, "reply");
    assert_eq!(app.unread(c.t, conv, c.provider), 1);
    let r = app
        .post(&path)
        .admin()
        .tenant(c.t)
        .json(&json!({"as": c.provider}));
    assert_eq!((r.status, r.body["unread_count"].clone()), (200, json!(0)));
}

#[test]
fn marking_a_conversation_read_rejects_bad_references_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let other = visit(&app, &c);
    let elsewhere = id(&app.send_as(c.t, other, c.provider, "elsewhere"));
    app.send_as(c.t, conv, c.provider, "one");
    let deleted = id(&app.send_as(c.t, conv, c.provider, "two"));
    app.send_as(c.t, conv, c.provider, "three");
    app.delete(&v1(&format!("/messages/{deleted}")))
        .admin()
        .tenant(c.t)
        .send();
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    let path = v1(&format!("/conversations/{conv}/read"));
    let post = |body: Value| app.post(&path).bearer(&c.patient_token).json(&body);

    assert_invalid(&post(json!({"up_to": 999_999})), "up_to");
    assert_invalid(&post(json!({"up_to": "no-such-message"})), "up_to");
    assert_invalid(&post(json!({"up_to": elsewhere})), "up_to");
    assert_invalid(&post(json!({"up_to": deleted})), "up_to");
    assert_invalid(&post(json!({"up_to": true})), "up_to");
    assert_invalid_names(&post(json!({"until": 1})), "until");
    assert_invalid(
        &app.post(&path)
            .bearer(&c.patient_token)
            .raw("application/json", "{"),
        "body",
    );
    assert_invalid(
        &app.post(&path)
            .bearer(&c.patient_token)
            .raw("application/json", "null"),
        "body",
    );
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    assert_error(
        &app.post(&v1("/conversations/999999/read"))
            .bearer(&c.patient_token)
            .send(),
        404,
        "not_found",
    );
}

#[test]
fn marking_one_message_read_is_idempotent() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m1 = id(&app.send_as(c.t, conv, c.provider, "one"));
    let m2 = id(&app.send_as(c.t, conv, c.provider, "two"));
    let mine = id(&app.send_as(c.t, conv, c.patient, "mine"));
    let m3 = id(&app.send_as(c.t, conv, c.provider, "three"));
    assert_eq!(
        app.unread(c.t, conv, c.patient),
        1,
        "sending read everything before it"
    );

    let r = app
        .post(&v1(&format!("/messages/{m3}/read")))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"changed": true, "message_id": m3}));
    assert_eq!(app.unread(c.t, conv, c.patient), 0);
    let r = app
        .post(&v1(&format!("/messages/{m3}/read")))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(r.body, json!({"changed": false, "message_id": m3}));
    assert_eq!(app.unread(c.t, conv, c.patient), 0);

    // Messages below the horizon, and one's own, are already read.
    for m in [m1, m2, mine] {
        let r = app
            .post(&v1(&format!("/messages/{m}/read")))
            .bearer(&c.patient_token)
            .json(&json!({}));
        assert_eq!(r.body, json!({"changed": false, "message_id": m}));
    }
    assert_eq!(app.unread(c.t, conv, c.patient), 0);

    // The provider marks the patient's newest message by uuid.
    let reply = app.send_as(c.t, conv, c.patient, "reply");
    assert_eq!(app.unread(c.t, conv, c.provider), 1);
    let r = app
        .post(&v1(&format!(
            "/messages/{}/read",
            reply["uuid"].as_str().unwrap()
        )))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.body, json!({"changed": true, "message_id": reply["id"]}));
    assert_eq!(app.unread(c.t, conv, c.provider), 0);
    // Marking the whole conversation afterwards changes nothing more.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.body["unread_count"], 0);

    assert_error(
        &app.post(&v1("/messages/999999/read"))
            .bearer(&c.patient_token)
            .send(),
        404,
        "not_found",
    );
    assert_invalid_names(
        &app.post(&v1(&format!("/messages/{m3}/read")))
            .bearer(&c.patient_token)
            .json(&json!({"up_to": 1})),
        "up_to",
    );
}

#[test]
fn the_unread_summary_totals_the_callers_conversations() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let a = visit(&app, &c);
    let b = visit(&app, &c);
    let quiet = visit(&app, &c);
    for _ in 0..3 {
        app.send_as(c.t, a, c.provider, "a");
    }
    app.send_as(c.t, b, c.provider, "b");
    app.send_as(c.t, quiet, c.patient, "mine");

    let r = app.get(&v1("/unread")).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200, "{}", r.body);
    let uuid_of = |conv: i64| conversation(&app, c.t, conv)["uuid"].clone();
    assert_eq!(
        r.body,
        json!({"total": 4, "conversations": [
            {"conversation_id": a, "uuid": uuid_of(a), "unread_count": 3},
            {"conversation_id": b, "uuid": uuid_of(b), "unread_count": 1},
        ]})
    );
    let via_admin = app
        .get(&v1(&format!("/unread?as={}", c.patient)))
        .bearer(&c.admin)
        .send();
    assert_eq!(via_admin.body, r.body);

    let r = app.get(&v1("/unread")).bearer(&c.provider_token).send();
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["conversations"][0]["conversation_id"], quiet);

    app.post(&v1(&format!("/conversations/{a}/read")))
        .bearer(&c.patient_token)
        .send();
    let r = app.get(&v1("/unread")).bearer(&c.patient_token).send();
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["conversations"].as_array().unwrap().len(), 1);

    // The tenant admin's own (empty) summary.
    let r = app.get(&v1("/unread")).bearer(&c.admin).send();
    assert_eq!(r.body, json!({"total": 0, "conversations": []}));
    assert_invalid(
        &app.get(&v1("/unread?as=999999")).bearer(&c.admin).send(),
        "as",
    );
    assert_invalid_names(
        &app.get(&v1("/unread?limit=5")).bearer(&c.admin).send(),
        "limit",
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input in general
// ---------------------------------------------------------------------------------------------

#[test]
fn an_oversized_body_gets_413_and_writes_nothing() {
    let app = spawn_with(|s| s.body_limit = 2048);
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);

    let r = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "x".repeat(3_000)}),
    );
    assert_error(&r, 413, "too_large");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);

    let r = app
        .post(&v1("/users"))
        .bearer(&c.admin)
        .json(&json!({"display_name": "y".repeat(5_000)}));
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    assert_eq!(
        app.get(&v1("/users")).bearer(&c.admin).send().body["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Just under the limit is fine.
    let r = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "x".repeat(1_900)}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn unknown_routes_and_ids_in_paths_are_json_404s() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let paths = [
        "/nope",
        "/users/999999",
        "/users/no-such-user",
        "/users/bad%21id",
        "/users/99999999999999999999999",
        "/users/999999/tokens",
        "/conversations/999999",
        "/conversations/999999/messages",
        "/messages/999999",
        "/tenants/999999",
    ];
    for path in paths {
        let r = app.get(&v1(path)).bearer(&c.admin).send();
        assert_error(&r, 404, "not_found");
    }
    let r = app.get("/definitely/not/here").send();
    assert_error(&r, 404, "not_found");
}

#[test]
fn wrong_content_types_are_still_parsed_as_json_or_refused_cleanly() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.patient_token)
        .raw("text/plain", "not json at all");
    assert_invalid(&r, "body");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.patient_token)
        .raw("application/x-www-form-urlencoded", "body=hi");
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);
}

// ---------------------------------------------------------------------------------------------
// Tenant isolation
// ---------------------------------------------------------------------------------------------

/// Tenant B's things, by every id they have.
struct Theirs {
    user: Value,
    conv: Value,
    message: Value,
}

fn theirs(app: &TestApp, b: &Clinic) -> Theirs {
    let user = app
        .get(&v1(&format!("/users/{}", b.patient)))
        .bearer(&b.admin)
        .send()
        .body;
    let conv = app.create_conversation(b.t, &[b.patient, b.provider]);
    let message = app.send_as(b.t, id(&conv), b.provider, "B's secret");
    Theirs {
        user,
        conv,
        message,
    }
}

fn keys(v: &Value) -> Vec<String> {
    vec![
        id(v).to_string(),
        v["uuid"].as_str().unwrap().to_string(),
        v["oid"].as_str().unwrap().to_string(),
    ]
}

#[test]
fn a_tenant_admin_cannot_reach_another_tenants_users() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    let before = app
        .get(&v1(&format!("/users/{}", b.patient)))
        .bearer(&b.admin)
        .send()
        .body;

    for key in keys(&their.user) {
        let r = [
            app.get(&v1(&format!("/users/{key}")))
                .bearer(&a.admin)
                .send(),
            app.patch(&v1(&format!("/users/{key}")))
                .bearer(&a.admin)
                .json(&json!({"display_name": "Owned"})),
            app.patch(&v1(&format!("/users/{key}")))
                .bearer(&a.admin)
                .json(&json!({"password": "taken over", "username": "pwned"})),
            app.get(&v1(&format!("/users/{key}/tokens")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/users/{key}/tokens")))
                .bearer(&a.admin)
                .json(&json!({})),
        ];
        for resp in &r {
            assert_error(resp, 404, "not_found");
            assert!(!resp.body.to_string().contains("Pat Smith"));
        }
    }
    let listed = app.get(&v1("/users?limit=100")).bearer(&a.admin).send();
    assert!(!ids(&listed.body).contains(&b.patient));
    assert!(listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["tenant_id"] == a.t));
    let after = app
        .get(&v1(&format!("/users/{}", b.patient)))
        .bearer(&b.admin)
        .send()
        .body;
    assert_eq!(after, before);
    // B's tokens and API keys cannot be revoked from A either.
    let b_token = ids(&app
        .get(&v1(&format!("/users/{}/tokens", b.patient)))
        .bearer(&b.admin)
        .send()
        .body)[0];
    let b_key = id(&app
        .post(&v1("/api-keys"))
        .bearer(&b.admin)
        .json(&json!({}))
        .body);
    assert_error(
        &app.delete(&v1(&format!("/tokens/{b_token}")))
            .bearer(&a.admin)
            .send(),
        404,
        "not_found",
    );
    assert_error(
        &app.delete(&v1(&format!("/api-keys/{b_key}")))
            .bearer(&a.admin)
            .send(),
        404,
        "not_found",
    );
    assert_eq!(
        app.get(&v1("/me")).bearer(&b.patient_token).send().status,
        200
    );
    assert!(
        app.get(&v1("/api-keys")).bearer(&b.admin).send().body["data"][0]["revoked_at"].is_null()
    );
    assert_eq!(
        app.get(&v1("/api-keys")).bearer(&a.admin).send().body["data"],
        json!([])
    );
    // Nor the server admin's own token.
    assert_error(
        &app.delete(&v1("/tokens/1")).bearer(&a.admin).send(),
        404,
        "not_found",
    );
    assert_eq!(app.get(&v1("/me")).admin().send().status, 200);
}

#[test]
fn a_tenant_admin_cannot_reach_another_tenants_conversations_or_messages() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    let conv_b = id(&their.conv);
    let before = snapshot(&app, b.t, conv_b, &[b.patient, b.provider]);
    let a_user = staff(&app, &a, "A staff");

    for key in keys(&their.conv) {
        let r = [
            app.get(&v1(&format!("/conversations/{key}")))
                .bearer(&a.admin)
                .send(),
            app.get(&v1(&format!("/conversations/{key}/messages")))
                .bearer(&a.admin)
                .send(),
            app.patch(&v1(&format!("/conversations/{key}")))
                .bearer(&a.admin)
                .json(&json!({"locked": true, "name": "A's now"})),
            app.delete(&v1(&format!("/conversations/{key}")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/conversations/{key}/participants")))
                .bearer(&a.admin)
                .json(&json!({"user": a_user})),
            app.delete(&v1(&format!("/conversations/{key}/participants/{a_user}")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/conversations/{key}/read")))
                .bearer(&a.admin)
                .send(),
        ];
        for resp in &r {
            assert_error(resp, 404, "not_found");
            assert!(!resp.body.to_string().contains("B's secret"));
        }
        let r = app
            .post(&v1(&format!("/conversations/{key}/messages")))
            .bearer(&a.admin)
            .json(&json!({"body": "A was here"}));
        assert_error(&r, 404, "not_found");
    }
    for key in keys(&their.message) {
        let r = [
            app.get(&v1(&format!("/messages/{key}")))
                .bearer(&a.admin)
                .send(),
            app.patch(&v1(&format!("/messages/{key}")))
                .bearer(&a.admin)
                .json(&json!({"body": "rewritten"})),
            app.delete(&v1(&format!("/messages/{key}")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/messages/{key}/read")))
                .bearer(&a.admin)
                .send(),
        ];
        for resp in &r {
            assert_error(resp, 404, "not_found");
            assert!(!resp.body.to_string().contains("B's secret"));
        }
    }
    let listed = app.get(&v1("/conversations")).bearer(&a.admin).send();
    assert_eq!(listed.body["data"], json!([]));
    assert_eq!(
        snapshot(&app, b.t, conv_b, &[b.patient, b.provider]),
        before
    );
}

#[test]
fn a_tenant_admin_cannot_act_as_or_refer_to_another_tenants_users_and_messages() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    let conv_a = visit(&app, &a);
    app.send_as(a.t, conv_a, a.provider, "hello A");
    let before_a = snapshot(&app, a.t, conv_a, &[a.patient, a.provider]);
    let before_b = snapshot(&app, b.t, id(&their.conv), &[b.patient, b.provider]);

    for key in keys(&their.user) {
        // `as` in a query or a body: not a user of this tenant (never 403, never B's data).
        for path in [
            format!("/conversations?as={key}"),
            format!("/conversations/{conv_a}?as={key}"),
            format!("/conversations/{conv_a}/messages?as={key}"),
            format!("/unread?as={key}"),
        ] {
            let r = app.get(&v1(&path)).bearer(&a.admin).send();
            assert_invalid(&r, "as");
        }
        let r = send(&app, &a.admin, conv_a, &json!({"body": "hi", "as": key}));
        assert_invalid(&r, "as");
        let r = app
            .post(&v1(&format!("/conversations/{conv_a}/read")))
            .bearer(&a.admin)
            .json(&json!({"as": key}));
        assert_invalid(&r, "as");
        let r = app
            .post(&v1("/conversations"))
            .bearer(&a.admin)
            .json(&json!({"participants": [a.patient], "as": key}));
        assert_invalid(&r, "as");

        // As a reference in a body.
        let r = app
            .post(&v1("/conversations"))
            .bearer(&a.admin)
            .json(&json!({"participants": [a.patient, key]}));
        assert_invalid(&r, "participants[1]");
        let r = app
            .post(&v1(&format!("/conversations/{conv_a}/participants")))
            .bearer(&a.admin)
            .json(&json!({"user": key}));
        assert_invalid(&r, "user");
        let r = send(
            &app,
            &a.patient_token,
            conv_a,
            &json!({"body": "hi", "recipient": key}),
        );
        assert_invalid(&r, "recipient");
        // And in a path.
        let r = app
            .delete(&v1(&format!("/conversations/{conv_a}/participants/{key}")))
            .bearer(&a.admin)
            .send();
        assert_error(&r, 404, "not_found");
    }
    for key in keys(&their.message) {
        let r = send(
            &app,
            &a.patient_token,
            conv_a,
            &json!({"body": "hi", "reply_to": key}),
        );
        assert_invalid(&r, "reply_to");
        let r = app
            .post(&v1(&format!("/conversations/{conv_a}/read")))
            .bearer(&a.patient_token)
            .json(&json!({"up_to": key}));
        assert_invalid(&r, "up_to");
    }
    assert_eq!(
        snapshot(&app, a.t, conv_a, &[a.patient, a.provider]),
        before_a
    );
    assert_eq!(
        snapshot(&app, b.t, id(&their.conv), &[b.patient, b.provider]),
        before_b
    );
    let all_a = app.get(&v1("/conversations")).bearer(&a.admin).send();
    assert_eq!(ids(&all_a.body), vec![conv_a]);
}

#[test]
fn a_tenant_user_cannot_name_another_tenant_in_the_header() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    for token in [&a.admin, &a.patient_token] {
        for tenant in [b.t.to_string(), b.uuid.clone(), "999999".into()] {
            for path in [
                "/users".to_string(),
                "/conversations".into(),
                format!("/conversations/{}", id(&their.conv)),
                format!("/users/{}", b.patient),
                "/unread".into(),
            ] {
                let r = app
                    .get(&v1(&path))
                    .bearer(token)
                    .header("X-Parlor-Tenant", &tenant)
                    .send();
                assert_error(&r, 404, "not_found");
                assert!(!r.body.to_string().contains("B's secret"));
            }
            let r = app
                .post(&v1(&format!("/conversations/{}/messages", id(&their.conv))))
                .bearer(token)
                .header("X-Parlor-Tenant", &tenant)
                .json(&json!({"body": "A was here"}));
            assert_error(&r, 404, "not_found");
        }
    }
    assert_eq!(conversation(&app, b.t, id(&their.conv))["message_count"], 1);
    // Naming one's own tenant is allowed.
    let r = app
        .get(&v1("/users"))
        .bearer(&a.admin)
        .header("X-Parlor-Tenant", &a.uuid)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_text_id_used_in_another_tenant_does_not_hide_my_own_user() {
    let app = spawn_app();
    let a = app.create_tenant("A");
    let b = app.create_tenant("B");
    app.create_user(b, json!({"uuid": "shared-key", "display_name": "B user"}));
    let mine = app.create_user(a, json!({"oid": "shared-key", "display_name": "A user"}));

    let r = app.get(&v1("/users/shared-key")).admin().tenant(a).send();
    assert_eq!(
        (r.status, r.body["id"].clone()),
        (200, mine["id"].clone()),
        "A's user whose oid is shared-key: {}",
        r.body
    );
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(a)
        .json(&json!({"participants": ["shared-key"]}));
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn an_unauthenticated_request_is_401_whatever_its_tenant_header() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    for tenant in [c.t.to_string(), c.uuid.clone(), "not a tenant!".into()] {
        let r = app
            .get(&v1("/users"))
            .header("X-Parlor-Tenant", &tenant)
            .send();
        assert_error(&r, 401, "unauthenticated");
        let r = app
            .get(&v1("/users"))
            .bearer("not-a-real-token")
            .header("X-Parlor-Tenant", &tenant)
            .send();
        assert_error(&r, 401, "unauthenticated");
    }
}

#[test]
fn a_json_array_is_not_taken_for_an_object() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    // Nine elements: one for each field of a send, in declaration order.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.patient_token)
        .raw(
            "application/json",
            r#"["positional", null, null, null, null, null, null, null, null]"#,
        );
    assert_invalid(&r, "body");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    let r = app
        .post(&v1("/users"))
        .bearer(&c.admin)
        .raw("application/json", "[1, 2]");
    assert_invalid(&r, "body");
}

#[test]
fn a_token_lifetime_too_long_to_render_is_refused() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"expires_in_minutes": u32::MAX}));
    if r.status == 201 {
        // Accepting it is fine only if the expiry is still an RFC 3339 timestamp.
        assert_ts(&r.body["expires_at"]);
    } else {
        assert_invalid(&r, "expires_in_minutes");
    }
}

#[test]
fn clearing_the_username_of_a_user_with_a_password_is_rejected() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let ann = id(&app.create_user(
        c.t,
        json!({"username": "ann", "password": "first password"}),
    ));
    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&c.admin)
        .json(&json!({"username": null}));
    assert_invalid(&r, "username");
    assert_eq!(login(&app, json!(c.t), "ann", "first password").status, 200);
}

#[test]
fn a_removed_participant_can_no_longer_edit_or_delete_their_messages() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.patient, "original"));
    app.delete(&v1(&format!(
        "/conversations/{conv}/participants/{}",
        c.patient
    )))
    .bearer(&c.admin)
    .send();
    let path = v1(&format!("/messages/{m}"));
    // They can no longer see it...
    assert_error(
        &app.get(&path).bearer(&c.patient_token).send(),
        404,
        "not_found",
    );
    // ...so they cannot change it either.
    let r = app
        .patch(&path)
        .bearer(&c.patient_token)
        .json(&json!({"body": "rewritten after leaving"}));
    assert_error(&r, 404, "not_found");
    let r = app.delete(&path).bearer(&c.patient_token).send();
    assert_error(&r, 404, "not_found");
    let now = app.get(&path).bearer(&c.admin).send();
    assert_eq!(
        (now.status, now.body["body"].as_str()),
        (200, Some("original"))
    );
}

#[test]
fn a_wrong_method_on_a_known_path_is_405_with_the_allowed_methods() {
    let app = spawn_demo();
    let r = app
        .request("PUT", "/parlor/v1/conversations/2")
        .admin()
        .tenant(1)
        .json(&json!({ "name": "x" }));
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("Allow"), Some("GET, PATCH, DELETE"));
    let r = app.delete("/parlor/v1/me").admin().send();
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("Allow"), Some("GET"));
    // Nothing was changed, and unknown paths are still not found.
    let conv = app
        .get("/parlor/v1/conversations/2")
        .admin()
        .tenant(1)
        .send();
    assert_ne!(conv.body["name"], "x");
    let r = app.get("/parlor/v1/nowhere").admin().send();
    assert_error(&r, 404, "not_found");
}

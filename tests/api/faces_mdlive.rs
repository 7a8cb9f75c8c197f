//! The MDLIVE face against the demo data: the seed's example, every endpoint, its auth and
//! errors, and state shared with the native API.

use serde_json::{json, Value};

use crate::helpers::*;

const SECRET: &str = "mdlive-test-jwt-secret";
const KEY: &str = "demo-mdlive-key";
const KEY_SECRET: &str = "demo-mdlive-secret";
const EMILY: i64 = 52;
const DR_STORK: i64 = 4;
const CLINIC: i64 = 1;

fn demo() -> TestApp {
    spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some(SECRET.into());
    })
}

fn sso_body(subscriber_id: &str) -> Value {
    json!({
        "auth": {
            "first_name": "Emily", "last_name": "Carter", "gender": "F",
            "birthdate": "1990-04-12", "subscriber_id": subscriber_id,
            "phone": "5555550152", "email": "emily.carter@example.com",
            "address1": "1 Main St", "city": "Sunrise", "state": "FL", "zip": "33325",
            "relationship": "Self"
        },
        "org": { "ou": "riverside" },
        "api": { "api_key": KEY, "password": KEY_SECRET }
    })
}

/// A user token for Emily Carter (patient 52) through single sign-on.
fn emily(app: &TestApp) -> String {
    let r = app
        .post("/api/v1/sso_auth/auth_token")
        .json(&sso_body("MDL-SUB-0052"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["id"], EMILY);
    r.body["jwt"].as_str().unwrap().to_string()
}

/// A token signed with `secret` for `sub` in tenant `tid`, expiring at `exp` (Unix seconds).
fn forge(secret: &str, typ: &str, sub: i64, tid: i64, exp: i64) -> String {
    let claims = json!({ "sub": sub.to_string(), "tid": tid, "typ": typ, "iat": 0, "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn in_an_hour() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600
}

/// The body as sent, for checks of key order.
fn raw(app: &TestApp, path: &str, token: &str) -> String {
    app.raw_get(path, &format!("Bearer {token}"))
}

fn conversations(app: &TestApp, token: &str) -> Resp {
    app.get(&format!("/api/v2/patients/{EMILY}/messages/conversations"))
        .bearer(token)
        .send()
}

fn summary_for(r: &Resp, provider: i64) -> Value {
    r.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider"]["id"] == provider)
        .cloned()
        .unwrap_or(Value::Null)
}

fn thread(app: &TestApp, token: &str, provider: i64, query: &str) -> Resp {
    app.get(&format!(
        "/api/v1/patients/{EMILY}/providers/{provider}/conversation{query}"
    ))
    .bearer(token)
    .send()
}

/// The provider replies through the native API, as a test suite playing the provider does.
fn provider_replies(app: &TestApp, conversation: i64, provider: i64, text: &str) -> i64 {
    let r = app
        .post(&format!("/parlor/v1/conversations/{conversation}/messages"))
        .admin()
        .tenant(CLINIC)
        .json(&json!({ "as": provider, "body": text, "recipient": EMILY }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

fn native_unread(app: &TestApp) -> Value {
    let r = app
        .get(&format!("/parlor/v1/unread?as={EMILY}"))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

#[test]
fn the_conversation_list_is_the_seed_example_field_for_field_and_in_order() {
    let app = demo();
    let token = emily(&app);
    let golden = include_str!("../faces/mdlive/conversations.json");
    let r = conversations(&app, &token);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::from_str::<Value>(golden).unwrap());
    assert_eq!(
        raw(
            &app,
            &format!("/api/v2/patients/{EMILY}/messages/conversations"),
            &token
        ),
        minify(golden)
    );
}

#[test]
fn the_thread_is_newest_first_with_both_timestamp_styles_and_read_flags() {
    let app = demo();
    let token = emily(&app);
    let r = thread(&app, &token, DR_STORK, "");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let messages = r.body["messages"].as_array().unwrap();
    let ids: Vec<i64> = messages.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [107, 106, 105, 104, 103]);
    assert_eq!(
        messages[0],
        json!({
            "id": 107,
            "date_time": "2018-01-23T13:50:39+00:00",
            "from": "DR Travis C Stork",
            "from_id": 4,
            "to": "Emily Carter",
            "to_id": 52,
            "subject": "RE: Ankle pain",
            "message": "You can take 1 600mg every 4 hours as needed for pain.",
            "unread_status": true,
            "replied_to_message_id": null
        })
    );
    // Emily read up to 105; Dr Stork has read everything she sent.
    let unread: Vec<bool> = messages
        .iter()
        .map(|m| m["unread_status"].as_bool().unwrap())
        .collect();
    assert_eq!(unread, [true, true, false, false, false]);
    assert_eq!(messages[2]["from"], "Emily Carter");
    assert_eq!(messages[2]["to"], "DR Travis C Stork");
    // Reading the thread marks nothing read.
    assert_eq!(
        summary_for(&conversations(&app, &token), DR_STORK)["unread_messages"],
        2
    );
}

#[test]
fn message_keys_come_in_the_vendors_order() {
    let app = demo();
    let token = emily(&app);
    let text = raw(
        &app,
        &format!("/api/v1/patients/{EMILY}/providers/{DR_STORK}/conversation?per=1"),
        &token,
    );
    let order = [
        "\"id\"",
        "\"date_time\"",
        "\"from\"",
        "\"from_id\"",
        "\"to\"",
        "\"to_id\"",
        "\"subject\"",
        "\"message\"",
        "\"unread_status\"",
        "\"replied_to_message_id\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn pages_are_numbered_from_one_and_per_is_capped_at_100() {
    let app = demo();
    let token = emily(&app);
    let ids = |r: Resp| -> Vec<i64> {
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(thread(&app, &token, DR_STORK, "?per=2")), [107, 106]);
    assert_eq!(
        ids(thread(&app, &token, DR_STORK, "?page=2&per=2")),
        [105, 104]
    );
    assert_eq!(ids(thread(&app, &token, DR_STORK, "?page=3&per=2")), [103]);
    assert!(ids(thread(&app, &token, DR_STORK, "?page=4&per=2")).is_empty());
    assert_eq!(ids(thread(&app, &token, DR_STORK, "?per=500")).len(), 5);
    for bad in ["?page=0", "?per=0", "?page=abc", "?per=-3"] {
        let r = thread(&app, &token, DR_STORK, bad);
        assert_eq!(r.status, 422, "{bad}: {:?}", r.body);
        assert!(r.body["errors"].is_object(), "{bad}: {:?}", r.body);
    }
    // A contact she has not written to yet: no messages.
    assert!(ids(thread(&app, &token, 38, "")).is_empty());
}

#[test]
fn a_provider_reply_raises_the_badge_and_mark_read_lowers_it_to_null() {
    let app = demo();
    let token = emily(&app);
    assert_eq!(native_unread(&app)["total"], 3);

    let reply = provider_replies(&app, 2, DR_STORK, "Any better today?");
    let summary = summary_for(&conversations(&app, &token), DR_STORK);
    assert_eq!(summary["unread_messages"], 3);
    assert_eq!(summary["recent_message_body"], "Any better today?");
    assert_eq!(summary["last_message_by"], "provider");
    let first = &thread(&app, &token, DR_STORK, "?per=1").body["messages"][0];
    assert_eq!(first["id"], reply);
    assert_eq!(first["unread_status"], true);
    assert_eq!(native_unread(&app)["total"], 4);

    for (method, id) in [("POST", reply), ("PUT", 107), ("POST", 106)] {
        let r = app
            .request(
                method,
                &format!("/api/v1/patients/{EMILY}/messages/{id}/mark_read"),
            )
            .bearer(&token)
            .send();
        assert_eq!(r.status, 204, "{method} {id}: {:?}", r.body);
        assert_eq!(r.body, Value::Null);
    }
    // Marking again changes nothing.
    let again = app
        .post(&format!(
            "/api/v1/patients/{EMILY}/messages/{reply}/mark_read"
        ))
        .bearer(&token)
        .send();
    assert_eq!(again.status, 204);

    let summary = summary_for(&conversations(&app, &token), DR_STORK);
    assert_eq!(summary["unread_messages"], Value::Null);
    assert_eq!(
        thread(&app, &token, DR_STORK, "?per=1").body["messages"][0]["unread_status"],
        false
    );
    // The native API sees the same counts: only the system message is left.
    assert_eq!(native_unread(&app)["total"], 1);
}

#[test]
fn sending_to_a_contact_starts_a_thread_the_provider_sees() {
    let app = demo();
    let token = emily(&app);
    let r = app
        .post(&format!("/api/v1/patients/{EMILY}/messages"))
        .bearer(&token)
        .json(&json!({ "message": {
            "message_type": "follow_up", "to_id": 38,
            "subject": "Refill", "message": "Could you renew my prescription?"
        }}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let m = &r.body["message"];
    assert_eq!(m["from"], "Emily Carter");
    assert_eq!(m["from_id"], EMILY);
    assert_eq!(m["to"], "DR Priya Raman");
    assert_eq!(m["to_id"], 38);
    assert_eq!(m["subject"], "Refill");
    assert_eq!(m["message"], "Could you renew my prescription?");
    assert_eq!(m["unread_status"], true);
    assert_eq!(m["replied_to_message_id"], Value::Null);
    assert!(m["id"].is_i64());
    let date = m["date_time"].as_str().unwrap();
    assert!(date.ends_with("+00:00") && date.len() == 25, "{date}");

    let list = conversations(&app, &token);
    let ids: Vec<i64> = list.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [37, DR_STORK, 38], "newest activity last");
    let summary = summary_for(&list, 38);
    assert_eq!(summary["last_message_by"], "patient");
    assert_eq!(summary["unread_messages"], Value::Null);

    // Dr Raman has it unread, seen through the native API (beside one from another patient
    // in conversation 4).
    let r = app
        .get("/parlor/v1/unread?as=38")
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(r.body["total"], 2, "{:?}", r.body);
    let new_thread: Vec<&Value> = r.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["conversation_id"] != 4)
        .collect();
    assert_eq!(new_thread.len(), 1);
    assert_eq!(new_thread[0]["unread_count"], 1);

    // A second message goes to the same thread, replying to the first.
    let first = m["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/api/v1/patients/{EMILY}/messages"))
        .bearer(&token)
        .json(&json!({ "message": {
            "message_type": "follow_up", "to_id": "38", "subject": "Refill",
            "message": "It is the 10mg one.", "replied_to_message_id": first
        }}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["message"]["replied_to_message_id"], first);
    let thread = thread(&app, &token, 38, "");
    assert_eq!(thread.body["messages"].as_array().unwrap().len(), 2);
}

#[test]
fn sending_checks_the_provider_and_every_field() {
    let app = demo();
    let token = emily(&app);
    let send = |body: Value| {
        app.post(&format!("/api/v1/patients/{EMILY}/messages"))
            .bearer(&token)
            .json(&body)
    };
    let ok = |to: Value| json!({ "message": { "to_id": to, "subject": "s", "message": "m" } });

    // Not one of her contacts and no conversation with her: 422.
    let r = send(ok(json!(39)));
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.body["errors"]["to_id"][0]
        .as_str()
        .unwrap()
        .contains("not one of your contacts"));
    // Unknown, or not a provider: 404.
    for to in [json!(9999), json!(5), json!(53)] {
        let r = send(ok(to.clone()));
        assert_eq!(r.status, 404, "{to}: {:?}", r.body);
        assert_eq!(r.body, json!({ "error": "Provider not found" }));
    }
    // Missing and malformed.
    let r = send(json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({ "error": "param is missing or the value is empty: message" })
    );
    let r = send(json!({ "message": { "to_id": "abc", "subject": " " } }));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body,
        json!({ "errors": {
            "to_id": ["is not a number"],
            "subject": ["can't be blank"],
            "message": ["can't be blank"]
        }})
    );
    let r = send(json!({ "message": { "to_id": 4, "subject": "s", "message": ["x"] } }));
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"]["message"][0], "must be a string");
    let r = send(
        json!({ "message": { "to_id": 4, "subject": "s", "message": "m",
                                       "replied_to_message_id": 110 } }),
    );
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.body["errors"]["replied_to_message_id"].is_array());
    let r = app
        .post(&format!("/api/v1/patients/{EMILY}/messages"))
        .bearer(&token)
        .raw("application/json", "{\"message\": ");
    assert_eq!(r.status, 400);
    assert!(r.body["error"].as_str().unwrap().contains("parsing"));
    let r = app
        .post(&format!("/api/v1/patients/{EMILY}/messages"))
        .bearer(&token)
        .raw("application/json", "[1]");
    assert_eq!(r.status, 400);

    // Nothing of the above was stored.
    let r = app
        .get("/parlor/v1/conversations?as=52")
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3, "{:?}", r.body);
}

#[test]
fn mark_read_is_only_for_messages_sent_to_the_patient() {
    let app = demo();
    let token = emily(&app);
    let mark = |id: &str| {
        app.post(&format!("/api/v1/patients/{EMILY}/messages/{id}/mark_read"))
            .bearer(&token)
            .send()
    };
    let own = mark("105");
    assert_eq!(own.status, 422, "{:?}", own.body);
    assert!(own.body["errors"]["message_id"].is_array());
    for id in ["110", "99999", "abc"] {
        let r = mark(id);
        assert_eq!(r.status, 404, "{id}: {:?}", r.body);
        assert_eq!(r.body, json!({ "error": "Message not found" }));
    }
}

#[test]
fn contacts_and_system_messages() {
    let app = demo();
    let token = emily(&app);
    let r = app
        .get(&format!("/api/v1/patients/{EMILY}/messages/contacts"))
        .bearer(&token)
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["contacts"][0],
        json!({ "id": 4, "prefix": "DR", "fullname": "Travis C Stork", "gender": "Male",
                "photo_url": "/users/4/photo", "specialty": "General Practice" })
    );
    let ids: Vec<i64> = r.body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [4, 37, 38]);

    let system = |query: &str| {
        app.get(&format!("/api/v1/patients/{EMILY}/messages/system{query}"))
            .bearer(&token)
            .send()
    };
    let r = system("");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["unread"], 1);
    assert_eq!(r.body["messages"][0]["id"], 109);
    assert_eq!(r.body["messages"][0]["from"], "System Controller");
    assert_eq!(r.body["messages"][0]["unread_status"], true);
    assert_eq!(r.body["messages"][1]["unread_status"], false);
    // `unread` counts the whole conversation, not the page.
    let r = system("?page=2&per=1");
    assert_eq!(r.body["messages"][0]["id"], 108);
    assert_eq!(r.body["unread"], 1);

    let marked = app
        .request(
            "PUT",
            &format!("/api/v1/patients/{EMILY}/messages/109/mark_read"),
        )
        .bearer(&token)
        .send();
    assert_eq!(marked.status, 204);
    assert_eq!(system("").body["unread"], 0);
}

#[test]
fn messaging_needs_a_valid_unexpired_user_token_for_that_patient() {
    let app = demo();
    let path = format!("/api/v2/patients/{EMILY}/messages/conversations");
    let check = |r: Resp, what: &str| {
        assert_eq!(r.status, 401, "{what}: {:?}", r.body);
        assert!(r.body["error"].is_string(), "{what}: {:?}", r.body);
        assert_eq!(r.body.as_object().unwrap().len(), 1, "{what}");
    };
    check(app.get(&path).send(), "no token");
    check(app.get(&path).bearer("not-a-jwt").send(), "malformed");
    check(
        app.get(&path)
            .header("Authorization", &format!("Basic {}", emily(&app)))
            .send(),
        "another scheme",
    );
    check(
        app.get(&path)
            .bearer(&forge(
                "another secret",
                "user",
                EMILY,
                CLINIC,
                in_an_hour(),
            ))
            .send(),
        "another secret",
    );
    check(
        app.get(&path)
            .bearer(&forge(SECRET, "user", EMILY, CLINIC, in_an_hour() - 7200))
            .send(),
        "expired",
    );
    check(
        app.get(&path)
            .bearer(&forge(SECRET, "user", 53, CLINIC, in_an_hour()))
            .send(),
        "another patient",
    );
    check(
        app.get(&path)
            .bearer(&forge(SECRET, "user", EMILY, 2, in_an_hour()))
            .send(),
        "another tenant",
    );
    check(
        app.get(&path)
            .bearer(&forge(SECRET, "user", DR_STORK, CLINIC, in_an_hour()))
            .send(),
        "a provider",
    );
    let api = app
        .post("/auth/auth_token")
        .json(&json!({ "auth": { "api_key": KEY, "password": KEY_SECRET } }));
    check(
        app.get(&path)
            .bearer(api.body["jwt"].as_str().unwrap())
            .send(),
        "an API token",
    );
    // The same forged claims with the right secret and a future expiry are accepted.
    let good = forge(SECRET, "user", EMILY, CLINIC, in_an_hour());
    assert_eq!(app.get(&path).bearer(&good).send().status, 200);
}

#[test]
fn api_tokens_come_from_an_api_key_and_its_password() {
    let app = demo();
    let r = app
        .post("/auth/auth_token")
        .json(&json!({ "auth": { "api_key": KEY, "password": KEY_SECRET } }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body.as_object().unwrap().len(), 1);
    let jwt = r.body["jwt"].as_str().unwrap();
    let claims = jsonwebtoken::decode::<Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .unwrap()
    .claims;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    let r = app
        .post("/auth/auth_token")
        .json(&json!({ "auth": { "api_key": KEY, "password": "wrong" } }));
    assert_eq!(r.status, 401);
    assert_eq!(r.body, json!({ "error": "Invalid API key or password" }));
    let r = app.post("/auth/auth_token").json(&json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({ "error": "param is missing or the value is empty: auth" })
    );
    let r = app
        .post("/auth/auth_token")
        .json(&json!({ "auth": { "api_key": KEY } }));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body,
        json!({ "errors": { "password": ["can't be blank"] } })
    );
}

#[test]
fn single_sign_on_finds_or_creates_the_patient() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some(SECRET.into());
        s.token_ttl_minutes = 15;
    });
    // Known by subscriber id, and by email when the subscriber id is new.
    let r = app
        .post("/api/v1/sso_auth/auth_token")
        .json(&sso_body("MDL-SUB-0052"));
    assert_eq!(
        r.body["user"],
        json!({ "id": 52, "type": "Patient", "time_to_live_minutes": 15 })
    );
    let r = app
        .post("/api/v1/sso_auth/auth_token")
        .json(&sso_body("MDL-SUB-NEW"));
    assert_eq!(r.body["user"]["id"], EMILY, "{:?}", r.body);

    // Unknown: created, once.
    let mut body = sso_body("MDL-SUB-9000");
    body["auth"]["email"] = json!("new.patient@example.com");
    body["auth"]["first_name"] = json!("Nora");
    body["auth"]["gender"] = json!("F");
    let first = app.post("/api/v1/sso_auth/auth_token").json(&body);
    assert_eq!(first.status, 200, "{:?}", first.body);
    let id = first.body["user"]["id"].as_i64().unwrap();
    assert_ne!(id, EMILY);
    let again = app.post("/api/v1/sso_auth/auth_token").json(&body);
    assert_eq!(again.body["user"]["id"], id);
    let user = app
        .get(&format!("/parlor/v1/users/{id}"))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(user.body["role"], "patient", "{:?}", user.body);
    assert_eq!(user.body["display_name"], "Nora Carter");
    assert_eq!(user.body["gender"], "Female");
    assert_eq!(user.body["external_id"], "MDL-SUB-9000");
    // The new patient's token works on their own, empty, conversation list.
    let token = first.body["jwt"].as_str().unwrap();
    let r = app
        .get(&format!("/api/v2/patients/{id}/messages/conversations"))
        .bearer(token)
        .send();
    assert_eq!(r.body, json!({ "conversations": [] }));

    // Bad input.
    let mut bad = sso_body("MDL-SUB-9001");
    bad["auth"]["gender"] = json!("X");
    bad["auth"]["birthdate"] = json!("12/31/1990");
    let r = app.post("/api/v1/sso_auth/auth_token").json(&bad);
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body,
        json!({ "errors": {
            "gender": ["is not included in the list"],
            "birthdate": ["must be a date (YYYY-MM-DD)"]
        }})
    );
    let mut anonymous = sso_body("x");
    anonymous["auth"]
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !["subscriber_id", "email"].contains(&k.as_str()));
    let r = app.post("/api/v1/sso_auth/auth_token").json(&anonymous);
    assert_eq!(r.status, 422);
    assert!(r.body["errors"]["subscriber_id"].is_array());
    let mut no_auth = sso_body("x");
    no_auth.as_object_mut().unwrap().remove("auth");
    let r = app.post("/api/v1/sso_auth/auth_token").json(&no_auth);
    assert_eq!(r.status, 400);
    let mut wrong = sso_body("x");
    wrong["api"]["password"] = json!("nope");
    let r = app.post("/api/v1/sso_auth/auth_token").json(&wrong);
    assert_eq!(r.status, 401);
}

#[test]
fn extend_swaps_a_valid_user_token_for_a_fresh_one() {
    let app = demo();
    let token = emily(&app);
    let body = json!({ "org": { "ou": "riverside" },
                       "api": { "api_key": KEY, "password": KEY_SECRET } });
    let r = app
        .post("/api/v1/sso_auth/auth_extend")
        .bearer(&token)
        .json(&body);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user"]["id"], EMILY);
    let fresh = r.body["jwt"].as_str().unwrap();
    assert_eq!(conversations(&app, fresh).status, 200);

    let expired = forge(SECRET, "user", EMILY, CLINIC, in_an_hour() - 7200);
    let r = app
        .post("/api/v1/sso_auth/auth_extend")
        .bearer(&expired)
        .json(&body);
    assert_eq!(r.status, 401);
    assert_eq!(r.body, json!({ "error": "Token has expired" }));
    let r = app.post("/api/v1/sso_auth/auth_extend").json(&body);
    assert_eq!(r.status, 401);

    // Another tenant's API key does not extend this tenant's token.
    let r = app
        .post("/parlor/v1/api-keys")
        .admin()
        .tenant(3)
        .json(&json!({ "label": "elsewhere" }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let other = json!({ "api": { "api_key": r.body["key"], "password": r.body["secret"] } });
    let r = app
        .post("/api/v1/sso_auth/auth_extend")
        .bearer(&token)
        .json(&other);
    assert_eq!(r.status, 401, "{:?}", r.body);
}

#[test]
fn unknown_paths_and_providers_are_404_in_rails_format() {
    let app = demo();
    let token = emily(&app);
    for path in [
        format!("/api/v2/patients/{EMILY}/nothing"),
        "/api/v1/patients".to_string(),
        "/auth/other".to_string(),
    ] {
        let r = app.get(&path).bearer(&token).send();
        assert_eq!(r.status, 404, "{path}");
        assert!(r.body["error"].is_string(), "{path}: {:?}", r.body);
    }
    for provider in ["9999", "5", "53", "abc"] {
        let r = app
            .get(&format!(
                "/api/v1/patients/{EMILY}/providers/{provider}/conversation"
            ))
            .bearer(&token)
            .send();
        assert_eq!(r.status, 404, "{provider}: {:?}", r.body);
        assert_eq!(r.body, json!({ "error": "Provider not found" }));
    }
}

#[test]
fn the_face_can_be_moved_and_switched_off() {
    let moved = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("mdlive").unwrap().base_path = Some("/mdlive".into());
    });
    let r = moved
        .post("/mdlive/auth/auth_token")
        .json(&json!({ "auth": { "api_key": KEY, "password": KEY_SECRET } }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        moved
            .post("/auth/auth_token")
            .json(&json!({ "auth": { "api_key": KEY, "password": KEY_SECRET } }))
            .status,
        404
    );

    let off = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("mdlive").unwrap().enabled = false;
    });
    let r = off
        .post("/auth/auth_token")
        .json(&json!({ "auth": { "api_key": KEY, "password": KEY_SECRET } }));
    assert_eq!(r.status, 404);
}

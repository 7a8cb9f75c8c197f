//! `Idempotency-Key` on every route that creates a message or a conversation: a retry gets the
//! first answer and writes nothing; concurrent retries write once; another request under the
//! same key is refused in the surface's format; keys are per caller and tenant, outlive a
//! restart and expire after 24 hours.

use serde_json::{json, Value};

use crate::helpers::*;

const KEY: &str = "Idempotency-Key";
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A tenant with two users in one conversation: (tenant, conversation, alice, bob).
fn clinic(app: &TestApp, name: &str) -> (i64, i64, i64, i64) {
    let tenant = app.create_tenant(name);
    let alice = app.create_user(tenant, json!({"display_name": "Alice", "role": "provider"}));
    let bob = app.create_user(tenant, json!({"display_name": "Bob", "role": "patient"}));
    let (alice, bob) = (alice["id"].as_i64().unwrap(), bob["id"].as_i64().unwrap());
    let conv = app.create_conversation(tenant, &[alice, bob]);
    (tenant, conv["id"].as_i64().unwrap(), alice, bob)
}

fn send_keyed(app: &TestApp, tenant: i64, conv: i64, key: &str, body: &Value) -> Resp {
    app.post(&format!("/parlor/v1/conversations/{conv}/messages"))
        .admin()
        .tenant(tenant)
        .header(KEY, key)
        .json(body)
}

fn message_count(app: &TestApp, tenant: i64, conv: i64) -> usize {
    let r = app
        .get(&format!(
            "/parlor/v1/conversations/{conv}/messages?limit=100"
        ))
        .admin()
        .tenant(tenant)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"].as_array().unwrap().len()
}

fn conversation_count(app: &TestApp, tenant: i64) -> usize {
    let r = app
        .get("/parlor/v1/conversations?limit=100")
        .admin()
        .tenant(tenant)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"].as_array().unwrap().len()
}

fn db(app: &TestApp) -> rusqlite::Connection {
    rusqlite::Connection::open(app.dir.path().join("parlor.db")).unwrap()
}

fn stored_keys(app: &TestApp) -> Vec<String> {
    let conn = db(app);
    let mut stmt = conn
        .prepare("SELECT key FROM idempotency_keys ORDER BY key")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

// ---- native API ----

#[test]
fn a_retried_send_gets_the_first_answer_and_writes_once() {
    let app = spawn_app();
    let (tenant, conv, alice, _) = clinic(&app, "Riverside");
    let body = json!({"as": alice, "body": "Your results are in."});

    let first = send_keyed(&app, tenant, conv, "send-1", &body);
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.header("Idempotent-Replayed"), None);
    let again = send_keyed(&app, tenant, conv, "send-1", &body);
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(
        again.header("Content-Type"),
        first.header("Content-Type"),
        "the content type is replayed too"
    );
    assert_eq!(message_count(&app, tenant, conv), 1);

    // A new key is a new message; no key at all is never deduplicated.
    assert_eq!(send_keyed(&app, tenant, conv, "send-2", &body).status, 201);
    let plain = app
        .post(&format!("/parlor/v1/conversations/{conv}/messages"))
        .admin()
        .tenant(tenant);
    assert_eq!(plain.json(&body).status, 201);
    assert_eq!(message_count(&app, tenant, conv), 3);
}

#[test]
fn a_retried_conversation_create_gets_the_same_conversation() {
    let app = spawn_app();
    let (tenant, _, alice, bob) = clinic(&app, "Riverside");
    let create = || {
        app.post("/parlor/v1/conversations")
            .admin()
            .tenant(tenant)
            .header(KEY, "create-1")
            .json(&json!({"participants": [alice, bob], "name": "Follow-up"}))
    };
    let first = create();
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = create();
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body);
    assert_eq!(
        conversation_count(&app, tenant),
        2,
        "the clinic's one and this"
    );
}

#[test]
fn concurrent_requests_with_one_key_write_once_and_all_get_the_answer() {
    let app = spawn_with(|s| s.workers = 4);
    let (tenant, conv, alice, _) = clinic(&app, "Riverside");
    let body = json!({"as": alice, "body": "Sent once, answered eight times."});
    let answers: Vec<Resp> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|_| s.spawn(|| send_keyed(&app, tenant, conv, "burst", &body)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for answer in &answers {
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        assert_eq!(answer.body, answers[0].body);
    }
    let replayed = answers
        .iter()
        .filter(|a| a.header("Idempotent-Replayed").is_some())
        .count();
    assert_eq!(replayed, 7);
    assert_eq!(message_count(&app, tenant, conv), 1);
}

#[test]
fn the_same_key_for_another_request_is_refused() {
    let app = spawn_app();
    let (tenant, conv, alice, bob) = clinic(&app, "Riverside");
    let first = send_keyed(
        &app,
        tenant,
        conv,
        "k",
        &json!({"as": alice, "body": "One"}),
    );
    assert_eq!(first.status, 201);

    // Another body.
    let r = send_keyed(
        &app,
        tenant,
        conv,
        "k",
        &json!({"as": alice, "body": "Two"}),
    );
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.code(), "unprocessable");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Idempotency-Key \"k\""), "{message}");
    assert!(message.contains("different request"), "{message}");
    // Another path (the create route) under the same key.
    let r = app
        .post("/parlor/v1/conversations")
        .admin()
        .tenant(tenant)
        .header(KEY, "k")
        .json(&json!({"participants": [alice, bob]}));
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(message_count(&app, tenant, conv), 1);
    // The original request is still answered.
    let again = send_keyed(
        &app,
        tenant,
        conv,
        "k",
        &json!({"as": alice, "body": "One"}),
    );
    assert_eq!(again.body, first.body);
}

#[test]
fn keys_belong_to_one_caller_in_one_tenant() {
    let app = spawn_app();
    let (tenant, conv, alice, bob) = clinic(&app, "Riverside");
    let alice_token = app.token_for(tenant, alice, &["*"]);
    let bob_token = app.token_for(tenant, bob, &["*"]);
    let send_with = |token: &str, text: &str| {
        app.post(&format!("/parlor/v1/conversations/{conv}/messages"))
            .bearer(token)
            .header(KEY, "shared")
            .json(&json!({"body": text}))
    };
    let from_alice = send_with(&alice_token, "From Alice");
    let from_bob = send_with(&bob_token, "From Bob");
    assert_eq!(from_alice.status, 201, "{:?}", from_alice.body);
    assert_eq!(from_bob.status, 201, "{:?}", from_bob.body);
    assert_ne!(from_alice.body["id"], from_bob.body["id"]);
    // The server admin acting as Alice is a third caller.
    let r = send_keyed(
        &app,
        tenant,
        conv,
        "shared",
        &json!({"as": alice, "body": "Admin"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("Idempotent-Replayed"), None);
    assert_eq!(message_count(&app, tenant, conv), 3);

    // The server admin with the same key and body in another tenant.
    let (other, other_conv, other_alice, _) = clinic(&app, "Northside");
    let body = json!({"as": other_alice, "body": "Same words"});
    let here = send_keyed(&app, other, other_conv, "tenant-key", &body);
    assert_eq!(here.status, 201);
    let body = json!({"as": alice, "body": "Same words"});
    let there = send_keyed(&app, tenant, conv, "tenant-key", &body);
    assert_eq!(there.status, 201, "{:?}", there.body);
    assert_eq!(there.header("Idempotent-Replayed"), None);
    assert_eq!(message_count(&app, other, other_conv), 1);
    assert_eq!(message_count(&app, tenant, conv), 4);
    // A refreshed token of the same user still finds the key.
    let fresh = app.token_for(tenant, alice, &["*"]);
    let r = send_with(&fresh, "From Alice");
    assert_eq!(r.body, from_alice.body);
    assert_eq!(r.header("Idempotent-Replayed"), Some("true"));
}

#[test]
fn a_key_survives_a_restart() {
    let first_run = spawn_app();
    let (tenant, conv, alice, _) = clinic(&first_run, "Riverside");
    let body = json!({"as": alice, "body": "Before the restart"});
    let first = send_keyed(&first_run, tenant, conv, "restart", &body);
    assert_eq!(first.status, 201);

    let db = first_run.dir.path().join("parlor.db");
    let second_run = spawn_with(|s| s.db = db.clone());
    let again = send_keyed(&second_run, tenant, conv, "restart", &body);
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(message_count(&second_run, tenant, conv), 1);
}

#[test]
fn a_write_whose_answer_was_lost_is_not_written_again() {
    let app = spawn_app();
    let (tenant, conv, alice, _) = clinic(&app, "Riverside");
    let body = json!({"as": alice, "body": "Stored, then the server died"});
    assert_eq!(send_keyed(&app, tenant, conv, "lost", &body).status, 201);
    // What a crash between the commit and recording the answer leaves: the claim alone.
    let changed = db(&app)
        .execute(
            "UPDATE idempotency_keys SET status = NULL, content_type = NULL, body = NULL",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);

    let r = send_keyed(&app, tenant, conv, "lost", &body);
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert_eq!(r.code(), "conflict");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("was stored"), "{message}");
    assert_eq!(message_count(&app, tenant, conv), 1);
}

#[test]
fn a_refused_request_leaves_its_key_unused() {
    let app = spawn_app();
    let (tenant, conv, alice, _) = clinic(&app, "Riverside");
    let r = send_keyed(&app, tenant, conv, "retry-me", &json!({"as": alice}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = send_keyed(
        &app,
        tenant,
        conv,
        "retry-me",
        &json!({"as": 999_999, "body": "x"}),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(stored_keys(&app).is_empty());
    // Corrected, the same key goes through.
    let r = send_keyed(
        &app,
        tenant,
        conv,
        "retry-me",
        &json!({"as": alice, "body": "Fixed"}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(stored_keys(&app), ["retry-me"]);
}

#[test]
fn bad_keys_and_credentials_are_refused_before_anything_is_written() {
    let app = spawn_app();
    let (tenant, conv, alice, _) = clinic(&app, "Riverside");
    let body = json!({"as": alice, "body": "x"});
    let long = "k".repeat(256);
    for bad in [long.as_str(), "tab\there"] {
        let r = send_keyed(&app, tenant, conv, bad, &body);
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], "Idempotency-Key");
    }
    // Without valid credentials the handler answers as always.
    let r = app
        .post(&format!("/parlor/v1/conversations/{conv}/messages"))
        .bearer("not-a-token")
        .header(KEY, "k")
        .json(&body);
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "unauthenticated");
    assert_eq!(message_count(&app, tenant, conv), 0);
    assert!(stored_keys(&app).is_empty());
}

#[test]
fn keys_expire_after_a_day_and_are_pruned() {
    let app = spawn_app();
    let (tenant, conv, alice, _) = clinic(&app, "Riverside");
    let start = 1_800_000_000_000;
    app.service.clock.freeze(start);
    let body = json!({"as": alice, "body": "Day one"});
    let first = send_keyed(&app, tenant, conv, "daily", &body);
    assert_eq!(send_keyed(&app, tenant, conv, "other", &body).status, 201);

    app.service.clock.freeze(start + DAY_MS - 1);
    let replayed = send_keyed(&app, tenant, conv, "daily", &body);
    assert_eq!(replayed.body, first.body);
    assert_eq!(message_count(&app, tenant, conv), 2);

    app.service.clock.freeze(start + DAY_MS);
    let fresh = send_keyed(&app, tenant, conv, "daily", &body);
    assert_eq!(fresh.status, 201);
    assert_ne!(fresh.body["id"], first.body["id"]);
    assert_eq!(fresh.header("Idempotent-Replayed"), None);
    assert_eq!(message_count(&app, tenant, conv), 3);
    // Recording that answer pruned the other expired key.
    assert_eq!(stored_keys(&app), ["daily"]);
}

// ---- the faces ----

/// Rows in `table`, straight from the database file.
fn rows(app: &TestApp, table: &str) -> i64 {
    db(app)
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Sends `first` twice under one key, then `other` under it: the retry must replay the first
/// answer and write nothing, the other request must be refused with `refused_status`. Returns
/// (first answer, refusal).
fn retry_then_misuse(
    app: &TestApp,
    request: impl Fn(&str, &Value) -> Resp,
    first: &Value,
    other: &Value,
    refused_status: u16,
) -> (Resp, Resp) {
    let before = (rows(app, "messages"), rows(app, "conversations"));
    let answer = request("face-key", first);
    assert!(
        (200..300).contains(&answer.status),
        "{}: {:?}",
        answer.status,
        answer.body
    );
    let written = (rows(app, "messages"), rows(app, "conversations"));
    assert_ne!(written, before, "the first request writes");
    let again = request("face-key", first);
    assert_eq!(again.status, answer.status);
    assert_eq!(again.body, answer.body);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    let refused = request("face-key", other);
    assert_eq!(refused.status, refused_status, "{:?}", refused.body);
    assert_eq!(
        (rows(app, "messages"), rows(app, "conversations")),
        written,
        "neither the retry nor the other request wrote"
    );
    (answer, refused)
}

const REFUSAL: &str = "Idempotency-Key \"face-key\" was used for a different request";

fn says_refusal(text: &Value) {
    assert!(
        text.as_str().is_some_and(|t| t.starts_with(REFUSAL)),
        "{text}"
    );
}

#[test]
fn mdlive_sends_are_idempotent_and_refusals_are_rails_errors() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some("idempotency-test-secret".into());
    });
    let sign_in = || {
        let r = app.post("/auth/auth_token").json(&json!({
            "auth": {"api_key": "demo-mdlive-key", "password": "demo-mdlive-secret"}
        }));
        assert_eq!(r.status, 200, "{:?}", r.body);
        let api = r.body["jwt"].as_str().unwrap().to_string();
        let r = app.post("/api/v1/sso_auth/auth_token").bearer(&api).json(
            &json!({"auth": {"subscriber_id": "MDL-SUB-0052", "first_name": "Emily",
                "last_name": "Carter", "birthdate": "1990-04-12", "gender": "F"},
                "org": {"ou": "riverside"},
                "api": {"api_key": "demo-mdlive-key", "password": "demo-mdlive-secret"}}),
        );
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["jwt"].as_str().unwrap().to_string()
    };
    let token = sign_in();
    let message =
        |text: &str| json!({"message": {"to_id": 4, "subject": "Refill", "message": text}});
    let send = |token: &str, key: &str, body: &Value| {
        app.post("/api/v1/patients/52/messages")
            .bearer(token)
            .header(KEY, key)
            .json(body)
    };
    let (first, refused) = retry_then_misuse(
        &app,
        |key, body| send(&token, key, body),
        &message("Could you renew it?"),
        &message("Something else"),
        422,
    );
    assert_eq!(first.status, 201);
    says_refusal(&refused.body["errors"]["base"][0]);
    // A new sign-in is the same patient: the key is still theirs.
    let again = send(&sign_in(), "face-key", &message("Could you renew it?"));
    assert_eq!(again.body, first.body);
}

#[test]
fn pigeons_creates_and_sends_are_idempotent_and_refusals_are_laravel_errors() {
    let app = spawn_demo();
    let call = |path: &str, token: &str, key: &str, body: &Value| {
        app.post(&format!("/api/v1/pigeons/chat{path}"))
            .bearer(token)
            .header("X-PUBLIC-KEY", "pk_demo_pigeons")
            .header(KEY, key)
            .json(body)
    };
    let john = "1|demoPigeonsJohnDoeToken";
    let text = |t: &str| {
        json!({
            "conversation_uuid": "550e8400-e29b-41d4-a716-446655440000",
            "receiver_uuid": "660e8400-e29b-41d4-a716-446655440002",
            "context_text": t, "context_type": "text",
            "device": {"type": "desktop", "os": "Linux", "app_version": "1.2.3"}
        })
    };
    let (_, refused) = retry_then_misuse(
        &app,
        |key, body| call("/messages", john, key, body),
        &text("Hello"),
        &text("Hello again"),
        422,
    );
    says_refusal(&refused.body["message"]);

    // A new conversation answers 201, and so does its retry (without the key, asking again
    // finds the shared conversation: 200).
    let maria = "2|demoPigeonsMariaSilvaToken";
    let open = |tag: &str| {
        json!({"participant_uuid": "660e8400-e29b-41d4-a716-446655440001",
               "taggable": {"type": "order", "id": tag}})
    };
    let (created, _) = retry_then_misuse(
        &app,
        |key, body| call("/conversations", maria, key, body),
        &open("A-1"),
        &open("A-2"),
        422,
    );
    assert_eq!(created.status, 201);
}

#[test]
fn respondent_creates_and_sends_are_idempotent_and_refusals_are_nestjs_errors() {
    let app = spawn_demo();
    let post = |path: &str, key: &str, body: &Value| {
        app.post(&format!("/v1/messaging{path}"))
            .header("x-api-key", "demo-respondent-key")
            .header("x-api-secret", "demo-respondent-secret")
            .header(KEY, key)
            .json(body)
    };
    let start = |project: &str| json!({"projectId": project, "participantUserIds": ["65a1f0c2b3d4e5f607182903"]});
    let (created, refused) = retry_then_misuse(
        &app,
        |key, body| post("/conversations", key, body),
        &start("6650a1b2c3d4e5f601234567"),
        &start("6650a1b2c3d4e5f607654321"),
        422,
    );
    assert_eq!(created.status, 201);
    assert_eq!(refused.body["statusCode"], 422);
    assert_eq!(refused.body["error"], "Unprocessable Entity");
    says_refusal(&refused.body["message"]);

    let uid = created.body["uid"].as_str().unwrap().to_string();
    let path = format!("/conversations/{uid}/messages");
    // Keys are per caller, not per route: this one is taken by the create above.
    let r = post(&path, "face-key", &json!({"body": "Hi"}));
    assert_eq!(r.status, 422, "{:?}", r.body);
    let sent = post(&path, "send-key", &json!({"body": "See you Thursday."}));
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let again = post(&path, "send-key", &json!({"body": "See you Thursday."}));
    assert_eq!(again.body, sent.body);
}

#[test]
fn trillet_generate_is_idempotent_and_refusals_are_trillet_errors() {
    let app = spawn_demo();
    let generate = |key: &str, body: &Value| {
        app.post("/v1/api/conversations/message/generate")
            .header("x-api-key", "demo-trillet-secret")
            .header("x-workspace-id", "674e29976b6acbac106d2650")
            .header(KEY, key)
            .json(body)
    };
    let to = |number: &str| json!({"flowId": "674e75bbe1456b11a194f091", "to": number, "autopilot": false});
    let (first, refused) = retry_then_misuse(
        &app,
        generate,
        &to("+15550001111"),
        &to("+15550002222"),
        422,
    );
    assert_eq!(first.body["status"], "success");
    assert_eq!(refused.body["status"], "error");
    says_refusal(&refused.body["message"]);
}

#[test]
fn tati_creates_and_posts_are_idempotent_and_refusals_are_drf_errors() {
    let app = spawn_demo();
    let post = |path: &str, key: &str, body: &Value| {
        app.post(&format!("/v0.1{path}"))
            .header("Authorization", "Token tati-token-demo")
            .header(KEY, key)
            .json(body)
    };
    let say = |text: &str| json!({"message_type": "user", "content": text});
    let (first, refused) = retry_then_misuse(
        &app,
        |key, body| post("/patients/conversations/con123/messages/", key, body),
        &say("Can I take it with food?"),
        &say("Can I take it at night?"),
        400,
    );
    assert_eq!(first.status, 201);
    says_refusal(&refused.body["non_field_errors"][0]);

    let r = post("/patients/conversations/", "start", &json!({}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let again = post("/patients/conversations/", "start", &json!({}));
    assert_eq!(again.body, r.body);
    let archived = post(
        "/patients/conversations/",
        "start",
        &json!({"status": "archived"}),
    );
    assert_eq!(archived.status, 400);
}

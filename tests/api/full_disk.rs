//! A full disk, simulated with SQLite's `max_page_count` on the writer's connection: every
//! surface answers 503 with `Retry-After` naming the cause, `/readyz` reports it, the log says
//! it once and says when it is over, nothing acknowledged is lost, and writes resume once there
//! is room again.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;
use crate::logs;

const FULL: &str = "the server's storage is full; the change was not stored";

/// Big enough to need fresh pages (overflow pages) whatever room is left in the existing ones.
fn big(label: &str) -> String {
    format!("{label}: {}", "x".repeat(15_000))
}

/// Caps the database at the pages it has now (SQLite never sets the cap below the current
/// size), so that any write needing a new page fails with SQLITE_FULL, as on a full disk.
fn fill_the_disk(app: &TestApp) {
    app.service
        .store
        .write_blocking(|c| {
            Ok(c.query_row("PRAGMA max_page_count = 1", [], |r| r.get::<_, i64>(0))?)
        })
        .unwrap();
}

fn free_space(app: &TestApp) {
    app.service
        .store
        .write_blocking(|c| {
            Ok(c.query_row("PRAGMA max_page_count = 4294967294", [], |r| {
                r.get::<_, i64>(0)
            })?)
        })
        .unwrap();
}

fn native_send(app: &TestApp, body: &str) -> Resp {
    app.post("/parlor/v1/conversations/2/messages")
        .admin()
        .tenant(1)
        .json(&json!({ "as": 4, "body": body }))
}

/// A 503 naming the full disk, with `Retry-After`, in the surface's format.
fn assert_full(surface: &str, r: &Resp, message: &Value) {
    assert_eq!(r.status, 503, "{surface}: {}", r.body);
    assert_eq!(r.header("Retry-After"), Some("60"), "{surface}");
    assert_eq!(message, &json!(FULL), "{surface}: {}", r.body);
}

fn bodies(app: &TestApp) -> Vec<String> {
    let r = app
        .get("/parlor/v1/conversations/2/messages?limit=100")
        .admin()
        .tenant(1)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_full_disk_answers_503_everywhere_is_logged_once_and_writes_resume_when_space_returns() {
    logs::capture();
    let app = spawn_demo();
    let path = app.dir.path().join("parlor.db").display().to_string();
    // Sign-ins write too: take the tokens while there is room.
    let sso = app.post("/api/v1/sso_auth/auth_token").json(&json!({
        "auth": { "first_name": "Emily", "last_name": "Carter", "gender": "F",
                  "birthdate": "1990-04-12", "subscriber_id": "MDL-SUB-0052",
                  "phone": "5555550152", "email": "emily.carter@example.com",
                  "address1": "1 Main St", "city": "Sunrise", "state": "FL", "zip": "33325",
                  "relationship": "Self" },
        "org": { "ou": "riverside" },
        "api": { "api_key": "demo-mdlive-key", "password": "demo-mdlive-secret" }
    }));
    assert_eq!(sso.status, 200, "{}", sso.body);
    let emily = sso.body["jwt"].as_str().unwrap().to_string();
    let kept = native_send(&app, "acknowledged before the disk filled up");
    assert_eq!(kept.status, 201, "{}", kept.body);

    fill_the_disk(&app);
    let r = native_send(&app, &big("native"));
    assert_full("native", &r, &r.body["error"]["message"]);
    assert_eq!(r.code(), "unavailable");

    let r = app
        .post("/api/v1/patients/52/messages")
        .bearer(&emily)
        .json(&json!({ "message": {
            "message_type": "follow_up", "to_id": 4, "subject": "Refill", "message": big("mdlive")
        }}));
    assert_full("mdlive", &r, &r.body["error"]);

    let r = app
        .post("/v1/api/conversations/message/generate")
        .header("x-api-key", "demo-trillet-secret")
        .header("x-workspace-id", "674e29976b6acbac106d2650")
        .json(
            &json!({ "flowId": "674e75bbe1456b11a194f091", "to": "+15550001111",
                       "metadata": { "note": big("trillet") } }),
        );
    assert_full("trillet", &r, &r.body["message"]);
    assert_eq!(r.body["status"], "error");

    let r = app
        .post("/v1/messaging/conversations/6651b0c0a1b2c3d4e5f60001/messages")
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .json(&json!({ "body": big("respondent") }));
    assert_full("respondent", &r, &r.body["message"]);
    assert_eq!(r.body["statusCode"], 503);
    assert_eq!(r.body["error"], "Service Unavailable");

    let r = app
        .post("/v0.1/patients/conversations/con123/messages/")
        .header("Authorization", "Token tati-token-demo")
        .json(&json!({ "message_type": "user", "content": big("tati") }));
    assert_full("tati", &r, &r.body["detail"]);

    let pigeons = |text: &str| {
        app.post("/api/v1/pigeons/chat/messages")
            .bearer("1|demoPigeonsJohnDoeToken")
            .header("X-PUBLIC-KEY", "pk_demo_pigeons")
            .json(&json!({
                "conversation_uuid": "550e8400-e29b-41d4-a716-446655440000",
                "receiver_uuid": "660e8400-e29b-41d4-a716-446655440002",
                "context_text": text, "context_type": "text",
                "metadata": { "note": big("pigeons") },
                "device": {"type": "desktop", "os": "Linux", "app_version": "1.2.3"}
            }))
    };
    let r = pigeons("while the disk is full");
    assert_full("pigeons", &r, &r.body["message"]);

    // Not ready, and why; reads still work and show nothing of the refused sends.
    let ready = app.get("/readyz").send();
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["status"], "unavailable");
    assert!(
        ready.body["reason"]
            .as_str()
            .unwrap()
            .contains("storage is full"),
        "{}",
        ready.body
    );
    assert_eq!(ready.body["database"]["writable"], false, "{}", ready.body);
    let seen = bodies(&app);
    assert!(seen.contains(&"acknowledged before the disk filled up".to_string()));
    assert!(!seen.iter().any(|b| b.starts_with("native:")));

    // Someone frees space: the server notices by itself and takes writes again.
    free_space(&app);
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.get("/readyz").send().status != 200 {
        assert!(Instant::now() < deadline, "readyz never turned green");
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = native_send(&app, &big("native, later"));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(pigeons("after space returned").status, 201);
    let seen = bodies(&app);
    assert!(seen.contains(&"acknowledged before the disk filled up".to_string()));
    assert!(seen.iter().any(|b| b.starts_with("native, later:")));

    // Six refused writes, one line saying so, one saying it is over.
    assert_eq!(logs::count(&[&path, "is full"]), 1, "logged once");
    assert_eq!(logs::count(&[&path, "has room again"]), 1);
}

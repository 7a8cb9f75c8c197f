//! Webhooks: deliveries to a local receiver (a small HTTP server on 127.0.0.1 that records each
//! request and answers scripted statuses), signatures checked by an independent implementation
//! of the Standard Webhooks specification (the `standardwebhooks` package from PyPI, through
//! python3), retries, order, 410, redirects, capture, replay, a restart, the address policy and
//! who may manage endpoints.
//!
//! Without python3 and `standardwebhooks` the signature checks say so and are left out, unless
//! the verifier is required (`CI=true` or `REQUIRE_WEBHOOK_VERIFIER=1`, as `.ci/run` sets): then
//! the test fails.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{python_check, spawn_app, spawn_with, TestApp};

const CLINIC: i64 = 1;
const PROVIDER: i64 = 4;
const PATIENT: i64 = 52;

/// A request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    path: String,
    headers: HashMap<String, String>,
    pub(crate) body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The local receiver: answers each request with the next scripted status (then 200).
pub(crate) struct Receiver {
    port: u16,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) fn start(script: &[u16]) -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    fn on(listener: TcpListener, script: &[u16]) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let status = script.lock().unwrap().pop_front().unwrap_or(200);
                if let Some(r) = answer(stream, status) {
                    log.lock().unwrap().push(r);
                }
            }
        });
        Receiver { port, seen }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (up to 30 s) until at least `n` requests arrived; returns them all.
    pub(crate) fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, expected {n}",
                seen.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads one request and answers `status` (a 3xx with a `Location` to elsewhere).
fn answer(mut stream: TcpStream, status: u16) -> Option<Received> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    let reply = format!("status {status}");
    let location = if (300..400).contains(&status) {
        "Location: /elsewhere\r\n"
    } else {
        ""
    };
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 {status} Scripted\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .as_bytes(),
    );
    Some(Received {
        path,
        headers,
        body,
    })
}

/// A stand-in server (the demo: loopback allowed) retrying quickly.
fn stand_in(schedule: &str) -> TestApp {
    let schedule = schedule.to_string();
    spawn_with(move |s| {
        s.demo = true;
        s.webhook_retry_schedule = schedule;
    })
}

fn register(app: &TestApp, body: Value) -> Value {
    let r = app
        .post("/parlor/v1/webhooks")
        .admin()
        .tenant(CLINIC)
        .json(&body);
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

fn conversation(app: &TestApp) -> i64 {
    app.create_conversation(CLINIC, &[PROVIDER, PATIENT])["id"]
        .as_i64()
        .unwrap()
}

fn send(app: &TestApp, conv: i64, text: &str) -> i64 {
    app.send_as(CLINIC, conv, PROVIDER, text)["id"]
        .as_i64()
        .unwrap()
}

fn get(app: &TestApp, path: &str) -> Value {
    let r = app.get(path).admin().tenant(CLINIC).send();
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    // Parsing keeps the last of two equal keys: a delivery's detail (its fields flattened
    // beside the list of attempts) must not say `attempts` twice.
    assert!(r.text.matches("\"attempts\":").count() <= 1, "{}", r.text);
    r.body
}

/// Waits (up to 30 s) until the endpoint's outbox holds a delivery with `status`; returns the
/// outbox, newest first.
fn wait_for_status(app: &TestApp, endpoint: i64, status: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = get(app, &format!("/parlor/v1/webhooks/{endpoint}/deliveries"));
        let data = list["data"].as_array().cloned().unwrap_or_default();
        if data.iter().any(|d| d["status"] == status) {
            return data;
        }
        assert!(
            Instant::now() < deadline,
            "no {status} delivery for endpoint {endpoint}: {data:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn verifier_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_WEBHOOK_VERIFIER").is_ok_and(|v| v == "1")
}

const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
job = json.load(sys.stdin)
try:
    Webhook(job["secret"]).verify(job["body"], job["headers"])
except Exception as e:
    print("refused:", e)
    sys.exit(3)
print("verified")
"#;

/// Whether `standardwebhooks` accepts the request under `secret`; None when the verifier is
/// not installed (and not required).
fn verified(secret: &str, r: &Received) -> Option<bool> {
    let job = json!({ "secret": secret, "body": r.body, "headers": r.headers });
    let (code, stdout, stderr) =
        python_check(VERIFY, &job, "standardwebhooks", verifier_required())?;
    match code {
        Some(0) => Some(true),
        Some(3) => Some(false),
        _ => panic!("the verifier failed: {stdout} {stderr}"),
    }
}

#[test]
fn deliveries_are_signed_as_the_standard_says_and_a_rotation_signs_twice() {
    let app = stand_in("1s");
    let receiver = Receiver::start(&[]);
    let created = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"], "description": "app" }),
    );
    let id = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["format"], "parlor");
    assert_eq!(created["include_text"], false);

    // Shown once: neither the endpoint nor the list shows it again, nor does the audit trail.
    let shown = get(&app, &format!("/parlor/v1/webhooks/{id}"));
    assert!(shown.get("secret").is_none(), "{shown}");
    let listed = get(&app, "/parlor/v1/webhooks");
    assert_eq!(listed["data"][0]["id"], id);
    assert!(!listed.to_string().contains(&secret));

    let conv = conversation(&app);
    let message = send(&app, conv, "the first one");
    let first = receiver.wait_for(1)[0].clone();
    assert_eq!(first.path, "/hook");
    assert!(first.header("webhook-id").starts_with("msg_"), "{first:?}");
    assert_eq!(first.header("content-type"), "application/json");
    assert!(first.header("user-agent").contains("Parlor"), "{first:?}");
    assert!(first.header("webhook-signature").starts_with("v1,"));
    assert!(!first.header("webhook-signature").contains(' '));
    let body = first.json();
    assert_eq!(body["type"], "message.created");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "{body}");
    assert_eq!(body["data"]["message_id"], message);
    assert_eq!(body["data"]["conversation_id"], conv);
    assert_eq!(body["data"]["tenant_id"], CLINIC);
    // Not entitled to the text: no message, and the text appears nowhere.
    assert!(body["data"].get("message").is_none(), "{body}");
    assert!(!first.body.contains("the first one"));
    if let Some(ok) = verified(&secret, &first) {
        assert!(ok, "standardwebhooks refused Parlor's signature");
        let mut tampered = first.clone();
        tampered.body = tampered.body.replace("message.created", "message.deleted");
        assert_eq!(verified(&secret, &tampered), Some(false));
    }

    let rotated = app
        .post(&format!("/parlor/v1/webhooks/{id}/rotate-secret"))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_string();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated.body["previous_secret_expires_at"].is_string());

    send(&app, conv, "the second one");
    let second = receiver.wait_for(2)[1].clone();
    let signatures: Vec<&str> = second.header("webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "{second:?}");
    assert!(signatures.iter().all(|s| s.starts_with("v1,")));
    if let (Some(old), Some(new)) = (verified(&secret, &second), verified(&new_secret, &second)) {
        assert!(old, "the old secret's signature does not verify");
        assert!(new, "the new secret's signature does not verify");
    }

    let trail = app.get("/parlor/v1/audit").admin().tenant(CLINIC).send();
    assert_eq!(trail.status, 200);
    assert!(
        trail.text.contains("webhooks"),
        "the endpoint changes are audited"
    );
    assert!(!trail.text.contains(&secret) && !trail.text.contains(&new_secret));
}

#[test]
fn the_text_goes_only_to_endpoints_that_ask_for_it() {
    let app = stand_in("1s");
    let receiver = Receiver::start(&[]);
    register(
        &app,
        json!({ "url": receiver.url(), "events": ["*"], "include_text": true }),
    );
    let conv = conversation(&app);
    let message = send(&app, conv, "private words");
    let seen = receiver.wait_for(2);
    let types: Vec<String> = seen
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(types, ["conversation.created", "message.created"]);
    let body = seen[1].json();
    assert_eq!(body["data"]["message"]["id"], message);
    assert_eq!(body["data"]["message"]["body"], "private words");
    assert_eq!(body["data"]["message"]["sender_id"], PROVIDER);
}

#[test]
fn a_receiver_that_fails_three_times_gets_the_event_once_after_the_retries() {
    let app = stand_in("30ms 30ms 30ms 30ms");
    let receiver = Receiver::start(&[500, 503, 502]);
    let id = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    let conv = conversation(&app);
    send(&app, conv, "hello");
    let outbox = wait_for_status(&app, id, "delivered");
    assert_eq!(outbox.len(), 1);
    let did = outbox[0]["id"].as_i64().unwrap();
    let detail = get(&app, &format!("/parlor/v1/webhooks/{id}/deliveries/{did}"));
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 4, "{detail}");
    assert_eq!(detail["attempt_count"], 4, "{detail}");
    let statuses: Vec<i64> = detail["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["response"]["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 503, 502, 200]);
    assert_eq!(detail["attempts"][3]["response"]["body"], "status 200");
    let webhook_id = detail["webhook_id"].as_str().unwrap();
    assert_eq!(
        detail["attempts"][0]["request"]["headers"]["webhook-id"],
        webhook_id
    );
    assert!(detail["attempts"][0]["request"]["headers"]["webhook-signature"].is_string());

    let seen = receiver.seen();
    assert_eq!(seen.len(), 4, "exactly one success after three failures");
    assert!(seen.iter().all(|r| r.header("webhook-id") == webhook_id));
    assert!(seen.iter().all(|r| r.body == seen[0].body));
}

#[test]
fn an_endpoint_gets_its_events_in_order_even_across_a_failure() {
    let app = stand_in("50ms 50ms 50ms");
    let receiver = Receiver::start(&[500, 500]);
    register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    );
    let conv = conversation(&app);
    let sent: Vec<i64> = (1..=3)
        .map(|n| send(&app, conv, &format!("n{n}")))
        .collect();
    let seen = receiver.wait_for(5);
    let ids: Vec<i64> = seen
        .iter()
        .map(|r| r.json()["data"]["message_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [sent[0], sent[0], sent[0], sent[1], sent[2]]);
}

#[test]
fn a_410_disables_the_endpoint_until_it_is_enabled_again() {
    let app = stand_in("20ms 20ms");
    let receiver = Receiver::start(&[410]);
    let id = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    let conv = conversation(&app);
    let first = send(&app, conv, "one");
    receiver.wait_for(1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let endpoint = loop {
        let e = get(&app, &format!("/parlor/v1/webhooks/{id}"));
        if e["enabled"] == false {
            break e;
        }
        assert!(Instant::now() < deadline, "not disabled: {e}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(endpoint["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("410"));
    // Disabled: a new event gets no delivery, and what waited stays pending.
    send(&app, conv, "while disabled");
    let outbox = get(
        &app,
        &format!("/parlor/v1/webhooks/{id}/deliveries?status=pending"),
    );
    assert_eq!(outbox["data"].as_array().unwrap().len(), 1, "{outbox}");

    let enabled = app
        .patch(&format!("/parlor/v1/webhooks/{id}"))
        .admin()
        .tenant(CLINIC)
        .json(&json!({ "enabled": true }));
    assert_eq!(enabled.status, 200, "{:?}", enabled.body);
    assert!(enabled.body.get("disabled_reason").is_none());
    let third = send(&app, conv, "three");
    let seen = receiver.wait_for(3);
    let ids: Vec<i64> = seen
        .iter()
        .map(|r| r.json()["data"]["message_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [first, first, third]);
}

#[test]
fn a_redirect_is_a_failure_and_is_not_followed() {
    let app = stand_in("20ms");
    let receiver = Receiver::start(&[302]);
    let id = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    send(&app, conversation(&app), "moved?");
    let outbox = wait_for_status(&app, id, "delivered");
    let did = outbox[0]["id"].as_i64().unwrap();
    let detail = get(&app, &format!("/parlor/v1/webhooks/{id}/deliveries/{did}"));
    assert_eq!(detail["attempts"][0]["response"]["status"], 302);
    assert_eq!(detail["attempts"][1]["response"]["status"], 200);
    assert!(receiver.seen().iter().all(|r| r.path == "/hook"));
}

#[test]
fn a_failed_delivery_can_be_replayed() {
    let app = stand_in("20ms");
    let receiver = Receiver::start(&[500, 500]);
    let id = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    send(&app, conversation(&app), "again");
    let outbox = wait_for_status(&app, id, "failed");
    let did = outbox[0]["id"].as_i64().unwrap();
    assert_eq!(outbox[0]["attempt_count"], 2);
    let replayed = app
        .post(&format!("/parlor/v1/webhooks/{id}/deliveries/{did}/replay"))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(replayed.status, 202, "{:?}", replayed.body);
    wait_for_status(&app, id, "delivered");
    let detail = get(&app, &format!("/parlor/v1/webhooks/{id}/deliveries/{did}"));
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 3);
    let seen = receiver.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|r| r.header("webhook-id") == seen[0].header("webhook-id")));
}

#[test]
fn capture_records_what_would_be_sent_and_sends_nothing() {
    let app = stand_in("1s");
    let captured = Receiver::start(&[]);
    let witness = Receiver::start(&[]);
    let created = register(
        &app,
        json!({ "url": captured.url(), "events": ["message.created"], "capture": true }),
    );
    let id = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    register(
        &app,
        json!({ "url": witness.url(), "events": ["message.created"] }),
    );
    let message = send(&app, conversation(&app), "would have fired");
    // The other endpoint got the event: the captured one would have been sent by now.
    witness.wait_for(1);
    let outbox = wait_for_status(&app, id, "captured");
    let did = outbox[0]["id"].as_i64().unwrap();
    let detail = get(&app, &format!("/parlor/v1/webhooks/{id}/deliveries/{did}"));
    assert_eq!(detail["body"]["data"]["message_id"], message);
    let attempt = &detail["attempts"][0];
    assert!(attempt["response"].is_null());
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1);
    let headers = attempt["request"]["headers"].as_object().unwrap();
    let as_sent = Received {
        path: "/hook".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect(),
        body: attempt["request"]["body"].as_str().unwrap().to_string(),
    };
    if let Some(ok) = verified(&secret, &as_sent) {
        assert!(ok, "the captured request's signature does not verify");
    }
    assert!(captured.seen().is_empty());
}

#[test]
fn private_and_loopback_addresses_are_refused_at_registration() {
    let app = spawn_app();
    let tenant = app.create_tenant("Clinic");
    let attempt = |url: &str| {
        app.post("/parlor/v1/webhooks")
            .admin()
            .tenant(tenant)
            .json(&json!({ "url": url, "events": ["*"] }))
    };
    for (url, why) in [
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.20:8080/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://100.64.0.1/", "shared"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        // Loopback, without a stand-in configuration.
        ("http://127.0.0.1:9/", "loopback"),
        ("http://localhost:9/", "loopback"),
    ] {
        let r = attempt(url);
        assert_eq!(r.status, 400, "{url}: {:?}", r.body);
        let text = r.body.to_string();
        assert!(text.contains(why), "{url}: {text}");
        assert!(text.contains("webhook_allow_private"), "{url}: {text}");
    }
    let r = attempt("ftp://example.com/");
    assert_eq!(r.status, 400);
    assert!(r.body.to_string().contains("http or https"));

    let bad = |body: Value, says: &str| {
        let r = app
            .post("/parlor/v1/webhooks")
            .admin()
            .tenant(tenant)
            .json(&body);
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(r.body.to_string().contains(says), "{body}: {:?}", r.body);
    };
    bad(
        json!({ "url": "http://10.0.0.1/", "events": ["message.sent"] }),
        "message.sent",
    );
    bad(json!({ "url": "http://10.0.0.1/" }), "events");
    bad(
        json!({ "url": "http://10.0.0.1/", "events": ["*"], "format": "mdlive" }),
        "only \\\"parlor\\\" exists",
    );
    bad(
        json!({ "url": "http://10.0.0.1/", "events": ["*"], "secret": "mine" }),
        "secret",
    );
}

#[test]
fn the_allowance_lets_private_addresses_through() {
    let app = spawn_with(|s| s.webhook_allow_private = true);
    let tenant = app.create_tenant("Clinic");
    let r = app
        .post("/parlor/v1/webhooks")
        .admin()
        .tenant(tenant)
        .json(&json!({ "url": "http://10.0.0.1/hook", "events": ["*"] }));
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[test]
fn endpoints_belong_to_their_tenant_and_to_its_admins() {
    let app = stand_in("1s");
    let receiver = Receiver::start(&[]);
    let id = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    let other = app.create_tenant("Elsewhere");
    for (method, path) in [
        ("GET", format!("/parlor/v1/webhooks/{id}")),
        ("PATCH", format!("/parlor/v1/webhooks/{id}")),
        ("DELETE", format!("/parlor/v1/webhooks/{id}")),
        ("POST", format!("/parlor/v1/webhooks/{id}/rotate-secret")),
        ("GET", format!("/parlor/v1/webhooks/{id}/deliveries")),
        ("GET", format!("/parlor/v1/webhooks/{id}/deliveries/1")),
        (
            "POST",
            format!("/parlor/v1/webhooks/{id}/deliveries/1/replay"),
        ),
    ] {
        let r = app
            .request(method, &path)
            .admin()
            .tenant(other)
            .json(&json!({}));
        assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
    }
    let listed = get(&app, "/parlor/v1/webhooks");
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let theirs = app.get("/parlor/v1/webhooks").admin().tenant(other).send();
    assert_eq!(theirs.body["data"], json!([]));

    // Another tenant's events never reach this endpoint: its message comes first, and the
    // endpoint's first delivery is this tenant's.
    let them = app.create_user(other, json!({ "role": "provider", "display_name": "A" }))["id"]
        .as_i64()
        .unwrap();
    let them2 = app.create_user(other, json!({ "role": "patient", "display_name": "B" }))["id"]
        .as_i64()
        .unwrap();
    let their_conv = app.create_conversation(other, &[them, them2])["id"]
        .as_i64()
        .unwrap();
    app.send_as(other, their_conv, them, "not yours");
    let ours = send(&app, conversation(&app), "yours");
    let seen = receiver.wait_for(1);
    assert_eq!(seen[0].json()["data"]["message_id"], ours);

    // A plain user may not manage endpoints.
    let token = app.token_for(CLINIC, PATIENT, &["*"]);
    let r = app.get("/parlor/v1/webhooks").bearer(&token).send();
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = app
        .post("/parlor/v1/webhooks")
        .bearer(&token)
        .json(&json!({ "url": receiver.url(), "events": ["*"] }));
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = app
        .get(&format!("/parlor/v1/webhooks/{id}/deliveries"))
        .bearer(&token)
        .send();
    assert_eq!(r.status, 403, "{:?}", r.body);

    let gone = app
        .delete(&format!("/parlor/v1/webhooks/{id}"))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(gone.status, 204);
    let r = app
        .get(&format!("/parlor/v1/webhooks/{id}"))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(r.status, 404);
}

#[test]
fn a_pending_delivery_survives_a_restart() {
    use crate::shutdown::serve_with;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let token = "webhook-restart-admin-token";
    // The receiver is down at first: its port is reserved, then let go.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = [
        ("PARLOR_ADMIN_TOKEN", token),
        (
            "PARLOR_WEBHOOK_RETRY_SCHEDULE",
            "1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s",
        ),
    ];
    let call = |base: &str, method: &str, path: &str, body: Value| -> Value {
        let r = ureq::request(method, &format!("{base}{path}"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("X-Parlor-Tenant", &CLINIC.to_string());
        let r = if method == "GET" {
            r.call()
        } else {
            r.send_json(body)
        };
        r.unwrap().into_json().unwrap()
    };

    let server = serve_with(&db, &["--demo"], &env);
    let hook = call(
        &server.base,
        "POST",
        "/parlor/v1/webhooks",
        json!({ "url": format!("http://127.0.0.1:{port}/hook"), "events": ["message.created"] }),
    );
    let id = hook["id"].as_i64().unwrap();
    let conv = call(
        &server.base,
        "POST",
        "/parlor/v1/conversations",
        json!({ "participants": [PROVIDER, PATIENT] }),
    )["id"]
        .as_i64()
        .unwrap();
    let message = call(
        &server.base,
        "POST",
        &format!("/parlor/v1/conversations/{conv}/messages"),
        json!({ "body": "across a restart", "as": PROVIDER }),
    )["id"]
        .as_i64()
        .unwrap();
    // Tried once and failed, still pending.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = call(
            &server.base,
            "GET",
            &format!("/parlor/v1/webhooks/{id}/deliveries"),
            Value::Null,
        );
        let d = &list["data"][0];
        if d["attempt_count"].as_i64().unwrap_or(0) >= 1 {
            assert_eq!(d["status"], "pending", "{list}");
            break;
        }
        assert!(Instant::now() < deadline, "never tried: {list}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains("WARN"), "{log}");

    let receiver = Receiver::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), &[]);
    let server = serve_with(&db, &["--demo"], &env);
    let seen = receiver.wait_for(1);
    assert_eq!(seen[0].json()["data"]["message_id"], message);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = call(
            &server.base,
            "GET",
            &format!("/parlor/v1/webhooks/{id}/deliveries"),
            Value::Null,
        );
        if list["data"][0]["status"] == "delivered" {
            let did = list["data"][0]["id"].as_i64().unwrap();
            let detail = call(
                &server.base,
                "GET",
                &format!("/parlor/v1/webhooks/{id}/deliveries/{did}"),
                Value::Null,
            );
            let attempts = detail["attempts"].as_array().unwrap();
            assert!(attempts[0]["error"]
                .as_str()
                .unwrap()
                .contains("cannot connect"));
            assert_eq!(attempts.last().unwrap()["response"]["status"], 200);
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {list}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains("WARN"), "{log}");
}

#[test]
fn turning_capture_on_captures_what_was_still_pending() {
    let app = stand_in("300ms 300ms");
    let receiver = Receiver::start(&[500]);
    let id = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    send(&app, conversation(&app), "held");
    receiver.wait_for(1);
    let r = app
        .patch(&format!("/parlor/v1/webhooks/{id}"))
        .admin()
        .tenant(CLINIC)
        .json(&json!({ "capture": true }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["capture"], true);
    let outbox = wait_for_status(&app, id, "captured");
    assert_eq!(outbox[0]["attempt_count"], 2);
    assert_eq!(receiver.seen().len(), 1);
}

#[test]
fn an_endpoint_that_does_not_answer_in_time_is_tried_again() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.webhook_retry_schedule = "20ms".into();
        s.webhook_timeout_seconds = 1;
    });
    // The first connection is accepted and never answered; the next one gets a 204.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            if n == 0 {
                held.push(stream);
            } else {
                answer(stream, 204);
            }
        }
    });
    let id = register(
        &app,
        json!({ "url": format!("http://127.0.0.1:{port}/hook"), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    send(&app, conversation(&app), "slow");
    let outbox = wait_for_status(&app, id, "delivered");
    let did = outbox[0]["id"].as_i64().unwrap();
    let detail = get(&app, &format!("/parlor/v1/webhooks/{id}/deliveries/{did}"));
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{detail}");
    assert!(attempts[0]["response"].is_null());
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{detail}"
    );
    assert_eq!(attempts[1]["response"]["status"], 204);
}

#[test]
fn the_address_is_checked_again_at_each_attempt() {
    let app = stand_in("20ms");
    let receiver = Receiver::start(&[]);
    let id = register(
        &app,
        json!({ "url": receiver.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    // As if the name registered had since been pointed at the clinic's network (DNS
    // rebinding): the stored URL now leads to a private address.
    app.service
        .store
        .write_blocking(move |c| {
            c.execute(
                "UPDATE webhook_endpoints SET url = 'http://10.0.0.1/hook' WHERE id = ?1",
                [id],
            )?;
            Ok(())
        })
        .unwrap();
    send(&app, conversation(&app), "not there");
    let outbox = wait_for_status(&app, id, "failed");
    let did = outbox[0]["id"].as_i64().unwrap();
    let detail = get(&app, &format!("/parlor/v1/webhooks/{id}/deliveries/{did}"));
    for attempt in detail["attempts"].as_array().unwrap() {
        assert!(attempt["response"].is_null(), "{detail}");
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.starts_with("refused:") && error.contains("private"),
            "{detail}"
        );
    }
    assert!(receiver.seen().is_empty());
}

#[test]
fn the_outbox_keeps_finished_deliveries_for_its_window_and_pending_ones_until_they_finish() {
    let app = stand_in("1h");
    let ok = Receiver::start(&[]);
    let failing = Receiver::start(&[500]);
    let done = register(
        &app,
        json!({ "url": ok.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    let waiting = register(
        &app,
        json!({ "url": failing.url(), "events": ["message.created"] }),
    )["id"]
        .as_i64()
        .unwrap();
    send(&app, conversation(&app), "old news");
    let delivered = wait_for_status(&app, done, "delivered")[0]["id"]
        .as_i64()
        .unwrap();
    failing.wait_for(1);
    // Both 40 days old.
    let forty_days = 40 * 86_400_000_i64;
    app.service
        .store
        .write_blocking(move |c| {
            c.execute(
                "UPDATE webhook_deliveries SET created_at = created_at - ?1",
                [forty_days],
            )?;
            Ok(())
        })
        .unwrap();
    let service = app.service.clone();
    let removed = actix_web::rt::System::new()
        .block_on(async move { service.prune_webhook_outbox(30).await })
        .unwrap();
    assert_eq!(removed, 1);
    let r = app
        .get(&format!(
            "/parlor/v1/webhooks/{done}/deliveries/{delivered}"
        ))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(r.status, 404);
    let pending = get(&app, &format!("/parlor/v1/webhooks/{waiting}/deliveries"));
    assert_eq!(pending["data"][0]["status"], "pending", "{pending}");
}

/// Following the log costs a send nothing when no endpoint wants its event: no second commit
/// per send to move the dispatcher's cursor (it is stored at most once a second then).
#[test]
fn following_the_log_adds_no_commit_to_a_send_nobody_listens_for() {
    let app = stand_in("10ms");
    let conv = conversation(&app);
    std::thread::sleep(Duration::from_millis(300));
    let before = app.service.store.writer_stats().transactions;
    for i in 0..10 {
        send(&app, conv, &format!("unheard {i}"));
    }
    std::thread::sleep(Duration::from_millis(300));
    let commits = app.service.store.writer_stats().transactions - before;
    // Ten sends, and at most a cursor save or two (once a second): not twenty.
    assert!(commits <= 12, "{commits} commits for 10 sends");
}

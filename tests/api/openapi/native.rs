//! Every operation of `/parlor/v1/openapi.json`, called on a live demo server, answers what the
//! document says; an operation of the table that this test does not call fails it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Contract;
use crate::helpers::{spawn_demo, Req, Resp, TestApp};

/// The demo's clinic and two of its people.
const CLINIC: i64 = 1;
const PROVIDER: i64 = 4;
const PATIENT: i64 = 52;
const PASSWORD: &str = "a long enough password 7";

struct Live<'a> {
    app: &'a TestApp,
    contract: Contract,
}

impl Live<'_> {
    /// `method path` (the path may carry a query), prepared by `build`, checked against the
    /// document.
    fn call(&self, method: &str, path: &str, build: impl FnOnce(Req) -> Resp) -> Resp {
        let r = build(self.app.request(method, &format!("/parlor/v1{path}")));
        let bare = path.split('?').next().unwrap_or(path);
        self.contract
            .check(method, &format!("/parlor/v1{bare}"), &r);
        r
    }

    /// As the server admin, in the demo clinic; `body` when given.
    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, |req| {
            let req = req.admin().tenant(CLINIC);
            match body {
                Some(b) => req.json(&b),
                None => req.send(),
            }
        })
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>, status: u16) -> Value {
        let r = self.admin(method, path, body);
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
        r.body
    }
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// A webhook receiver on 127.0.0.1 that accepts everything.
fn receiver() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    format!("http://127.0.0.1:{port}/hook")
}

#[test]
fn every_native_operation_answers_as_its_document_says() {
    let app = spawn_demo();
    let doc = app.get("/parlor/v1/openapi.json").send();
    assert_eq!(doc.status, 200, "{}", doc.text);
    let live = Live {
        app: &app,
        contract: Contract::new(doc.body.clone()),
    };
    live.contract.check("GET", "/parlor/v1/openapi.json", &doc);

    // Errors answer the documented error body.
    let r = live.call("GET", "/conversations", |r| r.send());
    assert_eq!(r.status, 401);
    let r = live.admin("GET", "/conversations/987654", None);
    assert_eq!(r.status, 404);
    let r = live.admin("POST", "/users", Some(json!({"nickname": "x"})));
    assert_eq!(r.status, 400);

    // Tenants.
    let tenant = live.ok(
        "POST",
        "/tenants",
        Some(json!({"name": "Contract Clinic"})),
        201,
    );
    live.ok("GET", "/tenants", None, 200);
    live.ok("GET", &format!("/tenants/{}", id(&tenant)), None, 200);

    // Users, and signing in as one.
    let carol = live.ok(
        "POST",
        "/users",
        Some(
            json!({"username": "carol", "password": PASSWORD, "role": "provider",
                    "first_name": "Carol", "last_name": "Contract"}),
        ),
        201,
    );
    let carol_id = id(&carol);
    live.ok("GET", "/users?limit=2", None, 200);
    live.ok("GET", &format!("/users/{carol_id}"), None, 200);
    live.ok(
        "PATCH",
        &format!("/users/{carol_id}"),
        Some(json!({"specialty": "Cardiology"})),
        200,
    );
    let login = live.call("POST", "/auth/login", |r| {
        r.json(&json!({"tenant": CLINIC, "username": "carol", "password": PASSWORD}))
    });
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.body["token"].as_str().unwrap().to_string();
    let me = live.call("GET", "/me", |r| r.bearer(&token).send());
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], carol_id);
    let me = live.call("GET", "/me", |r| r.admin().send());
    assert_eq!(me.body["server_admin"], true);
    let r = live.call("PATCH", "/me", |r| {
        r.bearer(&token).json(&json!({"display_name": "Dr Carol"}))
    });
    assert_eq!(r.status, 200, "{}", r.text);
    let r = live.call("GET", "/contacts?limit=5", |r| r.bearer(&token).send());
    assert_eq!(r.status, 200, "{}", r.text);

    // A browser session.
    let session = live.call("POST", "/session", |r| {
        r.json(&json!({"tenant": CLINIC, "username": "carol", "password": PASSWORD}))
    });
    assert_eq!(session.status, 200, "{}", session.text);
    let cookie = session
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let csrf = session.body["csrf_token"].as_str().unwrap().to_string();
    let r = live.call("GET", "/session", |r| r.header("Cookie", &cookie).send());
    assert_eq!(r.status, 200, "{}", r.text);
    let r = live.call("DELETE", "/session", |r| {
        r.header("Cookie", &cookie)
            .header("X-Parlor-CSRF", &csrf)
            .send()
    });
    assert_eq!(r.status, 204, "{}", r.text);

    // Tokens and API keys.
    let issued = live.ok(
        "POST",
        &format!("/users/{carol_id}/tokens"),
        Some(json!({"abilities": ["native"], "label": "ci"})),
        201,
    );
    live.ok("GET", &format!("/users/{carol_id}/tokens"), None, 200);
    live.ok("DELETE", &format!("/tokens/{}", id(&issued)), None, 200);
    let key = live.ok("POST", "/api-keys", Some(json!({"label": "ci"})), 201);
    live.ok("GET", "/api-keys", None, 200);
    live.ok("DELETE", &format!("/api-keys/{}", id(&key)), None, 200);

    // An invite, shown and accepted.
    let dan = live.ok(
        "POST",
        "/users",
        Some(json!({"username": "dan", "role": "provider", "first_name": "Dan"})),
        201,
    );
    let invite = live.ok("POST", &format!("/users/{}/invites", id(&dan)), None, 201);
    live.ok("GET", &format!("/users/{}/invites", id(&dan)), None, 200);
    let secret = invite["url"].as_str().unwrap().rsplit('/').next().unwrap();
    let r = live.call("GET", &format!("/invites/{secret}"), |r| r.send());
    assert_eq!(r.status, 200, "{}", r.text);
    let r = live.call("POST", &format!("/invites/{secret}"), |r| {
        r.json(&json!({"password": PASSWORD}))
    });
    assert_eq!(r.status, 200, "{}", r.text);

    // Conversations and messages.
    let conv = live.call("POST", "/conversations", |r| {
        r.admin()
            .tenant(CLINIC)
            .header("Idempotency-Key", "contract-1")
            .json(&json!({"participants": [PROVIDER, PATIENT], "name": "Contract"}))
    });
    assert_eq!(conv.status, 201, "{}", conv.text);
    let conv = id(&conv.body);
    live.ok("GET", "/conversations?limit=3", None, 200);
    live.ok("GET", &format!("/conversations/{conv}"), None, 200);
    live.ok(
        "PATCH",
        &format!("/conversations/{conv}"),
        Some(json!({"name": "Renamed"})),
        200,
    );
    live.ok(
        "POST",
        &format!("/conversations/{conv}/participants"),
        Some(json!({"user": carol_id})),
        201,
    );
    live.ok(
        "DELETE",
        &format!("/conversations/{conv}/participants/{carol_id}"),
        None,
        200,
    );
    let file = live.call(
        "POST",
        &format!("/conversations/{conv}/attachments?as={PROVIDER}&filename=a.bin"),
        |r| {
            r.admin()
                .tenant(CLINIC)
                .raw("application/octet-stream", "\0bytes")
        },
    );
    assert_eq!(file.status, 201, "{}", file.text);
    let file = file.body["id"].as_str().unwrap().to_string();
    let r = live.call("POST", &format!("/conversations/{conv}/attachments"), |r| {
        r.admin().tenant(CLINIC).raw("application/octet-stream", "")
    });
    assert_eq!(r.status, 400, "{}", r.text);
    let msg = live.ok(
        "POST",
        &format!("/conversations/{conv}/messages"),
        Some(json!({"body": "Hello", "as": PROVIDER, "attachment_ids": [file]})),
        201,
    );
    let msg = id(&msg);
    live.ok("GET", &format!("/attachments/{file}"), None, 200);
    let content = live.admin("GET", &format!("/attachments/{file}/content"), None);
    assert_eq!(content.status, 200);
    let r = live.call("GET", &format!("/attachments/{file}/content"), |r| {
        r.admin()
            .tenant(CLINIC)
            .header("Range", "bytes=100-")
            .send()
    });
    assert_eq!(r.status, 416);
    let r = live.admin("GET", "/attachments/nope/content", None);
    assert_eq!(r.status, 404);
    live.ok("GET", &format!("/conversations/{conv}/messages"), None, 200);
    live.ok("GET", &format!("/messages/{msg}"), None, 200);
    live.ok(
        "PATCH",
        &format!("/messages/{msg}"),
        Some(json!({"body": "Hello again", "as": PROVIDER})),
        200,
    );
    live.ok(
        "POST",
        &format!("/messages/{msg}/read"),
        Some(json!({"as": PATIENT})),
        200,
    );
    live.ok(
        "POST",
        &format!("/conversations/{conv}/read"),
        Some(json!({"as": PATIENT})),
        200,
    );
    live.ok("GET", &format!("/unread?as={PATIENT}"), None, 200);
    let found = live.ok("GET", "/search?q=hello&limit=1", None, 200);
    assert!(!found["data"].as_array().unwrap().is_empty(), "{found}");
    live.ok("GET", &format!("/search?q=hello&as={PATIENT}"), None, 200);
    live.ok("GET", "/search?q=%22hello", None, 400);

    // Retention and legal holds.
    live.ok("GET", "/retention", None, 200);
    live.ok(
        "PUT",
        "/retention",
        Some(json!({"message_days": null})),
        200,
    );
    let hold = live.ok(
        "POST",
        "/legal-holds",
        Some(json!({"conversation": conv, "reason": "contract test"})),
        201,
    );
    live.ok("GET", "/legal-holds", None, 200);
    live.ok(
        "POST",
        &format!("/legal-holds/{}/release", id(&hold)),
        None,
        200,
    );

    // Webhooks: an endpoint, a delivery to it, and its replay.
    let hook = live.ok(
        "POST",
        "/webhooks",
        Some(json!({"url": receiver(), "events": ["*"]})),
        201,
    );
    let hook = id(&hook);
    live.ok("GET", "/webhooks", None, 200);
    live.ok("GET", &format!("/webhooks/{hook}"), None, 200);
    live.ok(
        "PATCH",
        &format!("/webhooks/{hook}"),
        Some(json!({"description": "contract"})),
        200,
    );
    live.ok(
        "POST",
        &format!("/webhooks/{hook}/rotate-secret"),
        None,
        200,
    );
    app.send_as(CLINIC, conv, PROVIDER, "for the webhook");
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivery = loop {
        let list = live.ok("GET", &format!("/webhooks/{hook}/deliveries"), None, 200);
        if let Some(d) = list["data"]
            .as_array()
            .and_then(|ds| ds.iter().find(|d| d["status"] == "delivered"))
        {
            break id(d);
        }
        assert!(Instant::now() < deadline, "no delivery arrived: {list}");
        std::thread::sleep(Duration::from_millis(20));
    };
    live.ok(
        "GET",
        &format!("/webhooks/{hook}/deliveries/{delivery}"),
        None,
        200,
    );
    live.ok(
        "POST",
        &format!("/webhooks/{hook}/deliveries/{delivery}/replay"),
        None,
        202,
    );
    live.ok("DELETE", &format!("/webhooks/{hook}"), None, 204);

    // The rest of the admin's views.
    live.ok("GET", "/faces", None, 200);
    live.ok("GET", "/audit?limit=5", None, 200);
    let export = live.admin("GET", &format!("/users/{PATIENT}/export"), None);
    assert_eq!(export.status, 200, "{}", export.text);
    live.ok(
        "DELETE",
        &format!("/messages/{msg}"),
        Some(json!({"as": PROVIDER})),
        204,
    );
    live.ok("DELETE", &format!("/conversations/{conv}"), None, 204);

    // The event stream: its answer's head (the stream itself never ends).
    let stream = ureq::get(&app.url("/parlor/v1/events"))
        .set(
            "Authorization",
            &format!("Bearer {}", crate::helpers::ADMIN_TOKEN),
        )
        .set("X-Parlor-Tenant", &CLINIC.to_string())
        .call()
        .expect("the stream opens");
    let head = Resp {
        status: stream.status(),
        body: Value::Null,
        headers: vec![(
            "content-type".into(),
            stream.header("content-type").unwrap_or("").to_string(),
        )],
        text: String::new(),
    };
    drop(stream);
    live.contract.check("GET", "/parlor/v1/events", &head);

    live.contract.assert_all_exercised();
}

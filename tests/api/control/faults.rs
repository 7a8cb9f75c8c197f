//! Faults and latency: `/__parlor/faults` rules, each effect through two faces and the native
//! API, `times`, seeded probability, tenant and sandbox scope.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_demo, Resp, TestApp};

// The demo's Pigeons tenant (Laravel) and Respondent tenant (NestJS).
const PIGEONS: &str = "/api/v1/pigeons/chat/conversations";
const PIGEONS_PK: &str = "pk_demo_pigeons";
const JOHN: &str = "1|demoPigeonsJohnDoeToken";
const PIGEONS_TENANT: i64 = 5;
const RESPONDENT: &str = "/v1/messaging/conversations";
const RESPONDENT_TENANT: i64 = 3;
const NATIVE: &str = "/parlor/v1/conversations";

fn add(app: &TestApp, rule: Value) -> Value {
    let r = app.post("/__parlor/faults").admin().json(&rule);
    assert_eq!(r.status, 201, "{rule} → {:?}", r.body);
    r.body
}

fn rules(app: &TestApp) -> Vec<Value> {
    let r = app.get("/__parlor/faults").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

fn pigeons(app: &TestApp) -> Resp {
    app.get(PIGEONS)
        .bearer(JOHN)
        .header("X-PUBLIC-KEY", PIGEONS_PK)
        .send()
}

fn respondent(app: &TestApp) -> Resp {
    app.get(RESPONDENT)
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .send()
}

fn native(app: &TestApp, tenant: i64) -> Resp {
    app.get(NATIVE).admin().tenant(tenant).send()
}

#[test]
fn rules_are_created_listed_and_removed() {
    let app = spawn_demo();
    let first = add(
        &app,
        json!({"face": "pigeons", "route": "/api/v1/pigeons/chat/**", "method": "get",
               "times": 2, "status": 503}),
    );
    assert_eq!(first["face"], "pigeons");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["status"], 503);
    assert_eq!(first["fired"], 0);
    assert_eq!(first["remaining"], 2);
    assert_eq!(first["spent"], false);
    let second = add(&app, json!({"probability": 0.5, "delay_ms": 1}));
    // A probability without a seed is given one, so that the run can be repeated.
    assert!(second["seed"].is_u64(), "{second}");
    assert_eq!(second["remaining"], Value::Null);

    let listed = rules(&app);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], first["id"]);
    assert_eq!(listed[1]["id"], second["id"]);

    let r = app
        .delete(&format!("/__parlor/faults/{}", first["id"]))
        .admin()
        .send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app
        .delete(&format!("/__parlor/faults/{}", first["id"]))
        .admin()
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(r.code(), "not_found");
    assert_eq!(rules(&app).len(), 1);

    let r = app.delete("/__parlor/faults").admin().send();
    assert_eq!(r.status, 204);
    assert!(rules(&app).is_empty());

    // Only the server admin.
    let r = app.post("/__parlor/faults").json(&json!({"status": 500}));
    assert_eq!(r.status, 401, "{:?}", r.body);
}

#[test]
fn bad_rules_are_refused_naming_the_field() {
    let app = spawn_demo();
    for (rule, field) in [
        (json!({"face": "acme", "status": 500}), "face"),
        (json!({"status": 200}), "status"),
        (json!({"status": 700}), "status"),
        (json!({"face": "native"}), "status"),
        (json!({"retry_after": 3, "delay_ms": 5}), "retry_after"),
        (json!({"status": 500, "connection": "drop"}), "connection"),
        (json!({"connection": "sideways"}), "connection"),
        (json!({"route": "conversations", "status": 500}), "route"),
        (json!({"times": 0, "status": 500}), "times"),
        (json!({"probability": 1.5, "status": 500}), "probability"),
        (json!({"delay": {"uniform_ms": [300, 100]}}), "delay"),
        (json!({"delay_ms": 5, "delay": {"fixed_ms": 5}}), "delay"),
        (json!({"tenant": 999, "status": 500}), "tenant"),
        (json!({"status": 500, "colour": "red"}), "colour"),
    ] {
        let r = app.post("/__parlor/faults").admin().json(&rule);
        assert_eq!(r.status, 400, "{rule} → {:?}", r.body);
        assert_eq!(r.code(), "invalid", "{rule}");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            r.body["error"]["field"] == field || message.contains(field),
            "{rule} → {:?}",
            r.body
        );
    }
    assert!(rules(&app).is_empty());
}

#[test]
fn a_500_and_a_429_in_each_vendors_own_format() {
    let app = spawn_demo();
    add(&app, json!({"face": "pigeons", "times": 1, "status": 500}));
    let r = pigeons(&app);
    assert_eq!(r.status, 500);
    assert_eq!(r.body, json!({"message": "Server Error"}));
    assert_eq!(pigeons(&app).status, 200, "times: 1 fires once");

    add(
        &app,
        json!({"face": "pigeons", "times": 1, "status": 429, "retry_after": 30}),
    );
    let r = pigeons(&app);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(r.body, json!({"message": "Too Many Attempts."}));

    add(
        &app,
        json!({"face": "respondent", "times": 1, "status": 500}),
    );
    let r = respondent(&app);
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        json!({"statusCode": 500, "message": "Internal server error"})
    );
    add(
        &app,
        json!({"face": "respondent", "times": 1, "status": 429, "retry_after": 7}),
    );
    let r = respondent(&app);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(
        r.body,
        json!({"statusCode": 429, "message": "ThrottlerException: Too Many Requests"})
    );
    assert_eq!(respondent(&app).status, 200);

    add(&app, json!({"face": "native", "times": 1, "status": 500}));
    let r = native(&app, PIGEONS_TENANT);
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        json!({"error": {"code": "internal", "message": "internal server error"}})
    );
    add(
        &app,
        json!({"face": "native", "times": 1, "status": 429, "retry_after": 30}),
    );
    let r = native(&app, PIGEONS_TENANT);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert_eq!(r.code(), "too_many_requests");
    assert_eq!(native(&app, PIGEONS_TENANT).status, 200);
}

#[test]
fn every_face_renders_a_fault_in_its_vendors_format() {
    let app = spawn_demo();
    add(&app, json!({"status": 503, "retry_after": 5}));
    let cases = [
        (
            app.get("/api/v2/patients/1/messages/conversations").send(),
            json!({"error": "Service Unavailable"}),
        ),
        (
            app.get("/v1/api/conversations").send(),
            json!({"status": "error", "message": "Service Unavailable"}),
        ),
        (
            app.get("/v0.1/messages/").send(),
            json!({"detail": "Service Unavailable."}),
        ),
    ];
    for (r, body) in cases {
        assert_eq!(r.status, 503, "{:?}", r.body);
        assert_eq!(r.header("retry-after"), Some("5"));
        assert_eq!(r.body, body);
    }
}

#[test]
fn a_faulted_request_has_no_side_effects() {
    let app = spawn_demo();
    let before = app.get("/parlor/v1/tenants").admin().send().body["data"]
        .as_array()
        .unwrap()
        .len();
    add(
        &app,
        json!({"route": "/parlor/v1/tenants", "method": "POST", "status": 500}),
    );
    let r = app
        .post("/parlor/v1/tenants")
        .admin()
        .json(&json!({"name": "Never made"}));
    assert_eq!(r.status, 500);
    let after = app.get("/parlor/v1/tenants").admin().send().body["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[test]
fn times_spend_a_rule_which_stays_listed() {
    let app = spawn_demo();
    let rule = add(
        &app,
        json!({"face": "respondent", "route": "/v1/messaging/*", "times": 3, "status": 502}),
    );
    let statuses: Vec<u16> = (0..5).map(|_| respondent(&app).status).collect();
    assert_eq!(statuses, [502, 502, 502, 200, 200]);
    // Another face's calls are not the rule's.
    assert_eq!(pigeons(&app).status, 200);
    let listed = rules(&app);
    assert_eq!(listed[0]["id"], rule["id"]);
    assert_eq!(listed[0]["fired"], 3);
    assert_eq!(listed[0]["remaining"], 0);
    assert_eq!(listed[0]["spent"], true);
}

#[test]
fn the_control_plane_and_health_checks_are_never_faulted() {
    let app = spawn_demo();
    add(&app, json!({"status": 500}));
    assert_eq!(app.get("/healthz").send().status, 200);
    assert_eq!(rules(&app).len(), 1);
    assert_eq!(native(&app, PIGEONS_TENANT).status, 500);
}

#[test]
fn a_clinic_has_no_fault_rules() {
    let app = spawn_app();
    let r = app
        .post("/__parlor/faults")
        .admin()
        .json(&json!({"status": 500}));
    assert_eq!(r.status, 404);
}

/// How long a call takes; the delay is asserted as a lower bound only.
fn timed(call: impl FnOnce() -> Resp) -> (Resp, Duration) {
    let start = Instant::now();
    let r = call();
    (r, start.elapsed())
}

#[test]
fn delays_fixed_uniform_and_lognormal_come_before_the_real_answer() {
    let app = spawn_demo();
    add(
        &app,
        json!({"face": "pigeons", "times": 1, "delay_ms": 200}),
    );
    let (r, took) = timed(|| pigeons(&app));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(took >= Duration::from_millis(200), "{took:?}");

    add(
        &app,
        json!({"face": "respondent", "times": 1, "delay": {"uniform_ms": [150, 250]}}),
    );
    let (r, took) = timed(|| respondent(&app));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(took >= Duration::from_millis(150), "{took:?}");

    // sigma 0: exactly the median.
    add(
        &app,
        json!({"face": "native", "times": 1, "status": 503,
               "delay": {"lognormal": {"median_ms": 120, "sigma": 0.0}}}),
    );
    let (r, took) = timed(|| native(&app, PIGEONS_TENANT));
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert!(took >= Duration::from_millis(120), "{took:?}");
    assert_eq!(rules(&app).iter().filter(|r| r["spent"] == true).count(), 3);
}

/// A request on a fresh socket, and everything that came back until the server closed it.
fn raw(app: &TestApp, request: &str) -> std::io::Result<Vec<u8>> {
    let addr = app.base.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    socket.write_all(request.as_bytes())?;
    let mut out = Vec::new();
    socket.read_to_end(&mut out)?;
    Ok(out)
}

fn pigeons_raw() -> String {
    format!(
        "GET {PIGEONS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {JOHN}\r\n\
         X-PUBLIC-KEY: {PIGEONS_PK}\r\n\r\n"
    )
}

fn respondent_raw() -> String {
    format!(
        "GET {RESPONDENT} HTTP/1.1\r\nHost: x\r\nx-api-key: demo-respondent-key\r\n\
         x-api-secret: demo-respondent-secret\r\n\r\n"
    )
}

fn native_raw() -> String {
    format!(
        "GET {NATIVE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         X-Parlor-Tenant: {PIGEONS_TENANT}\r\n\r\n",
        crate::helpers::ADMIN_TOKEN
    )
}

/// The head and body of a response read to the end of the connection.
fn split(bytes: &[u8]) -> (String, Vec<u8>) {
    let at = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    (
        String::from_utf8_lossy(&bytes[..at]).to_string(),
        bytes[at + 4..].to_vec(),
    )
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("content-length")
}

#[test]
fn connection_effects_drop_empty_and_truncate() {
    let app = spawn_demo();
    for (face, request) in [
        ("pigeons", pigeons_raw()),
        ("respondent", respondent_raw()),
        ("native", native_raw()),
    ] {
        add(
            &app,
            json!({"face": face, "times": 1, "connection": "empty"}),
        );
        let out = raw(&app, &request).expect("an orderly close");
        assert!(out.is_empty(), "{face}: {}", String::from_utf8_lossy(&out));

        add(
            &app,
            json!({"face": face, "times": 1, "connection": "drop"}),
        );
        match raw(&app, &request) {
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{face}"),
            Ok(out) => panic!("{face}: no reset, got {:?}", String::from_utf8_lossy(&out)),
        }

        add(
            &app,
            json!({"face": face, "times": 1, "connection": "truncate"}),
        );
        let out = raw(&app, &request).expect("a close after half the body");
        let (head, body) = split(&out);
        assert!(head.starts_with("HTTP/1.1 200"), "{face}: {head}");
        let full = content_length(&head);
        assert!(full > 2, "{face}: {head}");
        assert_eq!(body.len(), full / 2, "{face}: {head}");
    }
    assert!(rules(&app).iter().all(|r| r["spent"] == true));

    // A HEAD answer has no body to halve: its head goes out, then the connection closes,
    // and the GET pipelined behind it gets nothing.
    add(
        &app,
        json!({"method": "HEAD", "times": 1, "connection": "truncate"}),
    );
    let head_request = pigeons_raw().replacen("GET", "HEAD", 1) + &pigeons_raw();
    let out = raw(&app, &head_request).expect("a close after the head");
    let (head, body) = split(&out);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(content_length(&head) > 0, "{head}");
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));
    assert!(rules(&app).iter().all(|r| r["spent"] == true));
}

/// Which of 50 calls a rule with `seed` fails, on a fresh server.
fn failing_calls(seed: u64) -> Vec<usize> {
    let app = spawn_demo();
    add(
        &app,
        json!({"face": "pigeons", "probability": 0.3, "seed": seed, "status": 500}),
    );
    let failed: Vec<usize> = (0..50)
        .filter(|_| {
            let status = pigeons(&app).status;
            assert!(status == 200 || status == 500, "{status}");
            status == 500
        })
        .collect();
    assert_eq!(rules(&app)[0]["fired"], failed.len() as u64);
    failed
}

#[test]
fn a_seeded_probability_fires_on_the_same_calls_in_two_runs() {
    let first = failing_calls(42);
    let second = failing_calls(42);
    assert_eq!(first, second);
    assert!(!first.is_empty() && first.len() < 50, "{first:?}");
    let other = failing_calls(7);
    assert_ne!(first, other);
}

#[test]
fn tenant_scope_resolves_the_caller_by_its_surface() {
    let app = spawn_demo();
    add(&app, json!({"tenant": PIGEONS_TENANT, "status": 503}));
    assert_eq!(pigeons(&app).status, 503);
    assert_eq!(native(&app, PIGEONS_TENANT).status, 503);
    assert_eq!(respondent(&app).status, 200);
    assert_eq!(native(&app, RESPONDENT_TENANT).status, 200);
    // Credentials that do not check out belong to no tenant: the handler refuses them.
    let r = app
        .get(PIGEONS)
        .bearer("1|wrong")
        .header("X-PUBLIC-KEY", PIGEONS_PK)
        .send();
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(rules(&app)[0]["fired"], 2);
}

#[test]
fn sandbox_scope_follows_the_header() {
    let app = spawn_demo();
    add(&app, json!({"sandbox": "test-a", "status": 500}));
    let call = |sandbox: Option<&str>| {
        let mut req = app
            .get(PIGEONS)
            .bearer(JOHN)
            .header("X-PUBLIC-KEY", PIGEONS_PK);
        if let Some(name) = sandbox {
            req = req.header("X-Parlor-Sandbox", name);
        }
        req.send().status
    };
    assert_eq!(call(Some("test-a")), 500);
    assert_eq!(call(Some("test-b")), 200);
    assert_eq!(call(None), 200);
    let r = app
        .get(RESPONDENT)
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .header("X-Parlor-Sandbox", "test-a")
        .send();
    assert_eq!(r.status, 500);
    assert_eq!(r.body["statusCode"], 500);
}

#[test]
fn the_journal_records_a_faulted_answer_as_it_went_out() {
    let app = spawn_demo();
    let journal = |app: &TestApp| {
        let r = app
            .get("/__parlor/journal?face=respondent&limit=1")
            .admin()
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["data"][0].clone()
    };
    // A status: the vendor's body, as the client got it.
    add(
        &app,
        json!({"face": "respondent", "times": 1, "status": 503}),
    );
    let got = respondent(&app);
    assert_eq!(got.status, 503);
    let entry = app
        .get(&format!("/__parlor/journal/{}", journal(&app)["id"]))
        .admin()
        .send()
        .body;
    assert_eq!(entry["status"], 503, "{entry}");
    assert!(entry.to_string().contains("Service Unavailable"), "{entry}");
    // A reset connection: nothing went out, which HAR writes as status 0.
    add(
        &app,
        json!({"face": "respondent", "times": 1, "connection": "drop"}),
    );
    assert!(raw(&app, &respondent_raw()).is_err());
    let entry = journal(&app);
    assert_eq!(entry["status"], 0, "{entry}");
}

//! One log line per request, with its request id (the client's `X-Request-Id` when sane, else a
//! new one, echoed either way), method, route template, status, duration, surface and tenant;
//! `log_format = "json"` writes one JSON object a line; and nothing secret is logged at any
//! level: requests full of credentials, passwords and message text are driven with
//! `RUST_LOG=trace`, and everything the process wrote is searched for them.

use serde_json::{json, Value};

use super::Process;
use crate::webhooks::Receiver;

const ADMIN: &str = "parlor-demo-admin-token";

/// A request to `base`: status, the answer's `X-Request-Id`, its `Set-Cookie` and its body.
struct Sent {
    status: u16,
    request_id: Option<String>,
    set_cookie: Option<String>,
    body: Value,
}

fn send(req: ureq::Request, body: Option<Value>) -> Sent {
    let answer = match body {
        Some(body) => req.send_json(body),
        None => req.call(),
    };
    let r = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    Sent {
        status: r.status(),
        request_id: r.header("x-request-id").map(str::to_string),
        set_cookie: r.header("set-cookie").map(str::to_string),
        body: r.into_json().unwrap_or(Value::Null),
    }
}

/// Something unique to look for in the log.
fn marker(what: &str) -> String {
    format!("{what}-{}", uuid::Uuid::new_v4().simple())
}

fn lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn request_line<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["target"] == "parlor::request" && l["request_id"] == id)
        .unwrap_or_else(|| panic!("no request line with request_id {id}"))
}

#[test]
fn request_lines_are_json_with_their_id_route_and_tenant_and_nothing_secret_is_logged_at_trace() {
    let server = Process::demo(&[("PARLOR_LOG_FORMAT", "json"), ("RUST_LOG", "trace")]);
    let base = server.base.clone();
    let at = |method: &str, path: &str| ureq::request(method, &format!("{base}{path}"));
    let admin = |method: &str, path: &str| {
        at(method, path)
            .set("Authorization", &format!("Bearer {ADMIN}"))
            .set("X-Parlor-Tenant", "1")
    };
    let mut secrets = vec![
        ADMIN.to_string(),
        "admin-demo-password".to_string(),
        "demo-mdlive-secret".to_string(),
        "demo-respondent-secret".to_string(),
    ];

    // The client's id is taken and echoed; without one, the server's is echoed and logged.
    let theirs = send(
        admin("GET", "/parlor/v1/conversations/3").set("X-Request-Id", "trace-me-0001"),
        None,
    );
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.request_id.as_deref(), Some("trace-me-0001"));
    let query = marker("query-secret");
    let ours = send(
        admin("GET", &format!("/parlor/v1/conversations?search={query}")),
        None,
    );
    let generated = ours.request_id.clone().expect("an id for every answer");
    assert_eq!(generated.len(), 36, "{generated}");
    secrets.push(query);

    // A message's text, also delivered with its signature to a webhook that asks for text.
    let receiver = Receiver::start(&[]);
    let endpoint = send(
        admin("POST", "/parlor/v1/webhooks"),
        Some(json!({ "url": receiver.url(), "events": ["*"], "include_text": true })),
    );
    assert_eq!(endpoint.status, 201, "{:?}", endpoint.body);
    secrets.push(endpoint.body["secret"].as_str().unwrap().to_string());
    let text = marker("message-text");
    let sent = send(
        admin("POST", "/parlor/v1/conversations/2/messages"),
        Some(json!({ "as": 4, "body": text })),
    );
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    receiver.wait_for(1);
    secrets.push(text);

    // A token issued, then used.
    let issued = send(
        admin("POST", "/parlor/v1/users/4/tokens"),
        Some(json!({ "abilities": ["*"] })),
    );
    assert_eq!(issued.status, 201, "{:?}", issued.body);
    let token = issued.body["token"].as_str().unwrap().to_string();
    let used = send(
        at("GET", "/parlor/v1/conversations").set("Authorization", &format!("Bearer {token}")),
        None,
    );
    assert_eq!(used.status, 200);
    secrets.push(token);

    // A session: the password signs in, the cookie is used; a wrong password is refused.
    let wrong = marker("wrong-password");
    let refused = send(
        at("POST", "/parlor/v1/session"),
        Some(json!({ "username": "admin", "password": wrong })),
    );
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    secrets.push(wrong);
    let session = send(
        at("POST", "/parlor/v1/session"),
        Some(json!({ "username": "admin", "password": "admin-demo-password" })),
    );
    assert_eq!(session.status, 200, "{:?}", session.body);
    let cookie = session
        .set_cookie
        .as_deref()
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let by_cookie = send(
        at("GET", "/parlor/v1/conversations").set("Cookie", &cookie),
        None,
    );
    assert_eq!(by_cookie.status, 200);
    let by_cookie = by_cookie.request_id.unwrap();
    secrets.push(cookie.split_once('=').unwrap().1.to_string());
    secrets.push(session.body["csrf_token"].as_str().unwrap().to_string());

    // An invite link's secret in the path, and the password it sets.
    let invited = send(
        admin("POST", "/parlor/v1/users"),
        Some(json!({ "role": "patient", "display_name": "Invited", "username": "invited" })),
    );
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let invite = send(
        admin(
            "POST",
            &format!("/parlor/v1/users/{}/invites", invited.body["id"]),
        ),
        Some(json!({})),
    );
    assert_eq!(invite.status, 201, "{:?}", invite.body);
    let link = invite.body["url"].as_str().unwrap();
    let secret = link.rsplit('/').next().unwrap().to_string();
    let password = marker("new-password");
    assert_eq!(
        send(at("GET", &format!("/parlor/v1/invites/{secret}")), None).status,
        200
    );
    let accepted = send(
        at("POST", &format!("/parlor/v1/invites/{secret}")),
        Some(json!({ "password": password })),
    );
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    secrets.push(secret);
    secrets.push(password);

    // A face's credentials: MDLIVE's API key and password in a body, then its JWT.
    let jwt = send(
        at("POST", "/auth/auth_token"),
        Some(json!({ "auth": { "api_key": "demo-mdlive-key", "password": "demo-mdlive-secret" } })),
    );
    assert_eq!(jwt.status, 200, "{:?}", jwt.body);
    let jwt = jwt.body["jwt"].as_str().unwrap().to_string();
    let mdlive = send(
        at("GET", "/api/v2/patients/52/messages/conversations")
            .set("Authorization", &format!("Bearer {jwt}")),
        None,
    );
    secrets.push(jwt);
    let respondent = send(
        at("GET", "/v1/messaging/conversations")
            .set("x-api-key", "demo-respondent-key")
            .set("x-api-secret", "demo-respondent-secret"),
        None,
    );
    assert_eq!(respondent.status, 200);

    let stderr = server.stop();
    for secret in &secrets {
        assert!(
            !stderr.contains(secret.as_str()),
            "the log holds {secret:?}:\n{}",
            stderr
                .lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let lines = lines(&stderr);
    // TRACE reached the log: other crates' lines are there too, and none leaked.
    assert!(
        lines.iter().any(|l| l["level"] == "TRACE"),
        "RUST_LOG=trace logged no TRACE line"
    );

    let line = request_line(&lines, "trace-me-0001");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/parlor/v1/conversations/{conv}");
    assert_eq!(line["status"], 200);
    assert_eq!(line["surface"], "native");
    assert_eq!(line["tenant"], 1);
    assert!(line["duration_ms"].as_f64().unwrap() > 0.0, "{line}");
    let line = request_line(&lines, &generated);
    assert_eq!(line["route"], "/parlor/v1/conversations");
    // A session cookie's calls are the admin page's.
    let line = request_line(&lines, &by_cookie);
    assert_eq!(line["surface"], "admin", "{line}");
    assert_eq!(line["tenant"], 1, "{line}");
    let line = request_line(&lines, mdlive.request_id.as_deref().unwrap());
    assert_eq!(line["surface"], "mdlive", "{line}");
    assert_eq!(
        line["route"], "/api/v2/patients/{patient_id}/messages/conversations",
        "{line}"
    );
    let line = request_line(&lines, respondent.request_id.as_deref().unwrap());
    assert_eq!(line["surface"], "respondent", "{line}");
    assert_eq!(line["route"], "/v1/messaging/conversations", "{line}");
}

#[test]
fn a_text_line_carries_the_clients_request_id_and_an_unusable_one_is_replaced() {
    let server = Process::demo(&[]);
    let url = format!("{}/parlor/v1/conversations/3", server.base);
    let get = |id: &str| {
        send(
            ureq::get(&url)
                .set("Authorization", &format!("Bearer {ADMIN}"))
                .set("X-Parlor-Tenant", "1")
                .set("X-Request-Id", id),
            None,
        )
    };
    assert_eq!(
        get("text-line-42").request_id.as_deref(),
        Some("text-line-42")
    );
    for unusable in ["has spaces in it".to_string(), "x".repeat(129)] {
        let replaced = get(&unusable).request_id.unwrap();
        assert_ne!(replaced, unusable);
        assert_eq!(replaced.len(), 36, "{replaced}");
    }
    // A face's own 404 and a path no route matches get an id too.
    let unmatched = send(ureq::get(&format!("{}/nowhere/7", server.base)), None);
    assert_eq!(unmatched.status, 404);
    assert!(unmatched.request_id.is_some());

    let stderr = server.stop();
    let line = stderr
        .lines()
        .find(|l| l.contains("request_id=text-line-42"))
        .unwrap_or_else(|| panic!("no line for the request:\n{stderr}"));
    for part in [
        "INFO parlor::request",
        "method=GET",
        "route=/parlor/v1/conversations/{conv}",
        "status=200",
        "surface=native",
        "tenant=1",
        "duration_ms=",
    ] {
        assert!(line.contains(part), "{part} is not in: {line}");
    }
    // Not a terminal: no colour codes in the log.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(stderr.contains("route=unmatched"), "{stderr}");
}

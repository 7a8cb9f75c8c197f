//! Who is calling, resolved once per request by each surface's extractor: the refusals come in
//! each face's order (credentials before the path, the path before the body), and a request
//! carrying an `Idempotency-Key`, whose caller the middleware resolves before the handler
//! runs, is refused exactly as the same request without one.

use serde_json::{json, Value};

use crate::helpers::*;

const KEY: &str = "Idempotency-Key";
const MINUTE: i64 = 60_000;

/// The same request with and without a key: the same status and body.
fn same_with_a_key(send: impl Fn(Option<&str>) -> Resp, what: &str) -> Resp {
    let plain = send(None);
    let keyed = send(Some("callers-key-1"));
    assert_eq!(
        (keyed.status, &keyed.body),
        (plain.status, &plain.body),
        "{what}"
    );
    plain
}

#[test]
fn a_keyed_request_on_an_expired_session_is_refused_as_expired() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.admin_idle_timeout_minutes = 15;
    });
    let start = app.service.now();
    app.service.clock.freeze(start);
    let sign_in = || {
        let r = app
            .post("/parlor/v1/session")
            .json(&json!({"username": "admin", "password": "admin-demo-password"}));
        assert_eq!(r.status, 200, "{:?}", r.body);
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap();
        (
            cookie.to_string(),
            r.body["csrf_token"].as_str().unwrap().to_string(),
        )
    };
    let (plain, keyed) = (sign_in(), sign_in());
    app.service.clock.freeze(start + 15 * MINUTE);
    let create = |(cookie, csrf): &(String, String), key: Option<&str>| {
        let mut r = app
            .post("/parlor/v1/conversations")
            .header("Cookie", cookie)
            .header("X-Parlor-CSRF", csrf);
        if let Some(key) = key {
            r = r.header(KEY, key);
        }
        r.json(&json!({"participants": [52]}))
    };
    let plain = create(&plain, None);
    assert_eq!(plain.status, 401, "{:?}", plain.body);
    assert!(plain.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    // The session is resumed once: a second look would find it already ended ("not signed in").
    let keyed = create(&keyed, Some("callers-key-1"));
    assert_eq!((keyed.status, &keyed.body), (401, &plain.body));
}

const MDLIVE_SECRET: &str = "mdlive-test-jwt-secret";
const EMILY: i64 = 52;
const DR_STORK: i64 = 4;

fn mdlive_jwt(typ: &str, sub: i64) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let claims = json!({ "sub": sub.to_string(), "tid": 1, "typ": typ, "iat": 0, "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(MDLIVE_SECRET.as_bytes()),
    )
    .unwrap()
}

#[test]
fn mdlive_checks_the_token_then_its_patient_then_the_path_then_the_body() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some(MDLIVE_SECRET.into());
    });
    let send = |patient: i64, token: Option<&str>, key: Option<&str>| {
        let mut r = app.post(&format!("/api/v1/patients/{patient}/messages"));
        if let Some(token) = token {
            r = r.bearer(token);
        }
        if let Some(key) = key {
            r = r.header(KEY, key);
        }
        r.raw("application/json", "{not json")
    };
    let refused = |patient: i64, token: Option<&str>, message: &str| {
        let r = same_with_a_key(|key| send(patient, token, key), message);
        assert_eq!((r.status, &r.body), (401, &json!({ "error": message })));
    };
    let emily = mdlive_jwt("user", EMILY);
    let stork = mdlive_jwt("user", DR_STORK);
    let api = mdlive_jwt("api", 1);
    refused(
        53,
        None,
        "Authorization header with a Bearer token is required",
    );
    refused(53, Some(&api), "A user token is required for this request");
    // A provider's token is refused as such, even on the provider's own id.
    for patient in [EMILY, DR_STORK] {
        refused(
            patient,
            Some(&stork),
            "A patient's user token is required for this request",
        );
    }
    refused(
        53,
        Some(&emily),
        "The token does not belong to this patient",
    );
    // Only then the body.
    let r = send(EMILY, Some(&emily), None);
    assert_eq!(r.status, 400, "{:?}", r.body);

    // The token refresh reads the token before its body.
    let r = app
        .post("/api/v1/sso_auth/auth_extend")
        .raw("application/json", "{not json");
    assert_eq!(r.status, 401, "{:?}", r.body);
}

#[test]
fn trillet_checks_the_key_then_the_workspace_header_then_the_body() {
    let app = spawn_demo();
    let generate = |secret: Option<&str>, workspace: Option<&str>, key: Option<&str>| {
        let mut r = app.post("/v1/api/conversations/message/generate");
        for (name, value) in [
            ("x-api-key", secret),
            ("x-workspace-id", workspace),
            (KEY, key),
        ] {
            if let Some(value) = value {
                r = r.header(name, value);
            }
        }
        r.raw("application/json", "{not json")
    };
    let expect = |secret, workspace, status: u16, message: &str| {
        let r = same_with_a_key(|key| generate(secret, workspace, key), message);
        assert_eq!(r.status, status, "{:?}", r.body);
        assert_eq!(r.body["message"], message);
    };
    let wrong_workspace = Some("000000000000000000000000");
    for workspace in [None, wrong_workspace] {
        expect(None, workspace, 401, "Invalid or missing API key.");
        expect(Some("nope"), workspace, 401, "Invalid or missing API key.");
    }
    let secret = Some("demo-trillet-secret");
    expect(secret, None, 400, "The x-workspace-id header is required.");
    expect(
        secret,
        wrong_workspace,
        403,
        "The API key does not belong to this workspace.",
    );
    let r = generate(secret, Some("674e29976b6acbac106d2650"), None);
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Request body is not valid JSON"));
}

#[test]
fn tati_checks_credentials_then_permission_then_the_conversation_then_the_body() {
    let app = spawn_demo();
    let post = |conversation: &str, authorization: Option<&str>, key: Option<&str>| {
        let mut r = app.post(&format!(
            "/v0.1/patients/conversations/{conversation}/messages/"
        ));
        if let Some(a) = authorization {
            r = r.header("Authorization", a);
        }
        if let Some(key) = key {
            r = r.header(KEY, key);
        }
        r.raw("application/json", "{not json")
    };
    let expect = |conversation: &str, authorization, status: u16, body: Value| {
        let r = same_with_a_key(
            |key| post(conversation, authorization, key),
            &body.to_string(),
        );
        assert_eq!((r.status, &r.body), (status, &body));
    };
    expect(
        "con123",
        None,
        401,
        json!({ "detail": "Authentication credentials were not provided." }),
    );
    expect(
        "con123",
        Some("Token nope"),
        401,
        json!({ "detail": "Invalid token." }),
    );
    expect(
        "con123",
        Some("Token demo-tati-admin-token"),
        403,
        json!({ "detail": "You do not have permission to perform this action." }),
    );
    expect(
        "no-such-conversation",
        Some("Token tati-token-demo"),
        404,
        json!({ "detail": "Not found." }),
    );
    let r = post("con123", Some("Token tati-token-demo"), None);
    assert_eq!(r.status, 400, "{:?}", r.body);
}

#[test]
fn a_refused_request_with_a_body_keeps_its_connection_on_the_faces_that_always_read_it_first() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some(MDLIVE_SECRET.into());
    });
    // Big enough not to have arrived whole when the credentials are checked.
    let body = json!({ "padding": "a".repeat(200_000) }).to_string();
    for path in [
        "/v0.1/patients/conversations/",
        "/v0.1/patients/conversations/con123/messages/",
        "/v1/api/conversations/message/generate",
        "/api/v1/patients/52/messages",
        "/api/v1/sso_auth/auth_extend",
    ] {
        let r = app.post(path).raw("application/json", &body);
        assert_eq!(r.status, 401, "{path}: {:?}", r.body);
        assert_eq!(r.header("connection"), None, "{path}");
    }
}

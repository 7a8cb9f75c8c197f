//! CORS per face (`[faces.<name>] cors_origins`), answered as each vendor's framework answers
//! with its usual middleware: off unless configured, and nothing for an origin not listed.

use parlor::config::Settings;
use serde_json::json;

use crate::helpers::{spawn_demo, spawn_with, Resp, TestApp};

const FRONT: &str = "http://localhost:3000";
const OTHER_FRONT: &str = "http://localhost:5173";
const STRANGER: &str = "http://evil.example";

const PIGEONS: &str = "/api/v1/pigeons/chat/conversations";
const RESPONDENT: &str = "/v1/messaging/conversations";

fn with_cors(faces: &[&str], origins: &[&str]) -> TestApp {
    let faces: Vec<String> = faces.iter().map(|f| f.to_string()).collect();
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    spawn_with(move |s| {
        s.demo = true;
        for face in &faces {
            s.faces.get_mut(face.as_str()).unwrap().cors_origins = origins.clone();
        }
    })
}

fn preflight(app: &TestApp, path: &str, origin: &str, method: &str, headers: &str) -> Resp {
    app.request("OPTIONS", path)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
}

/// Every `Access-Control-*` header of a response.
fn cors_headers(r: &Resp) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("access-control-"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    found.sort();
    found
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

fn pigeons_get(app: &TestApp, origin: Option<&str>) -> Resp {
    let mut req = app
        .get(PIGEONS)
        .bearer("1|demoPigeonsJohnDoeToken")
        .header("X-PUBLIC-KEY", "pk_demo_pigeons");
    if let Some(origin) = origin {
        req = req.header("Origin", origin);
    }
    req.send()
}

#[test]
fn off_unless_configured() {
    let app = spawn_demo();
    let r = preflight(&app, PIGEONS, FRONT, "GET", "authorization");
    assert_eq!(r.status, 405, "as before: Laravel's method not allowed");
    assert_eq!(cors_headers(&r), pairs(&[]));
    let r = pigeons_get(&app, Some(FRONT));
    assert_eq!(r.status, 200);
    assert_eq!(cors_headers(&r), pairs(&[]));
    assert_eq!(r.header("Vary"), None);
}

#[test]
fn pigeons_answers_like_laravels_handle_cors() {
    let app = with_cors(&["pigeons"], &[FRONT, OTHER_FRONT]);
    let r = preflight(
        &app,
        PIGEONS,
        FRONT,
        "post",
        "authorization,content-type,x-public-key",
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.body, serde_json::Value::Null);
    assert_eq!(
        cors_headers(&r),
        pairs(&[
            ("access-control-allow-origin", FRONT),
            ("access-control-allow-methods", "POST"),
            (
                "access-control-allow-headers",
                "authorization,content-type,x-public-key"
            ),
            ("access-control-max-age", "0"),
        ])
    );
    assert_eq!(
        r.header("Vary"),
        Some("Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
    );

    let r = pigeons_get(&app, Some(OTHER_FRONT));
    assert_eq!(r.status, 200);
    assert_eq!(
        cors_headers(&r),
        pairs(&[("access-control-allow-origin", OTHER_FRONT)])
    );
    assert_eq!(r.header("Vary"), Some("Origin"));
    // An error answer carries them too: the middleware runs before authentication.
    let r = app.get(PIGEONS).header("Origin", FRONT).send();
    assert_eq!(r.status, 401);
    assert_eq!(
        cors_headers(&r),
        pairs(&[("access-control-allow-origin", FRONT)])
    );

    // Another origin: no CORS header at all.
    let r = preflight(&app, PIGEONS, STRANGER, "GET", "authorization");
    assert_eq!(r.status, 204);
    assert_eq!(cors_headers(&r), pairs(&[]));
    assert_eq!(
        r.header("Vary"),
        Some("Origin, Access-Control-Request-Method")
    );
    let r = pigeons_get(&app, Some(STRANGER));
    assert_eq!(r.status, 200);
    assert_eq!(cors_headers(&r), pairs(&[]));
}

#[test]
fn respondent_and_trillet_answer_like_the_cors_package() {
    let app = with_cors(&["respondent", "trillet"], &[FRONT]);
    for path in [RESPONDENT, "/v1/api/conversations"] {
        let r = preflight(&app, path, FRONT, "GET", "x-api-key,x-api-secret");
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(
            cors_headers(&r),
            pairs(&[
                ("access-control-allow-origin", FRONT),
                (
                    "access-control-allow-methods",
                    "GET,HEAD,PUT,PATCH,POST,DELETE"
                ),
                ("access-control-allow-headers", "x-api-key,x-api-secret"),
            ]),
            "{path}"
        );
        assert_eq!(
            r.header("Vary"),
            Some("Origin, Access-Control-Request-Headers"),
            "{path}"
        );
        let r = preflight(&app, path, STRANGER, "GET", "x-api-key");
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(cors_headers(&r), pairs(&[]), "{path}");
    }
    let r = app
        .get(&format!("{RESPONDENT}/"))
        .header("Origin", FRONT)
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        cors_headers(&r),
        pairs(&[("access-control-allow-origin", FRONT)])
    );
    assert_eq!(r.header("Vary"), Some("Origin"));
    // Faces not configured stay as they were.
    let r = preflight(&app, PIGEONS, FRONT, "GET", "authorization");
    assert_eq!(r.status, 405);
}

#[test]
fn tati_answers_like_django_cors_headers() {
    let app = with_cors(&["tati"], &[FRONT]);
    let r = preflight(
        &app,
        "/v0.1/patients/conversations/",
        FRONT,
        "POST",
        "authorization,content-type",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("0"));
    assert_eq!(
        cors_headers(&r),
        pairs(&[
            ("access-control-allow-origin", FRONT),
            (
                "access-control-allow-headers",
                "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with"
            ),
            (
                "access-control-allow-methods",
                "DELETE, GET, OPTIONS, PATCH, POST, PUT"
            ),
            ("access-control-max-age", "86400"),
        ])
    );
    assert_eq!(r.header("Vary"), Some("origin"));
    // A stand-in's browser test suite sends its sandbox header: the list then allows it.
    let r = preflight(
        &app,
        "/v0.1/patients/conversations/",
        FRONT,
        "GET",
        "authorization,x-parlor-sandbox",
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some(
            "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with, \
             x-parlor-sandbox, x-parlor-sandbox-from"
        )
    );
    let r = app
        .post("/v0.1/token/")
        .header("Origin", FRONT)
        .json(&json!({"username": "demo-patient", "password": "demo-password"}));
    assert_eq!(r.status, 200);
    assert_eq!(
        cors_headers(&r),
        pairs(&[("access-control-allow-origin", FRONT)])
    );
    let r = preflight(&app, "/v0.1/token/", STRANGER, "POST", "content-type");
    assert_eq!(r.status, 200);
    assert_eq!(cors_headers(&r), pairs(&[]));
    assert_eq!(r.header("Vary"), Some("origin"));
}

#[test]
fn mdlive_answers_like_rack_cors() {
    let app = with_cors(&["mdlive"], &["*"]);
    let path = "/api/v2/patients/52/messages/conversations";
    let r = preflight(&app, path, FRONT, "GET", "authorization");
    assert_eq!(r.status, 200);
    assert_eq!(
        cors_headers(&r),
        pairs(&[
            ("access-control-allow-origin", "*"),
            (
                "access-control-allow-methods",
                "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
            ),
            ("access-control-allow-headers", "authorization"),
            ("access-control-max-age", "7200"),
        ])
    );
    assert_eq!(r.header("Vary"), Some("Origin"));
    // rack-cors repeats the method list and max age on actual answers.
    let r = app.get(path).header("Origin", FRONT).send();
    assert_eq!(r.status, 401);
    assert_eq!(
        cors_headers(&r),
        pairs(&[
            ("access-control-allow-origin", "*"),
            (
                "access-control-allow-methods",
                "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
            ),
            ("access-control-max-age", "7200"),
        ])
    );

    // A listed origin only: another one's preflight reaches the router, which has no OPTIONS
    // route.
    let app = with_cors(&["mdlive"], &[FRONT]);
    let r = preflight(&app, path, STRANGER, "GET", "authorization");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, json!({"error": "Route not found"}));
    assert_eq!(cors_headers(&r), pairs(&[]));
}

#[test]
fn origins_come_from_the_file_or_the_environment_and_are_checked() {
    let s = Settings::from_sources(
        "[faces.pigeons]\ncors_origins = [\"http://localhost:3000\"]\n",
        &[(
            "PARLOR_FACES_RESPONDENT_CORS_ORIGINS".into(),
            "http://localhost:3000, https://app.example.com".into(),
        )],
    )
    .unwrap();
    assert_eq!(s.face("pigeons").cors_origins, [FRONT]);
    assert_eq!(
        s.face("respondent").cors_origins,
        [FRONT, "https://app.example.com"]
    );
    assert!(s.face("tati").cors_origins.is_empty());
    let e = Settings::from_sources(
        "",
        &[(
            "PARLOR_FACES_TATI_CORS_ORIGINS".into(),
            "http://localhost:3000/".into(),
        )],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("faces.tati.cors_origins"), "{e}");
    assert!(e.contains("http://localhost:3000/"), "{e}");
}

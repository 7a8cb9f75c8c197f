//! One password throttle for every surface that checks a password: the native login, the admin
//! page's sign-in and Tati's `/token/` share the lockout of a client address and name, each
//! answering 429 in its own format; `password_throttle = false` turns it off.

use serde_json::json;

use crate::helpers::{spawn_demo, spawn_with, Resp, TestApp};

const START: i64 = 1_800_000_000_000;

fn native_login(app: &TestApp, password: &str) -> Resp {
    app.post("/parlor/v1/auth/login").json(&json!({
        "tenant": 1, "username": "admin", "password": password
    }))
}

fn tati_token(app: &TestApp, username: &str, password: &str) -> Resp {
    app.post("/v0.1/token/")
        .json(&json!({"username": username, "password": password}))
}

fn five_wrong_native_logins(app: &TestApp) {
    for attempt in 1..=5 {
        let r = native_login(app, "guess");
        assert_eq!(r.status, 401, "attempt {attempt}: {:?}", r.body);
    }
}

#[test]
fn the_native_login_locks_a_name_out_after_five_wrong_passwords() {
    let app = spawn_demo();
    app.service.clock.freeze(START);
    five_wrong_native_logins(&app);
    let r = native_login(&app, "admin-demo-password");
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "too_many_attempts");
    assert_eq!(r.header("Retry-After"), Some("30"));
    // Another name from the same address is not held up.
    let r = app.post("/parlor/v1/auth/login").json(&json!({
        "tenant": 1, "username": "frontdesk", "password": "demo-password"
    }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Once the lockout has passed the right password works.
    app.service.clock.freeze(START + 30_000);
    let r = native_login(&app, "admin-demo-password");
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn one_lockout_covers_every_surface() {
    let app = spawn_demo();
    app.service.clock.freeze(START);
    five_wrong_native_logins(&app);
    // The admin page's sign-in for the same name waits too (the name is compared without case).
    let r = app
        .post("/parlor/v1/session")
        .json(&json!({"username": "ADMIN", "password": "admin-demo-password"}));
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(r.body["error"]["code"], "too_many_attempts");
}

#[test]
fn tati_token_answers_drfs_throttled_after_five_wrong_passwords() {
    let app = spawn_demo();
    app.service.clock.freeze(START);
    for attempt in 1..=5 {
        let r = tati_token(&app, "demo-patient", "guess");
        assert_eq!(r.status, 400, "attempt {attempt}: {:?}", r.body);
    }
    let r = tati_token(&app, "demo-patient", "demo-password");
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"detail": "Request was throttled. Expected available in 30 seconds."})
    );
    assert_eq!(r.header("Retry-After"), Some("30"));
    app.service.clock.freeze(START + 29_500);
    let r = tati_token(&app, "demo-patient", "demo-password");
    assert_eq!(
        r.body,
        json!({"detail": "Request was throttled. Expected available in 1 second."})
    );
    assert_eq!(r.header("Retry-After"), Some("1"));
}

#[test]
fn switched_off_every_wrong_password_gets_the_usual_answer() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.password_throttle = false;
    });
    app.service.clock.freeze(START);
    for _ in 1..=8 {
        assert_eq!(native_login(&app, "guess").status, 401);
        let r = tati_token(&app, "demo-patient", "guess");
        assert_eq!(
            (r.status, &r.body),
            (
                400,
                &json!({"non_field_errors": ["Unable to log in with provided credentials."]})
            )
        );
    }
    assert_eq!(native_login(&app, "admin-demo-password").status, 200);
    let r = tati_token(&app, "demo-patient", "demo-password");
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["token"].is_string());
    let r = app
        .post("/parlor/v1/session")
        .json(&json!({"username": "admin", "password": "admin-demo-password"}));
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn the_setting_has_an_environment_variable() {
    let s = parlor::config::Settings::from_sources(
        "",
        &[("PARLOR_PASSWORD_THROTTLE".into(), "false".into())],
    )
    .unwrap();
    assert!(!s.password_throttle);
    assert!(parlor::config::Settings::default().password_throttle);
}

//! `/__parlor/clock`: every timestamp, token lifetime, JWT expiry and session timeout follows
//! the clock the control plane sets and moves.

use parlor::domain::time::parse_rfc3339;
use serde_json::{json, Value};

use crate::helpers::{spawn_with, Resp, TestApp};

const FROZEN: &str = "2031-03-04T05:06:07.000Z";
const MDLIVE_SECRET: &str = "clock-test-jwt-secret";

fn stand_in() -> TestApp {
    spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some(MDLIVE_SECRET.into());
        s.admin_idle_timeout_minutes = 15;
    })
}

fn put(app: &TestApp, body: Value) -> Resp {
    app.request("PUT", "/__parlor/clock").admin().json(&body)
}

fn advance(app: &TestApp, by: Value) -> Resp {
    let r = app
        .post("/__parlor/clock/advance")
        .admin()
        .json(&json!({ "by": by }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r
}

fn freeze(app: &TestApp) {
    let r = put(app, json!({ "frozen_at": FROZEN }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"now": FROZEN, "frozen": true, "offset_ms": 0})
    );
}

fn millis(text: &Value) -> i64 {
    parse_rfc3339(text.as_str().unwrap()).unwrap()
}

#[test]
fn the_clock_is_frozen_set_advanced_and_given_back_to_the_system() {
    let app = stand_in();
    let r = app.get("/__parlor/clock").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["frozen"], false);
    assert_eq!(r.body["offset_ms"], 0);

    freeze(&app);
    let r = advance(&app, json!("90s"));
    assert_eq!(r.body["now"], "2031-03-04T05:07:37.000Z");
    let r = advance(&app, json!(500));
    assert_eq!(r.body["now"], "2031-03-04T05:07:37.500Z");
    let r = advance(&app, json!("1d2h"));
    assert_eq!(r.body["now"], "2031-03-05T07:07:37.500Z");
    assert_eq!(
        app.get("/__parlor").admin().send().body["now"],
        r.body["now"]
    );

    // Backwards is a PUT; freezing "now" keeps the current reading.
    let r = put(&app, json!({ "frozen_at": "2030-01-01T00:00:00+02:00" }));
    assert_eq!(r.body["now"], "2029-12-31T22:00:00.000Z");
    let r = put(&app, json!({ "frozen": true }));
    assert_eq!(r.body["now"], "2029-12-31T22:00:00.000Z");

    // Running from a set time, then advanced: it keeps running, that far ahead.
    let r = put(&app, json!({ "now": FROZEN }));
    assert_eq!(r.body["frozen"], false);
    let start = millis(&r.body["now"]);
    assert!(start >= millis(&json!(FROZEN)), "{:?}", r.body);
    let r = advance(&app, json!("2h"));
    assert!(millis(&r.body["now"]) >= start + 7_200_000, "{:?}", r.body);
    assert_eq!(r.body["frozen"], false);
    let offset = r.body["offset_ms"].as_i64().unwrap();
    let r = put(&app, json!({ "frozen": true }));
    assert_eq!(r.body["frozen"], true);
    let r = put(&app, json!({ "frozen": false }));
    assert_eq!(r.body["frozen"], false);
    assert!(r.body["offset_ms"].as_i64().unwrap() <= offset);

    let r = app.delete("/__parlor/clock").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["frozen"], false);
    assert_eq!(r.body["offset_ms"], 0);
}

#[test]
fn bad_clock_requests_name_the_field() {
    let app = stand_in();
    for (body, field) in [
        (json!({}), "body"),
        (json!({ "frozen_at": FROZEN, "now": FROZEN }), "body"),
        (json!({ "frozen_at": FROZEN, "frozen": false }), "body"),
        (json!({ "frozen_at": "next tuesday" }), "frozen_at"),
        (json!({ "frozen_at": "2031-03-04T05:06:07" }), "frozen_at"),
        (json!({ "now": 5 }), "now"),
        (json!({ "frozen": "yes" }), "frozen"),
        (json!({ "speed": 2 }), "speed"),
    ] {
        let r = put(&app, body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], field, "{body}: {:?}", r.body);
    }
    for by in [
        json!("5 parsecs"),
        json!("-5m"),
        json!(0),
        json!(-1000),
        json!(1.5),
        json!(null),
        json!("101000d"),
    ] {
        let r = app
            .post("/__parlor/clock/advance")
            .admin()
            .json(&json!({ "by": by }));
        assert_eq!(r.status, 400, "{by}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], "by", "{by}: {:?}", r.body);
    }
    let r = app.post("/__parlor/clock/advance").admin().json(&json!({}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    // Only the server admin moves the clock.
    assert_eq!(app.get("/__parlor/clock").send().status, 401);
    let r = app
        .request("PUT", "/__parlor/clock")
        .bearer("demo-clinic-admin-token")
        .json(&json!({ "frozen": true }));
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(
        app.get("/__parlor/clock").admin().send().body["frozen"],
        false
    );
}

#[test]
fn message_times_are_the_frozen_time_on_every_face() {
    let app = stand_in();
    freeze(&app);
    // Respondent: a conversation and a message, both created at the frozen instant.
    let partner = |r: crate::helpers::Req| {
        r.header("x-api-key", "demo-respondent-key")
            .header("x-api-secret", "demo-respondent-secret")
    };
    let created = partner(app.post("/v1/messaging/conversations")).json(&json!({
        "projectId": "6650a1b2c3d4e5f60000beef",
        "participantUserIds": ["65a1f0c2b3d4e5f607182903"],
    }));
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["createdAt"], FROZEN);
    let uid = created.body["uid"].as_str().unwrap();
    let sent = partner(app.post(&format!("/v1/messaging/conversations/{uid}/messages")))
        .json(&json!({ "body": "Hello" }));
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    assert_eq!(sent.body["createdAt"], FROZEN);

    // MDLIVE, a minute later: its own format, the same instant.
    advance(&app, json!("1m"));
    let jwt = mdlive_patient_jwt(&app);
    let r = app
        .post("/api/v1/patients/52/messages")
        .bearer(&jwt)
        .json(&json!({ "message": {
            "message_type": "follow_up", "to_id": 38,
            "subject": "Refill", "message": "Could you renew my prescription?"
        }}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["message"]["date_time"], "2031-03-04T05:07:07+00:00");
    // ... and the native API agrees with both.
    let message = r.body["message"]["id"].as_i64().unwrap();
    let native = app
        .get(&format!("/parlor/v1/messages/{message}"))
        .admin()
        .tenant(1)
        .send();
    assert_eq!(native.status, 200, "{:?}", native.body);
    assert_eq!(native.body["created_at"], "2031-03-04T05:07:07.000Z");
}

/// Emily Carter's MDLIVE user token, through single sign-on.
fn mdlive_patient_jwt(app: &TestApp) -> String {
    let r = app.post("/api/v1/sso_auth/auth_token").json(&json!({
        "auth": {
            "first_name": "Emily", "last_name": "Carter", "gender": "F",
            "birthdate": "1990-04-12", "subscriber_id": "MDL-SUB-0052",
            "phone": "5555550152", "email": "emily.carter@example.com",
            "address1": "1 Main St", "city": "Sunrise", "state": "FL", "zip": "33325",
            "relationship": "Self"
        },
        "org": { "ou": "riverside" },
        "api": { "api_key": "demo-mdlive-key", "password": "demo-mdlive-secret" }
    }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["jwt"].as_str().unwrap().to_string()
}

#[test]
fn a_token_with_a_lifetime_expires_when_the_clock_passes_it() {
    let app = stand_in();
    freeze(&app);
    let r = app
        .post("/parlor/v1/users/52/tokens")
        .admin()
        .tenant(1)
        .json(&json!({ "expires_in_minutes": 30 }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["expires_at"], "2031-03-04T05:36:07.000Z");
    let token = r.body["token"].as_str().unwrap().to_string();
    let list = || app.get("/parlor/v1/conversations").bearer(&token).send();
    assert_eq!(list().status, 200);
    advance(&app, json!("29m59s"));
    assert_eq!(list().status, 200);
    advance(&app, json!("1s"));
    let r = list();
    assert_eq!(r.status, 401, "{:?}", r.body);
}

#[test]
fn an_mdlive_jwt_expires_on_the_clock() {
    let app = stand_in();
    freeze(&app);
    let jwt = mdlive_patient_jwt(&app);
    let list = || {
        app.get("/api/v2/patients/52/messages/conversations")
            .bearer(&jwt)
            .send()
    };
    assert_eq!(list().status, 200);
    // The token's lifetime is `token_ttl_minutes` (60).
    advance(&app, json!("59m"));
    assert_eq!(list().status, 200);
    advance(&app, json!("1m"));
    let r = list();
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert!(r.body["error"].is_string(), "{:?}", r.body);
}

#[test]
fn an_admin_page_session_idles_out_when_the_clock_moves_16_minutes() {
    let app = stand_in();
    freeze(&app);
    let r = app
        .post("/parlor/v1/session")
        .json(&json!({"username": "admin", "password": "admin-demo-password"}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap();
    let cookie = cookie.to_string();
    let list = || {
        app.get("/parlor/v1/conversations")
            .header("Cookie", &cookie)
            .send()
    };
    assert_eq!(list().status, 200);
    advance(&app, json!("16m"));
    let r = list();
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

//! The native API: every endpoint, its auth failures and its bad input.

use serde_json::json;

use crate::helpers::*;

#[test]
fn health_and_readiness_answer() {
    let app = spawn_app();
    let r = app.get("/healthz").send();
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
    let r = app.get("/readyz").send();
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
}

#[test]
fn a_reply_played_through_the_native_api_raises_the_patients_unread_count() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let patient = app.create_user(t, json!({"role": "patient", "display_name": "Pat"}))["id"]
        .as_i64()
        .unwrap();
    let provider = app.create_user(t, json!({"role": "provider", "display_name": "Dr P"}))["id"]
        .as_i64()
        .unwrap();
    let conv = app.create_conversation(t, &[patient, provider])["id"]
        .as_i64()
        .unwrap();
    app.send_as(t, conv, provider, "Your results are in");
    assert_eq!(app.unread(t, conv, patient), 1);
    assert_eq!(app.unread(t, conv, provider), 0);
}

//! When the control plane exists, and who it answers.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_demo, spawn_with};

#[test]
fn a_clinic_configuration_has_no_control_plane() {
    let app = spawn_app();
    let r = app.get("/__parlor").admin().send();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(r.code(), "not_found");
}

#[test]
fn the_demo_serves_it_to_the_server_admin_only() {
    let app = spawn_demo();
    let r = app.get("/__parlor").send();
    assert_eq!(r.status, 401, "{:?}", r.body);

    let tenant = app.create_tenant("Other");
    let admin = app.create_user(tenant, json!({"username": "boss", "role": "admin"}));
    let token = app.token_for(tenant, admin["id"].as_i64().unwrap(), &["*"]);
    let r = app.get("/__parlor").bearer(&token).send();
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("server-admin token"));

    let r = app.get("/__parlor").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["start"], json!({"kind": "demo"}));
    assert!(r.body["now"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn the_stand_in_setting_turns_it_on_without_data() {
    let app = spawn_with(|s| s.stand_in = true);
    let r = app.get("/__parlor").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["start"], json!({"kind": "empty"}));
}

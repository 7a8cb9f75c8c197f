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

/// Every `Set-Cookie` of a sign-in or sign-out, with the answer's body.
fn set_cookies(
    app: &crate::helpers::TestApp,
    method: &str,
    signed_in: Option<(&str, &str)>,
    body: Option<serde_json::Value>,
) -> (Vec<String>, serde_json::Value) {
    let mut request = ureq::request(method, &app.url("/parlor/v1/session"));
    if let Some((cookie, csrf)) = signed_in {
        request = request
            .set("Cookie", &format!("parlor_session={cookie}"))
            .set("X-Parlor-CSRF", csrf);
    }
    let response = match body {
        Some(body) => request.send_json(body),
        None => request.call(),
    }
    .expect("the session route answers");
    let cookies = response
        .all("set-cookie")
        .into_iter()
        .map(str::to_string)
        .collect();
    (cookies, response.into_json().unwrap_or_default())
}

fn with_path<'a>(cookies: &'a [String], path: &str) -> Option<&'a String> {
    cookies
        .iter()
        .find(|c| c.split(';').any(|a| a.trim() == format!("Path={path}")))
}

fn value(cookie: &str) -> &str {
    cookie
        .split(';')
        .next()
        .and_then(|pair| pair.strip_prefix("parlor_session="))
        .expect("the session cookie")
}

/// A browser sends a cookie only under its path: the admin page's Stand-in panel reaches
/// `/__parlor` because the server admin's sign-in on a stand-in also sets the session's cookie
/// there (and sign-out clears it). A tenant's admin, and any sign-in on a clinic's server, gets
/// the native API's cookie alone.
#[test]
fn the_server_admins_page_session_also_reaches_the_control_plane() {
    let app = spawn_demo();
    let (cookies, session) = set_cookies(
        &app,
        "POST",
        None,
        Some(json!({"token": crate::helpers::ADMIN_TOKEN})),
    );
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let native = with_path(&cookies, "/parlor/v1").expect("the native API's cookie");
    let control = with_path(&cookies, "/__parlor").expect("the control plane's cookie");
    assert_eq!(value(native), value(control), "one session");
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age="] {
        assert!(control.contains(attribute), "{control}");
    }
    let cookie = value(control).to_string();

    let r = app
        .get("/__parlor")
        .header("Cookie", &format!("parlor_session={cookie}"))
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A change with the cookie repeats the session's CSRF token, as on the native API.
    let r = app
        .post("/__parlor/snapshots")
        .header("Cookie", &format!("parlor_session={cookie}"))
        .json(&json!({"name": "by-cookie"}));
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = app
        .post("/__parlor/snapshots")
        .header("Cookie", &format!("parlor_session={cookie}"))
        .header("X-Parlor-CSRF", session["csrf_token"].as_str().unwrap())
        .json(&json!({"name": "by-cookie"}));
    assert_eq!(r.status, 201, "{:?}", r.body);

    let csrf = session["csrf_token"].as_str().unwrap();
    let (cleared, _) = set_cookies(&app, "DELETE", Some((&cookie, csrf)), None);
    for path in ["/parlor/v1", "/__parlor"] {
        let c = with_path(&cleared, path).unwrap_or_else(|| panic!("{path} cleared: {cleared:?}"));
        assert!(c.contains("Max-Age=0") && value(c).is_empty(), "{c}");
    }

    // The demo clinic's admin: the native API only.
    let (cookies, _) = set_cookies(
        &app,
        "POST",
        None,
        Some(json!({"username": "admin", "password": "admin-demo-password"})),
    );
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(with_path(&cookies, "/parlor/v1").is_some(), "{cookies:?}");

    // A clinic's server has no control plane, and no cookie for it.
    let clinic = spawn_app();
    let (cookies, _) = set_cookies(
        &clinic,
        "POST",
        None,
        Some(json!({"token": crate::helpers::ADMIN_TOKEN})),
    );
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(with_path(&cookies, "/parlor/v1").is_some(), "{cookies:?}");
}

//! Callers resolved from memory (`service/memo.rs`): a change to a user, token, API key or
//! tenant is seen by the very next request, and a change another process makes to the file is
//! seen within seconds.

use std::time::{Duration, Instant};

use super::*;

/// A change this server made to a user shows on the next request: through the token behind
/// them (resolved and kept a moment before), and among the members of listed conversations
/// (whose users a list keeps too).
#[test]
fn a_renamed_user_is_renamed_on_the_next_request() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    visit(&app, &c);
    let me = app.get(&v1("/me")).bearer(&c.patient_token).send();
    assert_eq!(me.body["first_name"], "Pat", "{}", me.body);
    let names = |app: &TestApp| {
        let list = app
            .get(&v1("/conversations"))
            .bearer(&c.provider_token)
            .send();
        assert_eq!(list.status, 200, "{}", list.body);
        list.body["data"][0]["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["user"]["display_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        names(&app).contains(&"Pat Smith".to_string()),
        "{:?}",
        names(&app)
    );

    let r = app
        .patch(&v1(&format!("/users/{}", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"first_name": "Patricia", "display_name": "Patricia Smith"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let me = app.get(&v1("/me")).bearer(&c.patient_token).send();
    assert_eq!(me.body["first_name"], "Patricia", "{}", me.body);
    let now = names(&app);
    assert!(now.contains(&"Patricia Smith".to_string()), "{now:?}");
    assert!(!now.contains(&"Pat Smith".to_string()), "{now:?}");
}

/// The same for an API key a face resolved: once the revocation has answered, the key is
/// refused.
#[test]
fn a_revoked_api_key_is_refused_on_the_next_request() {
    let app = spawn_demo();
    let respondent = |app: &TestApp| {
        app.get("/v1/messaging/conversations")
            .header("x-api-key", "demo-respondent-key")
            .header("x-api-secret", "demo-respondent-secret")
            .send()
    };
    assert_eq!(respondent(&app).status, 200);

    let keys = app.get(&v1("/api-keys")).admin().tenant(3).send();
    let key = keys.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "demo-respondent-key")
        .unwrap_or_else(|| panic!("the demo key in {}", keys.body))["id"]
        .as_i64()
        .unwrap();
    let r = app
        .delete(&v1(&format!("/api-keys/{key}")))
        .admin()
        .tenant(3)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(respondent(&app).status, 401);
}

/// Another process (a second server, a tool) revoking a token in the file: this server cannot
/// hear of it, so it must not keep trusting what it remembers for more than a few seconds.
#[test]
fn a_token_revoked_by_another_process_is_refused_within_seconds() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    assert_eq!(
        app.get(&v1("/me")).bearer(&c.patient_token).send().status,
        200
    );

    let file = rusqlite::Connection::open(app.dir.path().join("parlor.db")).unwrap();
    file.busy_timeout(Duration::from_secs(10)).unwrap();
    let revoked = file
        .execute(
            "UPDATE tokens SET revoked_at = 1 WHERE user_id = ?1",
            [c.patient],
        )
        .unwrap();
    assert_eq!(revoked, 1);
    drop(file);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = app.get(&v1("/me")).bearer(&c.patient_token).send().status;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            Instant::now() < deadline,
            "the token revoked in the file was still accepted after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

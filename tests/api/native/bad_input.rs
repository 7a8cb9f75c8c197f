//! The native API: bad input in general.

use super::*;

#[test]
fn an_oversized_body_gets_413_and_writes_nothing() {
    let app = spawn_with(|s| s.body_limit = 2048);
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);

    let r = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "x".repeat(3_000)}),
    );
    assert_error(&r, 413, "too_large");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);

    let r = app
        .post(&v1("/users"))
        .bearer(&c.admin)
        .json(&json!({"display_name": "y".repeat(5_000)}));
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    assert_eq!(
        app.get(&v1("/users")).bearer(&c.admin).send().body["data"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Just under the limit is fine.
    let r = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "x".repeat(1_900)}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn unknown_routes_and_ids_in_paths_are_json_404s() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let paths = [
        "/nope",
        "/users/999999",
        "/users/no-such-user",
        "/users/bad%21id",
        "/users/99999999999999999999999",
        "/users/999999/tokens",
        "/conversations/999999",
        "/conversations/999999/messages",
        "/messages/999999",
        "/tenants/999999",
    ];
    for path in paths {
        let r = app.get(&v1(path)).bearer(&c.admin).send();
        assert_error(&r, 404, "not_found");
    }
    let r = app.get("/definitely/not/here").send();
    assert_error(&r, 404, "not_found");
}

#[test]
fn wrong_content_types_are_still_parsed_as_json_or_refused_cleanly() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.patient_token)
        .raw("text/plain", "not json at all");
    assert_invalid(&r, "body");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.patient_token)
        .raw("application/x-www-form-urlencoded", "body=hi");
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);
}

/// Credentials are checked before the query is read: a caller with a wrong token, or none,
/// hears about that (401), never about the query (400).
#[test]
fn a_wrong_token_is_refused_before_a_malformed_query() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    for path in ["/conversations?limit=abc", "/contacts?limit=abc"] {
        let path = v1(path);
        let r = app.get(&path).bearer("not-a-token").send();
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        let r = app.get(&path).send();
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        // With good credentials, the query's problem.
        let r = app.get(&path).bearer(&c.patient_token).send();
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.body["error"]["field"], "limit", "{path}: {}", r.body);
    }
}

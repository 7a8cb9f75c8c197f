//! The native API: tenant isolation.

use super::*;

/// Tenant B's things, by every id they have.
struct Theirs {
    user: Value,
    conv: Value,
    message: Value,
}

fn theirs(app: &TestApp, b: &Clinic) -> Theirs {
    let user = app
        .get(&v1(&format!("/users/{}", b.patient)))
        .bearer(&b.admin)
        .send()
        .body;
    let conv = app.create_conversation(b.t, &[b.patient, b.provider]);
    let message = app.send_as(b.t, id(&conv), b.provider, "B's secret");
    Theirs {
        user,
        conv,
        message,
    }
}

fn keys(v: &Value) -> Vec<String> {
    vec![
        id(v).to_string(),
        v["uuid"].as_str().unwrap().to_string(),
        v["oid"].as_str().unwrap().to_string(),
    ]
}

#[test]
fn a_tenant_admin_cannot_reach_another_tenants_users() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    let before = app
        .get(&v1(&format!("/users/{}", b.patient)))
        .bearer(&b.admin)
        .send()
        .body;

    for key in keys(&their.user) {
        let r = [
            app.get(&v1(&format!("/users/{key}")))
                .bearer(&a.admin)
                .send(),
            app.patch(&v1(&format!("/users/{key}")))
                .bearer(&a.admin)
                .json(&json!({"display_name": "Owned"})),
            app.patch(&v1(&format!("/users/{key}")))
                .bearer(&a.admin)
                .json(&json!({"password": "taken over", "username": "pwned"})),
            app.get(&v1(&format!("/users/{key}/tokens")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/users/{key}/tokens")))
                .bearer(&a.admin)
                .json(&json!({})),
        ];
        for resp in &r {
            assert_error(resp, 404, "not_found");
            assert!(!resp.body.to_string().contains("Pat Smith"));
        }
    }
    let listed = app.get(&v1("/users?limit=100")).bearer(&a.admin).send();
    assert!(!ids(&listed.body).contains(&b.patient));
    assert!(listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["tenant_id"] == a.t));
    let after = app
        .get(&v1(&format!("/users/{}", b.patient)))
        .bearer(&b.admin)
        .send()
        .body;
    assert_eq!(after, before);
    // B's tokens and API keys cannot be revoked from A either.
    let b_token = ids(&app
        .get(&v1(&format!("/users/{}/tokens", b.patient)))
        .bearer(&b.admin)
        .send()
        .body)[0];
    let b_key = id(&app
        .post(&v1("/api-keys"))
        .bearer(&b.admin)
        .json(&json!({}))
        .body);
    assert_error(
        &app.delete(&v1(&format!("/tokens/{b_token}")))
            .bearer(&a.admin)
            .send(),
        404,
        "not_found",
    );
    assert_error(
        &app.delete(&v1(&format!("/api-keys/{b_key}")))
            .bearer(&a.admin)
            .send(),
        404,
        "not_found",
    );
    assert_eq!(
        app.get(&v1("/me")).bearer(&b.patient_token).send().status,
        200
    );
    assert!(
        app.get(&v1("/api-keys")).bearer(&b.admin).send().body["data"][0]["revoked_at"].is_null()
    );
    assert_eq!(
        app.get(&v1("/api-keys")).bearer(&a.admin).send().body["data"],
        json!([])
    );
    // Nor the server admin's own token.
    assert_error(
        &app.delete(&v1("/tokens/1")).bearer(&a.admin).send(),
        404,
        "not_found",
    );
    assert_eq!(app.get(&v1("/me")).admin().send().status, 200);
}

#[test]
fn a_tenant_admin_cannot_reach_another_tenants_conversations_or_messages() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    let conv_b = id(&their.conv);
    let before = snapshot(&app, b.t, conv_b, &[b.patient, b.provider]);
    let a_user = staff(&app, &a, "A staff");

    for key in keys(&their.conv) {
        let r = [
            app.get(&v1(&format!("/conversations/{key}")))
                .bearer(&a.admin)
                .send(),
            app.get(&v1(&format!("/conversations/{key}/messages")))
                .bearer(&a.admin)
                .send(),
            app.patch(&v1(&format!("/conversations/{key}")))
                .bearer(&a.admin)
                .json(&json!({"locked": true, "name": "A's now"})),
            app.delete(&v1(&format!("/conversations/{key}")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/conversations/{key}/participants")))
                .bearer(&a.admin)
                .json(&json!({"user": a_user})),
            app.delete(&v1(&format!("/conversations/{key}/participants/{a_user}")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/conversations/{key}/read")))
                .bearer(&a.admin)
                .send(),
        ];
        for resp in &r {
            assert_error(resp, 404, "not_found");
            assert!(!resp.body.to_string().contains("B's secret"));
        }
        let r = app
            .post(&v1(&format!("/conversations/{key}/messages")))
            .bearer(&a.admin)
            .json(&json!({"body": "A was here"}));
        assert_error(&r, 404, "not_found");
    }
    for key in keys(&their.message) {
        let r = [
            app.get(&v1(&format!("/messages/{key}")))
                .bearer(&a.admin)
                .send(),
            app.patch(&v1(&format!("/messages/{key}")))
                .bearer(&a.admin)
                .json(&json!({"body": "rewritten"})),
            app.delete(&v1(&format!("/messages/{key}")))
                .bearer(&a.admin)
                .send(),
            app.post(&v1(&format!("/messages/{key}/read")))
                .bearer(&a.admin)
                .send(),
        ];
        for resp in &r {
            assert_error(resp, 404, "not_found");
            assert!(!resp.body.to_string().contains("B's secret"));
        }
    }
    let listed = app.get(&v1("/conversations")).bearer(&a.admin).send();
    assert_eq!(listed.body["data"], json!([]));
    assert_eq!(
        snapshot(&app, b.t, conv_b, &[b.patient, b.provider]),
        before
    );
}

#[test]
fn a_tenant_admin_cannot_act_as_or_refer_to_another_tenants_users_and_messages() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    let conv_a = visit(&app, &a);
    app.send_as(a.t, conv_a, a.provider, "hello A");
    let before_a = snapshot(&app, a.t, conv_a, &[a.patient, a.provider]);
    let before_b = snapshot(&app, b.t, id(&their.conv), &[b.patient, b.provider]);

    for key in keys(&their.user) {
        // `as` in a query or a body: not a user of this tenant (never 403, never B's data).
        for path in [
            format!("/conversations?as={key}"),
            format!("/conversations/{conv_a}?as={key}"),
            format!("/conversations/{conv_a}/messages?as={key}"),
            format!("/unread?as={key}"),
        ] {
            let r = app.get(&v1(&path)).bearer(&a.admin).send();
            assert_invalid(&r, "as");
        }
        let r = send(&app, &a.admin, conv_a, &json!({"body": "hi", "as": key}));
        assert_invalid(&r, "as");
        let r = app
            .post(&v1(&format!("/conversations/{conv_a}/read")))
            .bearer(&a.admin)
            .json(&json!({"as": key}));
        assert_invalid(&r, "as");
        let r = app
            .post(&v1("/conversations"))
            .bearer(&a.admin)
            .json(&json!({"participants": [a.patient], "as": key}));
        assert_invalid(&r, "as");

        // As a reference in a body.
        let r = app
            .post(&v1("/conversations"))
            .bearer(&a.admin)
            .json(&json!({"participants": [a.patient, key]}));
        assert_invalid(&r, "participants[1]");
        let r = app
            .post(&v1(&format!("/conversations/{conv_a}/participants")))
            .bearer(&a.admin)
            .json(&json!({"user": key}));
        assert_invalid(&r, "user");
        let r = send(
            &app,
            &a.patient_token,
            conv_a,
            &json!({"body": "hi", "recipient": key}),
        );
        assert_invalid(&r, "recipient");
        // And in a path.
        let r = app
            .delete(&v1(&format!("/conversations/{conv_a}/participants/{key}")))
            .bearer(&a.admin)
            .send();
        assert_error(&r, 404, "not_found");
    }
    for key in keys(&their.message) {
        let r = send(
            &app,
            &a.patient_token,
            conv_a,
            &json!({"body": "hi", "reply_to": key}),
        );
        assert_invalid(&r, "reply_to");
        let r = app
            .post(&v1(&format!("/conversations/{conv_a}/read")))
            .bearer(&a.patient_token)
            .json(&json!({"up_to": key}));
        assert_invalid(&r, "up_to");
    }
    assert_eq!(
        snapshot(&app, a.t, conv_a, &[a.patient, a.provider]),
        before_a
    );
    assert_eq!(
        snapshot(&app, b.t, id(&their.conv), &[b.patient, b.provider]),
        before_b
    );
    let all_a = app.get(&v1("/conversations")).bearer(&a.admin).send();
    assert_eq!(ids(&all_a.body), vec![conv_a]);
}

#[test]
fn a_tenant_user_cannot_name_another_tenant_in_the_header() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    let their = theirs(&app, &b);
    for token in [&a.admin, &a.patient_token] {
        for tenant in [b.t.to_string(), b.uuid.clone(), "999999".into()] {
            for path in [
                "/users".to_string(),
                "/conversations".into(),
                format!("/conversations/{}", id(&their.conv)),
                format!("/users/{}", b.patient),
                "/unread".into(),
            ] {
                let r = app
                    .get(&v1(&path))
                    .bearer(token)
                    .header("X-Parlor-Tenant", &tenant)
                    .send();
                assert_error(&r, 404, "not_found");
                assert!(!r.body.to_string().contains("B's secret"));
            }
            let r = app
                .post(&v1(&format!("/conversations/{}/messages", id(&their.conv))))
                .bearer(token)
                .header("X-Parlor-Tenant", &tenant)
                .json(&json!({"body": "A was here"}));
            assert_error(&r, 404, "not_found");
        }
    }
    assert_eq!(conversation(&app, b.t, id(&their.conv))["message_count"], 1);
    // Naming one's own tenant is allowed.
    let r = app
        .get(&v1("/users"))
        .bearer(&a.admin)
        .header("X-Parlor-Tenant", &a.uuid)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_text_id_used_in_another_tenant_does_not_hide_my_own_user() {
    let app = spawn_app();
    let a = app.create_tenant("A");
    let b = app.create_tenant("B");
    app.create_user(b, json!({"uuid": "shared-key", "display_name": "B user"}));
    let mine = app.create_user(a, json!({"oid": "shared-key", "display_name": "A user"}));

    let r = app.get(&v1("/users/shared-key")).admin().tenant(a).send();
    assert_eq!(
        (r.status, r.body["id"].clone()),
        (200, mine["id"].clone()),
        "A's user whose oid is shared-key: {}",
        r.body
    );
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(a)
        .json(&json!({"participants": ["shared-key"]}));
    assert_eq!(r.status, 201, "{}", r.body);
}

#[test]
fn an_unauthenticated_request_is_401_whatever_its_tenant_header() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    for tenant in [c.t.to_string(), c.uuid.clone(), "not a tenant!".into()] {
        let r = app
            .get(&v1("/users"))
            .header("X-Parlor-Tenant", &tenant)
            .send();
        assert_error(&r, 401, "unauthenticated");
        let r = app
            .get(&v1("/users"))
            .bearer("not-a-real-token")
            .header("X-Parlor-Tenant", &tenant)
            .send();
        assert_error(&r, 401, "unauthenticated");
    }
}

#[test]
fn a_json_array_is_not_taken_for_an_object() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    // Nine elements: one for each field of a send, in declaration order.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.patient_token)
        .raw(
            "application/json",
            r#"["positional", null, null, null, null, null, null, null, null]"#,
        );
    assert_invalid(&r, "body");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    let r = app
        .post(&v1("/users"))
        .bearer(&c.admin)
        .raw("application/json", "[1, 2]");
    assert_invalid(&r, "body");
}

#[test]
fn a_token_lifetime_too_long_to_render_is_refused() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"expires_in_minutes": u32::MAX}));
    if r.status == 201 {
        // Accepting it is fine only if the expiry is still an RFC 3339 timestamp.
        assert_ts(&r.body["expires_at"]);
    } else {
        assert_invalid(&r, "expires_in_minutes");
    }
}

#[test]
fn clearing_the_username_of_a_user_with_a_password_is_rejected() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let ann = id(&app.create_user(
        c.t,
        json!({"username": "ann", "password": "first password"}),
    ));
    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&c.admin)
        .json(&json!({"username": null}));
    assert_invalid(&r, "username");
    assert_eq!(login(&app, json!(c.t), "ann", "first password").status, 200);
}

#[test]
fn a_removed_participant_can_no_longer_edit_or_delete_their_messages() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.patient, "original"));
    app.delete(&v1(&format!(
        "/conversations/{conv}/participants/{}",
        c.patient
    )))
    .bearer(&c.admin)
    .send();
    let path = v1(&format!("/messages/{m}"));
    // They can no longer see it...
    assert_error(
        &app.get(&path).bearer(&c.patient_token).send(),
        404,
        "not_found",
    );
    // ...so they cannot change it either.
    let r = app
        .patch(&path)
        .bearer(&c.patient_token)
        .json(&json!({"body": "rewritten after leaving"}));
    assert_error(&r, 404, "not_found");
    let r = app.delete(&path).bearer(&c.patient_token).send();
    assert_error(&r, 404, "not_found");
    let now = app.get(&path).bearer(&c.admin).send();
    assert_eq!(
        (now.status, now.body["body"].as_str()),
        (200, Some("original"))
    );
}

#[test]
fn a_wrong_method_on_a_known_path_is_405_with_the_allowed_methods() {
    let app = spawn_demo();
    let r = app
        .request("PUT", "/parlor/v1/conversations/2")
        .admin()
        .tenant(1)
        .json(&json!({ "name": "x" }));
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("Allow"), Some("GET, PATCH, DELETE"));
    let r = app.delete("/parlor/v1/me").admin().send();
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("Allow"), Some("GET, PATCH"));
    // Nothing was changed, and unknown paths are still not found.
    let conv = app
        .get("/parlor/v1/conversations/2")
        .admin()
        .tenant(1)
        .send();
    assert_ne!(conv.body["name"], "x");
    let r = app.get("/parlor/v1/nowhere").admin().send();
    assert_error(&r, 404, "not_found");
}

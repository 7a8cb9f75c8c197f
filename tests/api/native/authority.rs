//! The native API: authentication and authority.

use super::*;

#[test]
fn requests_without_valid_credentials_get_401_with_a_bearer_challenge() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let paths = [
        "/me".to_string(),
        "/tenants".into(),
        "/users".into(),
        "/conversations".into(),
        format!("/conversations/{conv}"),
        format!("/conversations/{conv}/messages"),
        "/unread".into(),
        "/api-keys".into(),
    ];
    let headers: [Option<&str>; 6] = [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer    "),
        Some("Token abc"),
        Some("Bearer not-a-real-token"),
    ];
    for path in &paths {
        for header in headers {
            let req = app.get(&v1(path));
            let r = match header {
                Some(h) => req.header("Authorization", h).send(),
                None => req.send(),
            };
            assert_error(&r, 401, "unauthenticated");
            assert_eq!(
                r.header("WWW-Authenticate"),
                Some("Bearer"),
                "{path} {header:?}"
            );
        }
    }
    // Writes are refused the same way and write nothing.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .json(&json!({"body": "anonymous", "as": c.patient}));
    assert_error(&r, 401, "unauthenticated");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);
    // The scheme is case-insensitive.
    let r = app
        .get(&v1("/me"))
        .header("Authorization", &format!("bearer {}", c.patient_token))
        .send();
    assert_eq!(r.status, 200);
}

#[test]
fn a_token_without_the_native_ability_gets_403() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let backoffice = app.token_for(c.t, c.patient, &["backoffice"]);
    for path in [
        "/me".to_string(),
        "/conversations".into(),
        format!("/conversations/{conv}"),
    ] {
        let r = app.get(&v1(&path)).bearer(&backoffice).send();
        assert_error(&r, 403, "forbidden");
    }
    let r = send(&app, &backoffice, conv, &json!({"body": "hi"}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);

    for abilities in [&["native"][..], &["backoffice", "native"], &["*"]] {
        let token = app.token_for(c.t, c.patient, abilities);
        assert_eq!(
            app.get(&v1("/me")).bearer(&token).send().status,
            200,
            "{abilities:?}"
        );
    }
}

#[test]
fn non_admin_users_cannot_call_admin_endpoints() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let extra = staff(&app, &c, "Sam");
    let key = id(&app
        .post(&v1("/api-keys"))
        .bearer(&c.admin)
        .json(&json!({}))
        .body);
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    let tok = &c.patient_token;

    let refused = [
        app.get(&v1("/users")).bearer(tok).send(),
        app.post(&v1("/users"))
            .bearer(tok)
            .json(&json!({"display_name": "X"})),
        app.post(&v1(&format!("/users/{}/tokens", c.patient)))
            .bearer(tok)
            .json(&json!({})),
        app.get(&v1("/api-keys")).bearer(tok).send(),
        app.post(&v1("/api-keys")).bearer(tok).json(&json!({})),
        app.delete(&v1(&format!("/api-keys/{key}")))
            .bearer(tok)
            .send(),
        app.delete(&v1("/tokens/1")).bearer(tok).send(),
        app.patch(&v1(&format!("/conversations/{conv}")))
            .bearer(tok)
            .json(&json!({"name": "mine now", "locked": true})),
        app.delete(&v1(&format!("/conversations/{conv}")))
            .bearer(tok)
            .send(),
        app.post(&v1(&format!("/conversations/{conv}/participants")))
            .bearer(tok)
            .json(&json!({"user": extra})),
        app.delete(&v1(&format!(
            "/conversations/{conv}/participants/{}",
            c.provider
        )))
        .bearer(tok)
        .send(),
        app.post(&v1("/tenants"))
            .bearer(tok)
            .json(&json!({"name": "X"})),
    ];
    for r in &refused {
        assert_error(r, 403, "forbidden");
    }
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    let c_now = conversation(&app, c.t, conv);
    assert_eq!(c_now["participants"].as_array().unwrap().len(), 2);
    let users = app.get(&v1("/users")).bearer(&c.admin).send();
    assert_eq!(users.body["data"].as_array().unwrap().len(), 5);
    let keys = app.get(&v1("/api-keys")).bearer(&c.admin).send();
    assert!(keys.body["data"][0]["revoked_at"].is_null());
}

#[test]
fn a_non_admin_cannot_act_as_another_user() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.patient, "hello"));
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    let tok = &c.patient_token;
    let other = c.provider;

    let refused = [
        app.get(&v1(&format!("/conversations?as={other}")))
            .bearer(tok)
            .send(),
        app.get(&v1(&format!("/conversations/{conv}?as={other}")))
            .bearer(tok)
            .send(),
        app.get(&v1(&format!("/conversations/{conv}/messages?as={other}")))
            .bearer(tok)
            .send(),
        app.get(&v1(&format!("/unread?as={other}")))
            .bearer(tok)
            .send(),
        send(&app, tok, conv, &json!({"body": "forged", "as": other})),
        app.post(&v1(&format!("/conversations/{conv}/read")))
            .bearer(tok)
            .json(&json!({"as": other})),
        app.post(&v1(&format!("/messages/{m}/read")))
            .bearer(tok)
            .json(&json!({"as": other})),
        app.patch(&v1(&format!("/messages/{m}")))
            .bearer(tok)
            .json(&json!({"body": "edited", "as": other})),
        app.delete(&v1(&format!("/messages/{m}")))
            .bearer(tok)
            .json(&json!({"as": other})),
        app.post(&v1("/conversations"))
            .bearer(tok)
            .json(&json!({"participants": [c.patient], "as": other})),
    ];
    for r in &refused {
        assert_error(r, 403, "forbidden");
    }
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    let all = app.get(&v1("/conversations")).admin().tenant(c.t).send();
    assert_eq!(ids(&all.body), vec![conv]);

    // Naming oneself is fine.
    let me = c.patient;
    assert_eq!(
        app.get(&v1(&format!("/conversations?as={me}")))
            .bearer(tok)
            .send()
            .status,
        200
    );
    assert_eq!(
        send(&app, tok, conv, &json!({"body": "me", "as": me})).status,
        201
    );
}

#[test]
fn the_server_admin_must_name_the_tenant_on_tenant_scoped_routes() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    for path in [
        "/users".to_string(),
        "/conversations".into(),
        format!("/conversations/{conv}"),
        "/api-keys".into(),
        format!("/unread?as={}", c.patient),
    ] {
        let r = app.get(&v1(&path)).admin().send();
        assert_invalid(&r, "X-Parlor-Tenant");
    }
    let r = send(
        &app,
        ADMIN_TOKEN,
        conv,
        &json!({"body": "hi", "as": c.patient}),
    );
    assert_invalid(&r, "X-Parlor-Tenant");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 0);

    let r = app
        .get(&v1("/users"))
        .admin()
        .header("X-Parlor-Tenant", "not a tenant!")
        .send();
    assert_invalid(&r, "X-Parlor-Tenant");
    let r = app.get(&v1("/users")).admin().tenant(999_999).send();
    assert_error(&r, 404, "not_found");
    let r = app
        .get(&v1("/users"))
        .admin()
        .header("X-Parlor-Tenant", &c.uuid)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);

    // Routes that are not about one tenant need no header.
    assert_eq!(app.get(&v1("/me")).admin().send().status, 200);
    assert_eq!(app.get(&v1("/tenants")).admin().send().status, 200);
}

#[test]
fn the_server_admin_must_say_whom_it_acts_as_when_sending_or_reading() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.provider, "hello"));
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);

    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .admin()
        .tenant(c.t)
        .json(&json!({"body": "from nobody"}));
    assert_invalid(&r, "as");
    let r = app.get(&v1("/unread")).admin().tenant(c.t).send();
    assert_invalid(&r, "as");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/read")))
        .admin()
        .tenant(c.t)
        .send();
    assert_invalid(&r, "as");
    let r = app
        .post(&v1(&format!("/messages/{m}/read")))
        .admin()
        .tenant(c.t)
        .send();
    assert_invalid(&r, "as");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
}

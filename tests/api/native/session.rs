//! The native API: sign-in and /me.

use super::*;

#[test]
fn login_with_username_and_password_returns_a_working_token_and_the_user() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let nurse = app.create_user(
        c.t,
        json!({"role": "staff", "display_name": "Nurse Joy", "username": "joy", "password": "correct horse"}),
    );
    assert_eq!(nurse["has_password"], true);

    let r = login(&app, json!(c.t), "joy", "correct horse");
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.body["token"].as_str().expect("token").to_string();
    assert!(!token.is_empty());
    assert_user_shape(&r.body["user"]);
    assert_eq!(r.body["user"]["id"], nurse["id"]);
    assert_eq!(r.body["user"]["username"], "joy");

    let me = app.get(&v1("/me")).bearer(&token).send();
    assert_eq!((me.status, me.body["id"].as_i64()), (200, Some(id(&nurse))));

    // The tenant may be named by uuid too.
    let r = login(&app, json!(c.uuid), "joy", "correct horse");
    assert_eq!(r.status, 200, "{}", r.body);

    // Login tokens are listed (without their secret), expire, and may do everything.
    let tokens = app
        .get(&v1(&format!("/users/{}/tokens", id(&nurse))))
        .bearer(&c.admin)
        .send();
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let data = tokens.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for t in data {
        assert_eq!(t["label"], "login");
        assert_eq!(t["abilities"], json!(["*"]));
        assert_ts(&t["expires_at"]);
        assert!(t.get("token").is_none());
    }
    assert!(!tokens.body.to_string().contains(&token));
}

#[test]
fn every_login_failure_is_the_same_401() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");
    app.create_user(a.t, json!({"username": "joy", "password": "correct horse"}));
    app.create_user(a.t, json!({"username": "nopass"}));

    let failures = [
        login(&app, json!(a.t), "joy", "wrong horse"),
        login(&app, json!(a.t), "nobody", "correct horse"),
        login(&app, json!(a.t), "nopass", "correct horse"),
        login(&app, json!(a.t), "nopass", ""),
        login(&app, json!(b.t), "joy", "correct horse"),
        login(&app, json!(999_999), "joy", "correct horse"),
        login(&app, json!("no-such-tenant"), "joy", "correct horse"),
    ];
    let first = failures[0].body["error"]["message"].clone();
    for r in &failures {
        assert_error(r, 401, "unauthenticated");
        assert_eq!(
            r.body["error"]["message"], first,
            "failures must not tell which part was wrong"
        );
    }
}

#[test]
fn login_rejects_malformed_requests_with_400() {
    let app = spawn_app();
    let c = clinic(&app, "A");
    let r = app
        .post(&v1("/auth/login"))
        .json(&json!({"tenant": c.t, "username": "joy"}));
    assert_invalid_names(&r, "password");
    let r = app
        .post(&v1("/auth/login"))
        .json(&json!({"tenant": c.t, "username": 5, "password": "x"}));
    assert_invalid(&r, "username");
    let r = app.post(&v1("/auth/login")).json(
        &json!({"tenant": c.t, "username": "joy", "password": "correct horse", "remember": true}),
    );
    assert_invalid_names(&r, "remember");
    let r = app
        .post(&v1("/auth/login"))
        .raw("application/json", "{\"tenant\": ");
    assert_invalid(&r, "body");
}

#[test]
fn me_describes_the_calling_user_or_the_server_admin() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");

    let r = app.get(&v1("/me")).admin().send();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"server_admin": true}));

    let r = app.get(&v1("/me")).bearer(&c.admin).send();
    assert_eq!((r.status, r.body["id"].as_i64()), (200, Some(c.owner)));
    assert_eq!(r.body["role"], "admin");

    let r = app.get(&v1("/me")).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_user_shape(&r.body);
    assert_eq!(r.body["id"], c.patient);
    assert_eq!(r.body["tenant_id"], c.t);
    assert_eq!(r.body["role"], "patient");
    assert_eq!(r.body["display_name"], "Pat Smith");
    assert_eq!(r.body["has_password"], false);
    assert_nulls(
        &r.body,
        &[
            "prefix",
            "gender",
            "email",
            "phone",
            "avatar_url",
            "specialty",
            "external_id",
            "username",
        ],
    );
}

//! The native API: tokens and API keys.

use super::*;

#[test]
fn a_new_token_shows_its_secret_once_and_is_listed_without_it() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"abilities": ["native"], "label": "mobile app"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["token"].as_str().expect("secret").to_string();
    assert_ints(&r.body, &["id", "user_id"]);
    assert_eq!(r.body["user_id"], c.patient);
    assert_eq!(r.body["abilities"], json!(["native"]));
    assert_eq!(r.body["label"], "mobile app");
    assert_ts(&r.body["created_at"]);
    assert_nulls(&r.body, &["expires_at", "revoked_at"]);

    // Without abilities a token may do everything.
    let r2 = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_eq!(r2.status, 201, "{}", r2.body);
    assert_eq!(r2.body["abilities"], json!(["*"]));
    assert!(r2.body["label"].is_null());

    let me = app.get(&v1("/me")).bearer(&secret).send();
    assert_eq!((me.status, me.body["id"].as_i64()), (200, Some(c.patient)));

    let list = app
        .get(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .send();
    assert_eq!(list.status, 200, "{}", list.body);
    let listed = ids(&list.body);
    assert!(listed.contains(&id(&r.body)) && listed.contains(&id(&r2.body)));
    for t in list.body["data"].as_array().unwrap() {
        assert!(t.get("token").is_none(), "{t}");
        assert_ts(&t["created_at"]);
    }
    assert!(!list.body.to_string().contains(&secret));
    assert!(list.body["next_cursor"].is_null());

    // Users may list their own tokens.
    let own = app
        .get(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&secret)
        .send();
    assert_eq!(own.status, 200);
    assert_eq!(ids(&own.body), listed);
}

#[test]
fn a_revoked_token_gets_401() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"label": "to revoke"}));
    let (token_id, secret) = (id(&r.body), r.body["token"].as_str().unwrap().to_string());
    assert_eq!(app.get(&v1("/me")).bearer(&secret).send().status, 200);

    tick(&app, 1_000);
    let r = app
        .delete(&v1(&format!("/tokens/{token_id}")))
        .bearer(&c.admin)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], token_id);
    assert_eq!(r.body["revoked_at"], rfc3339(T0 + 1_000));
    assert!(r.body.get("token").is_none());

    let r = app.get(&v1("/me")).bearer(&secret).send();
    assert_error(&r, 401, "unauthenticated");
    let r = app.get(&v1("/conversations")).bearer(&secret).send();
    assert_error(&r, 401, "unauthenticated");

    // Revoking again keeps the first revocation time.
    tick(&app, 1_000);
    let r = app
        .delete(&v1(&format!("/tokens/{token_id}")))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(
        (r.status, r.body["revoked_at"].clone()),
        (200, json!(rfc3339(T0 + 1_000)))
    );

    let listed = app
        .get(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .send();
    let row = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id)
        .unwrap()
        .clone();
    assert_eq!(row["revoked_at"], rfc3339(T0 + 1_000));

    for path in ["/tokens/999999", "/tokens/abc", "/tokens/-1"] {
        assert_error(
            &app.delete(&v1(path)).bearer(&c.admin).send(),
            404,
            "not_found",
        );
    }
}

#[test]
fn an_expired_token_gets_401() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let r = app
        .post(&v1(&format!("/users/{}/tokens", c.patient)))
        .bearer(&c.admin)
        .json(&json!({"expires_in_minutes": 5}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["created_at"], rfc3339(T0));
    assert_eq!(r.body["expires_at"], rfc3339(T0 + 5 * 60_000));
    let secret = r.body["token"].as_str().unwrap().to_string();

    freeze(&app, T0 + 5 * 60_000 - 1);
    assert_eq!(app.get(&v1("/me")).bearer(&secret).send().status, 200);
    freeze(&app, T0 + 5 * 60_000);
    let r = app.get(&v1("/me")).bearer(&secret).send();
    assert_error(&r, 401, "unauthenticated");
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    freeze(&app, T0 + 60 * 60_000);
    assert_error(
        &app.get(&v1("/unread")).bearer(&secret).send(),
        401,
        "unauthenticated",
    );
}

#[test]
fn token_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}/tokens", c.patient));
    let count = || {
        app.get(&path).bearer(&c.admin).send().body["data"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    let post = |body: Value| app.post(&path).bearer(&c.admin).json(&body);

    assert_invalid(&post(json!({"abilities": []})), "abilities");
    assert_invalid(&post(json!({"abilities": [""]})), "abilities");
    assert_invalid(&post(json!({"abilities": "native"})), "abilities");
    assert_invalid(&post(json!({"abilities": [1]})), "abilities[0]");
    assert_invalid(
        &post(json!({"expires_in_minutes": 0})),
        "expires_in_minutes",
    );
    assert_invalid(
        &post(json!({"expires_in_minutes": -5})),
        "expires_in_minutes",
    );
    assert_invalid(
        &post(json!({"expires_in_minutes": "soon"})),
        "expires_in_minutes",
    );
    assert_invalid_names(&post(json!({"scopes": ["native"]})), "scopes");
    assert_eq!(count(), before);

    let r = app
        .post(&v1("/users/999999/tokens"))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_error(&r, 404, "not_found");
    let r = app.post(&path).bearer(&c.patient_token).json(&json!({}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(count(), before);
}

#[test]
fn only_admins_issue_and_revoke_tokens_and_users_see_only_their_own() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let provider_tokens = app
        .get(&v1(&format!("/users/{}/tokens", c.provider)))
        .bearer(&c.admin)
        .send();
    let provider_token_id = ids(&provider_tokens.body)[0];

    let r = app
        .get(&v1(&format!("/users/{}/tokens", c.provider)))
        .bearer(&c.patient_token)
        .send();
    assert_error(&r, 404, "not_found");
    let r = app
        .delete(&v1(&format!("/tokens/{provider_token_id}")))
        .bearer(&c.patient_token)
        .send();
    assert_error(&r, 403, "forbidden");
    assert_eq!(
        app.get(&v1("/me")).bearer(&c.provider_token).send().status,
        200
    );
}

#[test]
fn api_keys_show_their_secret_once_and_can_be_revoked() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);

    let r = app
        .post(&v1("/api-keys"))
        .bearer(&c.admin)
        .json(&json!({"label": "EHR bridge"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let key = r.body.clone();
    assert_ints(&key, &["id"]);
    assert_strings(&key, &["key", "secret"]);
    assert_eq!(key["label"], "EHR bridge");
    assert_eq!(key["created_at"], rfc3339(T0));
    assert_nulls(&key, &["revoked_at"]);
    let secret = key["secret"].as_str().unwrap().to_string();

    let r = app
        .post(&v1("/api-keys"))
        .admin()
        .tenant(c.t)
        .json(&json!({}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body["label"].is_null());
    let second = id(&r.body);

    let list = app.get(&v1("/api-keys")).bearer(&c.admin).send();
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(ids(&list.body), vec![id(&key), second]);
    assert_eq!(list.body["data"][0]["key"], key["key"]);
    for k in list.body["data"].as_array().unwrap() {
        assert!(k.get("secret").is_none(), "{k}");
    }
    assert!(!list.body.to_string().contains(&secret));

    tick(&app, 500);
    let r = app
        .delete(&v1(&format!("/api-keys/{}", id(&key))))
        .bearer(&c.admin)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["revoked_at"], rfc3339(T0 + 500));
    assert!(r.body.get("secret").is_none());
    tick(&app, 500);
    let again = app
        .delete(&v1(&format!("/api-keys/{}", id(&key))))
        .bearer(&c.admin)
        .send();
    assert_eq!(
        again.body["revoked_at"],
        rfc3339(T0 + 500),
        "the first revocation stands"
    );
    let list = app.get(&v1("/api-keys")).bearer(&c.admin).send();
    assert_eq!(list.body["data"][0]["revoked_at"], rfc3339(T0 + 500));
    assert!(list.body["data"][1]["revoked_at"].is_null());

    for path in ["/api-keys/999999", "/api-keys/abc"] {
        assert_error(
            &app.delete(&v1(path)).bearer(&c.admin).send(),
            404,
            "not_found",
        );
    }
    assert_invalid(
        &app.post(&v1("/api-keys"))
            .bearer(&c.admin)
            .json(&json!({"label": 3})),
        "label",
    );
    assert_invalid_names(
        &app.post(&v1("/api-keys"))
            .bearer(&c.admin)
            .json(&json!({"name": "x"})),
        "name",
    );
    assert_eq!(
        app.get(&v1("/api-keys")).bearer(&c.admin).send().body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

//! The native API: tenants.

use super::*;

#[test]
fn tenants_are_created_listed_and_fetched_by_id_or_uuid() {
    let app = spawn_app();
    let r = app
        .post(&v1("/tenants"))
        .admin()
        .json(&json!({"name": "Plain"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let plain = r.body.clone();
    assert_ints(&plain, &["id", "owner_id", "assistant_id"]);
    assert_strings(&plain, &["uuid"]);
    assert_eq!(plain["name"], "Plain");
    assert_eq!(plain["utc_offset"], "+00:00");
    assert_nulls(&plain, &["public_key", "workspace_id"]);
    assert_ts(&plain["created_at"]);

    let r = app.post(&v1("/tenants")).admin().json(&json!({
        "name": "East", "public_key": "pk_east", "workspace_id": "ws_east", "utc_offset": "-05:00"
    }));
    assert_eq!(r.status, 201, "{}", r.body);
    let east = r.body.clone();
    assert_eq!(east["public_key"], "pk_east");
    assert_eq!(east["workspace_id"], "ws_east");
    assert_eq!(east["utc_offset"], "-05:00");

    let list = app.get(&v1("/tenants")).admin().send();
    assert_eq!(list.status, 200);
    assert_eq!(ids(&list.body), vec![id(&plain), id(&east)]);
    assert!(list.body["next_cursor"].is_null());

    for key in [id(&east).to_string(), east["uuid"].as_str().unwrap().into()] {
        let r = app.get(&v1(&format!("/tenants/{key}"))).admin().send();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, east);
    }

    // The owner is a tenant admin and the assistant an assistant, both in the tenant.
    let t = id(&east);
    for (user, role) in [("owner_id", "admin"), ("assistant_id", "assistant")] {
        let r = app
            .get(&v1(&format!("/users/{}", east[user])))
            .admin()
            .tenant(t)
            .send();
        assert_eq!((r.status, r.body["role"].as_str()), (200, Some(role)));
    }

    let r = app.get(&v1("/tenants/999999")).admin().send();
    assert_error(&r, 404, "not_found");
    let r = app.get(&v1("/tenants/no-such-uuid")).admin().send();
    assert_error(&r, 404, "not_found");
}

#[test]
fn tenant_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    app.post(&v1("/tenants"))
        .admin()
        .json(&json!({"name": "First", "public_key": "pk_1"}));
    let post = |body: Value| app.post(&v1("/tenants")).admin().json(&body);

    assert_invalid_names(&post(json!({})), "name");
    assert_invalid(&post(json!({"name": "   "})), "name");
    assert_invalid(&post(json!({"name": 7})), "name");
    assert_invalid(
        &post(json!({"name": "X", "utc_offset": "5 hours"})),
        "utc_offset",
    );
    assert_invalid_names(&post(json!({"name": "X", "colour": "red"})), "colour");
    let r = post(json!({"name": "Second", "public_key": "pk_1"}));
    assert_error(&r, 409, "conflict");

    let list = app.get(&v1("/tenants")).admin().send();
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[test]
fn only_the_server_admin_creates_tenants_and_users_see_only_their_own() {
    let app = spawn_app();
    let a = clinic(&app, "A");
    let b = clinic(&app, "B");

    let r = app
        .post(&v1("/tenants"))
        .bearer(&a.admin)
        .json(&json!({"name": "Sneaky"}));
    assert_error(&r, 403, "forbidden");

    let r = app.get(&v1("/tenants")).bearer(&a.patient_token).send();
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r.body), vec![a.t]);

    let r = app
        .get(&v1(&format!("/tenants/{}", a.uuid)))
        .bearer(&a.patient_token)
        .send();
    assert_eq!((r.status, id(&r.body)), (200, a.t));
    for key in [b.t.to_string(), b.uuid.clone()] {
        let r = app
            .get(&v1(&format!("/tenants/{key}")))
            .bearer(&a.admin)
            .send();
        assert_error(&r, 404, "not_found");
    }
    assert_eq!(
        app.get(&v1("/tenants")).admin().send().body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

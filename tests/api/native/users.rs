//! The native API: users.

use super::*;

#[test]
fn users_are_created_with_defaults_and_found_by_id_uuid_or_oid() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");

    let r = app
        .post(&v1("/users"))
        .bearer(&c.admin)
        .json(&json!({"first_name": "Ada", "last_name": "Lovelace"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let ada = r.body;
    assert_user_shape(&ada);
    assert_eq!(ada["tenant_id"], c.t);
    assert_eq!(ada["role"], "participant");
    assert_eq!(ada["display_name"], "Ada Lovelace");
    assert_eq!(ada["has_password"], false);
    let oid = ada["oid"].as_str().unwrap();
    assert!(
        oid.len() == 24
            && oid
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{oid}"
    );
    assert_nulls(
        &ada,
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

    let full = app.create_user(
        c.t,
        json!({
            "role": "provider", "uuid": "dr-house", "oid": "oid_house_1", "first_name": "Greg",
            "last_name": "House", "display_name": "Dr. House", "prefix": "Dr", "gender": "male",
            "email": "house@example.org", "phone": "+1 555 0100", "avatar_url": "https://x/h.png",
            "specialty": "Diagnostics", "external_id": "ext-9", "username": "house",
            "password": "vicodin-free"
        }),
    );
    assert_eq!(full["uuid"], "dr-house");
    assert_eq!(full["oid"], "oid_house_1");
    assert_eq!(full["display_name"], "Dr. House");
    assert_eq!(full["specialty"], "Diagnostics");
    assert_eq!(full["external_id"], "ext-9");
    assert_eq!(full["has_password"], true);

    for key in [
        id(&full).to_string(),
        "dr-house".into(),
        "oid_house_1".into(),
    ] {
        let r = app
            .get(&v1(&format!("/users/{key}")))
            .bearer(&c.admin)
            .send();
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        assert_eq!(r.body, full);
    }
}

#[test]
fn user_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    app.create_user(c.t, json!({"uuid": "taken", "username": "taken"}));
    let count = || {
        app.get(&v1("/users?limit=100"))
            .bearer(&c.admin)
            .send()
            .body["data"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = count();
    let post = |body: Value| app.post(&v1("/users")).bearer(&c.admin).json(&body);

    assert_invalid(&post(json!({"role": "doctor"})), "role");
    assert_invalid(&post(json!({"uuid": "has spaces"})), "uuid");
    assert_invalid(&post(json!({"oid": ""})), "oid");
    assert_invalid(&post(json!({"password": "long enough"})), "username");
    assert_invalid(
        &post(json!({"username": "shorty", "password": "short"})),
        "password",
    );
    assert_invalid(&post(json!({"display_name": "  "})), "display_name");
    assert_invalid(&post(json!({"first_name": 5})), "first_name");
    assert_invalid(&post(json!({"role": ["patient"]})), "role");
    assert_invalid_names(&post(json!({"nickname": "Ace"})), "nickname");
    assert_error(&post(json!({"uuid": "taken"})), 409, "conflict");
    assert_error(&post(json!({"username": "taken"})), 409, "conflict");
    assert_invalid(
        &app.post(&v1("/users"))
            .bearer(&c.admin)
            .raw("application/json", ""),
        "body",
    );
    assert_error(
        &app.post(&v1("/users"))
            .bearer(&c.admin)
            .raw("application/json", "[1, 2]"),
        400,
        "invalid",
    );

    assert_eq!(count(), before);
}

#[test]
fn users_are_listed_by_role_and_paged_with_after() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let patients: Vec<i64> = (0..5)
        .map(|i| {
            id(&app.create_user(
                t,
                json!({"role": "patient", "display_name": format!("P{i}")}),
            ))
        })
        .collect();
    app.create_user(t, json!({"role": "provider"}));

    let r = app
        .get(&v1("/users?role=patient&limit=2"))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["next_cursor"].is_string(), "{}", r.body);
    for u in r.body["data"].as_array().unwrap() {
        assert_user_shape(u);
        assert_eq!(u["role"], "patient");
    }

    let got = pages(&app, None, t, &v1("/users?role=patient&limit=2"), "after");
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
    assert_eq!(got.concat(), patients);

    // Without a role: the owner, the assistant, five patients and a provider.
    let all = app.get(&v1("/users")).admin().tenant(t).send();
    assert_eq!(all.body["data"].as_array().unwrap().len(), 8);
    assert!(all.body["next_cursor"].is_null());
    let sorted = {
        let mut v = ids(&all.body);
        v.sort_unstable();
        v
    };
    assert_eq!(ids(&all.body), sorted, "users are listed by id");
}

#[test]
fn users_list_rejects_bad_parameters() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let get = |q: &str| app.get(&v1(&format!("/users?{q}"))).bearer(&c.admin).send();
    for q in ["limit=0", "limit=101", "limit=abc", "limit=-1", "limit="] {
        assert_invalid(&get(q), "limit");
    }
    assert_invalid(&get("role=doctor"), "role");
    assert_invalid(&get("after=abc"), "after");
    assert_invalid_names(&get("page=2"), "page");
    assert_eq!(get("limit=1").status, 200);
    assert_eq!(get("limit=100").status, 200);
}

#[test]
fn users_list_at_the_largest_limit_still_offers_the_next_page() {
    let app = spawn_app();
    let t = app.create_tenant("Big clinic");
    // The owner and the assistant plus 99 patients: 101 users.
    for i in 0..99 {
        app.create_user(
            t,
            json!({"role": "patient", "display_name": format!("P{i}")}),
        );
    }
    let got = pages(&app, None, t, &v1("/users?limit=100"), "after");
    assert_eq!(
        got.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![100, 1],
        "a full page of 100 must carry a next_cursor to the 101st user"
    );
}

#[test]
fn patching_a_user_changes_present_fields_and_null_clears() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let ann = app.create_user(
        c.t,
        json!({"first_name": "Ann", "last_name": "Lee", "email": "ann@example.org", "phone": "555"}),
    );
    tick(&app, 60_000);

    let r = app
        .patch(&v1(&format!("/users/{}", id(&ann))))
        .bearer(&c.admin)
        .json(&json!({"email": null, "specialty": "Cardiology", "display_name": "Dr Ann"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_user_shape(&r.body);
    assert!(r.body["email"].is_null());
    assert_eq!(r.body["phone"], "555", "absent fields stay");
    assert_eq!(r.body["first_name"], "Ann");
    assert_eq!(r.body["last_name"], "Lee");
    assert_eq!(r.body["specialty"], "Cardiology");
    assert_eq!(r.body["display_name"], "Dr Ann");
    assert_eq!(r.body["created_at"], rfc3339(T0));
    assert_eq!(r.body["updated_at"], rfc3339(T0 + 60_000));

    let again = app
        .get(&v1(&format!("/users/{}", id(&ann))))
        .bearer(&c.admin)
        .send();
    assert_eq!(again.body, r.body);

    // An empty patch changes nothing.
    let r = app
        .patch(&v1(&format!("/users/{}", id(&ann))))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body["phone"], "555");
    assert_eq!(r.body["specialty"], "Cardiology");
}

#[test]
fn a_changed_password_takes_effect_at_the_next_login() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let ann = id(&app.create_user(
        c.t,
        json!({"username": "ann", "password": "first password"}),
    ));
    assert_eq!(login(&app, json!(c.t), "ann", "first password").status, 200);

    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&c.admin)
        .json(&json!({"password": "second password"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["has_password"], true);
    assert_eq!(login(&app, json!(c.t), "ann", "first password").status, 401);
    assert_eq!(
        login(&app, json!(c.t), "ann", "second password").status,
        200
    );

    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&c.admin)
        .json(&json!({"password": "short"}));
    assert_invalid(&r, "password");
    assert_eq!(
        login(&app, json!(c.t), "ann", "second password").status,
        200
    );

    // A user may change their own password.
    let token = login(&app, json!(c.t), "ann", "second password").body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .patch(&v1(&format!("/users/{ann}")))
        .bearer(&token)
        .json(&json!({"password": "third password"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(login(&app, json!(c.t), "ann", "third password").status, 200);
}

#[test]
fn a_user_edits_their_own_profile_but_not_their_username_nor_other_users() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let me = v1(&format!("/users/{}", c.patient));

    let r = app.get(&me).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200);
    let r = app
        .patch(&me)
        .bearer(&c.patient_token)
        .json(&json!({"display_name": "Patty"}));
    assert_eq!(
        (r.status, r.body["display_name"].as_str()),
        (200, Some("Patty"))
    );

    let r = app
        .patch(&me)
        .bearer(&c.patient_token)
        .json(&json!({"username": "patty"}));
    assert_error(&r, 403, "forbidden");
    assert!(app.get(&me).admin().tenant(c.t).send().body["username"].is_null());

    let other = v1(&format!("/users/{}", c.provider));
    assert_error(
        &app.get(&other).bearer(&c.patient_token).send(),
        404,
        "not_found",
    );
    let r = app
        .patch(&other)
        .bearer(&c.patient_token)
        .json(&json!({"display_name": "Hacked"}));
    assert_error(&r, 404, "not_found");
    assert_eq!(
        app.get(&other).admin().tenant(c.t).send().body["display_name"],
        "Dr Who"
    );
}

#[test]
fn setting_a_password_on_a_user_without_a_username_is_rejected_and_changes_nothing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"first_name": "Changed", "password": "long enough"}));
    assert_invalid(&r, "username");
    let now = app.get(&path).bearer(&c.admin).send().body;
    assert_eq!(now["first_name"], "Pat");
    assert_eq!(now["has_password"], false);
}

#[test]
fn patching_a_username_to_blank_or_overlong_is_rejected() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    for bad in ["", "   ", &"u".repeat(151)] {
        let r = app
            .patch(&path)
            .bearer(&c.admin)
            .json(&json!({"username": bad}));
        assert_invalid(&r, "username");
    }
    assert!(app.get(&path).bearer(&c.admin).send().body["username"].is_null());
}

#[test]
fn patching_display_name_to_null_is_rejected_rather_than_ignored() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"display_name": null}));
    assert_invalid(&r, "display_name");
}

#[test]
fn patching_a_user_rejects_wrong_types_and_unknown_fields() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let path = v1(&format!("/users/{}", c.patient));
    let patch = |body: Value| app.patch(&path).bearer(&c.admin).json(&body);
    assert_invalid(&patch(json!({"email": 42})), "email");
    assert_invalid(&patch(json!({"display_name": ["x"]})), "display_name");
    assert_invalid(&patch(json!({"display_name": "  "})), "display_name");
    assert_invalid_names(&patch(json!({"role": "admin"})), "role");
    assert_invalid_names(&patch(json!({"shoe_size": 44})), "shoe_size");
    let user = app.get(&path).bearer(&c.admin).send().body;
    assert_eq!(user["role"], "patient");
    assert_eq!(user["display_name"], "Pat Smith");
    assert_error(
        &app.patch(&v1("/users/999999"))
            .bearer(&c.admin)
            .json(&json!({})),
        404,
        "not_found",
    );
}

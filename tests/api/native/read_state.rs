//! The native API: read state.

use super::*;

#[test]
fn marking_a_conversation_read_moves_the_horizon_forward_only() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let m: Vec<Value> = (1..=4)
        .map(|i| app.send_as(c.t, conv, c.provider, &format!("m{i}")))
        .collect();
    let path = v1(&format!("/conversations/{conv}/read"));
    assert_eq!(app.unread(c.t, conv, c.patient), 4);

    tick(&app, 1_000);
    let r = app
        .post(&path)
        .bearer(&c.patient_token)
        .json(&json!({"up_to": id(&m[1])}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"conversation_id": conv, "user_id": c.patient, "unread_count": 2,
               "last_read_at": rfc3339(T0 + 1_000), "last_read_seq": 2})
    );

    // Going back is a no-op for the horizon and the count.
    let r = app
        .post(&path)
        .bearer(&c.patient_token)
        .json(&json!({"up_to": id(&m[0])}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["unread_count"].clone(),
            r.body["last_read_seq"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(app.unread(c.t, conv, c.patient), 2);

    // By uuid, then everything (no body, and an empty object).
    let r = app
        .post(&path)
        .bearer(&c.patient_token)
        .json(&json!({"up_to": m[2]["uuid"]}));
    assert_eq!(r.body["last_read_seq"], 3);
    let r = app.post(&path).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["unread_count"].clone(),
            r.body["last_read_seq"].clone()
        ),
        (json!(0), json!(4))
    );
    let r = app.post(&path).bearer(&c.patient_token).json(&json!({}));
    assert_eq!(r.body["unread_count"], 0);
    assert_eq!(app.unread(c.t, conv, c.patient), 0);
    assert_eq!(unread_summary(&app, c.t, c.patient)["total"], 0);

    // An admin marks for a user with `as`.
    app.send_as(c.t, conv, c.patient, "reply");
    assert_eq!(app.unread(c.t, conv, c.provider), 1);
    let r = app
        .post(&path)
        .admin()
        .tenant(c.t)
        .json(&json!({"as": c.provider}));
    assert_eq!((r.status, r.body["unread_count"].clone()), (200, json!(0)));
}

#[test]
fn marking_a_conversation_read_rejects_bad_references_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let other = visit(&app, &c);
    let elsewhere = id(&app.send_as(c.t, other, c.provider, "elsewhere"));
    app.send_as(c.t, conv, c.provider, "one");
    let deleted = id(&app.send_as(c.t, conv, c.provider, "two"));
    app.send_as(c.t, conv, c.provider, "three");
    app.delete(&v1(&format!("/messages/{deleted}")))
        .admin()
        .tenant(c.t)
        .send();
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);
    let path = v1(&format!("/conversations/{conv}/read"));
    let post = |body: Value| app.post(&path).bearer(&c.patient_token).json(&body);

    assert_invalid(&post(json!({"up_to": 999_999})), "up_to");
    assert_invalid(&post(json!({"up_to": "no-such-message"})), "up_to");
    assert_invalid(&post(json!({"up_to": elsewhere})), "up_to");
    assert_invalid(&post(json!({"up_to": deleted})), "up_to");
    assert_invalid(&post(json!({"up_to": true})), "up_to");
    assert_invalid_names(&post(json!({"until": 1})), "until");
    assert_invalid(
        &app.post(&path)
            .bearer(&c.patient_token)
            .raw("application/json", "{"),
        "body",
    );
    assert_invalid(
        &app.post(&path)
            .bearer(&c.patient_token)
            .raw("application/json", "null"),
        "body",
    );
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);
    assert_error(
        &app.post(&v1("/conversations/999999/read"))
            .bearer(&c.patient_token)
            .send(),
        404,
        "not_found",
    );
}

#[test]
fn marking_one_message_read_is_idempotent() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m1 = id(&app.send_as(c.t, conv, c.provider, "one"));
    let m2 = id(&app.send_as(c.t, conv, c.provider, "two"));
    let mine = id(&app.send_as(c.t, conv, c.patient, "mine"));
    let m3 = id(&app.send_as(c.t, conv, c.provider, "three"));
    assert_eq!(
        app.unread(c.t, conv, c.patient),
        1,
        "sending read everything before it"
    );

    let r = app
        .post(&v1(&format!("/messages/{m3}/read")))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"changed": true, "message_id": m3}));
    assert_eq!(app.unread(c.t, conv, c.patient), 0);
    let r = app
        .post(&v1(&format!("/messages/{m3}/read")))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(r.body, json!({"changed": false, "message_id": m3}));
    assert_eq!(app.unread(c.t, conv, c.patient), 0);

    // Messages below the horizon, and one's own, are already read.
    for m in [m1, m2, mine] {
        let r = app
            .post(&v1(&format!("/messages/{m}/read")))
            .bearer(&c.patient_token)
            .json(&json!({}));
        assert_eq!(r.body, json!({"changed": false, "message_id": m}));
    }
    assert_eq!(app.unread(c.t, conv, c.patient), 0);

    // The provider marks the patient's newest message by uuid.
    let reply = app.send_as(c.t, conv, c.patient, "reply");
    assert_eq!(app.unread(c.t, conv, c.provider), 1);
    let r = app
        .post(&v1(&format!(
            "/messages/{}/read",
            reply["uuid"].as_str().unwrap()
        )))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.body, json!({"changed": true, "message_id": reply["id"]}));
    assert_eq!(app.unread(c.t, conv, c.provider), 0);
    // Marking the whole conversation afterwards changes nothing more.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.body["unread_count"], 0);

    assert_error(
        &app.post(&v1("/messages/999999/read"))
            .bearer(&c.patient_token)
            .send(),
        404,
        "not_found",
    );
    assert_invalid_names(
        &app.post(&v1(&format!("/messages/{m3}/read")))
            .bearer(&c.patient_token)
            .json(&json!({"up_to": 1})),
        "up_to",
    );
}

#[test]
fn the_unread_summary_totals_the_callers_conversations() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let a = visit(&app, &c);
    let b = visit(&app, &c);
    let quiet = visit(&app, &c);
    for _ in 0..3 {
        app.send_as(c.t, a, c.provider, "a");
    }
    app.send_as(c.t, b, c.provider, "b");
    app.send_as(c.t, quiet, c.patient, "mine");

    let r = app.get(&v1("/unread")).bearer(&c.patient_token).send();
    assert_eq!(r.status, 200, "{}", r.body);
    let uuid_of = |conv: i64| conversation(&app, c.t, conv)["uuid"].clone();
    assert_eq!(
        r.body,
        json!({"total": 4, "conversations": [
            {"conversation_id": a, "uuid": uuid_of(a), "unread_count": 3},
            {"conversation_id": b, "uuid": uuid_of(b), "unread_count": 1},
        ]})
    );
    let via_admin = app
        .get(&v1(&format!("/unread?as={}", c.patient)))
        .bearer(&c.admin)
        .send();
    assert_eq!(via_admin.body, r.body);

    let r = app.get(&v1("/unread")).bearer(&c.provider_token).send();
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["conversations"][0]["conversation_id"], quiet);

    app.post(&v1(&format!("/conversations/{a}/read")))
        .bearer(&c.patient_token)
        .send();
    let r = app.get(&v1("/unread")).bearer(&c.patient_token).send();
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["conversations"].as_array().unwrap().len(), 1);

    // The tenant admin's own (empty) summary.
    let r = app.get(&v1("/unread")).bearer(&c.admin).send();
    assert_eq!(r.body, json!({"total": 0, "conversations": []}));
    assert_invalid(
        &app.get(&v1("/unread?as=999999")).bearer(&c.admin).send(),
        "as",
    );
    assert_invalid_names(
        &app.get(&v1("/unread?limit=5")).bearer(&c.admin).send(),
        "limit",
    );
}

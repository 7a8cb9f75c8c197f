//! The native API: messages.

use super::*;

#[test]
fn sending_returns_the_message_with_every_field() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let first = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "My knee hurts"}),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    let m1 = first.body;
    assert_message_shape(&m1);
    assert_eq!(m1["conversation_id"], conv);
    assert_eq!(m1["seq"], 1);
    assert_eq!(m1["sender_id"], c.patient);
    assert_eq!(m1["kind"], "text");
    assert_eq!(m1["metadata"], json!({}));
    assert_eq!(m1["attachments"], json!([]));
    assert_eq!(m1["created_at"], rfc3339(T0));
    assert_nulls(
        &m1,
        &["recipient_id", "subject", "reply_to_id", "status", "device"],
    );
    assert!(m1.get("read_by").is_none());

    tick(&app, 1_000);
    let patient_uuid = app.get(&v1("/me")).bearer(&c.patient_token).send().body["uuid"].clone();
    let r = send(
        &app,
        &c.provider_token,
        conv,
        &json!({
            "body": "Here is the X-ray", "kind": "image", "recipient": patient_uuid,
            "subject": "Results", "reply_to": m1["uuid"], "metadata": {"priority": "high"},
            "attachments": [{"url": "https://x/xray.png"}], "device": {"os": "ios"}
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let m2 = r.body;
    assert_message_shape(&m2);
    assert_eq!(m2["seq"], 2);
    assert_eq!(m2["kind"], "image");
    assert_eq!(m2["recipient_id"], c.patient);
    assert_eq!(m2["subject"], "Results");
    assert_eq!(m2["reply_to_id"], m1["id"]);
    assert_eq!(m2["metadata"], json!({"priority": "high"}));
    assert_eq!(m2["attachments"], json!([{"url": "https://x/xray.png"}]));
    assert_eq!(m2["device"], json!({"os": "ios"}));

    // The stored message reads back the same.
    let got = app
        .get(&v1(&format!("/messages/{}", id(&m2))))
        .bearer(&c.patient_token)
        .send();
    assert_eq!((got.status, &got.body), (200, &m2));
}

#[test]
fn sending_updates_the_conversation_and_everyone_elses_unread_count() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let nurse = staff(&app, &c, "Nurse");
    app.post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": nurse}));

    tick(&app, 5_000);
    let m = send(&app, &c.provider_token, conv, &json!({"body": "Take two"})).body;
    let conv_now = conversation(&app, c.t, conv);
    assert_eq!(conv_now["message_count"], 1);
    assert_eq!(
        conv_now["last_message"],
        json!({"message_id": m["id"], "body": "Take two", "sender_id": c.provider, "created_at": rfc3339(T0 + 5_000)})
    );
    assert_eq!(conv_now["updated_at"], rfc3339(T0 + 5_000));
    let counts: Vec<i64> = [c.patient, c.provider, nurse]
        .iter()
        .map(|u| app.unread(c.t, conv, *u))
        .collect();
    assert_eq!(counts, vec![1, 0, 1]);
    let provider = conv_now["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["id"] == c.provider)
        .unwrap()
        .clone();
    assert_eq!(
        provider["last_read_seq"], 1,
        "the sender has read their own message"
    );
}

#[test]
fn a_rejected_send_writes_nothing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let other = visit(&app, &c);
    let elsewhere = id(&app.send_as(c.t, other, c.provider, "elsewhere"));
    app.send_as(c.t, conv, c.provider, "hello");
    let outsider = staff(&app, &c, "Outsider");
    let users = [c.patient, c.provider];
    let before = snapshot(&app, c.t, conv, &users);

    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "body"),
        (json!({"body": ""}), "body"),
        (json!({"body": "   "}), "body"),
        (json!({"body": 5}), "body"),
        (json!({"body": "x".repeat(20_001)}), "body"),
        (json!({"body": "hi", "kind": "sticker"}), "kind"),
        (json!({"body": "hi", "kind": 3}), "kind"),
        (json!({"body": "hi", "recipient": 999_999}), "recipient"),
        (json!({"body": "hi", "recipient": outsider}), "recipient"),
        (json!({"body": "hi", "recipient": c.patient}), "recipient"),
        (json!({"body": "hi", "recipient": {"id": 1}}), "recipient"),
        (json!({"body": "hi", "reply_to": 999_999}), "reply_to"),
        (
            json!({"body": "hi", "reply_to": "no-such-message"}),
            "reply_to",
        ),
        (json!({"body": "hi", "reply_to": elsewhere}), "reply_to"),
        (json!({"body": "hi", "metadata": [1]}), "metadata"),
        (json!({"body": "hi", "metadata": "x"}), "metadata"),
        (
            json!({"body": "hi", "attachments": {"a": 1}}),
            "attachments",
        ),
        (json!({"body": "hi", "device": "iphone"}), "device"),
        (json!({"body": "hi", "subject": 9}), "subject"),
        (json!({"body": "hi", "as": true}), "as"),
        (json!({"body": "hi", "urgent": true}), "urgent"),
    ];
    for (body, field) in &cases {
        let r = send(&app, &c.patient_token, conv, body);
        if field == &"urgent" || body.get("body").is_none() {
            assert_invalid_names(&r, field);
        } else {
            assert_invalid(&r, field);
        }
        assert_eq!(snapshot(&app, c.t, conv, &users), before, "after {body}");
    }
    for raw in ["", "{", "{\"body\": \"hi\",}", "null", "\"hi\""] {
        let r = app
            .post(&v1(&format!("/conversations/{conv}/messages")))
            .bearer(&c.patient_token)
            .raw("application/json", raw);
        assert_invalid(&r, "body");
    }
    // Not a participant; not a conversation.
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .bearer(&c.admin)
        .json(&json!({"body": "hi", "as": outsider}));
    assert_error(&r, 403, "forbidden");
    let r = send(&app, &c.patient_token, 999_999, &json!({"body": "hi"}));
    assert_error(&r, 404, "not_found");
    assert_eq!(snapshot(&app, c.t, conv, &users), before);
    // The tenant admin is not a member and must say whom it sends as.
    let r = send(&app, &c.admin, conv, &json!({"body": "hi"}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(snapshot(&app, c.t, conv, &users), before);
}

#[test]
fn messages_are_listed_oldest_first_and_paged_by_seq() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let sent: Vec<i64> = (1..=7)
        .map(|i| {
            id(&app.send_as(
                c.t,
                conv,
                if i % 2 == 0 { c.patient } else { c.provider },
                &format!("m{i}"),
            ))
        })
        .collect();
    let list = |q: &str| {
        let r = app
            .get(&v1(&format!("/conversations/{conv}/messages{q}")))
            .bearer(&c.patient_token)
            .send();
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.body
    };
    let seqs = |page: &Value| -> Vec<i64> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect()
    };

    let all = list("");
    assert_eq!(ids(&all), sent);
    assert_eq!(seqs(&all), (1..=7).collect::<Vec<_>>());
    assert!(all["next_cursor"].is_null());
    for m in all["data"].as_array().unwrap() {
        assert_message_shape(m);
        assert!(m["read_by"].is_array(), "{m}");
    }

    // Backwards from the newest.
    let p1 = list("?limit=3");
    assert_eq!(seqs(&p1), vec![5, 6, 7]);
    assert_eq!(p1["next_cursor"], "5");
    let p2 = list("?limit=3&before=5");
    assert_eq!(seqs(&p2), vec![2, 3, 4]);
    assert_eq!(p2["next_cursor"], "2");
    let p3 = list("?limit=3&before=2");
    assert_eq!(seqs(&p3), vec![1]);
    assert!(p3["next_cursor"].is_null());

    // Forwards from the oldest.
    let f1 = list("?limit=3&after=0");
    assert_eq!(seqs(&f1), vec![1, 2, 3]);
    assert_eq!(f1["next_cursor"], "3");
    let f2 = list("?limit=3&after=3");
    assert_eq!(seqs(&f2), vec![4, 5, 6]);
    assert_eq!(f2["next_cursor"], "6");
    let f3 = list("?limit=3&after=6");
    assert_eq!(seqs(&f3), vec![7]);
    assert!(f3["next_cursor"].is_null());
    assert_eq!(seqs(&list("?after=7")), Vec::<i64>::new());

    // Exactly `limit` left: no further page.
    let exact = list("?limit=4&before=5");
    assert_eq!(seqs(&exact), vec![1, 2, 3, 4]);
    assert!(exact["next_cursor"].is_null());
}

#[test]
fn message_lists_reject_bad_paging_parameters() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.provider, "hi");
    let get = |q: &str| {
        app.get(&v1(&format!("/conversations/{conv}/messages?{q}")))
            .bearer(&c.patient_token)
            .send()
    };
    for q in ["limit=0", "limit=101", "limit=abc", "limit=-1"] {
        assert_invalid(&get(q), "limit");
    }
    assert_invalid(&get("before=abc"), "before");
    assert_invalid(&get("after=x"), "after");
    assert_invalid(&get("before=3&after=1"), "after");
    assert_invalid_names(&get("cursor=3"), "cursor");
    assert_error(
        &app.get(&v1("/conversations/999999/messages"))
            .bearer(&c.admin)
            .send(),
        404,
        "not_found",
    );
}

#[test]
fn message_lists_show_who_has_read_each_message() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let nurse = staff(&app, &c, "Nurse");
    let conv = id(&app.create_conversation(c.t, &[c.patient, c.provider, nurse]));
    let m: Vec<i64> = (1..=3)
        .map(|i| id(&app.send_as(c.t, conv, c.provider, &format!("m{i}"))))
        .collect();
    app.post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&c.patient_token)
        .json(&json!({"up_to": m[1]}));
    app.post(&v1(&format!("/messages/{}/read", m[2])))
        .admin()
        .tenant(c.t)
        .json(&json!({"as": nurse}));
    app.send_as(c.t, conv, c.patient, "m4");

    let read_by: Vec<Vec<i64>> = thread(&app, c.t, conv)
        .iter()
        .map(|msg| {
            let mut v: Vec<i64> = msg["read_by"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_i64().unwrap())
                .collect();
            v.sort_unstable();
            v
        })
        .collect();
    let mut patient_nurse = vec![c.patient, nurse];
    patient_nurse.sort_unstable();
    assert_eq!(
        read_by,
        vec![
            vec![c.patient],
            vec![c.patient],
            patient_nurse,
            // The patient's own message: the provider has not read it yet; the sender is not listed.
            vec![],
        ]
    );
}

#[test]
fn a_message_is_found_by_id_uuid_or_oid_by_those_who_may_see_it() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = app.send_as(c.t, conv, c.provider, "hello");
    for key in [
        id(&m).to_string(),
        m["uuid"].as_str().unwrap().to_string(),
        m["oid"].as_str().unwrap().to_string(),
    ] {
        for token in [&c.patient_token, &c.provider_token, &c.admin] {
            let r = app
                .get(&v1(&format!("/messages/{key}")))
                .bearer(token)
                .send();
            assert_eq!(r.status, 200, "{key}: {}", r.body);
            assert_eq!(r.body, m);
        }
    }
    let r = app
        .get(&v1(&format!("/messages/{}", id(&m))))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(r.body, m);
    for key in ["999999", "no-such-message", "bad!id"] {
        assert_error(
            &app.get(&v1(&format!("/messages/{key}")))
                .bearer(&c.admin)
                .send(),
            404,
            "not_found",
        );
    }
}

#[test]
fn only_the_sender_edits_a_message() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let m = app.send_as(c.t, conv, c.provider, "Tkae two");
    let path = v1(&format!("/messages/{}", id(&m)));

    tick(&app, 1_000);
    let r = app
        .patch(&path)
        .bearer(&c.provider_token)
        .json(&json!({"body": "Take two"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_message_shape(&r.body);
    assert_eq!(r.body["body"], "Take two");
    assert_eq!(r.body["id"], m["id"]);
    assert_eq!(r.body["seq"], m["seq"]);
    assert_eq!(r.body["created_at"], rfc3339(T0));
    assert_eq!(r.body["updated_at"], rfc3339(T0 + 1_000));
    assert_eq!(
        conversation(&app, c.t, conv)["last_message"]["body"],
        "Take two"
    );
    assert_eq!(
        app.unread(c.t, conv, c.patient),
        1,
        "an edit is not a new message"
    );

    let refused = [
        app.patch(&path)
            .bearer(&c.patient_token)
            .json(&json!({"body": "Take ten"})),
        app.patch(&path)
            .bearer(&c.admin)
            .json(&json!({"body": "Take ten", "as": c.patient})),
    ];
    for r in &refused {
        assert_error(r, 403, "forbidden");
    }
    assert_invalid(
        &app.patch(&path)
            .bearer(&c.provider_token)
            .json(&json!({"body": ""})),
        "body",
    );
    assert_invalid(
        &app.patch(&path)
            .bearer(&c.provider_token)
            .json(&json!({"body": 2})),
        "body",
    );
    assert_invalid_names(
        &app.patch(&path).bearer(&c.provider_token).json(&json!({})),
        "body",
    );
    assert_invalid_names(
        &app.patch(&path)
            .bearer(&c.provider_token)
            .json(&json!({"body": "x", "kind": "image"})),
        "kind",
    );
    let now = app.get(&path).bearer(&c.patient_token).send().body;
    assert_eq!(now["body"], "Take two");

    // An admin may correct any message.
    let r = app
        .patch(&path)
        .admin()
        .tenant(c.t)
        .json(&json!({"body": "Take two tablets"}));
    assert_eq!(
        (r.status, r.body["body"].as_str()),
        (200, Some("Take two tablets"))
    );
    assert_error(
        &app.patch(&v1("/messages/999999"))
            .bearer(&c.admin)
            .json(&json!({"body": "x"})),
        404,
        "not_found",
    );
}

#[test]
fn deleting_a_message_drops_it_from_unread_counts_and_moves_last_message_back() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let nurse = staff(&app, &c, "Nurse");
    let conv = id(&app.create_conversation(c.t, &[c.patient, c.provider, nurse]));
    let m1 = app.send_as(c.t, conv, c.provider, "one");
    let m2 = app.send_as(c.t, conv, c.provider, "two");
    // The patient has read both; the nurse neither.
    app.post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (0, 2)
    );

    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m2))))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (0, 1)
    );
    let now = conversation(&app, c.t, conv);
    assert_eq!(now["message_count"], 1);
    assert_eq!(now["last_message"]["message_id"], m1["id"]);
    assert_eq!(now["last_message"]["body"], "one");
    assert_eq!(
        thread(&app, c.t, conv).iter().map(id).collect::<Vec<_>>(),
        vec![id(&m1)]
    );
    assert_error(
        &app.get(&v1(&format!("/messages/{}", id(&m2))))
            .bearer(&c.admin)
            .send(),
        404,
        "not_found",
    );
    assert_error(
        &app.delete(&v1(&format!("/messages/{}", id(&m2))))
            .bearer(&c.provider_token)
            .send(),
        404,
        "not_found",
    );

    // A message read singly by the nurse but not by the patient.
    let m3 = app.send_as(c.t, conv, c.provider, "three");
    app.post(&v1(&format!("/messages/{}/read", id(&m3))))
        .admin()
        .tenant(c.t)
        .json(&json!({"as": nurse}));
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (1, 1)
    );
    // Only the sender (or an admin) may delete.
    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m3))))
        .bearer(&c.patient_token)
        .send();
    assert_error(&r, 403, "forbidden");
    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m3))))
        .bearer(&c.admin)
        .json(&json!({"as": nurse}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 2);

    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m3))))
        .admin()
        .tenant(c.t)
        .json(&json!({"as": c.provider}));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        (
            app.unread(c.t, conv, c.patient),
            app.unread(c.t, conv, nurse)
        ),
        (0, 1)
    );
    let summary = unread_summary(&app, c.t, c.patient);
    assert_eq!(summary["total"], 0);

    // An admin deletes the last message: nothing is left.
    let r = app
        .delete(&v1(&format!("/messages/{}", id(&m1))))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    let now = conversation(&app, c.t, conv);
    assert_eq!(now["message_count"], 0);
    assert!(now["last_message"].is_null());
    assert_eq!(app.unread(c.t, conv, nurse), 0);
    assert_eq!(thread(&app, c.t, conv), Vec::<Value>::new());
}

#[test]
fn deleting_the_latest_message_moves_the_conversation_back_in_the_list() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let x = visit(&app, &c);
    let y = visit(&app, &c);
    freeze(&app, T0 + 1_000);
    app.send_as(c.t, x, c.provider, "x1");
    freeze(&app, T0 + 2_000);
    app.send_as(c.t, y, c.provider, "y1");
    freeze(&app, T0 + 3_000);
    let x2 = id(&app.send_as(c.t, x, c.provider, "x2"));
    let order = |token: Option<&str>| {
        let req = app.get(&v1("/conversations"));
        let r = match token {
            Some(t) => req.bearer(t).send(),
            None => req.admin().tenant(c.t).send(),
        };
        ids(&r.body)
    };
    assert_eq!(order(Some(&c.patient_token)), vec![x, y]);
    assert_eq!(order(None), vec![x, y]);

    app.delete(&v1(&format!("/messages/{x2}")))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(order(Some(&c.patient_token)), vec![y, x]);
    assert_eq!(order(None), vec![y, x]);
    assert_eq!(
        conversation(&app, c.t, x)["last_message"]["created_at"],
        rfc3339(T0 + 1_000)
    );
}

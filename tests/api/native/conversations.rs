//! The native API: conversations.

use super::*;

#[test]
fn a_user_who_creates_a_conversation_is_in_it() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    // A patient writes to a provider they already see (their contact, issue 18).
    let earlier = visit(&app, &c);
    let r = app
        .post(&v1("/conversations"))
        .bearer(&c.patient_token)
        .json(&json!({
            "name": "Knee pain", "participants": [c.provider], "metadata": {"project": "ortho"}
        }));
    assert_eq!(r.status, 201, "{}", r.body);
    let conv = r.body;
    assert_conversation_shape(&conv);
    assert_eq!(conv["name"], "Knee pain");
    assert_eq!(conv["status"], "active");
    assert_eq!(conv["locked"], false);
    assert_eq!(conv["metadata"], json!({"project": "ortho"}));
    assert_eq!(conv["message_count"], 0);
    assert_eq!(conv["unread_count"], 0);
    assert_nulls(&conv, &["archived_at", "tag", "last_message"]);
    let mut members: Vec<i64> = conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["id"].as_i64().unwrap())
        .collect();
    members.sort_unstable();
    let mut expected = vec![c.patient, c.provider];
    expected.sort_unstable();
    assert_eq!(members, expected);
    for p in conv["participants"].as_array().unwrap() {
        assert_eq!(p["unread_count"], 0);
        assert_eq!(p["last_read_seq"], 0);
        assert_eq!(p["muted"], false);
        assert!(p["last_read_at"].is_null());
    }
    let pat = conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["id"] == c.patient)
        .unwrap()
        .clone();
    assert_eq!(pat["user"]["display_name"], "Pat Smith");
    assert_eq!(pat["user"]["role"], "patient");

    // The provider sees it in their own list.
    let list = app
        .get(&v1("/conversations"))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(ids(&list.body), vec![id(&conv), earlier]);
}

#[test]
fn the_server_admin_creates_conversations_among_the_named_users_only() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(c.t)
        .json(&json!({"participants": [c.patient, c.provider, c.patient]}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_conversation_shape(&r.body);
    assert_nulls(&r.body, &["name", "unread_count"]);
    assert_eq!(r.body["metadata"], json!({}));
    assert_eq!(
        r.body["participants"].as_array().unwrap().len(),
        2,
        "duplicates collapse"
    );

    // Participants may be named by uuid or oid too; `as` makes the admin create as a user.
    let provider = app
        .get(&v1(&format!("/users/{}", c.provider)))
        .bearer(&c.admin)
        .send()
        .body;
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(c.t)
        .json(&json!({
            "participants": [provider["uuid"]], "as": c.patient
        }));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["unread_count"], 0);
    assert_eq!(r.body["participants"].as_array().unwrap().len(), 2);
    let r = app
        .post(&v1("/conversations"))
        .admin()
        .tenant(c.t)
        .json(&json!({
            "participants": [provider["oid"]]
        }));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["participants"][0]["user"]["id"], c.provider);
}

#[test]
fn a_tenant_admin_joins_a_conversation_only_as_someone() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let members = |conv: &Value| -> Vec<i64> {
        let mut ids: Vec<i64> = conv["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["user"]["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let mut pair = vec![c.patient, c.provider];
    pair.sort_unstable();
    let create = |body: Value| {
        let r = app.post(&v1("/conversations")).bearer(&c.admin).json(&body);
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    };
    // Without `as` the admin acts for the clinic (as when listing the whole tenant): the
    // conversation is the participants'.
    let set_up = create(json!({"participants": [c.patient, c.provider]}));
    assert_eq!(members(&set_up), pair);
    assert!(set_up["unread_count"].is_null());
    // With `as`, that user creates it and is in it.
    let as_patient = create(json!({"participants": [c.provider], "as": c.patient}));
    assert_eq!(members(&as_patient), pair);
    assert_eq!(as_patient["unread_count"], 0);
    // To take part, the admin lists themselves (or acts as themselves).
    let me = app.get(&v1("/me")).bearer(&c.admin).send().body["id"]
        .as_i64()
        .unwrap();
    let mut with_me = vec![me, c.patient];
    with_me.sort_unstable();
    assert_eq!(
        members(&create(json!({"participants": [me, c.patient]}))),
        with_me
    );
    assert_eq!(
        members(&create(json!({"participants": [c.patient], "as": me}))),
        with_me
    );
}

#[test]
fn conversation_creation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let post = |body: Value| app.post(&v1("/conversations")).bearer(&c.admin).json(&body);

    assert_invalid_names(&post(json!({"name": "x"})), "participants");
    assert_invalid(&post(json!({"participants": []})), "participants");
    assert_invalid(&post(json!({"participants": "everyone"})), "participants");
    assert_invalid(
        &post(json!({"participants": [c.patient, 999_999]})),
        "participants[1]",
    );
    assert_invalid(
        &post(json!({"participants": ["no-such-user"]})),
        "participants[0]",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient, true]})),
        "participants[1]",
    );
    assert_invalid(
        &post(json!({"participants": ["bad id!"]})),
        "participants[0]",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "metadata": [1, 2]})),
        "metadata",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "name": "n".repeat(201)})),
        "name",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "name": 5})),
        "name",
    );
    assert_invalid(
        &post(json!({"participants": [c.patient], "as": 999_999})),
        "as",
    );
    assert_invalid_names(
        &post(json!({"participants": [c.patient], "topic": "x"})),
        "topic",
    );
    assert_invalid(
        &app.post(&v1("/conversations"))
            .bearer(&c.admin)
            .raw("application/json", "{\"participants\": [1,"),
        "body",
    );

    let all = app.get(&v1("/conversations")).bearer(&c.admin).send();
    assert_eq!(all.body["data"], json!([]));
}

#[test]
fn a_conversation_is_found_by_id_uuid_or_oid() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let created = app.create_conversation(c.t, &[c.patient, c.provider]);
    for key in [
        id(&created).to_string(),
        created["uuid"].as_str().unwrap().to_string(),
        created["oid"].as_str().unwrap().to_string(),
    ] {
        let r = app
            .get(&v1(&format!("/conversations/{key}")))
            .bearer(&c.patient_token)
            .send();
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        assert_conversation_shape(&r.body);
        assert_eq!(r.body["id"], created["id"]);
        assert_eq!(r.body["unread_count"], 0, "a member sees their own count");
    }
    // An admin without `as` sees no count of their own; with `as` that user's.
    let r = app
        .get(&v1(&format!("/conversations/{}", id(&created))))
        .bearer(&c.admin)
        .send();
    assert!(r.body["unread_count"].is_null());
    app.send_as(c.t, id(&created), c.provider, "hi");
    assert_eq!(app.unread(c.t, id(&created), c.patient), 1);

    for key in [
        "999999",
        "no-such-conversation",
        "bad!id",
        "99999999999999999999999",
    ] {
        let r = app
            .get(&v1(&format!("/conversations/{key}")))
            .bearer(&c.admin)
            .send();
        assert_error(&r, 404, "not_found");
    }
}

#[test]
fn a_non_member_cannot_see_a_conversation() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.provider, "private"));
    let outsider = staff(&app, &c, "Nosy");
    let tok = app.token_for(c.t, outsider, &["native"]);
    for path in [
        format!("/conversations/{conv}"),
        format!("/conversations/{conv}/messages"),
        format!("/messages/{m}"),
    ] {
        assert_error(&app.get(&v1(&path)).bearer(&tok).send(), 404, "not_found");
    }
    let r = app.get(&v1("/conversations")).bearer(&tok).send();
    assert_eq!(r.body["data"], json!([]));
    let r = send(&app, &tok, conv, &json!({"body": "let me in"}));
    assert_error(&r, 403, "forbidden");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/read")))
        .bearer(&tok)
        .send();
    assert_error(&r, 404, "not_found");
    let r = app
        .post(&v1(&format!("/messages/{m}/read")))
        .bearer(&tok)
        .send();
    assert_error(&r, 404, "not_found");
    assert_eq!(conversation(&app, c.t, conv)["message_count"], 1);
}

#[test]
fn a_users_conversations_are_listed_by_last_activity_with_their_unread_counts() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let quiet = visit(&app, &c);
    let older = visit(&app, &c);
    let newer = visit(&app, &c);
    let not_mine = id(&app.create_conversation(c.t, &[c.provider]));
    tick(&app, 1_000);
    app.send_as(c.t, newer, c.provider, "first");
    tick(&app, 1_000);
    app.send_as(c.t, older, c.provider, "second");
    app.send_as(c.t, older, c.provider, "third");
    tick(&app, 1_000);
    app.send_as(c.t, newer, c.patient, "fourth");
    app.send_as(c.t, not_mine, c.provider, "note to self");

    let r = app
        .get(&v1("/conversations"))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r.body), vec![newer, older, quiet]);
    assert!(r.body["next_cursor"].is_null());
    let data = r.body["data"].as_array().unwrap();
    for conv in data {
        assert_conversation_shape(conv);
    }
    assert_eq!(
        data.iter()
            .map(|c| c["unread_count"].clone())
            .collect::<Vec<_>>(),
        // The patient's own reply read everything before it in `newer`.
        vec![json!(0), json!(2), json!(0)]
    );
    let last = &data[0]["last_message"];
    assert_ints(last, &["message_id", "sender_id"]);
    assert_eq!(last["body"], "fourth");
    assert_eq!(last["sender_id"], c.patient);
    assert_eq!(last["created_at"], rfc3339(T0 + 3_000));
    assert!(data[2]["last_message"].is_null());
    assert_eq!(data[1]["message_count"], 2);
}

#[test]
fn an_admin_lists_a_users_conversations_with_as_and_the_whole_tenant_without() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let shared = visit(&app, &c);
    let provider_only = id(&app.create_conversation(c.t, &[c.provider]));
    tick(&app, 1_000);
    app.send_as(c.t, shared, c.provider, "hello");

    let as_patient = app
        .get(&v1(&format!("/conversations?as={}", c.patient)))
        .bearer(&c.admin)
        .send();
    assert_eq!(as_patient.status, 200, "{}", as_patient.body);
    assert_eq!(ids(&as_patient.body), vec![shared]);
    assert_eq!(as_patient.body["data"][0]["unread_count"], 1);

    let patient = app
        .get(&v1(&format!("/users/{}", c.patient)))
        .bearer(&c.admin)
        .send()
        .body;
    let by_uuid = app
        .get(&v1(&format!(
            "/conversations?as={}",
            patient["uuid"].as_str().unwrap()
        )))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(ids(&by_uuid.body), vec![shared]);

    for req in [
        app.get(&v1("/conversations")).bearer(&c.admin),
        app.get(&v1("/conversations")).admin().tenant(c.t),
    ] {
        let r = req.send();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(ids(&r.body), vec![shared, provider_only]);
        for conv in r.body["data"].as_array().unwrap() {
            assert!(conv["unread_count"].is_null(), "{conv}");
        }
    }

    let r = app
        .get(&v1("/conversations?as=999999"))
        .bearer(&c.admin)
        .send();
    assert_invalid(&r, "as");
    let r = app
        .get(&v1("/conversations?as=bad!id"))
        .bearer(&c.admin)
        .send();
    assert_invalid(&r, "as");
}

/// Seven conversations for the patient and provider: four with messages (two at the same
/// moment), three never messaged. Returns them in the order a list must show them.
fn seven_conversations(app: &TestApp, c: &Clinic) -> Vec<i64> {
    freeze(app, T0);
    let cs: Vec<i64> = (0..7).map(|_| visit(app, c)).collect();
    let at = |ms: i64, conv: i64| {
        freeze(app, T0 + ms);
        app.send_as(c.t, conv, c.provider, "ping");
    };
    at(1_000, cs[1]);
    at(2_000, cs[4]);
    at(2_000, cs[2]);
    at(3_000, cs[6]);
    // Latest first; ties by id, newest first; never-messaged last, newest first.
    vec![cs[6], cs[4], cs[2], cs[1], cs[5], cs[3], cs[0]]
}

#[test]
fn conversation_lists_page_with_before_without_duplicates_or_gaps() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let expected = seven_conversations(&app, &c);

    let got = pages(
        &app,
        Some(&c.patient_token),
        c.t,
        &v1("/conversations?limit=3"),
        "before",
    );
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert_eq!(got.concat(), expected);

    let got = pages(
        &app,
        Some(&c.admin),
        c.t,
        &v1(&format!("/conversations?limit=3&as={}", c.provider)),
        "before",
    );
    assert_eq!(got.concat(), expected);

    // The admin's tenant-wide list pages the same way.
    let got = pages(&app, None, c.t, &v1("/conversations?limit=3"), "before");
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 1]);
    assert_eq!(got.concat(), expected);

    // One conversation per page, and one page for everything.
    let got = pages(
        &app,
        Some(&c.patient_token),
        c.t,
        &v1("/conversations?limit=1"),
        "before",
    );
    assert_eq!(got.concat(), expected);
    let got = pages(
        &app,
        Some(&c.patient_token),
        c.t,
        &v1("/conversations?limit=7"),
        "before",
    );
    assert_eq!(got, vec![expected.clone()]);
}

#[test]
fn conversation_lists_reject_bad_paging_parameters() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    visit(&app, &c);
    let get = |q: &str| {
        app.get(&v1(&format!("/conversations?{q}")))
            .bearer(&c.patient_token)
            .send()
    };
    for q in ["limit=0", "limit=101", "limit=abc", "limit=-3", "limit=1.5"] {
        assert_invalid(&get(q), "limit");
    }
    for q in [
        "before=abc",
        "before=12",
        "before=1.x",
        "before=99999999999999999999999.1",
    ] {
        assert_invalid(&get(q), "before");
    }
    assert_invalid(&get("after=1"), "after");
    assert_invalid(&get("role=patient"), "role");
    assert_invalid_names(&get("sort=asc"), "sort");
    assert_eq!(get("limit=100").status, 200);
}

#[test]
fn renaming_archiving_and_unarchiving_a_conversation() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    freeze(&app, T0);
    let conv = visit(&app, &c);
    let path = v1(&format!("/conversations/{conv}"));
    let patch = |body: Value| app.patch(&path).bearer(&c.admin).json(&body);

    tick(&app, 1_000);
    let r = patch(json!({"name": "Follow-up"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_conversation_shape(&r.body);
    assert_eq!(r.body["name"], "Follow-up");
    assert_eq!(r.body["updated_at"], rfc3339(T0 + 1_000));
    assert!(r.body["unread_count"].is_null());

    let r = patch(json!({"archived": true}));
    assert_eq!(
        (r.body["status"].as_str(), r.body["name"].as_str()),
        (Some("archived"), Some("Follow-up"))
    );
    assert_eq!(r.body["archived_at"], rfc3339(T0 + 1_000));

    // Archiving again keeps the first archive time.
    tick(&app, 1_000);
    let r = patch(json!({"archived": true}));
    assert_eq!(r.body["archived_at"], rfc3339(T0 + 1_000));

    let r = patch(json!({"archived": false}));
    assert_eq!(r.body["status"], "active");
    assert!(r.body["archived_at"].is_null());

    let r = patch(json!({"name": null}));
    assert!(r.body["name"].is_null());

    let r = app.get(&path).bearer(&c.patient_token).send();
    assert_eq!(r.body["status"], "active");
    assert!(r.body["name"].is_null());
}

#[test]
fn a_locked_conversation_refuses_messages_until_unlocked() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.patient, "before the lock");
    let path = v1(&format!("/conversations/{conv}"));

    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"locked": true}));
    assert_eq!((r.status, r.body["locked"].clone()), (200, json!(true)));
    let before = snapshot(&app, c.t, conv, &[c.patient, c.provider]);

    let r = send(&app, &c.provider_token, conv, &json!({"body": "too late"}));
    assert_error(&r, 403, "forbidden");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/messages")))
        .admin()
        .tenant(c.t)
        .json(&json!({"body": "even for admins", "as": c.provider}));
    assert_error(&r, 403, "forbidden");
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient, c.provider]), before);

    let r = app
        .patch(&path)
        .bearer(&c.admin)
        .json(&json!({"locked": false}));
    assert_eq!(r.body["locked"], false);
    let r = send(
        &app,
        &c.provider_token,
        conv,
        &json!({"body": "open again"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(app.unread(c.t, conv, c.patient), 1);
}

#[test]
fn patching_a_conversation_rejects_bad_input_without_writing() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let path = v1(&format!("/conversations/{conv}"));
    let before = snapshot(&app, c.t, conv, &[c.patient]);
    let patch = |body: Value| app.patch(&path).bearer(&c.admin).json(&body);
    assert_invalid(&patch(json!({"archived": "yes"})), "archived");
    assert_invalid(&patch(json!({"locked": 1})), "locked");
    assert_invalid(
        &patch(json!({"name": "n".repeat(201), "locked": true})),
        "name",
    );
    assert_invalid(&patch(json!({"name": ["a"]})), "name");
    assert_invalid_names(&patch(json!({"status": "archived"})), "status");
    assert_invalid(
        &app.patch(&path)
            .bearer(&c.admin)
            .raw("application/json", ""),
        "body",
    );
    assert_eq!(snapshot(&app, c.t, conv, &[c.patient]), before);
    assert_error(
        &app.patch(&v1("/conversations/999999"))
            .bearer(&c.admin)
            .json(&json!({"name": "x"})),
        404,
        "not_found",
    );
}

#[test]
fn a_deleted_conversation_is_gone_everywhere() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    let keep = visit(&app, &c);
    let m = id(&app.send_as(c.t, conv, c.provider, "soon gone"));
    app.send_as(c.t, keep, c.provider, "stays");
    let extra = staff(&app, &c, "Late");

    let r = app
        .delete(&v1(&format!("/conversations/{conv}")))
        .bearer(&c.admin)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);

    let p = |s: String| v1(&s);
    let gone = [
        app.get(&p(format!("/conversations/{conv}")))
            .bearer(&c.patient_token)
            .send(),
        app.get(&p(format!("/conversations/{conv}")))
            .bearer(&c.admin)
            .send(),
        app.get(&p(format!("/conversations/{conv}/messages")))
            .bearer(&c.admin)
            .send(),
        app.get(&p(format!("/messages/{m}")))
            .bearer(&c.admin)
            .send(),
        send(&app, &c.patient_token, conv, &json!({"body": "hello?"})),
        app.patch(&p(format!("/conversations/{conv}")))
            .bearer(&c.admin)
            .json(&json!({"name": "x"})),
        app.delete(&p(format!("/conversations/{conv}")))
            .bearer(&c.admin)
            .send(),
        app.post(&p(format!("/conversations/{conv}/read")))
            .bearer(&c.patient_token)
            .send(),
        app.post(&p(format!("/messages/{m}/read")))
            .bearer(&c.patient_token)
            .send(),
        app.patch(&p(format!("/messages/{m}")))
            .bearer(&c.provider_token)
            .json(&json!({"body": "x"})),
        app.delete(&p(format!("/messages/{m}")))
            .bearer(&c.provider_token)
            .send(),
        app.post(&p(format!("/conversations/{conv}/participants")))
            .bearer(&c.admin)
            .json(&json!({"user": extra})),
        app.delete(&p(format!(
            "/conversations/{conv}/participants/{}",
            c.patient
        )))
        .bearer(&c.admin)
        .send(),
    ];
    for r in &gone {
        assert_error(r, 404, "not_found");
    }
    let mine = app
        .get(&v1("/conversations"))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(ids(&mine.body), vec![keep]);
    let all = app.get(&v1("/conversations")).bearer(&c.admin).send();
    assert_eq!(ids(&all.body), vec![keep]);
    let summary = unread_summary(&app, c.t, c.patient);
    assert_eq!(summary["total"], 1);
    assert_eq!(summary["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(summary["conversations"][0]["conversation_id"], keep);
}

#[test]
fn a_late_joiner_starts_with_nothing_unread_and_sees_later_messages_as_unread() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.provider, "one");
    app.send_as(c.t, conv, c.patient, "two");
    let late = staff(&app, &c, "Late Larry");

    let r = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": late}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_ints(
        &r.body,
        &[
            "conversation_id",
            "user_id",
            "unread_count",
            "last_read_seq",
        ],
    );
    assert_eq!(r.body["conversation_id"], conv);
    assert_eq!(r.body["user_id"], late);
    assert_eq!(r.body["unread_count"], 0);
    assert_eq!(r.body["last_read_seq"], 2);
    assert!(r.body["last_read_at"].is_null());
    assert_eq!(unread_summary(&app, c.t, late)["total"], 0);

    app.send_as(c.t, conv, c.provider, "three");
    assert_eq!(app.unread(c.t, conv, late), 1);
    let summary = unread_summary(&app, c.t, late);
    assert_eq!(summary["total"], 1);
    let list = app
        .get(&v1(&format!("/conversations/{conv}/messages?as={late}")))
        .bearer(&c.admin)
        .send();
    let read: Vec<bool> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["read_by"].as_array().unwrap().contains(&json!(late)))
        .collect();
    assert_eq!(read, vec![true, true, false]);

    // Joining twice conflicts; unknown users and conversations are refused.
    let again = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": late}));
    assert_error(&again, 409, "conflict");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({"user": 999_999}));
    assert_invalid(&r, "user");
    let r = app
        .post(&v1(&format!("/conversations/{conv}/participants")))
        .bearer(&c.admin)
        .json(&json!({}));
    assert_invalid_names(&r, "user");
    let r = app
        .post(&v1("/conversations/999999/participants"))
        .bearer(&c.admin)
        .json(&json!({"user": late}));
    assert_error(&r, 404, "not_found");
    assert_eq!(
        conversation(&app, c.t, conv)["participants"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn removing_a_participant_says_whether_they_were_there() {
    let app = spawn_app();
    let c = clinic(&app, "Clinic");
    let conv = visit(&app, &c);
    app.send_as(c.t, conv, c.provider, "hello");
    let path = v1(&format!("/conversations/{conv}/participants/{}", c.patient));

    let r = app.delete(&path).bearer(&c.admin).send();
    assert_eq!((r.status, r.body.clone()), (200, json!({"removed": true})));
    let r = app.delete(&path).bearer(&c.admin).send();
    assert_eq!((r.status, r.body.clone()), (200, json!({"removed": false})));

    let members = conversation(&app, c.t, conv)["participants"].clone();
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_error(
        &app.get(&v1(&format!("/conversations/{conv}")))
            .bearer(&c.patient_token)
            .send(),
        404,
        "not_found",
    );
    let mine = app
        .get(&v1("/conversations"))
        .bearer(&c.patient_token)
        .send();
    assert_eq!(mine.body["data"], json!([]));
    assert_eq!(unread_summary(&app, c.t, c.patient)["total"], 0);
    let r = send(
        &app,
        &c.patient_token,
        conv,
        &json!({"body": "still here?"}),
    );
    assert_error(&r, 403, "forbidden");

    let r = app
        .delete(&v1(&format!("/conversations/{conv}/participants/999999")))
        .bearer(&c.admin)
        .send();
    assert_error(&r, 404, "not_found");
    let r = app
        .delete(&v1(&format!(
            "/conversations/999999/participants/{}",
            c.provider
        )))
        .bearer(&c.admin)
        .send();
    assert_error(&r, 404, "not_found");
}

//! `/__parlor/ids`: a seed makes every new uuid, oid and token repeat from one run to the next,
//! through the native API and every face.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_demo, Resp, TestApp};

const FROZEN: &str = "2031-03-04T05:06:07.000Z";

fn seed(app: &TestApp, seed: Value) -> Resp {
    app.request("PUT", "/__parlor/ids")
        .admin()
        .json(&json!({ "seed": seed }))
}

/// A fresh demo server on a frozen clock (uuids and oids carry the time), seeded with `with`
/// unless None.
fn server(with: Option<Value>) -> TestApp {
    let app = spawn_demo();
    let r = app
        .request("PUT", "/__parlor/clock")
        .admin()
        .json(&json!({ "frozen_at": FROZEN }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    if let Some(with) = with {
        let r = seed(&app, with.clone());
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body, json!({ "seeded": true, "seed": with }));
    }
    app
}

fn created(r: Resp, what: &str) -> Value {
    assert!(r.status == 201 || r.status == 200, "{what}: {:?}", r.body);
    r.body
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not text: {v}"))
        .to_string()
}

/// The same requests, in the same order, on any server; every id and secret they were given.
fn script(app: &TestApp) -> Vec<(&'static str, String)> {
    let mut seen = Vec::new();
    // The native API: a user, their token, an API key, a conversation and a message.
    let user = created(
        app.post("/parlor/v1/users")
            .admin()
            .tenant(1)
            .json(&json!({ "username": "seeded", "display_name": "Seeded Person" })),
        "user",
    );
    seen.push(("user uuid", text(&user["uuid"])));
    seen.push(("user oid", text(&user["oid"])));
    let user_id = user["id"].as_i64().unwrap();
    let token = created(
        app.post(&format!("/parlor/v1/users/{user_id}/tokens"))
            .admin()
            .tenant(1)
            .json(&json!({})),
        "token",
    );
    seen.push(("token", text(&token["token"])));
    let key = created(
        app.post("/parlor/v1/api-keys")
            .admin()
            .tenant(1)
            .json(&json!({ "label": "seeded" })),
        "api key",
    );
    seen.push(("api key", key.to_string()));
    let hook = created(
        app.post("/parlor/v1/webhooks")
            .admin()
            .tenant(1)
            .json(&json!({ "url": "http://127.0.0.1:9/hook", "capture": true,
                           "events": ["message.created"] })),
        "webhook",
    );
    seen.push(("webhook secret", text(&hook["secret"])));
    let conversation = app.create_conversation(1, &[4, user_id]);
    seen.push(("conversation uuid", text(&conversation["uuid"])));
    seen.push(("conversation oid", text(&conversation["oid"])));
    let conversation_id = conversation["id"].as_i64().unwrap();
    let message = app.send_as(1, conversation_id, user_id, "hello");
    seen.push(("message uuid", text(&message["uuid"])));
    seen.push(("message oid", text(&message["oid"])));

    // Respondent: a conversation and a message, named by oids.
    let partner = |r: crate::helpers::Req| {
        r.header("x-api-key", "demo-respondent-key")
            .header("x-api-secret", "demo-respondent-secret")
    };
    let started = created(
        partner(app.post("/v1/messaging/conversations")).json(&json!({
            "projectId": "6650a1b2c3d4e5f60000beef",
            "participantUserIds": ["65a1f0c2b3d4e5f607182903"],
        })),
        "respondent conversation",
    );
    let uid = text(&started["uid"]);
    let sent = created(
        partner(app.post(&format!("/v1/messaging/conversations/{uid}/messages")))
            .json(&json!({ "body": "Hello" })),
        "respondent message",
    );
    seen.push(("respondent conversation", uid));
    seen.push(("respondent message", text(&sent["uid"])));

    // Tati: a sign-in token, a conversation and a message, named by uuids.
    let signed_in = created(
        app.post("/v0.1/token/")
            .json(&json!({ "username": "demo-patient", "password": "demo-password" })),
        "tati token",
    );
    let tati = |method: &str, path: &str, body: Value| {
        app.request(method, &format!("/v0.1{path}"))
            .header("Authorization", "Token tati-token-demo")
            .json(&body)
    };
    let conv = created(
        tati(
            "POST",
            "/patients/conversations/",
            json!({ "status": "current" }),
        ),
        "tati conversation",
    );
    let conv_id = text(&conv["unique_id"]);
    let said = created(
        tati(
            "POST",
            &format!("/patients/conversations/{conv_id}/messages/"),
            json!({ "message_type": "user", "content": "Hi" }),
        ),
        "tati message",
    );
    seen.push(("tati token", text(&signed_in["token"])));
    seen.push(("tati conversation", conv_id));
    seen.push(("tati message", text(&said["unique_id"])));

    // The webhook delivery the message made: its id comes from the dispatcher's own sequence.
    let hook_id = hook["id"].as_i64().unwrap();
    seen.push(("webhook delivery", delivery_id(app, hook_id)));
    seen
}

/// The `webhook-id` of an endpoint's first delivery, once the dispatcher has queued it.
fn delivery_id(app: &TestApp, endpoint: i64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app
            .get(&format!("/parlor/v1/webhooks/{endpoint}/deliveries"))
            .admin()
            .tenant(1)
            .send();
        if let Some(first) = r.body["data"].as_array().and_then(|d| d.first()) {
            return text(&first["webhook_id"]);
        }
        assert!(Instant::now() < deadline, "no delivery: {:?}", r.body);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn differing(a: &[(&'static str, String)], b: &[(&'static str, String)]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if x != y {
            names.push(*name);
        }
    }
    names
}

#[test]
fn the_same_seed_gives_the_same_ids_and_tokens_on_every_surface() {
    let first = script(&server(Some(json!(42))));
    let second = script(&server(Some(json!(42))));
    assert_eq!(first, second);
    // Well-formed all the same: v7 uuids stamped with the frozen clock, oids with its seconds.
    let uuid = uuid::Uuid::parse_str(&first[0].1).unwrap();
    assert_eq!(uuid.get_version_num(), 7);
    let (secs, _) = uuid.get_timestamp().unwrap().to_unix();
    assert_eq!(secs, 1_930_367_167);
    assert!(first[1].1.starts_with(&format!("{:08x}", 1_930_367_167u32)));
    assert!(first[2].1.starts_with("plr_") && first[2].1.len() == 68);

    // Another seed: nothing repeats.
    let other = script(&server(Some(json!("another suite"))));
    assert_eq!(differing(&first, &other).len(), first.len(), "{other:?}");
}

#[test]
fn unseeded_servers_hand_out_different_ids() {
    let a = script(&server(None));
    let b = script(&server(None));
    assert_eq!(differing(&a, &b).len(), a.len(), "{a:?}");
}

#[test]
fn the_seed_is_shown_set_and_removed() {
    let app = spawn_demo();
    let r = app.get("/__parlor/ids").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({ "seeded": false, "seed": null }));
    let r = seed(&app, json!("suite-7"));
    assert_eq!(r.body, json!({ "seeded": true, "seed": "suite-7" }));
    assert_eq!(app.get("/__parlor/ids").admin().send().body, r.body);
    let r = seed(&app, json!(u64::MAX));
    assert_eq!(r.body["seed"], json!(u64::MAX));

    let r = app.delete("/__parlor/ids").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({ "seeded": false, "seed": null }));

    for bad in [
        json!(-1),
        json!(1.5),
        json!(""),
        json!("x".repeat(257)),
        json!(null),
        json!([1]),
    ] {
        let r = seed(&app, bad.clone());
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], "seed", "{bad}: {:?}", r.body);
    }
    let r = app.request("PUT", "/__parlor/ids").admin().json(&json!({}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(app.get("/__parlor/ids").send().status, 401);
    let r = app
        .request("PUT", "/__parlor/ids")
        .bearer("demo-clinic-admin-token")
        .json(&json!({ "seed": 1 }));
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_eq!(
        app.get("/__parlor/ids").admin().send().body["seeded"],
        false
    );
}

#[test]
fn seeding_again_with_the_seed_in_force_does_not_repeat_ids() {
    let app = server(Some(json!(5)));
    let first = app.create_conversation(1, &[4, 52]);
    seed(&app, json!(5));
    let second = app.create_conversation(1, &[4, 52]);
    assert_ne!(first["uuid"], second["uuid"]);
    assert_ne!(first["oid"], second["oid"]);
}

/// A conversation made in sandbox `name` (tenant 1, the demo's provider and patient).
fn sandbox_conversation(app: &TestApp, name: &str) -> Value {
    created(
        app.post("/parlor/v1/conversations")
            .admin()
            .tenant(1)
            .header("X-Parlor-Sandbox", name)
            .json(&json!({ "participants": [4, 52] })),
        "conversation",
    )
}

#[test]
fn a_sandboxs_ids_do_not_depend_on_other_sandboxes() {
    // Run one: only sandbox `a`. Run two: `b` first, then `a`.
    let one = server(Some(json!(9)));
    let alone = sandbox_conversation(&one, "a");
    let two = server(Some(json!(9)));
    let other = sandbox_conversation(&two, "b");
    let after_other = sandbox_conversation(&two, "a");
    assert_eq!(alone["uuid"], after_other["uuid"]);
    assert_eq!(alone["oid"], after_other["oid"]);
    assert_ne!(other["uuid"], after_other["uuid"]);
    // The server's own sequence is a third one.
    let main = two.create_conversation(1, &[4, 52]);
    assert_ne!(main["uuid"], alone["uuid"]);
}

#[test]
fn a_reset_starts_the_servers_sequence_again() {
    let app = server(Some(json!(11)));
    let before = app.create_conversation(1, &[4, 52]);
    let r = app.post("/__parlor/reset").admin().send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    let after = app.create_conversation(1, &[4, 52]);
    assert_eq!(before["id"], after["id"], "the reset removed the first");
    assert_eq!(before["uuid"], after["uuid"]);
}

//! The Trillet face against the demo workspace: the seed's example, every endpoint, its errors,
//! and a customer's reply played through the native API.

use serde_json::{json, Value};

use crate::helpers::*;

const SECRET: &str = "demo-trillet-secret";
const WORKSPACE: &str = "674e29976b6acbac106d2650";
const CONVERSATION: &str = "675c8e368824aa5f130b94d6";
const MESSAGE: &str = "675c8e368824aa5f130b94d3";
const FLOW: &str = "674e75bbe1456b11a194f091";
const TRILLET: i64 = 2;

fn call(app: &TestApp, method: &str, path: &str) -> Req {
    app.request(method, &format!("/v1/api{path}"))
        .header("x-api-key", SECRET)
        .header("x-workspace-id", WORKSPACE)
}

fn list(app: &TestApp) -> Value {
    let r = call(app, "GET", "/conversations").send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn generate(app: &TestApp, body: Value) -> Resp {
    call(app, "POST", "/conversations/message/generate").json(&body)
}

fn act(app: &TestApp, conversation: &str, message: &str, metadata: Value) -> Resp {
    call(
        app,
        "POST",
        &format!("/conversations/{conversation}/message/{message}/action"),
    )
    .json(&json!({ "metadata": metadata }))
}

/// The conversation `id` as the face shows it.
fn one(app: &TestApp, id: &str) -> Value {
    let r = call(app, "GET", &format!("/conversations/{id}")).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

#[test]
fn the_conversation_list_is_the_seed_example_exactly() {
    let app = spawn_demo();
    let golden = include_str!("../faces/trillet/conversations.json");
    assert_eq!(list(&app), serde_json::from_str::<Value>(golden).unwrap());
    let raw = ureq::get(&app.url("/v1/api/conversations"))
        .set("x-api-key", SECRET)
        .set("x-workspace-id", WORKSPACE)
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(raw, minify(golden));
}

#[test]
fn one_conversation_and_a_flows_conversations() {
    let app = spawn_demo();
    let golden: Value =
        serde_json::from_str(include_str!("../faces/trillet/conversations.json")).unwrap();
    assert_eq!(one(&app, CONVERSATION), golden[0]);
    let r = call(&app, "GET", &format!("/conversations/flow/{FLOW}")).send();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, golden);
    for path in [
        "/conversations/000000000000000000000000".to_string(),
        "/conversations/flow/000000000000000000000000".to_string(),
    ] {
        let r = call(&app, "GET", &path).send();
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body["status"], "error");
        assert!(r.body["message"].is_string());
    }
}

#[test]
fn generate_opens_a_conversation_and_review_decides_what_is_sent() {
    let app = spawn_demo();
    let r = generate(
        &app,
        json!({ "flowId": FLOW, "to": "+15550001111", "autopilot": false,
                "metadata": { "source": "test" }, "dynamic": { "name": "Ana" } }),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "success");
    assert_eq!(
        r.body["message"],
        "Hi! Thanks for your recent visit. How was your experience?"
    );
    let conv = r.body["conversation_id"].as_str().unwrap().to_string();
    let pending = r.body["message_id"].as_str().unwrap().to_string();
    assert_eq!(conv.len(), 24);

    // The new conversation leads the list (newest update first) with a new customer.
    let all = list(&app);
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["_id"], conv.as_str());
    assert_eq!(all[0]["pathwayId"], FLOW);
    assert_eq!(all[0]["agentId"], "674e7579e1456b11a194f08b");
    assert_eq!(all[0]["userId"], "674e29976b6acbac106d2651");
    assert_eq!(all[0]["customer"]["phone"], "+15550001111");
    assert_eq!(all[0]["customer"]["email"], Value::Null);
    let m = &all[0]["messages"][0];
    assert_eq!(
        (&m["direction"], &m["sent"], &m["status"]),
        (&json!("outbound"), &json!(false), &json!("pending"))
    );

    // Again for the same customer: the same conversation, one more message.
    let again = generate(
        &app,
        json!({ "flowId": FLOW, "to": "+15550001111", "autopilot": true }),
    );
    assert_eq!(again.body["conversation_id"], conv.as_str());
    let second = again.body["message_id"].as_str().unwrap().to_string();
    let shown = one(&app, &conv);
    let messages = shown["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (&messages[1]["status"], &messages[1]["sent"]),
        (&json!("approved"), &json!(true))
    );

    // Edit keeps it pending with the new text; Approve sends it.
    let r = act(
        &app,
        &conv,
        &pending,
        json!({ "action": "Edit", "editedMessage": "Hi Ana! How was your visit?" }),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let acted = &r.body["message"];
    assert_eq!(r.body["status"], "success");
    assert_eq!(acted["_id"], pending.as_str());
    assert_eq!(acted["message"], "Hi Ana! How was your visit?");
    assert_eq!(acted["to"], "+15550001111");
    assert_eq!(
        (&acted["status"], &acted["sent"]),
        (&json!("pending"), &json!(false))
    );
    let stamp = acted["timestamp"].as_str().unwrap();
    assert!(stamp.ends_with('Z') && stamp.len() == 20, "{stamp}");
    let r = act(&app, &conv, &pending, json!({ "action": "Approve" }));
    assert_eq!(
        (&r.body["message"]["status"], &r.body["message"]["sent"]),
        (&json!("approved"), &json!(true))
    );
    // Only pending outbound messages can be acted on.
    let r = act(&app, &conv, &pending, json!({ "action": "Reject" }));
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["status"], "error");
    let r = act(&app, &conv, &second, json!({ "action": "Approve" }));
    assert_eq!(r.status, 422);

    // A third, rejected: it stays unsent.
    let third = generate(&app, json!({ "flowId": FLOW, "to": "+15550001111" }));
    let id = third.body["message_id"].as_str().unwrap();
    let r = act(&app, &conv, id, json!({ "action": "Reject" }));
    assert_eq!(
        (&r.body["message"]["status"], &r.body["message"]["sent"]),
        (&json!("rejected"), &json!(false))
    );
}

#[test]
fn generate_checks_its_body_and_the_channel() {
    let app = spawn_demo();
    let bad = [
        json!({ "to": "+15550001111" }),
        json!({ "flowId": FLOW }),
        json!({ "flowId": FLOW, "to": 5550001111u64 }),
        json!({ "flowId": FLOW, "to": "+15550001111", "autopilot": "yes" }),
        json!({ "flowId": FLOW, "to": "+15550001111", "metadata": [1] }),
        json!({ "flowId": FLOW, "to": "+15550001111", "dynamic": "x" }),
        // An SMS flow reaches phones, not email addresses.
        json!({ "flowId": FLOW, "to": "someone@example.com" }),
        json!({ "flowId": FLOW, "to": "call me" }),
    ];
    for body in bad {
        let r = generate(&app, body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body["status"], "error", "{body}");
        assert!(!r.body["message"].as_str().unwrap().is_empty(), "{body}");
    }
    let r = call(&app, "POST", "/conversations/message/generate").raw("application/json", "{");
    assert_eq!(r.status, 400);
    let r = generate(
        &app,
        json!({ "flowId": "000000000000000000000000", "to": "+15550001111" }),
    );
    assert_eq!(r.status, 404);
    // Nothing was written.
    assert_eq!(list(&app).as_array().unwrap().len(), 1);

    for metadata in [
        json!({}),
        json!({ "action": "Ship" }),
        json!({ "action": "Edit" }),
    ] {
        let r = act(&app, CONVERSATION, MESSAGE, metadata.clone());
        assert_eq!(r.status, 400, "{metadata}: {:?}", r.body);
    }
}

#[test]
fn a_customers_reply_through_the_native_api_is_inbound_and_received() {
    let app = spawn_demo();
    let customers = app
        .get("/parlor/v1/users?role=customer")
        .admin()
        .tenant(TRILLET)
        .send();
    let customer = customers.body["data"][0]["id"].as_i64().unwrap();
    let r = app
        .post(&format!("/parlor/v1/conversations/{CONVERSATION}/messages"))
        .admin()
        .tenant(TRILLET)
        .json(&json!({ "as": customer, "body": "It was great, thanks!" }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let shown = one(&app, CONVERSATION);
    let reply = &shown["messages"][1];
    assert_eq!(reply["direction"], "inbound");
    assert_eq!(reply["status"], "received");
    assert_eq!(reply["sent"], true);
    assert_eq!(reply["message"], "It was great, thanks!");
    assert_eq!(reply["_id"], r.body["oid"]);
    // Inbound messages cannot be reviewed.
    let r = act(
        &app,
        CONVERSATION,
        reply["_id"].as_str().unwrap(),
        json!({ "action": "Approve" }),
    );
    assert_eq!(r.status, 422);
}

#[test]
fn deleting_messages_and_conversations() {
    let app = spawn_demo();
    let r = call(
        &app,
        "DELETE",
        &format!("/conversations/{CONVERSATION}/message/{MESSAGE}"),
    )
    .json(&json!({ "ignored": true }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "status": "success",
                "message": format!("Message with ID {MESSAGE} deleted successfully."),
                "conversationId": CONVERSATION })
    );
    assert_eq!(one(&app, CONVERSATION)["messages"], json!([]));
    let r = call(
        &app,
        "DELETE",
        &format!("/conversations/{CONVERSATION}/message/{MESSAGE}"),
    )
    .send();
    assert_eq!(r.status, 404);
    // The native API no longer lists it either.
    let native = app
        .get(&format!("/parlor/v1/conversations/{CONVERSATION}/messages"))
        .admin()
        .tenant(TRILLET)
        .send();
    assert_eq!(native.body["data"], json!([]));

    let r = call(&app, "DELETE", &format!("/conversations/{CONVERSATION}")).send();
    assert_eq!(
        r.body,
        json!({ "status": "success",
                "message": format!("Conversation with ID {CONVERSATION} deleted successfully."),
                "conversationId": CONVERSATION })
    );
    assert_eq!(list(&app), json!([]));
    let r = call(&app, "GET", &format!("/conversations/{CONVERSATION}")).send();
    assert_eq!(r.status, 404);
    let r = call(&app, "DELETE", &format!("/conversations/{CONVERSATION}")).send();
    assert_eq!(r.status, 404);
}

#[test]
fn credentials_and_workspace_headers() {
    let app = spawn_demo();
    let get = |key: Option<&str>, workspace: Option<&str>| {
        let mut r = app.get("/v1/api/conversations");
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        if let Some(w) = workspace {
            r = r.header("x-workspace-id", w);
        }
        r.send()
    };
    let expect = |r: Resp, status: u16| {
        assert_eq!(r.status, status, "{:?}", r.body);
        assert_eq!(r.body["status"], "error");
        assert!(r.body["message"].is_string());
    };
    expect(get(None, Some(WORKSPACE)), 401);
    expect(get(Some("not-a-secret"), Some(WORKSPACE)), 401);
    // The key's public part is not its secret.
    expect(get(Some("demo-trillet-key"), Some(WORKSPACE)), 401);
    expect(get(Some(SECRET), None), 400);
    expect(get(Some(SECRET), Some("000000000000000000000000")), 403);
    // Another tenant's key names another workspace.
    expect(get(Some("demo-respondent-secret"), Some(WORKSPACE)), 403);
    // A revoked key stops working.
    let keys = app
        .get("/parlor/v1/api-keys")
        .admin()
        .tenant(TRILLET)
        .send();
    let id = keys.body["data"][0]["id"].as_i64().unwrap();
    let r = app
        .delete(&format!("/parlor/v1/api-keys/{id}"))
        .admin()
        .tenant(TRILLET)
        .send();
    assert!(r.status < 300, "{:?}", r.body);
    expect(get(Some(SECRET), Some(WORKSPACE)), 401);
}

#[test]
fn unknown_routes_and_the_base_path() {
    let app = spawn_demo();
    let r = call(&app, "GET", "/agents").send();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        json!({ "status": "error", "message": "Route not found." })
    );
    let moved = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("trillet").unwrap().base_path = Some("/trillet".into());
    });
    let r = moved
        .get("/trillet/conversations")
        .header("x-api-key", SECRET)
        .header("x-workspace-id", WORKSPACE)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
}

//! The Pigeons face (seed 004): golden list, every endpoint's shape, every documented error,
//! send validation, and unread counts that agree with the native API.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

use crate::helpers::{spawn_demo, spawn_with, Req, Resp, TestApp};

const BASE: &str = "/api/v1/pigeons/chat";
const PK: &str = "pk_demo_pigeons";
const JOHN: &str = "1|demoPigeonsJohnDoeToken";
const MARIA: &str = "2|demoPigeonsMariaSilvaToken";
/// The Pigeons tenant's owner: a `*` token, but no participant of the demo conversation.
const OWNER: &str = "demo-pigeons-admin-token";
const CONV: &str = "550e8400-e29b-41d4-a716-446655440000";
const JOHN_UUID: &str = "660e8400-e29b-41d4-a716-446655440001";
const MARIA_UUID: &str = "660e8400-e29b-41d4-a716-446655440002";
const TENANT: i64 = 5;

fn call(app: &TestApp, method: &str, path: &str, token: &str) -> Req {
    app.request(method, &format!("{BASE}{path}"))
        .bearer(token)
        .header("X-PUBLIC-KEY", PK)
        .header("Accept-Language", "en")
}

fn john_list(app: &TestApp) -> Value {
    let r = call(app, "GET", "/conversations", JOHN).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// `user`'s pivot in the demo conversation, from the Pigeons list.
fn pivot(app: &TestApp, token: &str, user_uuid: &str) -> Value {
    let r = call(app, "GET", "/conversations", token).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let conv = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["uuid"] == CONV)
        .expect("demo conversation")
        .clone();
    conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uuid"] == user_uuid)
        .expect("participant")["pivot"]
        .clone()
}

/// `user`'s unread count in the demo conversation, from the native API.
fn native_unread(app: &TestApp, user_uuid: &str) -> i64 {
    let r = app
        .get(&format!("/parlor/v1/conversations/{CONV}?as={user_uuid}"))
        .admin()
        .tenant(TENANT)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["unread_count"].as_i64().unwrap()
}

fn send_body(text: &str) -> Value {
    json!({
        "conversation_uuid": CONV,
        "receiver_uuid": MARIA_UUID,
        "context_text": text,
        "context_type": "text",
        "attachments": [],
        "metadata": {"client": "tests"},
        "device": {"type": "desktop", "os": "Linux", "app_version": "1.2.3"}
    })
}

fn send(app: &TestApp, token: &str, body: &Value) -> Resp {
    call(app, "POST", "/messages", token).json(body)
}

fn assert_message(r: &Resp, expected: &str) {
    assert_eq!(
        r.body,
        json!({ "message": expected }),
        "status {}",
        r.status
    );
}

/// The 422 errors of a send whose body is `body`.
fn send_errors(app: &TestApp, body: &Value) -> Value {
    let r = send(app, JOHN, body);
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["message"], "The given data was invalid.");
    r.body["errors"].clone()
}

// ---- golden ----

/// JSON with object keys in document order, so that key order can be compared too.
#[derive(Clone, Debug, PartialEq)]
enum Ordered {
    Null,
    Bool(bool),
    Number(String),
    Text(String),
    List(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    fn parse(text: &str) -> Ordered {
        serde_json::from_str(text).expect("JSON")
    }

    fn get(&self, key: &str) -> &Ordered {
        match self {
            Ordered::Object(fields) => &fields.iter().find(|(k, _)| k == key).expect(key).1,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn items(&self) -> &[Ordered] {
        match self {
            Ordered::List(items) => items,
            other => panic!("not a list: {other:?}"),
        }
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Ordered::Object(fields) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("not an object: {other:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Ordered, E> {
                Ok(Ordered::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Ordered, E> {
                Ok(Ordered::Number(n.to_string()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Ordered, E> {
                Ok(Ordered::Number(n.to_string()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Ordered, E> {
                Ok(Ordered::Number(n.to_string()))
            }
            fn visit_str<E>(self, s: &str) -> Result<Ordered, E> {
                Ok(Ordered::Text(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
                    fields.push((k, v));
                }
                Ok(Ordered::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

fn raw_get(app: &TestApp, path: &str, token: &str) -> String {
    ureq::get(&app.url(&format!("{BASE}{path}")))
        .set("Authorization", &format!("Bearer {token}"))
        .set("X-PUBLIC-KEY", PK)
        .set("Accept-Language", "en")
        .call()
        .expect("200")
        .into_string()
        .expect("body")
}

#[test]
fn golden_john_lists_the_seed_conversation_field_for_field() {
    let app = spawn_demo();
    let actual = Ordered::parse(&raw_get(&app, "/conversations", JOHN));
    let seed = Ordered::parse(include_str!(
        "../faces/pigeons/conversations_index.seed.json"
    ));
    let seed_conv = &seed.get("data").items()[0];
    let conv = actual
        .get("data")
        .items()
        .iter()
        .find(|c| c.get("uuid") == seed_conv.get("uuid"))
        .expect("the seed's conversation is listed");

    // Every field of the seed's conversation, in the seed's order, with the seed's values;
    // the participants list starts with John's entry exactly as the seed shows it.
    assert_eq!(conv.keys(), seed_conv.keys());
    for key in seed_conv.keys() {
        if key != "participants" {
            assert_eq!(conv.get(key), seed_conv.get(key), "field {key}");
        }
    }
    let seed_john = &seed_conv.get("participants").items()[0];
    let ours = conv.get("participants").items();
    assert_eq!(&ours[0], seed_john, "John's participant entry");

    // The seed shows only John; the demo conversation also has Maria, listed after him with
    // her own pivot (every participant is listed, in joining order). The whole response:
    let demo = Ordered::parse(include_str!(
        "../faces/pigeons/conversations_index.demo.json"
    ));
    assert_eq!(actual, demo);
    assert_eq!(ours.len(), 2);
}

// ---- auth and routing ----

#[test]
fn auth_errors_are_laravels() {
    let app = spawn_demo();
    let path = format!("{BASE}/conversations");

    let r = app.get(&path).header("X-PUBLIC-KEY", PK).send();
    assert_eq!(r.status, 401);
    assert_message(&r, "Unauthenticated.");

    let r = call(&app, "GET", "/conversations", "1|notAToken").send();
    assert_eq!(r.status, 401);
    assert_message(&r, "Unauthenticated.");

    // The server admin is nobody in a chat.
    let r = call(&app, "GET", "/conversations", crate::helpers::ADMIN_TOKEN).send();
    assert_eq!(r.status, 401);
    assert_message(&r, "Unauthenticated.");

    // A token of John's without the backoffice ability.
    let native_only = app.token_for(TENANT, john_id(&app), &["native"]);
    let r = call(&app, "GET", "/conversations", &native_only).send();
    assert_eq!(r.status, 403);
    assert_message(&r, "This action is unauthorized.");

    // `*` covers backoffice.
    let everything = app.token_for(TENANT, john_id(&app), &["*"]);
    assert_eq!(
        call(&app, "GET", "/conversations", &everything)
            .send()
            .status,
        200
    );

    let platform_error = json!({"message": "Invalid platform key.", "errors": {}});
    let r = app.get(&path).bearer(JOHN).send();
    assert_eq!((r.status, &r.body), (401, &platform_error));
    let r = app
        .get(&path)
        .bearer(JOHN)
        .header("X-PUBLIC-KEY", "pk_unknown")
        .send();
    assert_eq!((r.status, &r.body), (401, &platform_error));

    // Another platform's key, with a valid token of this one.
    let other = app
        .post("/parlor/v1/tenants")
        .admin()
        .json(&json!({"name": "Other platform", "public_key": "pk_other"}));
    assert_eq!(other.status, 201, "{:?}", other.body);
    let r = app
        .get(&path)
        .bearer(JOHN)
        .header("X-PUBLIC-KEY", "pk_other")
        .send();
    assert_eq!((r.status, &r.body), (401, &platform_error));
}

fn john_id(app: &TestApp) -> i64 {
    let r = app
        .get(&format!("/parlor/v1/users/{JOHN_UUID}"))
        .admin()
        .tenant(TENANT)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

#[test]
fn unknown_routes_and_methods_answer_like_laravel() {
    let app = spawn_demo();
    let r = app.get(&format!("{BASE}/nothing/here")).send();
    assert_eq!(r.status, 404);
    assert_message(
        &r,
        "The route api/v1/pigeons/chat/nothing/here could not be found.",
    );
    let r = call(&app, "PUT", "/conversations", JOHN).send();
    assert_eq!(r.status, 405);
    assert_message(
        &r,
        "The PUT method is not supported for this route. Supported methods: GET, HEAD, POST.",
    );
    assert_eq!(r.header("Allow"), Some("GET, HEAD, POST"));
}

#[test]
fn the_face_can_be_rebased_and_switched_off() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("pigeons").unwrap().base_path = Some("/pigeons".into());
    });
    let r = app
        .get("/pigeons/conversations")
        .bearer(JOHN)
        .header("X-PUBLIC-KEY", PK)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(call(&app, "GET", "/conversations", JOHN).send().status, 404);

    let app = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("pigeons").unwrap().enabled = false;
    });
    let r = call(&app, "GET", "/conversations", JOHN).send();
    assert_eq!(r.status, 404);
    // Off, its path is just another path under MDLIVE's `/api`, served from the root.
    assert_eq!(r.body, json!({"error": "Route not found"}));
    let app = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("pigeons").unwrap().enabled = false;
        s.faces.get_mut("mdlive").unwrap().enabled = false;
    });
    let r = call(&app, "GET", "/conversations", JOHN).send();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.code(),
        "not_found",
        "the native 404 when no face owns the path"
    );
}

// ---- 1. list ----

#[test]
fn the_list_is_the_callers_by_last_activity_never_messaged_last() {
    let app = spawn_demo();
    // John opens a second, never-messaged conversation with Maria under another tag.
    let r = call(&app, "POST", "/conversations", JOHN).json(&json!({
        "participant_uuid": MARIA_UUID, "taggable_type": "App\\Models\\Property", "taggable_id": 7
    }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let fresh = r.body["data"]["uuid"].as_str().unwrap().to_string();

    let list = john_list(&app);
    let uuids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(uuids, [CONV, fresh.as_str()]);
    let new = &list["data"][1];
    assert_eq!(new["last_message_text"], Value::Null);
    assert_eq!(new["last_message_at"], Value::Null);
    assert_eq!(new["taggable_info"], Value::Null);
    assert_eq!(new["taggable_type"], "App\\Models\\Property");

    // A message in the new conversation moves it to the top.
    let mut body = send_body("Moving up");
    body["conversation_uuid"] = json!(fresh);
    assert_eq!(
        send(&app, MARIA, &body).status,
        422,
        "Maria cannot send to herself"
    );
    body["receiver_uuid"] = json!(JOHN_UUID);
    let r = send(&app, MARIA, &body);
    assert_eq!(r.status, 201, "{:?}", r.body);
    let list = john_list(&app);
    assert_eq!(list["data"][0]["uuid"], fresh.as_str());
    assert_eq!(list["data"][0]["last_message_text"], "Moving up");

    // The owner of the platform takes part in nothing.
    let r = call(&app, "GET", "/conversations", OWNER).send();
    assert_eq!((r.status, &r.body), (200, &json!({"data": []})));
}

// ---- 2. create ----

#[test]
fn creating_a_conversation_deduplicates_per_pair_and_tag() {
    let app = spawn_demo();
    let tagged = json!({
        "participant_uuid": MARIA_UUID, "taggable_type": "App\\Models\\Property", "taggable_id": 7
    });
    let r = call(&app, "POST", "/conversations", JOHN).json(&tagged);
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["message"], "Conversation created successfully");
    let data = &r.body["data"];
    let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
    let mut expected = [
        "uuid",
        "taggable_type",
        "taggable_id",
        "last_message_text",
        "last_message_at",
        "is_archived",
        "created_at",
        "updated_at",
        "participants",
    ];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(data["taggable_id"], 7);
    assert_eq!(data["is_archived"], false);
    let participants = data["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 2);
    for p in participants {
        assert_eq!(p["pivot"]["unread_count"], 0);
        assert_eq!(p["pivot"]["last_read_at"], Value::Null);
        assert_eq!(p["pivot"]["joined_at"], data["created_at"]);
    }
    let uuid = data["uuid"].clone();

    // The same pair and tag, from either side: the same conversation, 200.
    let r = call(&app, "POST", "/conversations", JOHN).json(&tagged);
    assert_eq!((r.status, &r.body["data"]["uuid"]), (200, &uuid));
    let mut from_maria = tagged.clone();
    from_maria["participant_uuid"] = json!(JOHN_UUID);
    let r = call(&app, "POST", "/conversations", MARIA).json(&from_maria);
    assert_eq!((r.status, &r.body["data"]["uuid"]), (200, &uuid));

    // The demo conversation's own tag finds the demo conversation.
    let r = call(&app, "POST", "/conversations", JOHN).json(&json!({
        "participant_uuid": MARIA_UUID, "taggable_type": "App\\Models\\Article", "taggable_id": 123
    }));
    assert_eq!((r.status, &r.body["data"]["uuid"]), (200, &json!(CONV)));

    // No tag is a tag of its own.
    let r =
        call(&app, "POST", "/conversations", JOHN).json(&json!({"participant_uuid": MARIA_UUID}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["data"]["taggable_type"], Value::Null);
    assert_ne!(r.body["data"]["uuid"], uuid);
    assert_eq!(john_list(&app)["data"].as_array().unwrap().len(), 3);
}

#[test]
fn creating_a_conversation_validates_its_fields() {
    let app = spawn_demo();
    let errors = |body: Value| {
        let r = call(&app, "POST", "/conversations", JOHN).json(&body);
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert_eq!(r.body["message"], "The given data was invalid.");
        r.body["errors"].clone()
    };
    assert_eq!(
        errors(json!({})),
        json!({"participant_uuid": ["The participant uuid field is required."]})
    );
    assert_eq!(
        errors(json!({"participant_uuid": "660e8400-0000-0000-0000-000000000000"})),
        json!({"participant_uuid": ["The selected participant uuid is invalid."]})
    );
    assert_eq!(
        errors(json!({"participant_uuid": JOHN_UUID})),
        json!({"participant_uuid": ["The participant uuid must be another user."]})
    );
    assert_eq!(
        errors(json!({"participant_uuid": MARIA_UUID, "taggable_id": 5})),
        json!({"taggable_type": ["The taggable type field is required when taggable id is present."]})
    );
    assert_eq!(
        errors(json!({"participant_uuid": 12, "taggable_type": ["x"]})),
        json!({
            "participant_uuid": ["The participant uuid must be a string."],
            "taggable_type": ["The taggable type must be a string."]
        })
    );
    // Another tenant's user does not exist here (Tati's demo patient).
    let tati_user = app
        .get("/parlor/v1/users?role=patient")
        .admin()
        .tenant(4)
        .send();
    let tati_uuid = tati_user.body["data"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        errors(json!({"participant_uuid": tati_uuid})),
        json!({"participant_uuid": ["The selected participant uuid is invalid."]})
    );
}

// ---- 3. conversation messages ----

#[test]
fn conversation_messages_come_oldest_first_with_receipts() {
    let app = spawn_demo();
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        JOHN,
    )
    .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let data = r.body["data"].as_array().unwrap();
    let texts: Vec<&str> = data
        .iter()
        .map(|m| m["context"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Hi! I have a question about this article.",
            "Hi John, sorry for the delay. I just saw your question.",
            "I checked with the editorial team: the article will be updated this week.",
            "Hello, how are you?"
        ]
    );
    let first = &data[0];
    let id = first["message_id"].as_str().unwrap();
    assert_eq!(first["id"], id);
    assert_eq!(id.len(), 24, "messages are named by oid");
    assert_eq!(
        *first,
        json!({
            "message_id": id,
            "id": id,
            "conversation_uuid": CONV,
            "sender": {"uuid": JOHN_UUID, "name": "John Doe", "avatar": "https://example.com/avatars/john.jpg"},
            "receiver": {"uuid": MARIA_UUID, "name": "Maria Silva", "avatar": "https://example.com/avatars/maria.jpg"},
            "context": {"text": "Hi! I have a question about this article.", "type": "text"},
            "attachments": [],
            "metadata": {},
            "reactions": [],
            "status": {"sent": true, "delivered": true, "read": true},
            "timestamps": {
                "sent_at": "2025-11-01T08:05:00+00:00",
                "delivered_at": "2025-11-02T09:30:00+00:00",
                "read_at": "2025-11-02T09:30:00+00:00"
            },
            "pbk": PK,
            "device": {"type": "mobile", "os": "iOS"}
        })
    );
    // John has not read Maria's three messages.
    for m in &data[1..] {
        assert_eq!(
            m["status"],
            json!({"sent": true, "delivered": false, "read": false})
        );
        assert_eq!(m["timestamps"]["read_at"], Value::Null);
        assert_eq!(m["timestamps"]["delivered_at"], Value::Null);
        assert_eq!(
            m["device"],
            json!({"type": "web", "os": "macOS", "browser": "Chrome"})
        );
    }
    assert_eq!(
        r.body["conversation"],
        json!({
            "uuid": CONV,
            "taggable_type": "App\\Models\\Article",
            "last_message_text": "Hello, how are you?",
            "last_message_at": "2025-11-02T10:30:00+00:00",
            "is_archived": false,
            "created_at": "2025-11-01T08:00:00+00:00",
            "updated_at": "2025-11-02T10:30:00+00:00",
            "taggable_info": {"id": 123, "title": "Article Title"}
        })
    );
}

#[test]
fn conversation_messages_errors() {
    let app = spawn_demo();
    let r = call(
        &app,
        "GET",
        "/conversations/no-such-conversation/messages",
        JOHN,
    )
    .send();
    assert_eq!(r.status, 404);
    assert_message(&r, "Conversation not found");
    // Another tenant's conversation (Tati's `con123`) does not exist here.
    let r = call(&app, "GET", "/conversations/con123/messages", JOHN).send();
    assert_eq!(r.status, 404);
    assert_message(&r, "Conversation not found");
    // Not a participant.
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        OWNER,
    )
    .send();
    assert_eq!(r.status, 403);
    assert_message(&r, "Unauthorized");
}

// ---- 4. send ----

#[test]
fn sending_returns_the_message_document() {
    let app = spawn_demo();
    app.service.clock.freeze(1_762_300_800_000); // 2025-11-05T00:00:00Z
    let r = send(&app, JOHN, &send_body("  Thanks, Maria!  "));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["message"], "Message sent successfully");
    let m = &r.body["data"];
    let id = m["message_id"].as_str().unwrap();
    assert_eq!(
        *m,
        json!({
            "message_id": id,
            "id": id,
            "conversation_uuid": CONV,
            "sender": {"uuid": JOHN_UUID, "name": "John Doe", "avatar": "https://example.com/avatars/john.jpg"},
            "receiver": {"uuid": MARIA_UUID, "name": "Maria Silva", "avatar": "https://example.com/avatars/maria.jpg"},
            "context": {"text": "Thanks, Maria!", "type": "text"},
            "attachments": [],
            "metadata": {"client": "tests"},
            "reactions": [],
            "status": {"sent": true, "delivered": false, "read": false},
            "timestamps": {"sent_at": "2025-11-05T00:00:00+00:00", "delivered_at": null, "read_at": null},
            "pbk": PK,
            "device": {"type": "desktop", "os": "Linux", "app_version": "1.2.3"}
        })
    );
    // It is there on the next call, last.
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        MARIA,
    )
    .send();
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 5);
    assert_eq!(data[4]["message_id"], id);
    assert_eq!(
        r.body["conversation"]["last_message_text"],
        "Thanks, Maria!"
    );
    assert_eq!(
        r.body["conversation"]["updated_at"],
        "2025-11-05T00:00:00+00:00"
    );
}

#[test]
fn send_validates_every_field() {
    let app = spawn_demo();
    // Everything missing (a body that is not JSON validates like an empty one, as in Laravel).
    let all_required = json!({
        "conversation_uuid": ["The conversation uuid field is required."],
        "receiver_uuid": ["The receiver uuid field is required."],
        "context_text": ["The context text field is required."],
        "context_type": ["The context type field is required."],
        "device": ["The device field is required."],
        "device.type": ["The device.type field is required."],
        "device.os": ["The device.os field is required."]
    });
    assert_eq!(send_errors(&app, &json!({})), all_required);
    let r = call(&app, "POST", "/messages", JOHN).raw("application/json", "{not json");
    assert_eq!((r.status, &r.body["errors"]), (422, &all_required));

    let with = |field: &str, value: Value| {
        let mut body = send_body("hello");
        match field.split_once('.') {
            Some((outer, inner)) => body[outer][inner] = value,
            None => body[field] = value,
        }
        body
    };
    // Blank text is missing text (Laravel trims, then empties become null).
    assert_eq!(
        send_errors(&app, &with("context_text", json!("   "))),
        json!({"context_text": ["The context text field is required."]})
    );
    assert_eq!(
        send_errors(&app, &with("context_text", json!(42))),
        json!({"context_text": ["The context text must be a string."]})
    );
    // 5000 characters pass, 5001 do not (characters, not bytes).
    let r = send(&app, JOHN, &send_body(&"é".repeat(5000)));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        send_errors(&app, &send_body(&"é".repeat(5001))),
        json!({"context_text": ["The context text may not be greater than 5000 characters."]})
    );
    for kind in ["text", "image", "file", "audio", "video"] {
        let r = send(&app, JOHN, &with("context_type", json!(kind)));
        assert_eq!(r.status, 201, "{kind}: {:?}", r.body);
        assert_eq!(r.body["data"]["context"]["type"], kind);
    }
    assert_eq!(
        send_errors(&app, &with("context_type", json!("sticker"))),
        json!({"context_type": ["The selected context type is invalid."]})
    );
    assert_eq!(
        send_errors(&app, &with("attachments", json!("a.png"))),
        json!({"attachments": ["The attachments must be an array."]})
    );
    assert_eq!(
        send_errors(&app, &with("metadata", json!(3))),
        json!({"metadata": ["The metadata must be an array."]})
    );
    assert_eq!(
        send_errors(&app, &with("device", json!("iPhone"))),
        json!({
            "device": ["The device must be an array."],
            "device.type": ["The device.type field is required."],
            "device.os": ["The device.os field is required."]
        })
    );
    assert_eq!(
        send_errors(&app, &with("device.type", json!("watch"))),
        json!({"device.type": ["The selected device.type is invalid."]})
    );
    for kind in ["mobile", "web", "desktop"] {
        assert_eq!(
            send(&app, JOHN, &with("device.type", json!(kind))).status,
            201
        );
    }
    assert_eq!(
        send_errors(&app, &with("device.os", Value::Null)),
        json!({"device.os": ["The device.os field is required."]})
    );
    assert_eq!(
        send_errors(&app, &with("device.browser_version", json!(120))),
        json!({"device.browser_version": ["The device.browser version must be a string."]})
    );
    assert_eq!(
        send_errors(&app, &with("device.model", json!("x".repeat(256)))),
        json!({"device.model": ["The device.model may not be greater than 255 characters."]})
    );
    // Optional device fields are kept; unknown ones are not.
    let mut body = send_body("full device");
    body["device"] = json!({
        "type": "mobile", "os": "Android", "os_version": "14", "app_version": "2.0",
        "model": "Pixel 8", "browser": null, "browser_version": "", "extra": "dropped"
    });
    let r = send(&app, JOHN, &body);
    assert_eq!(
        r.body["data"]["device"],
        json!({"type": "mobile", "os": "Android", "os_version": "14", "app_version": "2.0", "model": "Pixel 8"})
    );
    // Nothing invalid was stored.
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        JOHN,
    )
    .send();
    assert_eq!(r.body["data"].as_array().unwrap().len(), 4 + 1 + 5 + 3 + 1);
}

#[test]
fn send_checks_the_sender_and_receiver() {
    let app = spawn_demo();
    // A sender who is not a participant.
    let mut body = send_body("hi");
    body["receiver_uuid"] = json!(JOHN_UUID);
    let r = send(&app, OWNER, &body);
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert_message(&r, "Unauthorized");
    // A receiver who is not a participant (the platform owner), or is the sender.
    let owner_uuid = call(&app, "POST", "/conversations", OWNER)
        .json(&json!({"participant_uuid": JOHN_UUID}))
        .body["data"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uuid"].as_str().unwrap().to_string())
        .find(|u| u != JOHN_UUID)
        .unwrap();
    let invalid_receiver = json!({"receiver_uuid": ["The selected receiver uuid is invalid."]});
    for receiver in [owner_uuid.as_str(), JOHN_UUID, "no-such-user"] {
        let mut body = send_body("hi");
        body["receiver_uuid"] = json!(receiver);
        assert_eq!(send_errors(&app, &body), invalid_receiver, "{receiver}");
    }
    // An unknown conversation, or another tenant's.
    for conversation in ["no-such-conversation", "con123"] {
        let mut body = send_body("hi");
        body["conversation_uuid"] = json!(conversation);
        let r = send(&app, JOHN, &body);
        assert_eq!(r.status, 404);
        assert_message(&r, "Conversation not found");
    }
    assert_eq!(native_unread(&app, MARIA_UUID), 0, "nothing was sent");
}

// ---- 5. read, and unread counts across send → read ----

#[test]
fn unread_counts_and_last_read_at_follow_send_and_read() {
    let app = spawn_demo();
    assert_eq!(pivot(&app, JOHN, JOHN_UUID)["unread_count"], 3);
    assert_eq!(native_unread(&app, JOHN_UUID), 3);

    // Maria sends: John has one more unread; Maria's horizon moves to her message.
    app.service.clock.freeze(1_762_300_800_000); // 2025-11-05T00:00:00Z
    let mut body = send_body("One more thing");
    body["receiver_uuid"] = json!(JOHN_UUID);
    let r = send(&app, MARIA, &body);
    assert_eq!(r.status, 201, "{:?}", r.body);
    let new_id = r.body["data"]["message_id"].as_str().unwrap().to_string();
    let john = pivot(&app, JOHN, JOHN_UUID);
    assert_eq!(john["unread_count"], 4);
    assert_eq!(john["last_read_at"], "2025-11-02T09:00:00+00:00");
    let maria = pivot(&app, JOHN, MARIA_UUID);
    assert_eq!(maria["unread_count"], 0);
    assert_eq!(maria["last_read_at"], "2025-11-05T00:00:00+00:00");
    assert_eq!(native_unread(&app, JOHN_UUID), 4);
    assert_eq!(
        pivot(&app, MARIA, JOHN_UUID),
        john,
        "both sides see the same pivot"
    );

    // John reads the new message: one fewer unread, once, however often he marks it.
    app.service.clock.freeze(1_762_304_400_000); // 01:00
    for _ in 0..3 {
        let r = call(&app, "PATCH", &format!("/messages/{new_id}/read"), JOHN).send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_message(&r, "Message marked as read");
        assert_eq!(pivot(&app, JOHN, JOHN_UUID)["unread_count"], 3);
        assert_eq!(native_unread(&app, JOHN_UUID), 3);
    }
    // A single read leaves the horizon (and last_read_at) where it was.
    assert_eq!(
        pivot(&app, JOHN, JOHN_UUID)["last_read_at"],
        "2025-11-02T09:00:00+00:00"
    );
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        MARIA,
    )
    .send();
    let last = &r.body["data"][4];
    assert_eq!(last["message_id"], new_id.as_str());
    assert_eq!(
        last["status"],
        json!({"sent": true, "delivered": true, "read": true})
    );
    assert_eq!(last["timestamps"]["read_at"], "2025-11-05T01:00:00+00:00");

    // John replies: sending reads everything before, so his count drops to zero and his
    // last_read_at moves to the reply; Maria now has one unread.
    app.service.clock.freeze(1_762_308_000_000); // 02:00
    assert_eq!(send(&app, JOHN, &send_body("All good")).status, 201);
    let john = pivot(&app, JOHN, JOHN_UUID);
    assert_eq!(john["unread_count"], 0);
    assert_eq!(john["last_read_at"], "2025-11-05T02:00:00+00:00");
    assert_eq!(native_unread(&app, JOHN_UUID), 0);
    assert_eq!(pivot(&app, MARIA, MARIA_UUID)["unread_count"], 1);
    assert_eq!(native_unread(&app, MARIA_UUID), 1);
    assert_eq!(
        app.service
            .store
            .read_blocking(parlor::store::participants::find_drift)
            .unwrap(),
        vec![],
        "the stored counts agree with a recount"
    );
}

#[test]
fn only_the_receiver_marks_a_message_read() {
    let app = spawn_demo();
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        JOHN,
    )
    .send();
    let from_maria = r.body["data"][3]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The sender, and someone outside the conversation, may not.
    for token in [MARIA, OWNER] {
        let r = call(
            &app,
            "PATCH",
            &format!("/messages/{from_maria}/read"),
            token,
        )
        .send();
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert_message(&r, "Unauthorized");
    }
    assert_eq!(native_unread(&app, JOHN_UUID), 3);
    let r = call(
        &app,
        "PATCH",
        "/messages/aaaaaaaaaaaaaaaaaaaaaaaa/read",
        JOHN,
    )
    .send();
    assert_eq!(r.status, 404);
    assert_message(&r, "Message not found");
    // Another tenant's message (Tati's `msg123`) is not found either.
    let r = call(&app, "PATCH", "/messages/msg123/read", JOHN).send();
    assert_eq!(r.status, 404);
    assert_message(&r, "Message not found");
}

// ---- 6. reactions ----

#[test]
fn reactions_are_kept_once_per_user_and_emoji() {
    let app = spawn_demo();
    app.service.clock.freeze(1_762_300_800_000);
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        JOHN,
    )
    .send();
    let id = r.body["data"][3]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/messages/{id}/reactions");
    for _ in 0..2 {
        let r = call(&app, "POST", &path, JOHN).json(&json!({"emoji": "👍"}));
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_message(&r, "Reaction added successfully");
    }
    assert_eq!(
        call(&app, "POST", &path, MARIA)
            .json(&json!({"emoji": "👍"}))
            .status,
        200
    );
    assert_eq!(
        call(&app, "POST", &path, JOHN)
            .json(&json!({"emoji": "❤️"}))
            .status,
        200
    );
    let r = call(
        &app,
        "GET",
        &format!("/conversations/{CONV}/messages"),
        JOHN,
    )
    .send();
    let at = "2025-11-05T00:00:00+00:00";
    assert_eq!(
        r.body["data"][3]["reactions"],
        json!([
            {"user_uuid": JOHN_UUID, "emoji": "❤️", "created_at": at},
            {"user_uuid": JOHN_UUID, "emoji": "👍", "created_at": at},
            {"user_uuid": MARIA_UUID, "emoji": "👍", "created_at": at}
        ])
    );

    let r = call(&app, "POST", &path, JOHN).json(&json!({}));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["errors"],
        json!({"emoji": ["The emoji field is required."]})
    );
    let r = call(&app, "POST", &path, JOHN).json(&json!({"emoji": "x".repeat(11)}));
    assert_eq!(
        (r.status, &r.body["errors"]),
        (
            422,
            &json!({"emoji": ["The emoji may not be greater than 10 characters."]})
        )
    );
    let r = call(&app, "POST", &path, OWNER).json(&json!({"emoji": "👍"}));
    assert_eq!(r.status, 403);
    assert_message(&r, "Unauthorized");
    let r = call(&app, "POST", "/messages/msg123/reactions", JOHN).json(&json!({"emoji": "👍"}));
    assert_eq!(r.status, 404);
    assert_message(&r, "Message not found");
}

// ---- 7, 8. devices ----

#[test]
fn device_tokens_register_replace_and_remove() {
    let app = spawn_demo();
    let r = call(&app, "POST", "/devices", JOHN)
        .json(&json!({"token": "fcm-token-1", "platform": "android", "device": "Pixel 8"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["message"], "Device token registrado");
    let id = r.body["data"]["id"].as_i64().expect("integer id");
    assert_eq!(
        r.body["data"],
        json!({"id": id, "token": "fcm-token-1", "platform": "android"})
    );
    // The same platform again replaces the token; another platform is another device.
    let r = call(&app, "POST", "/devices", JOHN)
        .json(&json!({"token": "fcm-token-2", "platform": "android"}));
    assert_eq!(
        (r.status, &r.body["data"]),
        (
            201,
            &json!({"id": id, "token": "fcm-token-2", "platform": "android"})
        )
    );
    let r = call(&app, "POST", "/devices", JOHN)
        .json(&json!({"token": "apns:token/3", "platform": "ios", "device": {"model": "iPhone"}}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_ne!(r.body["data"]["id"], id);

    let r = call(&app, "POST", "/devices", JOHN).json(&json!({"platform": "windows"}));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["errors"],
        json!({
            "token": ["The token field is required."],
            "platform": ["The selected platform is invalid."]
        })
    );
    let r = call(&app, "POST", "/devices", JOHN)
        .json(&json!({"token": "t", "platform": "web", "device": 5}));
    assert_eq!(
        (r.status, &r.body["errors"]),
        (422, &json!({"device": ["The device must be a string."]}))
    );

    for _ in 0..2 {
        let r = call(&app, "DELETE", "/devices/fcm-token-2", JOHN).send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_message(&r, "Device token removido");
    }
    assert_eq!(
        call(&app, "DELETE", "/devices/apns:token%2F3", JOHN)
            .send()
            .status,
        200
    );
    // Registering again after removal works as the first time.
    let r = call(&app, "POST", "/devices", JOHN)
        .json(&json!({"token": "fcm-token-4", "platform": "android"}));
    assert_eq!(r.status, 201);
    assert_eq!(r.body["data"]["token"], "fcm-token-4");
}

// ---- 9. stats ----

#[test]
fn device_stats_count_messages_per_device_type() {
    let app = spawn_demo();
    let stats = |token: &str| {
        let r = call(&app, "GET", "/stats/devices", token).send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    };
    assert_eq!(
        stats(JOHN),
        json!({"data": [{"_id": "web", "count": 3}, {"_id": "mobile", "count": 1}]})
    );
    assert_eq!(send(&app, JOHN, &send_body("from the desk")).status, 201);
    let mut body = send_body("and again");
    body["device"]["type"] = json!("mobile");
    assert_eq!(send(&app, JOHN, &body).status, 201);
    assert_eq!(
        stats(MARIA),
        json!({"data": [
            {"_id": "web", "count": 3},
            {"_id": "mobile", "count": 2},
            {"_id": "desktop", "count": 1}
        ]})
    );
    assert_eq!(stats(OWNER), json!({"data": []}));
}

#[test]
fn an_oversized_body_is_a_laravel_413() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.body_limit = 1024;
    });
    let r = send(&app, JOHN, &send_body(&"x".repeat(2000)));
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert_message(&r, "The POST data is too large.");
    assert_eq!(native_unread(&app, MARIA_UUID), 0);
}

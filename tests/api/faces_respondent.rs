//! The Respondent face (`/v1/messaging`) against the demo's Northwind Research tenant: the
//! seed's OpenAPI schema, paging, filters, the API owner's sends, participants, errors, and the
//! other side played through the native API.

use parlor::domain::time::parse_rfc3339;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_demo, Req, Resp, TestApp};

const KEY: &str = "demo-respondent-key";
const SECRET: &str = "demo-respondent-secret";
/// The demo tenant behind the key, for native API calls.
const TENANT: i64 = 3;
const BASE: &str = "/v1/messaging";

const CONV_JAMIE: &str = "6651b0c0a1b2c3d4e5f60001";
const CONV_PRIYA: &str = "6651b0c0a1b2c3d4e5f60002";
/// Locked.
const CONV_TOM: &str = "6651b0c0a1b2c3d4e5f60003";
const OWNER_OID: &str = "6650f0a0b1c2d3e4f5a60001";
const JAMIE_OID: &str = "6650f0a0b1c2d3e4f5a60002";
const PRIYA_OID: &str = "6650f0a0b1c2d3e4f5a60003";
const JAMIE_FOREIGN: &str = "65a1f0c2b3d4e5f607182901";
const PRIYA_FOREIGN: &str = "65a1f0c2b3d4e5f607182902";
const TOM_FOREIGN: &str = "65a1f0c2b3d4e5f607182903";
const PROJECT_A: &str = "6650a1b2c3d4e5f601234567";
const PROJECT_B: &str = "6650a1b2c3d4e5f607654321";
/// The Trillet demo tenant's conversation: another tenant's id.
const TRILLET_CONV: &str = "675c8e368824aa5f130b94d6";

/// After every demo message.
const T0: &str = "2025-10-08T10:00:00.000Z";

fn ms(text: &str) -> i64 {
    parse_rfc3339(text).unwrap()
}

fn freeze(app: &TestApp, at: &str) {
    app.service.clock.freeze(ms(at));
}

fn partner(req: Req) -> Req {
    req.header("x-api-key", KEY).header("x-api-secret", SECRET)
}

fn get(app: &TestApp, path: &str) -> Resp {
    partner(app.get(&format!("{BASE}{path}"))).send()
}

fn post(app: &TestApp, path: &str, body: Value) -> Resp {
    partner(app.post(&format!("{BASE}{path}"))).json(&body)
}

fn delete(app: &TestApp, path: &str) -> Resp {
    partner(app.delete(&format!("{BASE}{path}"))).send()
}

fn ok(r: Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    r.body
}

fn uids(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uid"].as_str().unwrap().to_string())
        .collect()
}

fn bodies(list: &Value) -> Vec<String> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

fn participant<'a>(conversation: &'a Value, uid: &str) -> &'a Value {
    conversation["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["uid"] == uid)
        .unwrap_or_else(|| panic!("no participant {uid} in {conversation}"))
}

/// The participant the native API plays: sends `body` as `user` (an oid).
fn native_send(app: &TestApp, conversation: &str, user: &str, body: &str) {
    let r = app
        .post(&format!("/parlor/v1/conversations/{conversation}/messages"))
        .admin()
        .tenant(TENANT)
        .json(&json!({ "as": user, "body": body }));
    assert_eq!(r.status, 201, "{}", r.body);
}

fn native_unread(app: &TestApp, conversation: &str, user: &str) -> i64 {
    let r = app
        .get(&format!(
            "/parlor/v1/conversations/{conversation}?as={user}"
        ))
        .admin()
        .tenant(TENANT)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["unread_count"].as_i64().unwrap()
}

// ---- the seed's schema ----------------------------------------------------------------------

fn schema_document() -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/faces/respondent");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/openapi.json")).unwrap())
            .unwrap();
    let derived: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/messages_paginated.json")).unwrap(),
    )
    .unwrap();
    let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
    for (name, schema) in derived.as_object().unwrap() {
        if !name.starts_with('$') {
            schemas.insert(name.clone(), schema.clone());
        }
    }
    doc
}

/// What is wrong with `instance` as a component of the seed's OpenAPI document (OpenAPI 3.0
/// schema objects are JSON Schema draft 4 with `$ref`s into `components`).
pub(crate) fn schema_errors(component: &str, instance: &Value) -> Vec<String> {
    let doc = schema_document();
    let root = json!({
        "$ref": format!("#/components/schemas/{component}"),
        "components": doc["components"],
    });
    let validator = jsonschema::draft4::new(&root).expect("the schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub(crate) fn assert_valid(component: &str, instance: &Value) {
    let errors = schema_errors(component, instance);
    assert!(
        errors.is_empty(),
        "not a valid {component}: {errors:#?}\n{instance:#}"
    );
}

#[test]
fn the_schema_rejects_what_the_contract_forbids() {
    // The validator must be able to fail: a result missing `latestMessage` or with a string
    // `messagesCount` is not a ConversationsPaginatedDto.
    let app = spawn_demo();
    let list = ok(get(&app, "/conversations"), 200);
    assert_valid("ConversationsPaginatedDto", &list);
    for (field, bad) in [
        ("latestMessage", None),
        ("messagesCount", Some(json!("3"))),
        ("participants", Some(json!([{"uid": "x"}]))),
    ] {
        let mut broken = list.clone();
        let first = broken["results"][0].as_object_mut().unwrap();
        match bad {
            None => {
                first.remove(field);
            }
            Some(v) => {
                first.insert(field.into(), v);
            }
        }
        assert!(
            !schema_errors("ConversationsPaginatedDto", &broken).is_empty(),
            "{field} should be rejected"
        );
    }
}

#[test]
fn golden_conversation_list_validates_against_the_seed_schema() {
    let app = spawn_demo();
    for query in [
        "",
        "?includeCount=true",
        "?page=1&pageSize=20&includeCount=false",
    ] {
        let list = ok(get(&app, &format!("/conversations{query}")), 200);
        assert_valid("ConversationsPaginatedDto", &list);
        assert_eq!(list["page"], 1);
        assert_eq!(list["pageSize"], 20);
        // `totalResults` only when asked for.
        assert_eq!(
            list.get("totalResults").cloned(),
            query.contains("=true").then(|| json!(3)),
            "{query}"
        );
        // Newest activity first.
        assert_eq!(uids(&list), [CONV_PRIYA, CONV_JAMIE, CONV_TOM]);
    }
}

#[test]
fn golden_conversation_fields() {
    let app = spawn_demo();
    let list = ok(get(&app, "/conversations"), 200);
    let priya = &list["results"][0];
    assert_eq!(priya["createdAt"], "2025-10-07T09:30:00.000Z");
    assert_eq!(priya["updatedAt"], "2025-10-07T12:45:00.000Z");
    assert_eq!(priya["name"], "Alex, Priya");
    assert_eq!(priya["deleted"], false);
    assert_eq!(priya["locked"], false);
    // The API owner has not read Priya's reply yet.
    assert_eq!(priya["read"], false);
    assert_eq!(
        priya["metadata"],
        json!({
            "projectId": PROJECT_A,
            "surveyResponseId": "6650a9f0c3d4e5f601230002",
            "externalResearcherId": "researcher-002",
            "externalTeamId": "team-ux",
            "externalCompanyId": "company-northwind"
        })
    );
    assert_eq!(
        priya["user"],
        json!({"uid": OWNER_OID, "foreignId": OWNER_OID, "firstName": "Alex", "lastName": "M"})
    );
    assert_eq!(
        priya["participants"],
        json!([
            {"uid": OWNER_OID, "foreignId": OWNER_OID, "firstName": "Alex", "lastName": "M",
             "read": false, "deleted": false},
            {"uid": PRIYA_OID, "foreignId": PRIYA_FOREIGN, "firstName": "Priya", "lastName": "S",
             "read": true, "deleted": false}
        ])
    );
    assert_eq!(priya["messagesCount"], 2);
    let messages = priya["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    // Oldest first.
    assert_eq!(messages[0]["createdAt"], "2025-10-07T09:30:00.000Z");
    assert_eq!(messages[0]["sender"]["uid"], OWNER_OID);
    assert_eq!(messages[1]["sender"]["foreignId"], PRIYA_FOREIGN);
    assert_eq!(
        priya["latestMessage"],
        json!({
            "createdAt": "2025-10-07T12:45:00.000Z",
            "updatedAt": "2025-10-07T12:45:00.000Z",
            "uid": messages[1]["uid"],
            "body": "Wednesday is tricky for me. Could we do Friday morning instead?"
        })
    );
    let tom = &list["results"][2];
    assert_eq!(tom["locked"], true);
    assert_eq!(tom["read"], true);
}

/// A JSON value that remembers the order of object keys.
#[derive(Debug)]
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
                    fields.push((k, v));
                }
                Ok(Ordered::Object(fields))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Ordered>()? {
                    items.push(v);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

impl Ordered {
    fn keys(&self) -> Vec<&str> {
        match self {
            Ordered::Object(fields) => fields.iter().map(|(k, _)| k.as_str()).collect(),
            _ => panic!("not an object: {self:?}"),
        }
    }

    fn at(&self, key: &str) -> &Ordered {
        match self {
            Ordered::Object(fields) => &fields.iter().find(|(k, _)| k == key).unwrap().1,
            _ => panic!("not an object"),
        }
    }

    fn first(&self) -> &Ordered {
        match self {
            Ordered::Array(items) => &items[0],
            _ => panic!("not an array"),
        }
    }
}

fn raw(app: &TestApp, path: &str) -> Ordered {
    let text = ureq::get(&app.url(&format!("{BASE}{path}")))
        .set("x-api-key", KEY)
        .set("x-api-secret", SECRET)
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn keys_come_in_the_schema_order() {
    let app = spawn_demo();
    let list = raw(&app, "/conversations?includeCount=true");
    assert_eq!(list.keys(), ["totalResults", "page", "pageSize", "results"]);
    let conv = list.at("results").first();
    assert_eq!(
        conv.keys(),
        [
            "createdAt",
            "updatedAt",
            "uid",
            "name",
            "deleted",
            "locked",
            "read",
            "metadata",
            "user",
            "participants",
            "messages",
            "latestMessage",
            "messagesCount"
        ]
    );
    assert_eq!(
        conv.at("user").keys(),
        ["uid", "foreignId", "firstName", "lastName"]
    );
    assert_eq!(
        conv.at("participants").first().keys(),
        [
            "uid",
            "foreignId",
            "firstName",
            "lastName",
            "read",
            "deleted"
        ]
    );
    assert_eq!(
        conv.at("messages").first().keys(),
        ["createdAt", "updatedAt", "uid", "body", "sender"]
    );
    assert_eq!(
        conv.at("latestMessage").keys(),
        ["createdAt", "updatedAt", "uid", "body"]
    );
    assert_eq!(
        conv.at("metadata").keys(),
        [
            "projectId",
            "surveyResponseId",
            "externalResearcherId",
            "externalTeamId",
            "externalCompanyId"
        ]
    );
    let messages = raw(&app, "/messages?pageSize=1");
    assert_eq!(messages.keys(), ["page", "pageSize", "results"]);
    let m = messages.at("results").first();
    assert_eq!(
        m.keys(),
        [
            "createdAt",
            "updatedAt",
            "uid",
            "body",
            "sender",
            "conversation"
        ]
    );
    assert_eq!(
        m.at("conversation").keys(),
        [
            "createdAt",
            "updatedAt",
            "uid",
            "name",
            "deleted",
            "locked",
            "read",
            "metadata",
            "participants"
        ]
    );
}

#[test]
fn message_list_validates_against_the_seed_schema() {
    let app = spawn_demo();
    for query in ["", "?includeCount=true"] {
        let list = ok(get(&app, &format!("/messages{query}")), 200);
        assert_valid("MessagesPaginatedDto", &list);
        assert_eq!(list["results"].as_array().unwrap().len(), 7);
        assert_eq!(
            list.get("totalResults").cloned(),
            (!query.is_empty()).then(|| json!(7))
        );
    }
    // Newest first, each with its conversation.
    let list = ok(get(&app, "/messages"), 200);
    let first = &list["results"][0];
    assert_eq!(first["createdAt"], "2025-10-07T12:45:00.000Z");
    assert_eq!(first["sender"]["uid"], PRIYA_OID);
    assert_eq!(first["conversation"]["uid"], CONV_PRIYA);
    assert_eq!(first["conversation"]["read"], false);
    assert_eq!(list["results"][6]["conversation"]["uid"], CONV_TOM);
}

// ---- paging and filters ---------------------------------------------------------------------

#[test]
fn paging_at_the_edges() {
    let app = spawn_demo();
    let p1 = ok(
        get(&app, "/conversations?pageSize=2&includeCount=true"),
        200,
    );
    assert_eq!(uids(&p1), [CONV_PRIYA, CONV_JAMIE]);
    assert_eq!(p1["totalResults"], 3);
    assert_eq!(p1["pageSize"], 2);
    // The last page holds the remainder.
    let p2 = ok(get(&app, "/conversations?page=2&pageSize=2"), 200);
    assert_eq!(uids(&p2), [CONV_TOM]);
    assert_eq!(p2["page"], 2);
    assert!(p2.get("totalResults").is_none());
    // A page past the end is empty, and still counts everything.
    let p3 = ok(
        get(&app, "/conversations?page=3&pageSize=2&includeCount=true"),
        200,
    );
    assert_eq!(p3["results"], json!([]));
    assert_eq!(p3["totalResults"], 3);
    assert_eq!(p3["page"], 3);
    let far = ok(get(&app, "/conversations?page=1e15&pageSize=100"), 200);
    assert_eq!(far["results"], json!([]));
    // pageSize bounds are inclusive.
    let all = ok(get(&app, "/conversations?pageSize=100"), 200);
    assert_eq!(uids(&all).len(), 3);
    let one = ok(get(&app, "/conversations?pageSize=1&page=3"), 200);
    assert_eq!(uids(&one), [CONV_TOM]);
    // The same arithmetic for messages.
    let m = ok(
        get(&app, "/messages?page=4&pageSize=2&includeCount=true"),
        200,
    );
    assert_eq!(m["results"].as_array().unwrap().len(), 1);
    assert_eq!(m["totalResults"], 7);
    let m = ok(get(&app, "/messages?page=5&pageSize=2"), 200);
    assert_eq!(m["results"], json!([]));
}

#[test]
fn conversation_filters() {
    let app = spawn_demo();
    let by = |q: &str| {
        let list = ok(
            get(&app, &format!("/conversations?includeCount=true&{q}")),
            200,
        );
        assert_eq!(
            list["totalResults"].as_u64().unwrap() as usize,
            uids(&list).len()
        );
        uids(&list)
    };
    assert_eq!(
        by("externalResearcherId=researcher-001"),
        [CONV_JAMIE, CONV_TOM]
    );
    assert_eq!(
        by(&format!("projectId={PROJECT_A}")),
        [CONV_PRIYA, CONV_JAMIE]
    );
    assert_eq!(by(&format!("projectId={PROJECT_B}")), [CONV_TOM]);
    assert_eq!(
        by(&format!(
            "projectId={PROJECT_A}&externalResearcherId=researcher-001"
        )),
        [CONV_JAMIE]
    );
    // Empty values filter nothing; unknown values match nothing.
    assert_eq!(
        by("externalResearcherId=&projectId="),
        [CONV_PRIYA, CONV_JAMIE, CONV_TOM]
    );
    assert!(by("externalResearcherId=nobody").is_empty());
    // Paging applies after filtering.
    let p2 = ok(
        get(
            &app,
            &format!("/conversations?projectId={PROJECT_A}&pageSize=1&page=2"),
        ),
        200,
    );
    assert_eq!(uids(&p2), [CONV_JAMIE]);
}

#[test]
fn message_filters_and_time_bounds() {
    let app = spawn_demo();
    let by = |q: &str| {
        let list = ok(get(&app, &format!("/messages?includeCount=true&{q}")), 200);
        let found = list["results"].as_array().unwrap().len();
        assert_eq!(
            list["totalResults"].as_u64().unwrap() as usize,
            found,
            "{q}"
        );
        list
    };
    let jamie = by(&format!("conversationUid={CONV_JAMIE}"));
    assert_eq!(
        bodies(&jamie),
        [
            "Great, I booked you for 2:00 PM Eastern. The video link will arrive by email.",
            "Hi! Yes, Thursday works. Any time after 1 PM Eastern.",
            "Hi Jamie, thanks for qualifying for our study on meal-planning apps. Are you free for a 45-minute interview this Thursday?"
        ]
    );
    assert_eq!(
        by("externalResearcherId=researcher-001")["results"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        by(&format!("projectId={PROJECT_B}"))["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        by(&format!(
            "projectId={PROJECT_B}&conversationUid={CONV_JAMIE}"
        ))["results"],
        json!([])
    );
    assert_eq!(by("conversationUid=nope")["results"], json!([]));
    assert_eq!(
        by(&format!("conversationUid={TRILLET_CONV}"))["results"],
        json!([])
    );

    // Both bounds are inclusive.
    let window = by("since=2025-10-06T15:12:00.000Z&until=2025-10-07T09:30:00Z");
    let times: Vec<&str> = window["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["createdAt"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2025-10-07T09:30:00.000Z",
            "2025-10-06T15:20:00.000Z",
            "2025-10-06T15:12:00.000Z"
        ]
    );
    // One millisecond either side leaves the end messages out.
    let inner = by("since=2025-10-06T15:12:00.001Z&until=2025-10-07T09:29:59.999Z");
    assert_eq!(inner["results"].as_array().unwrap().len(), 1);
    // Offsets and bare dates are ISO 8601 too.
    let since = by("since=2025-10-07T08:00:00%2B02:00");
    assert_eq!(since["results"].as_array().unwrap().len(), 2);
    let until = by("until=2025-10-01");
    assert_eq!(until["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        by("since=2025-10-08&until=2025-10-01")["results"],
        json!([])
    );
}

// ---- writes ---------------------------------------------------------------------------------

#[test]
fn create_get_and_list_a_conversation() {
    let app = spawn_demo();
    freeze(&app, T0);
    let created = ok(
        post(
            &app,
            "/conversations",
            json!({
                "projectId": "6650a1b2c3d4e5f60000beef",
                "participantUserIds": [TOM_FOREIGN, PRIYA_OID],
                "externalResearcherId": "researcher-009",
                "externalTeamId": "team-growth",
                "unknownField": 1
            }),
        ),
        201,
    );
    // No message yet: `latestMessage` (required, not nullable) is the conversation's start.
    assert_valid("Conversation", &created);
    let uid = created["uid"].as_str().unwrap().to_string();
    assert_eq!(uid.len(), 24);
    assert_eq!(created["createdAt"], T0);
    assert_eq!(created["updatedAt"], T0);
    // Members in joining order (all joined together here: by when they became users).
    assert_eq!(created["name"], "Alex, Priya, Tom");
    assert_eq!(
        created["metadata"],
        json!({
            "projectId": "6650a1b2c3d4e5f60000beef",
            "externalResearcherId": "researcher-009",
            "externalTeamId": "team-growth"
        })
    );
    assert_eq!(created["user"]["uid"], OWNER_OID);
    let members: Vec<&str> = created["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["foreignId"].as_str().unwrap())
        .collect();
    assert_eq!(members, [OWNER_OID, PRIYA_FOREIGN, TOM_FOREIGN]);
    assert_eq!(created["messages"], json!([]));
    assert_eq!(
        created["latestMessage"],
        json!({"createdAt": T0, "updatedAt": T0, "uid": "", "body": ""})
    );
    assert_eq!(created["messagesCount"], 0);
    assert_eq!(created["read"], true);

    let fetched = ok(get(&app, &format!("/conversations/{uid}")), 200);
    assert_eq!(fetched, created);
    let list = ok(
        get(
            &app,
            "/conversations?includeCount=true&externalResearcherId=researcher-009",
        ),
        200,
    );
    assert_eq!(uids(&list), [uid.as_str()]);
    // Starting a conversation is activity: after every demo message, so first.
    let all = ok(get(&app, "/conversations?includeCount=true"), 200);
    assert_eq!(all["totalResults"], 4);
    assert_eq!(uids(&all)[0], uid);
}

#[test]
fn create_rejects_bad_bodies_with_every_reason() {
    let app = spawn_demo();
    let r = post(&app, "/conversations", json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({
            "statusCode": 400,
            "message": [
                "projectId should not be empty",
                "projectId must be a string",
                "participantUserIds must contain at least 1 elements",
                "participantUserIds must be an array"
            ],
            "error": "Bad Request"
        })
    );
    let r = post(
        &app,
        "/conversations",
        json!({"projectId": 5, "participantUserIds": [JAMIE_FOREIGN, 7]}),
    );
    assert_eq!(
        r.body["message"],
        json!([
            "projectId must be a string",
            "each value in participantUserIds must be a string"
        ])
    );
    // Unknown users are named, and nothing is created.
    let r = post(
        &app,
        "/conversations",
        json!({"projectId": PROJECT_A, "participantUserIds": [JAMIE_FOREIGN, "nobody"]}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["message"],
        json!(["participantUserIds.1 \"nobody\" is not a user of this organization"])
    );
    let list = ok(get(&app, "/conversations?includeCount=true"), 200);
    assert_eq!(list["totalResults"], 3);
    // Another tenant's user is unknown here.
    let r = post(
        &app,
        "/conversations",
        json!({"projectId": PROJECT_A, "participantUserIds": ["675c8e368824aa5f130b94d7"]}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // Not JSON at all: body-parser's single message.
    let r = partner(app.post(&format!("{BASE}/conversations")))
        .raw("application/json", "{\"projectId\": ");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"statusCode": 400, "message": "Unexpected end of JSON input", "error": "Bad Request"})
    );
    let r = partner(app.post(&format!("{BASE}/conversations")))
        .raw("application/json", "{\"projectId\" 1}");
    assert_eq!(r.body["message"], "Unexpected token in JSON at position 13");
}

#[test]
fn the_api_owner_sends_and_read_flags_follow() {
    let app = spawn_demo();
    freeze(&app, T0);
    let sent = ok(
        post(
            &app,
            &format!("/conversations/{CONV_PRIYA}/messages"),
            json!({"body": "Friday at 10 AM works."}),
        ),
        201,
    );
    assert_valid("Message", &sent);
    assert_eq!(sent["createdAt"], T0);
    assert_eq!(sent["body"], "Friday at 10 AM works.");
    assert_eq!(sent["sender"]["uid"], OWNER_OID);
    assert_eq!(sent["conversation"]["uid"], CONV_PRIYA);
    assert_eq!(sent["conversation"]["updatedAt"], T0);
    // Sending reads everything before it; Priya now has one unread.
    assert_eq!(sent["conversation"]["read"], true);
    assert_eq!(participant(&sent["conversation"], PRIYA_OID)["read"], false);
    assert_eq!(participant(&sent["conversation"], OWNER_OID)["read"], true);
    assert_eq!(native_unread(&app, CONV_PRIYA, PRIYA_OID), 1);

    let conv = ok(get(&app, &format!("/conversations/{CONV_PRIYA}")), 200);
    assert_eq!(conv["messagesCount"], 3);
    assert_eq!(conv["latestMessage"]["uid"], sent["uid"]);
    assert_eq!(conv["messages"][2]["uid"], sent["uid"]);
    let list = ok(get(&app, "/messages?pageSize=1"), 200);
    assert_eq!(list["results"][0]["uid"], sent["uid"]);

    // Empty bodies are refused.
    let r = post(
        &app,
        &format!("/conversations/{CONV_PRIYA}/messages"),
        json!({"body": "   "}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], json!(["body should not be empty"]));
    let r = post(
        &app,
        &format!("/conversations/{CONV_PRIYA}/messages"),
        json!({}),
    );
    assert_eq!(
        r.body["message"],
        json!(["body should not be empty", "body must be a string"])
    );
    let r = post(
        &app,
        "/conversations/6651b0c0a1b2c3d4e5f6ffff/messages",
        json!({"body": "hello"}),
    );
    assert_eq!(
        r.body,
        json!({"statusCode": 404, "message": "Conversation not found", "error": "Not Found"})
    );
}

#[test]
fn a_participant_reply_through_the_native_api_shows_up() {
    let app = spawn_demo();
    freeze(&app, T0);
    let before = ok(get(&app, &format!("/conversations/{CONV_JAMIE}")), 200);
    assert_eq!(before["read"], true);
    assert_eq!(before["messagesCount"], 3);

    native_send(&app, CONV_JAMIE, JAMIE_OID, "See you Thursday!");

    let after = ok(get(&app, &format!("/conversations/{CONV_JAMIE}")), 200);
    assert_eq!(after["messagesCount"], 4);
    assert_eq!(after["messages"].as_array().unwrap().len(), 4);
    assert_eq!(after["messages"][3]["body"], "See you Thursday!");
    assert_eq!(after["messages"][3]["sender"]["foreignId"], JAMIE_FOREIGN);
    assert_eq!(after["latestMessage"]["body"], "See you Thursday!");
    assert_eq!(after["latestMessage"]["createdAt"], T0);
    // The reply is unread for the API owner, and Jamie has read everything by replying.
    assert_eq!(after["read"], false);
    assert_eq!(participant(&after, OWNER_OID)["read"], false);
    assert_eq!(participant(&after, JAMIE_OID)["read"], true);
    assert_eq!(native_unread(&app, CONV_JAMIE, OWNER_OID), 1);

    // It is now the newest activity and the newest message.
    let list = ok(get(&app, "/conversations"), 200);
    assert_eq!(uids(&list)[0], CONV_JAMIE);
    let messages = ok(get(&app, "/messages?pageSize=1&includeCount=true"), 200);
    assert_eq!(messages["results"][0]["body"], "See you Thursday!");
    assert_eq!(messages["results"][0]["conversation"]["read"], false);
    assert_eq!(messages["totalResults"], 8);

    // The owner answering reads the reply; Jamie now has one unread.
    post(
        &app,
        &format!("/conversations/{CONV_JAMIE}/messages"),
        json!({"body": "Great!"}),
    );
    let answered = ok(get(&app, &format!("/conversations/{CONV_JAMIE}")), 200);
    assert_eq!(answered["read"], true);
    assert_eq!(participant(&answered, JAMIE_OID)["read"], false);
    assert_eq!(native_unread(&app, CONV_JAMIE, JAMIE_OID), 1);
    assert_eq!(native_unread(&app, CONV_JAMIE, OWNER_OID), 0);
}

#[test]
fn locked_and_deleted_conversations_refuse_messages() {
    let app = spawn_demo();
    let r = post(
        &app,
        &format!("/conversations/{CONV_TOM}/messages"),
        json!({"body": "One more thing"}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"statusCode": 403, "message": "Conversation is locked", "error": "Forbidden"})
    );
    let tom = ok(get(&app, &format!("/conversations/{CONV_TOM}")), 200);
    assert_eq!(tom["messagesCount"], 2);

    let r = app
        .delete(&format!("/parlor/v1/conversations/{CONV_PRIYA}"))
        .admin()
        .tenant(TENANT)
        .send();
    assert_eq!(r.status, 204, "{}", r.body);
    let r = post(
        &app,
        &format!("/conversations/{CONV_PRIYA}/messages"),
        json!({"body": "Hello?"}),
    );
    assert_eq!(
        r.body,
        json!({"statusCode": 403, "message": "Conversation is deleted", "error": "Forbidden"})
    );
    assert_eq!(
        get(&app, &format!("/conversations/{CONV_PRIYA}")).status,
        404
    );
    let list = ok(get(&app, "/conversations"), 200);
    assert_eq!(uids(&list), [CONV_JAMIE, CONV_TOM]);
    let messages = ok(get(&app, "/messages?includeCount=true"), 200);
    assert_eq!(messages["totalResults"], 5);
}

#[test]
fn participants_join_and_leave() {
    let app = spawn_demo();
    freeze(&app, T0);
    // Current form: body. Priya joins Jamie's conversation with its history read.
    let r = post(
        &app,
        &format!("/conversations/{CONV_JAMIE}/participants"),
        json!({"participantUserId": PRIYA_FOREIGN}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body, Value::Null);
    let conv = ok(get(&app, &format!("/conversations/{CONV_JAMIE}")), 200);
    assert_eq!(conv["name"], "Alex, Jamie, Priya");
    assert_eq!(participant(&conv, PRIYA_OID)["read"], true);
    // Later messages are unread for her.
    post(
        &app,
        &format!("/conversations/{CONV_JAMIE}/messages"),
        json!({"body": "Welcome, Priya."}),
    );
    let conv = ok(get(&app, &format!("/conversations/{CONV_JAMIE}")), 200);
    assert_eq!(participant(&conv, PRIYA_OID)["read"], false);
    assert_eq!(native_unread(&app, CONV_JAMIE, PRIYA_OID), 1);

    // Already there: a conflict, nothing changes.
    let r = post(
        &app,
        &format!("/conversations/{CONV_JAMIE}/participants"),
        json!({"participantUserId": PRIYA_FOREIGN}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["error"], "Conflict");
    // Unknown users and missing fields are 400s; unknown conversations 404s.
    let r = post(
        &app,
        &format!("/conversations/{CONV_JAMIE}/participants"),
        json!({"participantUserId": "nobody"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = post(
        &app,
        &format!("/conversations/{CONV_JAMIE}/participants"),
        json!({}),
    );
    assert_eq!(
        r.body["message"],
        json!([
            "participantUserId should not be empty",
            "participantUserId must be a string"
        ])
    );
    let r = post(
        &app,
        &format!("/conversations/{TRILLET_CONV}/participants"),
        json!({"participantUserId": PRIYA_FOREIGN}),
    );
    assert_eq!(r.status, 404, "{}", r.body);

    // Deprecated form: the user in the path.
    let r = post(
        &app,
        &format!("/conversations/{CONV_PRIYA}/participants/{TOM_FOREIGN}"),
        json!({}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let conv = ok(get(&app, &format!("/conversations/{CONV_PRIYA}")), 200);
    assert_eq!(conv["participants"].as_array().unwrap().len(), 3);

    // Leaving: true, then false.
    let r = delete(
        &app,
        &format!("/conversations/{CONV_JAMIE}/participants/{PRIYA_FOREIGN}"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!(true));
    let r = delete(
        &app,
        &format!("/conversations/{CONV_JAMIE}/participants/{PRIYA_FOREIGN}"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!(false));
    let r = delete(
        &app,
        &format!("/conversations/{CONV_JAMIE}/participants/nobody"),
    );
    assert_eq!(r.body, json!(false));
    let r = delete(
        &app,
        &format!("/conversations/{TRILLET_CONV}/participants/{PRIYA_FOREIGN}"),
    );
    assert_eq!(r.status, 404);
    // Gone from the conversation; later messages do not reach her, earlier ones stay.
    post(
        &app,
        &format!("/conversations/{CONV_JAMIE}/messages"),
        json!({"body": "Just us again."}),
    );
    let conv = ok(get(&app, &format!("/conversations/{CONV_JAMIE}")), 200);
    assert_eq!(conv["name"], "Alex, Jamie");
    assert!(conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["uid"] != PRIYA_OID));
    assert_eq!(conv["messagesCount"], 5);
    let r = app
        .get(&format!(
            "/parlor/v1/conversations/{CONV_JAMIE}?as={PRIYA_OID}"
        ))
        .admin()
        .tenant(TENANT)
        .send();
    assert_eq!(r.status, 404, "{}", r.body);
}

// ---- auth and errors ------------------------------------------------------------------------

#[test]
fn bad_credentials_are_401() {
    let app = spawn_demo();
    let unauthorized = json!({"statusCode": 401, "message": "Unauthorized"});
    let cases: Vec<(Option<&str>, Option<&str>)> = vec![
        (None, None),
        (Some(KEY), None),
        (None, Some(SECRET)),
        (Some(KEY), Some("wrong")),
        (Some("demo-trillet-key"), Some(SECRET)),
        (Some("nope"), Some("nope")),
        (Some(KEY), Some("")),
    ];
    for (key, secret) in cases {
        let mut req = app.get(&format!("{BASE}/conversations"));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(s) = secret {
            req = req.header("x-api-secret", s);
        }
        let r = req.send();
        assert_eq!(r.status, 401, "{key:?} {secret:?}");
        assert_eq!(r.body, unauthorized);
    }
    // Writes too, before anything is read from the body.
    let r = app
        .post(&format!("{BASE}/conversations"))
        .json(&json!({"projectId": PROJECT_A, "participantUserIds": [JAMIE_FOREIGN]}));
    assert_eq!(r.status, 401);
    // A revoked key stops working.
    let keys = app.get("/parlor/v1/api-keys").admin().tenant(TENANT).send();
    let id = keys.body["data"][0]["id"].as_i64().unwrap();
    let r = app
        .delete(&format!("/parlor/v1/api-keys/{id}"))
        .admin()
        .tenant(TENANT)
        .send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get(&app, "/conversations").status, 401);
}

#[test]
fn another_tenants_ids_are_not_found() {
    let app = spawn_demo();
    let r = get(&app, &format!("/conversations/{TRILLET_CONV}"));
    assert_eq!(
        r.body,
        json!({"statusCode": 404, "message": "Conversation not found", "error": "Not Found"})
    );
    let r = post(
        &app,
        &format!("/conversations/{TRILLET_CONV}/messages"),
        json!({"body": "hi"}),
    );
    assert_eq!(r.status, 404);
    for bad in ["not%20an%20id", "1"] {
        assert_eq!(get(&app, &format!("/conversations/{bad}")).status, 404);
    }
}

#[test]
fn bad_query_values_are_400_naming_the_problem() {
    let app = spawn_demo();
    let cases = [
        ("page=0", "page must not be less than 1"),
        ("page=-2", "page must not be less than 1"),
        (
            "page=first",
            "page must be a number conforming to the specified constraints",
        ),
        ("page=1.5", "page must be an integer number"),
        ("pageSize=0", "pageSize must not be less than 1"),
        ("pageSize=101", "pageSize must not be greater than 100"),
        (
            "pageSize=ten",
            "pageSize must be a number conforming to the specified constraints",
        ),
        ("includeCount=yes", "includeCount must be a boolean value"),
    ];
    for path in ["/conversations", "/messages"] {
        for (query, message) in cases {
            let r = get(&app, &format!("{path}?{query}"));
            assert_eq!(r.status, 400, "{path}?{query}");
            assert_eq!(
                r.body,
                json!({"statusCode": 400, "message": [message], "error": "Bad Request"}),
                "{path}?{query}"
            );
        }
    }
    for (query, message) in [
        (
            "since=yesterday",
            "since must be a valid ISO 8601 date string",
        ),
        (
            "until=2025-13-01",
            "until must be a valid ISO 8601 date string",
        ),
    ] {
        let r = get(&app, &format!("/messages?{query}"));
        assert_eq!(r.status, 400);
        assert_eq!(r.body["message"], json!([message]));
    }
    // Every problem at once.
    let r = get(&app, "/messages?page=0&pageSize=500&since=x");
    assert_eq!(
        r.body["message"],
        json!([
            "page must not be less than 1",
            "pageSize must not be greater than 100",
            "since must be a valid ISO 8601 date string"
        ])
    );
    // Accepted spellings.
    for query in [
        "includeCount=TRUE",
        "includeCount=1",
        "page=2.0",
        "pageSize=1e1",
    ] {
        assert_eq!(get(&app, &format!("/conversations?{query}")).status, 200);
    }
}

#[test]
fn unknown_routes_answer_like_nestjs() {
    let app = spawn_demo();
    let r = get(&app, "/nowhere");
    assert_eq!(
        r.body,
        json!({"statusCode": 404, "message": "Cannot GET /v1/messaging/nowhere", "error": "Not Found"})
    );
    let r = partner(app.request("PUT", &format!("{BASE}/conversations"))).send();
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "Cannot PUT /v1/messaging/conversations");
}

// ---- other tenants and configuration --------------------------------------------------------

#[test]
fn a_new_tenant_gets_an_api_owner() {
    let app = spawn_app();
    let tenant = app.create_tenant("Acme Panels");
    let r = app
        .post("/parlor/v1/api-keys")
        .admin()
        .tenant(tenant)
        .json(&json!({}));
    assert_eq!(r.status, 201, "{}", r.body);
    let key = r.body["key"].as_str().unwrap().to_string();
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let call = |req: Req| {
        req.header("x-api-key", &key)
            .header("x-api-secret", &secret)
    };

    let list = call(app.get(&format!("{BASE}/conversations?includeCount=true"))).send();
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.body,
        json!({"totalResults": 0, "page": 1, "pageSize": 20, "results": []})
    );
    let user = app.create_user(
        tenant,
        json!({"first_name": "Sam", "last_name": "lee", "external_id": "panelist-1"}),
    );
    let r = call(app.post(&format!("{BASE}/conversations")))
        .json(&json!({"projectId": "p-1", "participantUserIds": ["panelist-1"]}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["user"]["firstName"], "Acme Panels");
    assert_eq!(r.body["user"]["lastName"], "A");
    assert_eq!(
        participant(&r.body, user["oid"].as_str().unwrap())["lastName"],
        "l"
    );
    // The demo's key does not reach this tenant's conversations.
    let uid = r.body["uid"].as_str().unwrap();
    assert_eq!(get(&app, &format!("/conversations/{uid}")).status, 401);
}

#[test]
fn the_face_can_be_moved_and_switched_off() {
    let moved = crate::helpers::spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("respondent").unwrap().base_path = Some("/respondent".into());
    });
    let r = partner(moved.get("/respondent/conversations")).send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(uids(&r.body).len(), 3);
    assert_eq!(get(&moved, "/conversations").status, 404);

    let off = crate::helpers::spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("respondent").unwrap().enabled = false;
    });
    let r = get(&off, "/conversations");
    assert_eq!(r.status, 404);
    // Parlor's own 404, not the face's.
    assert!(r.body.get("statusCode").is_none(), "{}", r.body);
}

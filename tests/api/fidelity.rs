//! Each face behaves like its vendor's framework and schema, not like Parlor's router: list
//! order of conversations without messages, Respondent's required `latestMessage`, and paths
//! as Rails, Laravel, Express/NestJS and Django serve them.

use parlor::domain::time::parse_rfc3339;
use serde_json::{json, Value};

use crate::faces_respondent::assert_valid;
use crate::helpers::{spawn_demo, Req, TestApp};

// ---- Respondent: every response valid against the Partner API schema ------------------------

const RESPONDENT: &str = "/v1/messaging";
/// After every message of the demo data.
const AFTER_DEMO: &str = "2025-10-08T10:00:00.000Z";
const TOM_FOREIGN: &str = "65a1f0c2b3d4e5f607182903";

fn partner(req: Req) -> Req {
    req.header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
}

fn respondent_get(app: &TestApp, path: &str) -> Value {
    let r = partner(app.get(&format!("{RESPONDENT}{path}"))).send();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn respondent_create(app: &TestApp, project: &str) -> Value {
    let r = partner(app.post(&format!("{RESPONDENT}/conversations"))).json(&json!({
        "projectId": project,
        "participantUserIds": [TOM_FOREIGN],
        "externalResearcherId": "researcher-042"
    }));
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

fn uids(list: &Value) -> Vec<&str> {
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uid"].as_str().unwrap())
        .collect()
}

#[test]
fn a_just_created_respondent_conversation_is_schema_valid_in_every_answer() {
    let app = spawn_demo();
    app.service.clock.freeze(parse_rfc3339(AFTER_DEMO).unwrap());
    let created = respondent_create(&app, "6650a1b2c3d4e5f60000beef");
    assert_valid("Conversation", &created);
    // No message yet: the latest event is the conversation's start.
    assert_eq!(
        created["latestMessage"],
        json!({"createdAt": AFTER_DEMO, "updatedAt": AFTER_DEMO, "uid": "", "body": ""})
    );
    assert_eq!(created["messagesCount"], 0);
    assert_eq!(created["messages"], json!([]));

    let uid = created["uid"].as_str().unwrap();
    assert_valid(
        "Conversation",
        &respondent_get(&app, &format!("/conversations/{uid}")),
    );
    for query in [
        "",
        "?includeCount=true",
        "?projectId=6650a1b2c3d4e5f60000beef",
        "?externalResearcherId=researcher-042&pageSize=1",
    ] {
        let list = respondent_get(&app, &format!("/conversations{query}"));
        assert_valid("ConversationsPaginatedDto", &list);
        assert!(uids(&list).contains(&uid), "{query}: {list}");
    }
}

#[test]
fn a_conversation_whose_messages_were_all_deleted_stays_schema_valid() {
    let app = spawn_demo();
    let created = respondent_create(&app, "6650a1b2c3d4e5f60000beef");
    let uid = created["uid"].as_str().unwrap();
    let sent = partner(app.post(&format!("{RESPONDENT}/conversations/{uid}/messages")))
        .json(&json!({"body": "Hello"}));
    assert_eq!(sent.status, 201, "{}", sent.body);
    let r = app
        .delete(&format!(
            "/parlor/v1/messages/{}",
            sent.body["uid"].as_str().unwrap()
        ))
        .admin()
        .tenant(3)
        .send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    let found = respondent_get(&app, &format!("/conversations/{uid}"));
    assert_valid("Conversation", &found);
    assert_eq!(found["latestMessage"]["uid"], "");
    assert_eq!(found["latestMessage"]["createdAt"], created["createdAt"]);
}

// ---- order of conversations without messages -------------------------------------------------

#[test]
fn respondent_lists_a_just_created_conversation_as_the_newest_activity() {
    let app = spawn_demo();
    app.service.clock.freeze(parse_rfc3339(AFTER_DEMO).unwrap());
    let before = respondent_get(&app, "/conversations");
    let created = respondent_create(&app, "6650a1b2c3d4e5f60000beef");
    let uid = created["uid"].as_str().unwrap();
    let after = respondent_get(&app, "/conversations");
    let mut expected = vec![uid];
    expected.extend(uids(&before));
    assert_eq!(uids(&after), expected);

    // A message after the start moves its conversation above it.
    app.service
        .clock
        .freeze(parse_rfc3339(AFTER_DEMO).unwrap() + 1_000);
    let priya = uids(&before)[0].to_string();
    let r = app
        .post(&format!("/parlor/v1/conversations/{priya}/messages"))
        .admin()
        .tenant(3)
        .json(&json!({"as": "6650f0a0b1c2d3e4f5a60003", "body": "One more thing"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let again = respondent_get(&app, "/conversations");
    assert_eq!(&uids(&again)[..2], [priya.as_str(), uid]);
    let page2 = respondent_get(&app, "/conversations?page=2&pageSize=1");
    assert_eq!(uids(&page2), [uid]);
}

const PIGEONS: &str = "/api/v1/pigeons/chat";
const JOHN: &str = "1|demoPigeonsJohnDoeToken";
const JOHN_UUID: &str = "660e8400-e29b-41d4-a716-446655440001";
const MARIA_UUID: &str = "660e8400-e29b-41d4-a716-446655440002";
const PIGEONS_CONV: &str = "550e8400-e29b-41d4-a716-446655440000";

fn john(req: Req) -> Req {
    req.bearer(JOHN).header("X-PUBLIC-KEY", "pk_demo_pigeons")
}

fn pigeons_open(app: &TestApp, tag: i64) -> String {
    let r = john(app.post(&format!("{PIGEONS}/conversations"))).json(&json!({
        "participant_uuid": MARIA_UUID, "taggable_type": "order", "taggable_id": tag
    }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["data"]["uuid"].as_str().unwrap().to_string()
}

#[test]
fn pigeons_lists_never_messaged_conversations_last_newest_created_first() {
    let app = spawn_demo();
    let t = parse_rfc3339(AFTER_DEMO).unwrap();
    // Created later but stored first: creation time, not storage order, decides.
    app.service.clock.freeze(t + 60_000);
    let newer = pigeons_open(&app, 1);
    app.service.clock.freeze(t);
    let older = pigeons_open(&app, 2);
    app.service.clock.freeze(t + 120_000);
    let newest = pigeons_open(&app, 3);

    let r = john(app.get(&format!("{PIGEONS}/conversations"))).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let order: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            PIGEONS_CONV,
            newest.as_str(),
            newer.as_str(),
            older.as_str()
        ]
    );

    // The native list agrees, page by page.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/parlor/v1/conversations?as={JOHN_UUID}&limit=1&before={c}"),
            None => format!("/parlor/v1/conversations?as={JOHN_UUID}&limit=1"),
        };
        let r = app.get(&path).admin().tenant(5).send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        for c in r.body["data"].as_array().unwrap() {
            seen.push(c["uuid"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, order);
}

// ---- paths as each vendor's framework serves them ---------------------------------------------

/// A user token for MDLIVE's demo patient 52, asked for the way the vendor's Ruby snippet
/// builds URLs: a base ending in "/" joined with "/api/...".
fn mdlive_patient(app: &TestApp, base: &str) -> String {
    let r = app
        .post(&format!("{base}//api/v1/sso_auth/auth_token"))
        .json(&json!({
            "auth": {"first_name": "Emily", "last_name": "Carter", "gender": "F",
                     "birthdate": "1990-04-12", "subscriber_id": "MDL-SUB-0052",
                     "email": "emily.carter@example.com"},
            "org": {"ou": "riverside"},
            "api": {"api_key": "demo-mdlive-key", "password": "demo-mdlive-secret"}
        }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["jwt"].as_str().unwrap().to_string()
}

#[test]
fn mdlive_squeezes_repeated_slashes_and_ignores_a_trailing_one_like_rails() {
    let app = spawn_demo();
    let jwt = mdlive_patient(&app, "");
    let list = |path: &str| app.get(path).bearer(&jwt).send();
    let plain = list("/api/v2/patients/52/messages/conversations");
    assert_eq!(plain.status, 200, "{:?}", plain.body);
    for path in [
        "//api/v2/patients/52/messages/conversations",
        "/api//v2/patients/52/messages/conversations",
        "/api/v2/patients/52/messages/conversations/",
        "//api/v2/patients/52/messages/conversations//",
    ] {
        let r = list(path);
        assert_eq!((r.status, &r.body), (200, &plain.body), "{path}");
    }
    let r = list("//api/v1/patients/52/providers/4/conversation?per=1");
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["messages"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_re_based_mdlive_squeezes_slashes_after_its_base() {
    let app = crate::helpers::spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("mdlive").unwrap().base_path = Some("/mdlive".into());
    });
    let jwt = mdlive_patient(&app, "/mdlive");
    let r = app
        .get("/mdlive//api/v2/patients/52/messages/conversations/")
        .bearer(&jwt)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Under its own prefix everything is MDLIVE's.
    let r = app.get("/mdlive/elsewhere").send();
    assert_eq!(
        (r.status, &r.body),
        (404, &json!({"error": "Route not found"}))
    );
}

#[test]
fn unknown_paths_under_a_face_answer_in_that_faces_404_shape() {
    let app = spawn_demo();
    // MDLIVE is served from the root: its own paths, not the native API's 404.
    for path in [
        "/api/v3/patients",
        "/api/nothing",
        "//api/nothing/",
        "/auth",
    ] {
        let r = app.get(path).send();
        assert_eq!(
            (r.status, &r.body),
            (404, &json!({"error": "Route not found"})),
            "{path}"
        );
    }
    // A squeezed path that lands under another face is still MDLIVE's, and MDLIVE has no
    // such route.
    let r = app.get("//api/v1/pigeons/chat/conversations").send();
    assert_eq!(
        (r.status, &r.body),
        (404, &json!({"error": "Route not found"}))
    );
    // Express keeps one optional trailing slash, not two: NestJS's own 404.
    let r = partner(app.get(&format!("{RESPONDENT}/conversations//"))).send();
    assert_eq!(
        (r.status, &r.body),
        (
            404,
            &json!({"statusCode": 404, "message": "Cannot GET /v1/messaging/conversations//",
                    "error": "Not Found"})
        )
    );
    let r = app.get("/v1/api/conversations//").send();
    assert_eq!(
        (r.status, &r.body),
        (
            404,
            &json!({"status": "error", "message": "Route not found."})
        )
    );
    // Elsewhere the native API's 404 as before.
    let r = app.get("/definitely/not/here/").send();
    assert_eq!(r.body["error"]["code"], "not_found");
}

#[test]
fn laravel_and_express_faces_ignore_a_trailing_slash() {
    let app = spawn_demo();
    let plain = john(app.get(&format!("{PIGEONS}/conversations"))).send();
    assert_eq!(plain.status, 200, "{:?}", plain.body);
    for path in ["/conversations/", "/conversations///"] {
        let r = john(app.get(&format!("{PIGEONS}{path}"))).send();
        assert_eq!((r.status, &r.body), (200, &plain.body), "{path}");
    }
    let r = john(app.get(&format!("{PIGEONS}/conversations/{PIGEONS_CONV}/messages/"))).send();
    assert_eq!(r.status, 200, "{:?}", r.body);

    let r = partner(app.get(&format!("{RESPONDENT}/conversations/?includeCount=true"))).send();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);

    let r = app
        .get("/v1/api/conversations/")
        .header("x-api-key", "demo-trillet-secret")
        .header("x-workspace-id", "674e29976b6acbac106d2650")
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.is_array());
}

//! The Tati face against the demo data: the seed's examples, token sign-in, conversations and
//! messages with DRF's errors, and the same store seen through the native API.

use serde_json::{json, Value};

use crate::helpers::*;

const TOKEN: &str = "tati-token-demo";
const TATI: i64 = 4;

fn get(app: &TestApp, path: &str) -> Resp {
    app.get(&format!("/v0.1{path}"))
        .header("Authorization", &format!("Token {TOKEN}"))
        .send()
}

fn call(app: &TestApp, method: &str, path: &str, body: Value) -> Resp {
    app.request(method, &format!("/v0.1{path}"))
        .header("Authorization", &format!("Token {TOKEN}"))
        .json(&body)
}

/// The tenant's assistant user, found through the native API.
fn assistant(app: &TestApp) -> i64 {
    let r = app
        .get("/parlor/v1/users?role=assistant")
        .admin()
        .tenant(TATI)
        .send();
    r.body["data"][0]["id"].as_i64().expect("an assistant")
}

/// A second patient of the same program, signed in through `/token/`.
fn other_patient(app: &TestApp) -> String {
    app.create_user(
        TATI,
        json!({ "role": "patient", "username": "sam", "password": "sam-password-1",
                "display_name": "Sam Ortiz" }),
    );
    let r = app
        .post("/v0.1/token/")
        .json(&json!({ "username": "sam", "password": "sam-password-1" }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["token"].as_str().unwrap().to_string()
}

#[test]
fn the_seed_examples_come_back_exactly() {
    let app = spawn_demo();
    let list = include_str!("../faces/tati/messages.json");
    let one = include_str!("../faces/tati/message.json");
    let auth = format!("Token {TOKEN}");

    let r = get(&app, "/patients/conversations/con123/messages/");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::from_str::<Value>(list).unwrap());
    assert_eq!(
        app.raw_get("/v0.1/patients/conversations/con123/messages/", &auth),
        minify(list)
    );
    let r = get(&app, "/patients/messages/msg123/");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::from_str::<Value>(one).unwrap());
    assert_eq!(
        app.raw_get("/v0.1/patients/messages/msg123/", &auth),
        minify(one)
    );
    // The same without the trailing slash, and with a Bearer header.
    let r = app
        .get("/v0.1/patients/messages/msg123")
        .bearer(TOKEN)
        .send();
    assert_eq!(r.body, serde_json::from_str::<Value>(one).unwrap());
}

#[test]
fn sign_in_gives_a_new_token_each_time() {
    let app = spawn_demo();
    let sign_in = |body: Value| app.post("/v0.1/token/").json(&body);
    let creds = json!({ "username": "demo-patient", "password": "demo-password" });
    let a = sign_in(creds.clone());
    let b = sign_in(creds);
    assert_eq!(a.status, 200, "{:?}", a.body);
    let (a, b) = (
        a.body["token"].as_str().unwrap().to_string(),
        b.body["token"].as_str().unwrap().to_string(),
    );
    assert_ne!(a, b);
    for token in [&a, &b] {
        let r = app
            .get("/v0.1/patients/conversations/")
            .header("Authorization", &format!("Token {token}"))
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body[0]["unique_id"], "con123");
    }

    let refused = json!({ "non_field_errors": ["Unable to log in with provided credentials."] });
    let r = sign_in(json!({ "username": "demo-patient", "password": "wrong" }));
    assert_eq!((r.status, &r.body), (400, &refused));
    let r = sign_in(json!({ "username": "nobody", "password": "demo-password" }));
    assert_eq!((r.status, &r.body), (400, &refused));
    // Only patients sign in here: the program's admin is refused the same way.
    let r = sign_in(json!({ "username": "tati-admin", "password": "demo-password" }));
    assert_eq!((r.status, &r.body), (400, &refused));
    let r = sign_in(json!({}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({ "password": ["This field is required."], "username": ["This field is required."] })
    );
}

#[test]
fn auth_errors_are_drfs() {
    let app = spawn_demo();
    let path = "/v0.1/patients/conversations/";
    let r = app.get(path).send();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({ "detail": "Authentication credentials were not provided." })
    );
    assert_eq!(r.header("WWW-Authenticate"), Some("Token"));
    for header in ["Token nope", "Basic dXNlcjpwYXNz", "Token"] {
        let r = app.get(path).header("Authorization", header).send();
        assert_eq!(r.status, 401, "{header}");
        assert_eq!(r.body, json!({ "detail": "Invalid token." }), "{header}");
    }
    // Not a patient's token, or one without the `tati` ability.
    let forbidden = json!({ "detail": "You do not have permission to perform this action." });
    let r = app
        .get(path)
        .header("Authorization", "Token demo-tati-admin-token")
        .send();
    assert_eq!((r.status, &r.body), (403, &forbidden));
    let patient = app
        .get("/parlor/v1/users?role=patient")
        .admin()
        .tenant(TATI)
        .send();
    let id = patient.body["data"][0]["id"].as_i64().unwrap();
    let native_only = app.token_for(TATI, id, &["native"]);
    let r = app
        .get(path)
        .header("Authorization", &format!("Token {native_only}"))
        .send();
    assert_eq!((r.status, &r.body), (403, &forbidden));
}

#[test]
fn conversations_are_created_archived_restored_and_deleted() {
    let app = spawn_demo();
    let r = call(
        &app,
        "POST",
        "/patients/conversations/",
        json!({ "status": "current" }),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["unique_id"].as_str().unwrap().to_string();
    assert_eq!(r.body["patient_id"], "pat123");
    assert_eq!(r.body["status"], "current");
    assert_eq!(r.body["archived_date"], Value::Null);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6);
    let created = r.body["date_created"].as_str().unwrap().to_string();
    assert!(created.ends_with('Z') && created.len() == 20, "{created}");

    // An empty body creates a current one too; `archived` creates it archived.
    let r = call(&app, "POST", "/patients/conversations", json!({}));
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (201, Some("current"))
    );
    let r = call(
        &app,
        "POST",
        "/patients/conversations/",
        json!({ "status": "archived" }),
    );
    assert_eq!(r.body["status"], "archived");
    assert!(r.body["archived_date"].is_string());
    let r = call(
        &app,
        "POST",
        "/patients/conversations/",
        json!({ "status": "closed" }),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({ "status": ["\"closed\" is not a valid choice."] })
    );

    // The list: current ones, oldest first.
    let ids = |app: &TestApp| -> Vec<String> {
        get(app, "/patients/conversations/")
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["unique_id"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = ids(&app);
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], "con123");
    assert_eq!(listed[1], id);

    let r = call(
        &app,
        "PUT",
        &format!("/patients/conversations/{id}/"),
        json!({ "status": "archived" }),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "archived");
    assert!(r.body["archived_date"].is_string());
    assert_eq!(r.body["date_created"], created.as_str());
    assert!(!ids(&app).contains(&id));
    assert_eq!(
        get(&app, &format!("/patients/conversations/{id}/")).body["status"],
        "archived"
    );
    let r = call(
        &app,
        "PUT",
        &format!("/patients/conversations/{id}"),
        json!({ "status": "current" }),
    );
    assert_eq!(r.body["archived_date"], Value::Null);
    assert!(ids(&app).contains(&id));

    let r = app
        .delete(&format!("/v0.1/patients/conversations/{id}/"))
        .header("Authorization", &format!("Token {TOKEN}"))
        .send();
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null);
    let r = get(&app, &format!("/patients/conversations/{id}/"));
    assert_eq!(
        (r.status, &r.body),
        (404, &json!({ "detail": "Not found." }))
    );
    assert!(!ids(&app).contains(&id));
}

#[test]
fn messages_are_posted_for_both_sides_edited_and_deleted_everywhere() {
    let app = spawn_demo();
    let assistant = assistant(&app);
    let post = |body: Value| {
        call(
            &app,
            "POST",
            "/patients/conversations/con123/messages/",
            body,
        )
    };

    let r = post(json!({ "message_type": "user", "content": "My prescription ran out." }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["conversation_id"], "con123");
    assert_eq!(r.body["message_type"], "user");
    assert_eq!(r.body["content"], "My prescription ran out.");
    assert_eq!(r.body["date_created"], r.body["last_updated"]);
    let user_message = r.body["unique_id"].as_str().unwrap().to_string();

    let r = post(json!({ "message_type": "assistant", "content": "I will ask your care team." }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["message_type"], "assistant");
    let reply = r.body["unique_id"].as_str().unwrap().to_string();

    // The assistant's message is the assistant user's, and unread for the patient.
    let native = app
        .get("/parlor/v1/conversations/con123/messages")
        .admin()
        .tenant(TATI)
        .send();
    let stored: Vec<&Value> = native.body["data"].as_array().unwrap().iter().collect();
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[3]["sender_id"], assistant);
    let unread = app
        .get("/parlor/v1/unread?as=pat123")
        .admin()
        .tenant(TATI)
        .send();
    assert_eq!(unread.body["total"], 1, "{:?}", unread.body);

    let types: Vec<Value> = get(&app, "/patients/conversations/con123/messages/")
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_type"].clone())
        .collect();
    assert_eq!(
        types,
        [
            json!("user"),
            json!("assistant"),
            json!("user"),
            json!("assistant")
        ]
    );

    // A partial update: only the content, and `last_updated`, move.
    let r = call(
        &app,
        "PUT",
        "/patients/messages/msg123/",
        json!({ "content": "Hello, I need help with a refill.", "message_type": "assistant",
                "conversation_id": "other", "date_created": "2020-01-01T00:00:00Z" }),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["content"], "Hello, I need help with a refill.");
    assert_eq!(r.body["message_type"], "user");
    assert_eq!(r.body["conversation_id"], "con123");
    assert_eq!(r.body["date_created"], "2023-01-01T12:00:00Z");
    assert_ne!(r.body["last_updated"], "2023-01-01T12:00:00Z");
    let r = call(
        &app,
        "PUT",
        &format!("/patients/messages/{reply}"),
        json!({}),
    );
    assert_eq!(
        (r.status, &r.body["content"]),
        (200, &json!("I will ask your care team."))
    );
    let r = call(
        &app,
        "PUT",
        "/patients/messages/msg123/",
        json!({ "content": "  " }),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({ "content": ["This field may not be blank."] })
    );

    // Deleted: gone from this face and from the native API.
    let r = app
        .delete(&format!("/v0.1/patients/messages/{user_message}/"))
        .header("Authorization", &format!("Token {TOKEN}"))
        .send();
    assert_eq!(r.status, 204);
    assert_eq!(
        get(&app, &format!("/patients/messages/{user_message}/")).status,
        404
    );
    let listed = get(&app, "/patients/conversations/con123/messages/");
    assert_eq!(listed.body.as_array().unwrap().len(), 3);
    let native = app
        .get("/parlor/v1/conversations/con123/messages")
        .admin()
        .tenant(TATI)
        .send();
    assert_eq!(native.body["data"].as_array().unwrap().len(), 3);
    let r = app
        .get(&format!("/parlor/v1/messages/{user_message}"))
        .admin()
        .tenant(TATI)
        .send();
    assert_eq!(r.status, 404);
}

#[test]
fn message_bodies_are_checked_field_by_field() {
    let app = spawn_demo();
    let post = |body: Value| {
        call(
            &app,
            "POST",
            "/patients/conversations/con123/messages/",
            body,
        )
    };
    let cases = [
        (
            json!({}),
            json!({ "content": ["This field is required."],
                            "message_type": ["This field is required."] }),
        ),
        (
            json!({ "message_type": "robot", "content": "x" }),
            json!({ "message_type": ["\"robot\" is not a valid choice."] }),
        ),
        (
            json!({ "message_type": "user", "content": "" }),
            json!({ "content": ["This field may not be blank."] }),
        ),
        (
            json!({ "message_type": "user", "content": null }),
            json!({ "content": ["This field may not be null."] }),
        ),
        (
            json!({ "message_type": "user", "content": ["a"] }),
            json!({ "content": ["Not a valid string."] }),
        ),
        (
            json!({ "message_type": "user", "content": "x".repeat(20_001) }),
            json!({ "content": ["must be at most 20000 characters"] }),
        ),
    ];
    for (body, errors) in cases {
        let r = post(body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.body, errors, "{body}");
    }
    let r = app
        .post("/v0.1/patients/conversations/con123/messages/")
        .header("Authorization", &format!("Token {TOKEN}"))
        .raw("application/json", "{\"content\": ");
    assert_eq!(r.status, 400);
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error"));
    // Nothing was stored.
    let listed = get(&app, "/patients/conversations/con123/messages/");
    assert_eq!(listed.body.as_array().unwrap().len(), 2);
    // Archived conversations still take messages.
    call(
        &app,
        "PUT",
        "/patients/conversations/con123/",
        json!({ "status": "archived" }),
    );
    let r = post(json!({ "message_type": "user", "content": "Still there?" }));
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[test]
fn another_patients_ids_are_not_found() {
    let app = spawn_demo();
    let sam = other_patient(&app);
    let not_found = json!({ "detail": "Not found." });
    let as_sam = |method: &str, path: &str, body: Value| {
        app.request(method, &format!("/v0.1{path}"))
            .header("Authorization", &format!("Token {sam}"))
            .json(&body)
    };
    assert_eq!(
        as_sam("GET", "/patients/conversations/", json!({})).body,
        json!([])
    );
    for (method, path) in [
        ("GET", "/patients/conversations/con123/"),
        ("PUT", "/patients/conversations/con123/"),
        ("DELETE", "/patients/conversations/con123/"),
        ("GET", "/patients/conversations/con123/messages/"),
        ("POST", "/patients/conversations/con123/messages/"),
        ("GET", "/patients/messages/msg123/"),
        ("PUT", "/patients/messages/msg123/"),
        ("DELETE", "/patients/messages/msg123/"),
        ("GET", "/patients/messages/no-such-message/"),
    ] {
        let r = as_sam(
            method,
            path,
            json!({ "message_type": "user", "content": "hi" }),
        );
        assert_eq!((r.status, &r.body), (404, &not_found), "{method} {path}");
    }
    // Jordan's conversation is untouched.
    let r = get(&app, "/patients/conversations/con123/messages/");
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    assert_eq!(r.body[0]["content"], "Hello, I need help.");
    // Another tenant's conversation ids are not found either.
    let r = get(
        &app,
        "/patients/conversations/550e8400-e29b-41d4-a716-446655440000/",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn the_assistant_played_through_the_native_api_answers_in_tati() {
    let app = spawn_demo();
    let assistant = assistant(&app);
    let r = app
        .post("/parlor/v1/conversations/con123/messages")
        .admin()
        .tenant(TATI)
        .json(&json!({ "as": assistant, "body": "Your refill is ready." }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let listed = get(&app, "/patients/conversations/con123/messages/");
    let last = listed.body.as_array().unwrap().last().cloned().unwrap();
    assert_eq!(last["message_type"], "assistant");
    assert_eq!(last["content"], "Your refill is ready.");
    assert_eq!(last["unique_id"], r.body["uuid"]);
}

#[test]
fn unknown_paths_wrong_methods_and_the_base_path() {
    let app = spawn_demo();
    let r = get(&app, "/patients/elsewhere/");
    assert_eq!(
        (r.status, &r.body),
        (404, &json!({ "detail": "Not found." }))
    );
    let r = call(&app, "PATCH", "/patients/conversations/con123/", json!({}));
    assert_eq!(r.status, 405);
    assert_eq!(r.body, json!({ "detail": "Method \"PATCH\" not allowed." }));

    let moved = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("tati").unwrap().base_path = Some("/tati/v0.1".into());
    });
    let r = moved
        .get("/tati/v0.1/patients/messages/msg123/")
        .header("Authorization", &format!("Token {TOKEN}"))
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let off = spawn_with(|s| {
        s.demo = true;
        s.faces.get_mut("tati").unwrap().enabled = false;
    });
    let r = off
        .get("/v0.1/patients/messages/msg123/")
        .header("Authorization", &format!("Token {TOKEN}"))
        .send();
    assert_eq!(r.status, 404);
    assert!(r.body.get("detail").is_none());
}

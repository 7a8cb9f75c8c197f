//! Sandboxes: `X-Parlor-Sandbox` gives a request its own database.

use serde_json::{json, Value};

use super::state::{pair, stand_in, tenants};
use crate::helpers::{spawn_demo, spawn_with, Req, TestApp};

const SANDBOX: &str = "X-Parlor-Sandbox";

const PIGEONS_CONV: &str = "550e8400-e29b-41d4-a716-446655440000";
const PIGEONS_TENANT: i64 = 5;
const RESPONDENT_CONV: &str = "6651b0c0a1b2c3d4e5f60002";
const RESPONDENT_TENANT: i64 = 3;

fn in_box(req: Req, sandbox: Option<&str>) -> Req {
    match sandbox {
        Some(name) => req.header(SANDBOX, name),
        None => req,
    }
}

fn pigeons_send(app: &TestApp, sandbox: &str, text: &str) {
    let r = in_box(app.post("/api/v1/pigeons/chat/messages"), Some(sandbox))
        .bearer("1|demoPigeonsJohnDoeToken")
        .header("X-PUBLIC-KEY", "pk_demo_pigeons")
        .json(&json!({
            "conversation_uuid": PIGEONS_CONV,
            "receiver_uuid": "660e8400-e29b-41d4-a716-446655440002",
            "context_text": text,
            "context_type": "text",
            "attachments": [],
            "device": {"type": "desktop", "os": "Linux", "app_version": "1.2.3"},
        }));
    assert_eq!(r.status, 201, "{:?}", r.body);
}

fn respondent_send(app: &TestApp, sandbox: &str, text: &str) {
    let r = in_box(
        app.post(&format!(
            "/v1/messaging/conversations/{RESPONDENT_CONV}/messages"
        )),
        Some(sandbox),
    )
    .header("x-api-key", "demo-respondent-key")
    .header("x-api-secret", "demo-respondent-secret")
    .json(&json!({ "body": text }));
    assert_eq!(r.status, 201, "{:?}", r.body);
}

/// The bodies of a conversation's messages, through the native API.
fn bodies(app: &TestApp, sandbox: Option<&str>, tenant: i64, conv: &str) -> Vec<String> {
    let r = in_box(
        app.get(&format!(
            "/parlor/v1/conversations/{conv}/messages?limit=100"
        )),
        sandbox,
    )
    .admin()
    .tenant(tenant)
    .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn listed(app: &TestApp) -> Value {
    let r = app.get("/__parlor/sandboxes").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

fn names(app: &TestApp) -> Vec<String> {
    listed(app)["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_sandboxes_written_in_parallel_through_two_faces_never_see_each_other() {
    let app = std::sync::Arc::new(spawn_demo());
    let pigeons_before = bodies(&app, None, PIGEONS_TENANT, PIGEONS_CONV);
    let respondent_before = bodies(&app, None, RESPONDENT_TENANT, RESPONDENT_CONV);

    let writers: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|sandbox| {
            let app = app.clone();
            std::thread::spawn(move || {
                for i in 0..8 {
                    // Each sandbox is written through both faces, concurrently with the other.
                    pigeons_send(&app, sandbox, &format!("{sandbox} pigeons {i}"));
                    respondent_send(&app, sandbox, &format!("{sandbox} respondent {i}"));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer failed");
    }

    for (sandbox, other) in [("left", "right"), ("right", "left")] {
        for (tenant, conv, face, before) in [
            (PIGEONS_TENANT, PIGEONS_CONV, "pigeons", &pigeons_before),
            (
                RESPONDENT_TENANT,
                RESPONDENT_CONV,
                "respondent",
                &respondent_before,
            ),
        ] {
            let got = bodies(&app, Some(sandbox), tenant, conv);
            let mut expected = before.clone();
            expected.extend((0..8).map(|i| format!("{sandbox} {face} {i}")));
            assert_eq!(got, expected, "{sandbox} through {face}");
            assert!(!got.iter().any(|b| b.starts_with(other)));
        }
    }
    // The server's own store saw none of it.
    assert_eq!(
        bodies(&app, None, PIGEONS_TENANT, PIGEONS_CONV),
        pigeons_before
    );
    assert_eq!(
        bodies(&app, None, RESPONDENT_TENANT, RESPONDENT_CONV),
        respondent_before
    );
    let list = listed(&app);
    let left = &list["sandboxes"][0];
    assert_eq!(left["name"], "left");
    assert_eq!(left["snapshot"], Value::Null);
    // 16 sends and the 2 lists read above.
    assert_eq!(left["requests"], 18, "{list}");
    assert_eq!(names(&app), ["left", "right"]);
}

#[test]
fn a_token_made_in_a_sandbox_works_only_there_and_reset_resets_only_that_sandbox() {
    let app = stand_in();
    let boxed = |req: Req| req.header(SANDBOX, "mine");
    // Made in the sandbox: the tenant, its users and a user's token.
    let r = boxed(app.post("/parlor/v1/tenants"))
        .admin()
        .json(&json!({"name": "Boxed"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let tenant = r.body["id"].as_i64().unwrap();
    let r = boxed(app.post("/parlor/v1/users"))
        .admin()
        .tenant(tenant)
        .json(&json!({"username": "ann"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let user = r.body["id"].as_i64().unwrap();
    let r = boxed(app.post(&format!("/parlor/v1/users/{user}/tokens")))
        .admin()
        .tenant(tenant)
        .json(&json!({"abilities": ["*"]}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();

    let r = boxed(app.get("/parlor/v1/me")).bearer(&token).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    // HEAD is served as GET (the HTTP guard) in a sandbox too.
    let r = boxed(app.request("HEAD", "/parlor/v1/me"))
        .bearer(&token)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.text);
    let r = app.get("/parlor/v1/me").bearer(&token).send();
    assert_eq!(r.status, 401, "{:?}", r.body);
    assert_eq!(tenants(&app), Vec::<String>::new());

    // The server's own data is untouched by the sandbox's reset, and the other way round.
    app.create_tenant("Main");
    let r = boxed(app.post("/__parlor/reset")).admin().send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = boxed(app.get("/parlor/v1/me")).bearer(&token).send();
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = boxed(app.get("/parlor/v1/tenants")).admin().send();
    assert_eq!(r.body["data"], json!([]), "{:?}", r.body);
    assert_eq!(tenants(&app), vec!["Main".to_string()]);
}

#[test]
fn a_sandbox_starts_from_a_named_snapshot() {
    let app = stand_in();
    let (tenant, a, b, conv) = pair(&app, "Seeded");
    app.send_as(tenant, conv, a, "seed");
    let r = app
        .post("/__parlor/snapshots")
        .admin()
        .json(&json!({"name": "seeded"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    app.create_tenant("Later");

    // By header on the first request.
    let unread = |sandbox: &str| {
        let r = app
            .get(&format!("/parlor/v1/conversations/{conv}?as={b}"))
            .admin()
            .tenant(tenant)
            .header(SANDBOX, sandbox)
            .header("X-Parlor-Sandbox-From", "seeded")
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["unread_count"].as_i64().unwrap()
    };
    assert_eq!(unread("by-header"), 1);
    // By the control plane.
    let r = app
        .post("/__parlor/sandboxes")
        .admin()
        .json(&json!({"name": "by-post", "from": "seeded"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["name"], "by-post");
    assert_eq!(r.body["snapshot"], "seeded");
    assert_eq!(r.body["requests"], 0);
    assert_eq!(unread("by-post"), 1);
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "by-post")
        .send();
    let names: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Seeded"]);

    // Opening it again, or from a state it was not opened from, is refused.
    let r = app
        .post("/__parlor/sandboxes")
        .admin()
        .json(&json!({"name": "by-post"}));
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "by-post")
        .header("X-Parlor-Sandbox-From", "other")
        .send();
    assert_eq!(r.status, 409, "{:?}", r.body);
    // An unknown snapshot.
    let r = app
        .post("/__parlor/sandboxes")
        .admin()
        .json(&json!({"name": "nowhere", "from": "missing"}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"]["field"], "from");
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "nowhere")
        .header("X-Parlor-Sandbox-From", "missing")
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(!names_of(&app).contains(&"nowhere".to_string()));
}

fn names_of(app: &TestApp) -> Vec<String> {
    names(app)
}

#[test]
fn past_the_cap_the_least_recently_used_sandbox_is_closed() {
    let app = spawn_with(|s| {
        s.stand_in = true;
        s.stand_in_sandboxes = 2;
    });
    let touch = |name: &str| {
        let r = app
            .get("/parlor/v1/tenants")
            .admin()
            .header(SANDBOX, name)
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
    };
    let r = app
        .post("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "a")
        .json(&json!({"name": "In a"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    touch("b");
    touch("a");
    touch("c");
    assert_eq!(names(&app), ["a", "c"]);
    assert_eq!(listed(&app)["cap"], 2);
    // "a" kept its data; "b" starts over when it is used again, closing "c" (now the oldest).
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "a")
        .send();
    assert_eq!(r.body["data"][0]["name"], "In a");
    touch("b");
    assert_eq!(names(&app), ["a", "b"]);
}

#[test]
fn deleting_a_sandbox_closes_its_store_and_removes_its_file() {
    let app = stand_in();
    let r = app
        .post("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "gone")
        .json(&json!({"name": "Temporary"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let dir = app.dir.path().join("parlor.db.stand-in/sandboxes");
    let files = || -> Vec<String> {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".db"))
            .collect()
    };
    assert_eq!(files().len(), 1, "{:?}", files());

    let r = app.delete("/__parlor/sandboxes/gone").admin().send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "{:?}",
        files()
    );
    assert_eq!(names(&app), Vec::<String>::new());
    let r = app.delete("/__parlor/sandboxes/gone").admin().send();
    assert_eq!(r.status, 404, "{:?}", r.body);

    // The name opens a fresh sandbox from the start state.
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "gone")
        .send();
    assert_eq!(r.body["data"], json!([]), "{:?}", r.body);
}

#[test]
fn a_bad_sandbox_name_is_a_400_in_the_surface_s_own_format() {
    let app = spawn_demo();
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header(SANDBOX, "no/slashes")
        .send();
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"]["field"], SANDBOX, "{:?}", r.body);
    // Respondent (NestJS): its own error body.
    let r = app
        .get("/v1/messaging/conversations")
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .header(SANDBOX, &"x".repeat(65))
        .send();
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["statusCode"], 400, "{:?}", r.body);
    assert!(r.body["error"].is_string(), "{:?}", r.body);
    // A snapshot to start from, without a sandbox to start.
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header("X-Parlor-Sandbox-From", "somewhere")
        .send();
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["field"], "X-Parlor-Sandbox-From",
        "{:?}",
        r.body
    );
    // Nothing was opened.
    assert_eq!(names(&app), Vec::<String>::new());
}

#[test]
fn the_sandbox_routes_answer_only_the_server_admin() {
    let app = stand_in();
    let r = app.get("/__parlor/sandboxes").send();
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = app.post("/__parlor/reset").send();
    assert_eq!(r.status, 401, "{:?}", r.body);
    let r = app.get("/__parlor/snapshots").send();
    assert_eq!(r.status, 401, "{:?}", r.body);
}

#[test]
fn a_sandbox_has_its_own_event_stream() {
    let app = stand_in();
    let boxed = |req: Req| req.header(SANDBOX, "streaming");
    let r = boxed(app.post("/parlor/v1/tenants"))
        .admin()
        .json(&json!({"name": "Boxed"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let tenant = r.body["id"].as_i64().unwrap();
    let user = |name: &str| {
        let r = boxed(app.post("/parlor/v1/users"))
            .admin()
            .tenant(tenant)
            .json(&json!({ "username": name }));
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_i64().unwrap()
    };
    let (a, b) = (user("ann"), user("bob"));
    let r = boxed(app.post("/parlor/v1/conversations"))
        .admin()
        .tenant(tenant)
        .json(&json!({ "participants": [a, b] }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let conv = r.body["id"].as_i64().unwrap();

    let mut until = super::state::event_stream(&app, tenant, &format!("{SANDBOX}: streaming\r\n"));
    until(": stream open");
    let r = boxed(app.post(&format!("/parlor/v1/conversations/{conv}/messages")))
        .admin()
        .tenant(tenant)
        .json(&json!({ "as": a, "body": "in the sandbox" }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let got = until("data:");
    assert!(got.iter().any(|l| l == "event: message.created"), "{got:?}");
}

#[test]
fn first_requests_for_a_new_sandbox_at_once_open_it_once() {
    let app = std::sync::Arc::new(stand_in());
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let app = app.clone();
            std::thread::spawn(move || {
                let r = app
                    .post("/parlor/v1/tenants")
                    .admin()
                    .header(SANDBOX, "crowded")
                    .json(&json!({ "name": format!("T{i}") }));
                assert_eq!(r.status, 201, "{:?}", r.body);
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("a writer failed");
    }
    // Every write landed in the one sandbox: none in a second one opened beside it and lost.
    let r = app
        .get("/parlor/v1/tenants?limit=100")
        .admin()
        .header(SANDBOX, "crowded")
        .send();
    assert_eq!(r.body["data"].as_array().unwrap().len(), 8, "{:?}", r.body);
    let files = std::fs::read_dir(app.dir.path().join("parlor.db.stand-in/sandboxes"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".db")
        })
        .count();
    assert_eq!(files, 1);
    assert_eq!(listed(&app)["sandboxes"][0]["requests"], 9);
}

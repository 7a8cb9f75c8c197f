//! Fixture loading: all or nothing, errors naming the JSON path, read state derived from
//! `last_read_at` / `joined_at` / `read_by`; and the CLI commands around the database.

use std::process::Command;

use parlor::fixture::{self, Document};
use parlor::store::participants;
use serde_json::{json, Value};

use crate::helpers::*;

fn clinic() -> Value {
    json!({
        "tenants": [{
            "key": "clinic", "name": "Fixture Clinic", "utc_offset": "-05:00",
            "public_key": "pk_fixture", "owner": "boss",
            "api_keys": [{ "key": "fx-key", "secret": "fx-secret-123", "label": "partner" }]
        }],
        "users": [
            { "key": "boss", "tenant": "clinic", "role": "admin", "username": "boss",
              "password": "boss-password", "tokens": [{ "token": "fixture-admin-token" }] },
            { "key": "pat", "tenant": "clinic", "role": "patient", "id": 52,
              "uuid": "660e8400-e29b-41d4-a716-446655440001", "oid": "674e29976b6acbac106d2651",
              "first_name": "John", "last_name": "Doe", "contacts": ["doc"],
              "tokens": [{ "token": "1|pigeonsTokenForJohn", "abilities": ["backoffice"] }] },
            { "key": "doc", "tenant": "clinic", "role": "provider", "id": 4, "display_name": "Travis C Stork", "prefix": "DR" },
            { "key": "late", "tenant": "clinic", "role": "staff", "display_name": "Late Joiner" }
        ],
        "conversations": [{
            "key": "c1", "tenant": "clinic", "uuid": "con123", "id": 7,
            "created_at": "2025-11-01T08:00:00+00:00",
            "participants": [
                { "user": "pat", "last_read_at": "2025-11-02T09:00:00+00:00" },
                { "user": "doc" },
                { "user": "late", "joined_at": "2025-11-02T10:00:00+00:00" }
            ],
            "messages": [
                { "key": "m1", "sender": "pat", "body": "Hello", "created_at": "2025-11-02T08:00:00+00:00" },
                { "key": "m2", "sender": "doc", "body": "Hi John", "created_at": "2025-11-02T08:30:00+00:00" },
                { "key": "m3", "sender": "doc", "body": "Labs are in", "created_at": "2025-11-02T09:30:00+00:00", "read_by": ["pat"] },
                { "key": "m4", "sender": "doc", "body": "All normal", "created_at": "2025-11-02T10:30:00+00:00",
                  "reply_to": "m1", "reactions": [{ "user": "pat", "emoji": "👍" }] },
                { "id": 104, "uuid": "msg123", "sender": "doc", "body": "See you soon", "created_at": "2025-11-02T10:40:00+00:00" }
            ]
        }]
    })
}

fn load(app: &TestApp, doc: &Value) -> parlor::Result<fixture::Summary> {
    let doc = Document::parse(&doc.to_string())?;
    fixture::load_blocking(&app.service, doc)
}

fn tenant_count(app: &TestApp) -> i64 {
    app.service
        .store
        .read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM tenants", [], |r| r.get(0))?))
        .unwrap()
}

#[test]
fn a_fixture_loads_with_its_ids_and_derived_read_state() {
    let app = spawn_app();
    let summary = load(&app, &clinic()).unwrap();
    assert_eq!(
        (
            summary.tenants,
            summary.users,
            summary.conversations,
            summary.messages
        ),
        (1, 4, 1, 5)
    );
    assert!(summary
        .credentials
        .iter()
        .any(|c| c.value == "1|pigeonsTokenForJohn"));

    // The patient read up to 09:00 (m1, m2) and m3 singly: m4 and msg123 are unread.
    let r = app
        .get("/parlor/v1/conversations/con123")
        .bearer("1|pigeonsTokenForJohn")
        .send();
    assert_eq!(
        r.status, 403,
        "a backoffice-only token may not use the native API"
    );
    let t = app.get("/parlor/v1/tenants").admin().send().body["data"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.unread(t, 7, 52), 2);
    // The provider sent the last messages; the late joiner has read everything before 10:00.
    assert_eq!(app.unread(t, 7, 4), 0);
    let late = app
        .get("/parlor/v1/users?role=staff")
        .admin()
        .tenant(t)
        .send()
        .body["data"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.unread(t, 7, late), 2);

    let conv = app
        .get("/parlor/v1/conversations/con123")
        .admin()
        .tenant(t)
        .send()
        .body;
    assert_eq!(conv["id"], 7);
    assert_eq!(conv["last_message"]["body"], "See you soon");
    assert_eq!(conv["last_message"]["message_id"], 104);
    assert_eq!(conv["message_count"], 5);
    let john = &conv["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["id"] == 52)
        .unwrap()
        .clone();
    assert_eq!(john["user"]["uuid"], "660e8400-e29b-41d4-a716-446655440001");
    assert_eq!(john["last_read_at"], "2025-11-02T09:00:00.000Z");

    let msgs = app
        .get("/parlor/v1/conversations/7/messages")
        .admin()
        .tenant(t)
        .send()
        .body;
    let m4 = &msgs["data"][3];
    assert_eq!(m4["reply_to_id"], msgs["data"][0]["id"]);
    assert_eq!(msgs["data"][4]["uuid"], "msg123");
    // m3: John read it singly; the late joiner joined after it; its sender is not listed.
    assert_eq!(msgs["data"][2]["read_by"], json!([52, late]));
    assert_eq!(msgs["data"][3]["read_by"], json!([]));

    // The fixture's own credentials work.
    let login = app
        .post("/parlor/v1/auth/login")
        .json(&json!({ "tenant": t, "username": "boss", "password": "boss-password" }));
    assert_eq!(login.status, 200, "{:?}", login.body);
    let me = app
        .get("/parlor/v1/me")
        .bearer("fixture-admin-token")
        .send();
    assert_eq!(me.body["role"], "admin");

    let drift = app
        .service
        .store
        .read_blocking(participants::find_drift)
        .unwrap();
    assert!(drift.is_empty(), "{drift:?}");
}

fn assert_refused(app: &TestApp, doc: &Value, path: &str, words: &str) {
    let err = load(app, doc).unwrap_err().to_string();
    assert!(err.contains(path), "error {err:?} does not name {path}");
    assert!(err.contains(words), "error {err:?} does not say {words:?}");
    assert_eq!(tenant_count(app), 0, "a refused fixture must write nothing");
}

#[test]
fn errors_name_the_json_path_and_nothing_is_written() {
    let app = spawn_app();
    let mut doc = clinic();
    doc["conversations"][0]["messages"][2]["sender"] = json!("prov9");
    assert_refused(
        &app,
        &doc,
        "conversations[0].messages[2].sender",
        "unknown user key \"prov9\"",
    );

    let mut doc = clinic();
    doc["users"][1]["emial"] = json!("typo@example.com");
    assert_refused(&app, &doc, "users[1]", "emial");

    let mut doc = clinic();
    doc["conversations"][0]["participants"][0]["last_read_at"] = json!("yesterday");
    assert_refused(
        &app,
        &doc,
        "conversations[0].participants[0].last_read_at",
        "RFC 3339",
    );

    let mut doc = clinic();
    doc["users"][2]["role"] = json!("doctor");
    assert_refused(&app, &doc, "users[2].role", "provider");

    let mut doc = clinic();
    doc["conversations"][0]["uuid"] = json!("has spaces");
    assert_refused(&app, &doc, "conversations[0].uuid", "1-64 characters");

    let mut doc = clinic();
    doc["conversations"][0]["messages"][1]["sender"] = json!("late");
    doc["conversations"][0]["participants"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_refused(
        &app,
        &doc,
        "conversations[0].messages[1].sender",
        "not a participant",
    );

    // A database error late in the load (a duplicate message id) undoes the whole load.
    let mut doc = clinic();
    doc["conversations"][0]["messages"][0]["id"] = json!(104);
    assert_refused(
        &app,
        &doc,
        "conversations[0].messages[4].id",
        "is already used by another message",
    );
}

#[test]
fn loading_the_same_fixture_twice_fails_instead_of_duplicating() {
    let app = spawn_app();
    load(&app, &clinic()).unwrap();
    let err = load(&app, &clinic()).unwrap_err().to_string();
    assert!(
        err.contains("tenants[0]") && err.contains("already"),
        "{err}"
    );
    assert_eq!(tenant_count(&app), 1);
}

#[test]
fn the_demo_fixture_loads_consistently_once() {
    let app = spawn_demo();
    let tenants = tenant_count(&app);
    assert!(tenants >= 1);
    let drift = app
        .service
        .store
        .read_blocking(participants::find_drift)
        .unwrap();
    assert!(drift.is_empty(), "{drift:?}");
    // Starting again with --demo on the same database does not load it twice.
    let again = std::thread::spawn({
        let service = app.service.clone();
        move || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(async { fixture::load_demo(&service).await })
        }
    })
    .join()
    .unwrap()
    .unwrap();
    assert!(again.0.is_none());
    assert!(
        !again.1.is_empty(),
        "the demo's credentials are known even when it was loaded before"
    );
    assert_eq!(tenant_count(&app), tenants);
}

fn parlor(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PARLOR_DB")
        .output()
        .expect("run parlor")
}

#[test]
fn the_cli_loads_checks_and_backs_up_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let fixture_file = dir.path().join("clinic.json");
    std::fs::write(&fixture_file, clinic().to_string()).unwrap();

    let out = parlor(&db, &["load", fixture_file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Loaded 1 tenant(s)"));

    let out = parlor(&db, &["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Corrupt one badge behind Parlor's back: check reports it and exits 1; --fix repairs it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE participants SET unread_count = unread_count + 5 WHERE user_id = 52",
        [],
    )
    .unwrap();
    drop(conn);
    let out = parlor(&db, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("user 52: stored 7 unread, messages say 2"),
        "{text}"
    );
    assert_eq!(parlor(&db, &["check", "--fix"]).status.code(), Some(1));
    assert_eq!(parlor(&db, &["check"]).status.code(), Some(0));

    let copy = dir.path().join("copy.db");
    let out = parlor(&db, &["backup", copy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied: i64 = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(copied, 5);
    // Never overwrite an existing file.
    let out = parlor(&db, &["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let out = parlor(&db, &["load", "/nonexistent/fixture.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn a_backup_taken_while_the_server_writes_is_consistent() {
    let app = spawn_app();
    load(&app, &clinic()).unwrap();
    let t = app.get("/parlor/v1/tenants").admin().send().body["data"][0]["id"]
        .as_i64()
        .unwrap();
    let writer = {
        let url = app.url("/parlor/v1/conversations/7/messages");
        std::thread::spawn(move || {
            for i in 0..100 {
                let r = ureq::post(&url)
                    .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
                    .set("X-Parlor-Tenant", &t.to_string())
                    .send_json(json!({ "body": format!("busy {i}"), "as": 4 }));
                assert!(r.is_ok());
            }
        })
    };
    let copy = app.dir.path().join("during.db");
    app.service.store.backup_to(&copy).unwrap();
    writer.join().unwrap();
    let out = parlor(&copy, &["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn an_office_manager_sets_up_a_clinic_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clinic.db");
    let out = parlor(
        &db,
        &[
            "tenant",
            "create",
            "--name",
            "Riverside",
            "--utc-offset",
            "-05:00",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = parlor(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "1",
            "--role",
            "admin",
            "--name",
            "Office Manager",
            "--username",
            "manager",
            "--password",
            "a long passphrase",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = parlor(
        &db,
        &[
            "user", "create", "--tenant", "1", "--role", "doctor", "--name", "X",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("role"));
    let out = parlor(&db, &["init"]);
    let admin_token = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("plr_admin_"))
        .expect("init prints a token")
        .to_string();

    let app = spawn_with(|s| s.db = db.clone());
    let tenants = app.get("/parlor/v1/tenants").bearer(&admin_token).send();
    assert_eq!(tenants.body["data"][0]["utc_offset"], "-05:00");
    let login = app
        .post("/parlor/v1/auth/login")
        .json(&json!({ "tenant": 1, "username": "manager", "password": "a long passphrase" }));
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["user"]["role"], "admin");
}

#[test]
fn an_unknown_parlor_variable_is_a_warning_naming_the_closest_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.db");
    // A wrapper script's own variable beside a real setting.
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args(["tenant", "list"])
        .env("PARLOR_DB", &db)
        .env("PARLOR_BIN", "/opt/parlor/bin/parlor")
        .env_remove("RUST_LOG")
        .output()
        .expect("run parlor");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("PARLOR_BIN: not a Parlor setting, ignored")
            && stderr.contains("the closest known variable is PARLOR_BIND"),
        "{stderr}"
    );
    assert!(db.exists(), "PARLOR_DB was still applied");

    // An unknown key in the file stays an error.
    let config = dir.path().join("parlor.toml");
    std::fs::write(&config, "bnid = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--config")
        .arg(&config)
        .args(["tenant", "list"])
        .env("PARLOR_DB", &db)
        .output()
        .expect("run parlor");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bnid"));
}

#[test]
fn the_demo_holds_the_read_state_behind_the_seed_examples() {
    let app = spawn_demo();
    // MDLIVE seed: patient 52 has 2 unread from provider 4 and none from provider 37.
    let list = app
        .get("/parlor/v1/conversations?as=52")
        .admin()
        .tenant(1)
        .send();
    let unread_with = |provider: i64| {
        list.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                let ids: Vec<i64> = c["participants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["user"]["id"].as_i64().unwrap())
                    .collect();
                ids.len() == 2 && ids.contains(&provider)
            })
            .map(|c| c["unread_count"].as_i64().unwrap())
    };
    assert_eq!(unread_with(4), Some(2));
    assert_eq!(unread_with(37), Some(0));
    // Pigeons seed: John Doe has 3 unread, read up to 09:00.
    let conv = app
        .get("/parlor/v1/conversations/550e8400-e29b-41d4-a716-446655440000")
        .admin()
        .tenant(5)
        .send();
    let john = conv.body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["uuid"] == "660e8400-e29b-41d4-a716-446655440001")
        .unwrap()
        .clone();
    assert_eq!(john["unread_count"], 3);
    assert_eq!(john["last_read_at"], "2025-11-02T09:00:00.000Z");
    // Tati seed: con123 holds msg123 then msg456.
    let msgs = app
        .get("/parlor/v1/conversations/con123/messages")
        .admin()
        .tenant(4)
        .send();
    let ids: Vec<&str> = msgs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["msg123", "msg456"]);
}

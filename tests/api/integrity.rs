//! A damaged database file: `parlor check` names it and exits non-zero, `parlor serve` refuses
//! it (or serves it read-only when told to), and damage found while serving stops writes,
//! turns `/readyz` red and answers 503, logged once.

use std::path::{Path, PathBuf};
use std::process::Command;

use parlor::domain::Clock;
use parlor::fixture;
use parlor::service::Service;
use parlor::store::integrity::{quick_check_within, Outcome};
use parlor::store::{StartupCheck, Store, StoreOptions};
use serde_json::json;

use crate::helpers::*;
use crate::logs;
use crate::shutdown::serve_with;

/// A closed database holding the demo data, the tests' admin token and a JWT secret: what a
/// server leaves behind after a graceful stop.
pub fn demo_db(dir: &Path) -> PathBuf {
    let path = dir.join("parlor.db");
    let at = path.clone();
    actix_web::rt::System::new().block_on(async move {
        let store = Store::open(&at, &StoreOptions::default()).unwrap();
        let service = Service::new(store, Clock::system());
        service
            .ensure_server_admin_token(ADMIN_TOKEN)
            .await
            .unwrap();
        service.jwt_secret(None).await.unwrap();
        fixture::load_demo(&service).await.unwrap();
        service.store.close().await.unwrap();
    });
    // The read pool's last connection may still be closing on r2d2's thread; once it is, the
    // WAL and shared-memory files are gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while wal(&path).exists() || shm(&path).exists() {
        assert!(std::time::Instant::now() < deadline, "the WAL stays");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    path
}

fn shm(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-shm", db.display()))
}

fn wal(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", db.display()))
}

/// Overwrites page `page` (1-based) of the file with garbage, as a failing disk might.
fn overwrite_page(db: &Path, page: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let size = rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .unwrap() as u64;
    let mut file = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    file.seek(SeekFrom::Start((page - 1) * size)).unwrap();
    file.write_all(&vec![0xA5; size as usize]).unwrap();
    file.sync_all().unwrap();
}

/// The first page of `table`'s b-tree.
fn root_page(db: &Path, table: &str) -> u64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_schema WHERE name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64
}

/// A copy of a sound demo database with the messages table's first page overwritten.
fn damaged_copy(dir: &Path) -> PathBuf {
    let sound = demo_db(dir);
    let copy = dir.join("damaged.db");
    std::fs::copy(&sound, &copy).unwrap();
    overwrite_page(&copy, root_page(&copy, "messages"));
    copy
}

fn parlor(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PARLOR_DB")
        .output()
        .expect("run parlor")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_verifies_the_file_before_the_badges_and_names_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let damaged = damaged_copy(dir.path());
    let sound = dir.path().join("parlor.db");

    let out = parlor(&sound, &["check"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("file structure: sound"), "{said}");
    assert!(said.contains("links between records: sound"), "{said}");
    assert!(said.contains("unread counts: sound"), "{said}");

    for args in [&["check"][..], &["check", "--quick"], &["check", "--fix"]] {
        let out = parlor(&damaged, args);
        let said = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains("file structure: PROBLEMS FOUND"), "{said}");
        assert!(said.contains("malformed"), "{said}");
        assert!(said.contains("The database file is damaged"), "{said}");
        assert!(said.contains("latest backup"), "{said}");
        // The badges are not recounted over a damaged file, let alone "fixed".
        assert!(
            said.contains("unread counts: not checked (the file is damaged)"),
            "{said}"
        );
        assert!(!said.contains("corrected"), "{said}");
    }
}

#[test]
fn check_lists_what_the_full_check_finds_and_a_file_that_is_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let sound = demo_db(dir.path());

    // An index page gone bad: the rows are intact, the index no longer matches them.
    let index = dir.path().join("index.db");
    std::fs::copy(&sound, &index).unwrap();
    let conn = rusqlite::Connection::open(&index).unwrap();
    let name: String = conn
        .query_row(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages'
             ORDER BY name LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    overwrite_page(&index, root_page(&index, &name));
    let out = parlor(&index, &["check"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("file structure: PROBLEMS FOUND"), "{said}");

    // The header itself: not recognisable as a database at all.
    let header = dir.path().join("header.db");
    std::fs::copy(&sound, &header).unwrap();
    std::fs::write(
        &header,
        [&[0x42u8; 100][..], &std::fs::read(&sound).unwrap()[100..]].concat(),
    )
    .unwrap();
    let out = parlor(&header, &["check"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("not a SQLite database"), "{said}");
}

#[test]
fn check_finds_records_that_point_at_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF;
         UPDATE messages SET conversation_id = 999999 WHERE id IN (SELECT id FROM messages LIMIT 2);",
    )
    .unwrap();
    drop(conn);
    let out = parlor(&db, &["check"]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("links between records: PROBLEMS FOUND"),
        "{said}"
    );
    assert!(
        said.contains("2 row(s) of messages refer to conversations that do not exist"),
        "{said}"
    );
}

#[test]
fn check_of_a_missing_file_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nowhere.db");
    let out = parlor(&db, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("there is no database at"));
    assert!(!db.exists());
}

#[test]
fn serve_refuses_a_damaged_file_naming_the_damage_and_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let damaged = damaged_copy(dir.path());
    let out = parlor(&damaged, &["serve", "--bind", "127.0.0.1:0"]);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("is damaged, so Parlor will not serve it"),
        "{said}"
    );
    assert!(said.contains("malformed"), "{said}");
    assert!(said.contains("latest backup"), "{said}");
    assert!(said.contains("read_only_if_damaged"), "{said}");
    assert!(!text(&out.stdout).contains("listening"));
}

#[test]
fn an_expert_can_serve_a_damaged_file_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let damaged = damaged_copy(dir.path());
    let before = std::fs::read(&damaged).unwrap();
    let app = spawn_with(|s| {
        s.db = damaged.clone();
        s.read_only_if_damaged = true;
    });

    let ready = app.get("/readyz").send();
    assert_eq!(ready.status, 503);
    assert!(
        ready.body["reason"].as_str().unwrap().contains("damaged"),
        "{}",
        ready.body
    );
    // What can still be read is served ...
    let tenants = app.get("/parlor/v1/tenants").admin().send();
    assert_eq!(tenants.status, 200, "{}", tenants.body);
    // ... the damaged part answers 503, and so does every change, in each surface's format.
    let messages = app
        .get("/parlor/v1/conversations/2/messages")
        .admin()
        .tenant(1)
        .send();
    assert_eq!(messages.status, 503, "{}", messages.body);
    assert_eq!(messages.code(), "unavailable");
    let created = app
        .post("/parlor/v1/tenants")
        .admin()
        .json(&json!({ "name": "Another Clinic" }));
    assert_eq!(created.status, 503, "{}", created.body);
    assert!(created.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("database file is damaged"));
    let pigeons = app
        .post("/api/v1/pigeons/chat/messages")
        .bearer("1|demoPigeonsJohnDoeToken")
        .header("X-PUBLIC-KEY", "pk_demo_pigeons")
        .json(&json!({
            "conversation_uuid": "550e8400-e29b-41d4-a716-446655440000",
            "receiver_uuid": "660e8400-e29b-41d4-a716-446655440002",
            "context_text": "still there?", "context_type": "text",
            "device": {"type": "desktop", "os": "Linux", "app_version": "1.2.3"}
        }));
    assert_eq!(pigeons.status, 503, "{}", pigeons.body);
    assert!(pigeons.body["message"]
        .as_str()
        .unwrap()
        .contains("database file is damaged"));
    assert_eq!(
        app.get("/parlor/v1/tenants").admin().send().body["data"]
            .as_array()
            .unwrap()
            .len(),
        tenants.body["data"].as_array().unwrap().len(),
        "nothing was added"
    );
    assert_eq!(
        std::fs::read(&damaged).unwrap(),
        before,
        "a damaged file is left exactly as it was"
    );
}

#[test]
fn a_file_that_is_no_database_is_refused_even_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    std::fs::write(&db, "Tuesday: call the plumber. ".repeat(400)).unwrap();
    let out = parlor(&db, &["serve", "--bind", "127.0.0.1:0"]);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("not a SQLite database"), "{said}");
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .env("PARLOR_READ_ONLY_IF_DAMAGED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn damage_found_while_serving_stops_writes_turns_readyz_red_and_is_logged_once() {
    logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let app = spawn_with(|s| s.db = db.clone());
    assert_eq!(app.get("/readyz").send().status, 200);
    assert_eq!(app.get("/parlor/v1/tenants").admin().send().status, 200);

    // The disk goes bad under the running server. No connection has read or written this page
    // yet, so the next read of it meets the damage.
    overwrite_page(&db, root_page(&db, "messages"));

    for _ in 0..5 {
        let r = app
            .get("/parlor/v1/conversations/2/messages")
            .admin()
            .tenant(1)
            .send();
        assert_eq!(r.status, 503, "{}", r.body);
        assert_eq!(r.code(), "unavailable");
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("database file is damaged"));
    }
    let ready = app.get("/readyz").send();
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["status"], "unavailable");
    assert!(ready.body["reason"].as_str().unwrap().contains("damaged"));

    // Writes stop, and reads that would have worked are not served from a damaged file either.
    let send = app
        .post("/parlor/v1/conversations/2/messages")
        .admin()
        .tenant(1)
        .json(&json!({ "as": 4, "body": "after the disk error" }));
    assert_eq!(send.status, 503, "{}", send.body);
    assert_eq!(app.get("/parlor/v1/tenants").admin().send().status, 503);
    assert_eq!(
        app.get("/healthz").send().status,
        200,
        "the process is alive"
    );

    let path = db.display().to_string();
    assert_eq!(logs::count(&[&path, "is damaged"]), 1, "logged once");
}

const OFF: (&str, &str) = ("PARLOR_SYNCHRONOUS", "off");

#[test]
fn synchronous_off_is_refused_for_real_data_unless_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let clinic = dir.path().join("clinic.db");
    let out = parlor(
        &clinic,
        &["tenant", "create", "--name", "Riverside Family Clinic"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let fresh = dir.path().join("fresh.db");

    for db in [&clinic, &fresh] {
        let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
            .arg("--db")
            .arg(db)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env(OFF.0, OFF.1)
            .output()
            .unwrap();
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(
            said.contains("may lose recent messages and may corrupt the database file"),
            "{said}"
        );
        assert!(said.contains("synchronous_off_confirmed = true"), "{said}");
    }

    let app = spawn_with(|s| {
        s.db = clinic.clone();
        s.synchronous = parlor::store::Synchronous::Off;
        s.synchronous_off_confirmed = true;
    });
    assert_eq!(app.get("/readyz").send().status, 200);
}

#[test]
fn synchronous_off_is_free_for_the_demo_and_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo.db");
    let (status, stderr) = serve_with(&demo, &["--demo"], &[OFF]).terminate();
    assert!(status.success(), "{stderr}");
    // Its data came from the demo: later starts without --demo may use "off" too.
    let (status, stderr) = serve_with(&demo, &[], &[OFF]).terminate();
    assert!(status.success(), "{stderr}");

    let fixture = dir.path().join("fixture.json");
    std::fs::write(&fixture, fixture::DEMO).unwrap();
    let loaded = dir.path().join("loaded.db");
    let out = parlor(&loaded, &["load", fixture.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (status, stderr) = serve_with(&loaded, &[], &[OFF]).terminate();
    assert!(status.success(), "{stderr}");

    // Real data added to a database that already holds a clinic is not "from a fixture".
    let clinic = dir.path().join("clinic.db");
    let out = parlor(
        &clinic,
        &["tenant", "create", "--name", "Riverside Family Clinic"],
    );
    assert!(out.status.success());
    let small = dir.path().join("small.json");
    std::fs::write(
        &small,
        r#"{"tenants": [{"key": "t", "name": "Scratch Clinic"}]}"#,
    )
    .unwrap();
    let out = parlor(&clinic, &["load", small.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(&clinic)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--fixture",
            small.to_str().unwrap(),
        ])
        .env(OFF.0, OFF.1)
        .output()
        .unwrap();
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("holds data that was not loaded from the demo or a fixture"),
        "{said}"
    );
}

#[test]
fn a_start_up_check_that_runs_out_of_time_says_so_and_the_server_starts_anyway() {
    logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let long = std::time::Duration::from_secs(600);
    assert_eq!(quick_check_within(&db, long, None).unwrap(), Outcome::Sound);
    let none = std::time::Duration::ZERO;
    assert_eq!(
        quick_check_within(&db, none, None).unwrap(),
        Outcome::Unfinished
    );

    let store = Store::open_checked(
        &db,
        &StoreOptions::default(),
        &StartupCheck {
            budget: Some(none),
            read_only_if_damaged: false,
        },
        None,
    )
    .expect("an unfinished check does not keep the server from starting");
    let path = db.display().to_string();
    assert_eq!(logs::count(&[&path, "did not finish within 0 s"]), 1);
    assert!(!store.health().is_damaged());
    store.close_blocking().unwrap();

    let damaged = damaged_copy(dir.path());
    assert!(matches!(
        quick_check_within(&damaged, long, None).unwrap(),
        Outcome::Problems(_)
    ));
}

#[test]
fn damage_met_by_a_write_stops_writes_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let app = spawn_with(|s| s.db = db.clone());
    overwrite_page(&db, root_page(&db, "messages"));

    // The send is the first to touch the damaged page.
    let send = app
        .post("/parlor/v1/conversations/2/messages")
        .admin()
        .tenant(1)
        .json(&json!({ "as": 4, "body": "into a damaged file" }));
    assert_eq!(send.status, 503, "{}", send.body);
    assert_eq!(send.code(), "unavailable");
    let ready = app.get("/readyz").send();
    assert_eq!(ready.status, 503);
    assert!(ready.body["reason"].as_str().unwrap().contains("damaged"));
    let again = app
        .post("/parlor/v1/tenants")
        .admin()
        .json(&json!({ "name": "Another Clinic" }));
    assert_eq!(again.status, 503, "{}", again.body);
}

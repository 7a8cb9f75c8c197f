//! Scheduled backups (`backup_every`): verified copies put in place and thinned, their outcome in
//! `/readyz`; encrypted databases give encrypted copies. `parlor restore`: refused while the
//! database is in use and for a damaged copy; a restored database serves the copy's data.
//! `/readyz` fails while the writer is stuck. `checkpoints = "external"` leaves the WAL alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use parlor::store::cipher::{FileKind, Key};
use parlor::store::integrity::{self, Depth};
use parlor::store::Checkpoints;
use serde_json::{json, Value};

use crate::helpers::{spawn_with, TestApp};
use crate::shutdown::serve_with;

fn parlor(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PARLOR_DB")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run parlor")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The copies' file names in `dir`, sorted (oldest first).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn now_ms() -> i64 {
    parlor::domain::Clock::system().now_ms()
}

/// `/readyz`'s backups part once `seen` distinct copies have been reported after `after` (by
/// name), polling; the report is the last one.
pub fn wait_for_copies(app: &TestApp, seen: usize, after: &str) -> (Vec<String>, Value) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut files: Vec<String> = Vec::new();
    loop {
        let ready = app.get("/readyz").send();
        assert_eq!(ready.status, 200, "{}", ready.text);
        if let Some(file) = ready.body["backups"]["last_file"].as_str() {
            if file > after && !files.iter().any(|f| f == file) {
                files.push(file.to_string());
            }
        }
        if files.len() >= seen {
            return (files, ready.body);
        }
        assert!(Instant::now() < deadline, "only {files:?}: {}", ready.text);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The demo's conversation 2 gets a message `body` from user 4.
pub fn a_message(app: &TestApp, body: &str) {
    let sent = app
        .post("/parlor/v1/conversations/2/messages")
        .admin()
        .tenant(1)
        .json(&json!({ "as": 4, "body": body }));
    assert_eq!(sent.status, 201, "{}", sent.text);
}

pub fn holds_message(copy: &Path, key: Option<&Key>, body: &str) -> bool {
    let conn =
        parlor::store::cipher::open(copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY, key).unwrap();
    conn.query_row(
        "SELECT count(*) FROM messages WHERE body = ?1",
        [body],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        == 1
}

/// The details of the audit trail's scheduled backups with `outcome`, once there is one
/// (entries are stored a moment after the run).
fn audited_backups(app: &TestApp, outcome: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let wanted = outcome.to_string();
        let details: Vec<String> = app
            .service
            .store
            .read_blocking(move |c| {
                let mut stmt = c.prepare(
                    "SELECT detail FROM audit WHERE action = 'backup' AND surface = 'system'
                       AND actor_kind = 'system' AND tenant_id IS NULL AND outcome = ?1",
                )?;
                let rows = stmt.query_map([wanted], |r| r.get(0))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap();
        if !details.is_empty() {
            return details
                .iter()
                .map(|d| serde_json::from_str(d).unwrap())
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no {outcome} backup in the audit trail"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_scheduled_backup_is_verified_put_in_place_and_older_copies_are_thinned() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("copies");
    std::fs::create_dir(&backups).unwrap();
    // Copies left by earlier runs: one from yesterday (today's window keeps one a day for two
    // days) and one from 40 days ago (outside every window); and a file that is not a copy.
    let now = now_ms();
    let yesterday = format!("parlor-{}.db", stamp(now - 86_400_000));
    let long_ago = format!("parlor-{}.db", stamp(now - 40 * 86_400_000));
    for name in [&yesterday, &long_ago, &"notes.txt".to_string()] {
        std::fs::write(backups.join(name), b"an older copy").unwrap();
    }
    let settings_dir = backups.clone();
    let app = spawn_with(move |s| {
        s.demo = true;
        s.backup_every = Some("1s".into());
        s.backup_dir = Some(settings_dir);
        s.backup_keep_last = 2;
        s.backup_keep_hourly_for_hours = 0;
        s.backup_keep_daily_for_days = 2;
    });
    // The schedule resumes from the newest copy (yesterday's): the first one is due at once.
    a_message(&app, "kept in the newest copy");
    let (files, ready) = wait_for_copies(&app, 4, &yesterday);
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"]["writable"], true, "{ready}");
    assert!(ready["database"]["wal_bytes"].as_u64().is_some(), "{ready}");
    assert_eq!(ready["backups"]["every_seconds"], 1, "{ready}");
    assert!(ready["backups"]["last_error"].is_null(), "{ready}");
    assert!(
        ready["backups"]["age_seconds"].as_i64().unwrap() < 3600,
        "{ready}"
    );
    assert!(
        ready["backups"]["last_success"].as_str().is_some(),
        "{ready}"
    );

    let listed = names(&backups);
    assert!(listed.contains(&yesterday), "{listed:?}");
    assert!(listed.contains(&"notes.txt".to_string()), "{listed:?}");
    assert!(!listed.contains(&long_ago), "{listed:?}");
    assert!(
        !listed.iter().any(|n| n.ends_with(".partial")),
        "{listed:?}"
    );
    // Made since the start: the two newest and the first of today (if the day did not turn).
    let made: Vec<&String> = listed
        .iter()
        .filter(|n| n.starts_with("parlor-") && **n != yesterday)
        .collect();
    assert!((2..=3).contains(&made.len()), "{listed:?} after {files:?}");
    assert!(listed.contains(files.last().unwrap()), "{listed:?}");
    for name in made {
        let copy = backups.join(name);
        let report = integrity::verify(&copy, Depth::Full, None).unwrap();
        assert!(report.is_sound(), "{name}: {:?}", report.problems());
    }
    let newest = backups.join(files.last().unwrap());
    assert!(holds_message(&newest, None, "kept in the newest copy"));

    // Each run is in the audit trail, as the server's (`system`), naming the copy.
    let audited = audited_backups(&app, "ok");
    let first = audited[0]["file"].as_str().unwrap();
    assert!(
        files.iter().any(|f| first.ends_with(f.as_str())),
        "{audited:?}"
    );
    assert!(audited[0]["bytes"].as_u64().unwrap() > 0, "{audited:?}");
}

#[test]
fn an_encrypted_database_is_backed_up_encrypted_with_the_same_key() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("parlor.key");
    Key::generate(&key_file).write_new().unwrap();
    let key = Key::read(&key_file).unwrap();
    let key_setting = key_file.clone();
    let app = spawn_with(move |s| {
        s.encryption_key_file = Some(key_setting);
        s.demo = true;
        s.backup_every = Some("1s".into());
    });
    a_message(&app, "a secret kept encrypted");
    let (files, _) = wait_for_copies(&app, 2, "");
    // The default place: `backups` beside the database.
    let copy = app.dir.path().join("backups").join(files.last().unwrap());
    assert_eq!(FileKind::of(&copy).unwrap(), FileKind::Encrypted);
    let plain = rusqlite::Connection::open(&copy).unwrap();
    assert!(plain
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r
            .get::<_, i64>(0))
        .is_err());
    let report = integrity::verify(&copy, Depth::Full, Some(&key)).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems());
    assert!(holds_message(&copy, Some(&key), "a secret kept encrypted"));
}

#[test]
fn a_failed_backup_is_reported_by_readyz_without_failing_it() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the directory should be: no copy can be made.
    let blocked = dir.path().join("not-a-directory");
    std::fs::write(&blocked, b"x").unwrap();
    let app = spawn_with(move |s| {
        s.backup_every = Some("1s".into());
        s.backup_dir = Some(blocked.join("copies"));
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = app.get("/readyz").send();
        assert_eq!(ready.status, 200, "{}", ready.text);
        if let Some(said) = ready.body["backups"]["last_error"].as_str() {
            assert!(said.contains("could not be made"), "{said}");
            assert!(
                !said.contains("not-a-directory"),
                "paths stay in the log: {said}"
            );
            assert!(ready.body["backups"]["last_success"].is_null());
            assert!(ready.body["backups"]["last_error_at"].is_string());
            break;
        }
        assert!(Instant::now() < deadline, "{}", ready.text);
        std::thread::sleep(Duration::from_millis(100));
    }
    let audited = audited_backups(&app, "failed");
    let error = audited[0]["error"].as_str().unwrap();
    assert!(error.contains("could not be made"), "{audited:?}");
}

#[test]
fn backup_every_that_is_not_a_duration_is_refused_naming_the_setting() {
    for bad in ["hourly", "0s", "5", "31d", "1w"] {
        let err = parlor::Settings::from_sources(&format!("backup_every = \"{bad}\"\n"), &[])
            .unwrap_err();
        assert!(err.to_string().contains("backup_every"), "{bad}: {err}");
    }
    let ok = parlor::Settings::from_sources("backup_every = \"6h\"\n", &[]).unwrap();
    assert_eq!(
        parlor::backups::every(&ok).unwrap(),
        Some(Duration::from_secs(6 * 3600))
    );
}

#[test]
fn readyz_fails_while_one_write_keeps_the_writer_busy_and_recovers_after() {
    let app = spawn_with(|s| s.writer_stuck_seconds = 1);
    let ready = app.get("/readyz").send();
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert!(ready.body.get("backups").is_none(), "{}", ready.text);
    // A write that does not finish (a stand-in for a disk that stopped answering): the writer
    // is busy with it and everything queued behind it waits.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let store = app.service.store.clone();
    let holding = std::thread::spawn(move || {
        store.write_blocking(move |_| {
            let _ = held.recv();
            Ok(())
        })
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let stuck = loop {
        let ready = app.get("/readyz").send();
        if ready.status == 503 {
            break ready;
        }
        assert!(Instant::now() < deadline, "{}", ready.text);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(stuck.body["status"], "unavailable");
    assert!(
        stuck.body["reason"].as_str().unwrap().contains("writer"),
        "{}",
        stuck.text
    );
    assert_eq!(stuck.body["database"]["writable"], false);
    release.send(()).unwrap();
    holding.join().unwrap().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/readyz").send().status != 200 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A database as `parlor serve --demo` leaves it, with its server stopped.
fn demo_copy(dir: &Path) -> PathBuf {
    crate::integrity::demo_db(dir)
}

fn replaced(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains(".replaced-") || n.contains(".restoring"))
        .collect()
}

fn send(base: &str, body: &str) {
    let r = ureq::post(&format!("{base}/parlor/v1/conversations/2/messages"))
        .set("Authorization", "Bearer parlor-demo-admin-token")
        .set("X-Parlor-Tenant", "1")
        .send_json(json!({ "as": 4, "body": body }))
        .expect("send");
    assert_eq!(r.status(), 201);
}

fn found(base: &str, body: &str) -> bool {
    let r = ureq::get(&format!(
        "{base}/parlor/v1/conversations/2/messages?limit=100"
    ))
    .set("Authorization", "Bearer parlor-demo-admin-token")
    .set("X-Parlor-Tenant", "1")
    .call()
    .expect("list");
    r.into_string().unwrap().contains(body)
}

#[test]
fn restore_is_refused_while_a_server_runs_then_puts_the_copy_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let copy = dir.path().join("copy.db");
    // Scheduled backups run in the server too: their copies must not loosen its hold on the file.
    let server = serve_with(&db, &["--demo"], &[("PARLOR_BACKUP_EVERY", "1s")]);
    send(&server.base, "before the backup");
    let backed_up = parlor(&db, &["backup", copy.to_str().unwrap()]);
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    send(&server.base, "after the backup");
    std::thread::sleep(Duration::from_millis(2500));

    let refused = parlor(&db, &["restore", copy.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("open in another process"),
        "{}",
        text(&refused)
    );
    assert!(replaced(dir.path()).is_empty(), "{:?}", names(dir.path()));
    assert!(found(&server.base, "after the backup"));

    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    let restored = parlor(&db, &["restore", copy.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    let said = text(&restored);
    assert!(said.contains("sound"), "{said}");
    assert!(said.contains("Kept the replaced file as"), "{said}");
    let aside = replaced(dir.path());
    assert!(
        aside.iter().any(|n| n.starts_with("parlor.db.replaced-")),
        "{aside:?}"
    );
    assert!(copy.exists(), "the copy itself stays");

    let server = serve_with(&db, &[], &[]);
    assert!(found(&server.base, "before the backup"));
    assert!(!found(&server.base, "after the backup"));
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn a_damaged_copy_is_refused_and_nothing_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_copy(dir.path());
    let copy = dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    // Garbage over pages in the middle of the copy.
    let mut bytes = std::fs::read(&copy).unwrap();
    let middle = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[middle..middle + 3 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&copy, &bytes).unwrap();
    let before = std::fs::read(&db).unwrap();

    let refused = parlor(&db, &["restore", copy.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("not a sound copy"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is untouched"
    );
    assert!(replaced(dir.path()).is_empty(), "{:?}", names(dir.path()));

    let missing = parlor(&db, &["restore", "/nonexistent/copy.db"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing).contains("does not exist"),
        "{}",
        text(&missing)
    );
}

/// The database file's size: with Parlor's checkpoints the WAL is copied back into it once the
/// writer is idle; with `external` nothing but Litestream does that.
fn settled_sizes(app: &TestApp) -> (u64, u64) {
    std::thread::sleep(Duration::from_millis(2000));
    let db = app.dir.path().join("parlor.db");
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    (size(&db), size(&parlor::store::wal_path(&db)))
}

#[test]
fn external_checkpoints_leave_the_wal_to_litestream() {
    let own = spawn_with(|s| s.demo = true);
    let (own_db, _) = settled_sizes(&own);
    let external = spawn_with(|s| {
        s.demo = true;
        s.checkpoints = Checkpoints::External;
    });
    let (external_db, external_wal) = settled_sizes(&external);
    // The demo's pages are in the file with Parlor's checkpoints, still only in the WAL without.
    assert!(own_db > 100_000, "{own_db}");
    assert!(external_db < own_db / 4, "{external_db} vs {own_db}");
    assert!(external_wal > own_db / 2, "{external_wal}");
}

#[test]
fn external_checkpoints_are_refused_with_an_encrypted_database() {
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("parlor.key");
    Key::generate(&key_file).write_new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = parlor::Settings {
        bind: "127.0.0.1:0".into(),
        db: dir.path().join("parlor.db"),
        encryption_key_file: Some(key_file),
        checkpoints: Checkpoints::External,
        ..parlor::Settings::default()
    };
    let err = parlor::server::open_store(&settings)
        .err()
        .expect("refused");
    let said = err.to_string();
    assert!(
        said.contains("checkpoints") && said.contains("encrypted"),
        "{said}"
    );
}

#[test]
fn check_ignores_litestreams_own_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_copy(dir.path());
    let conn = rusqlite::Connection::open(&db).unwrap();
    // The tables Litestream keeps in the database it replicates.
    conn.execute_batch(
        "CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);
         CREATE TABLE _litestream_lock (id INTEGER);
         INSERT INTO _litestream_seq VALUES (1, 7);",
    )
    .unwrap();
    drop(conn);
    let checked = parlor(&db, &["check"]);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(
        !text(&checked).contains("_litestream"),
        "{}",
        text(&checked)
    );
}

#[test]
fn the_admin_page_tells_a_server_administrator_when_the_last_backup_was_taken() {
    use crate::webdriver::{binaries, Browser};
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1");
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !required => {
            eprintln!(
                "admin page backup line not checked in a browser: {why} ({:?})",
                binaries()
            );
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = spawn_with(|s| {
        s.demo = true;
        s.backup_every = Some("1s".into());
    });
    wait_for_copies(&app, 1, "");
    browser.goto(&app.url("/admin"));
    browser.type_into("#signin-token", crate::helpers::ADMIN_TOKEN);
    browser.click("#signin-token-submit");
    let line = browser.wait_for("the backup line", |b| {
        b.text("#backup-status").filter(|t| !t.is_empty())
    });
    assert!(
        line.starts_with("Last backup ") && line.ends_with(" ago"),
        "{line}"
    );
}

#[test]
fn an_encrypted_copy_is_checked_with_the_configured_key_before_it_is_restored() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("parlor.key");
    let other = keys.path().join("other.key");
    Key::generate(&key).write_new().unwrap();
    Key::generate(&other).write_new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let copy = dir.path().join("copy.db");
    let with_key = |key: &Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_parlor"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("PARLOR_DB")
            .env("PARLOR_ENCRYPTION_KEY_FILE", key)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let init = with_key(&key, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    let backed_up = with_key(&key, &["backup", copy.to_str().unwrap()]);
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    assert_eq!(FileKind::of(&copy).unwrap(), FileKind::Encrypted);

    // Another key does not open the copy (nor the database): refused, nothing moved.
    let refused = with_key(&other, &["restore", copy.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(replaced(dir.path()).is_empty(), "{:?}", names(dir.path()));

    let restored = with_key(&key, &["restore", copy.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    assert_eq!(FileKind::of(&db).unwrap(), FileKind::Encrypted);
    let checked = with_key(&key, &["check"]);
    assert!(checked.status.success(), "{}", text(&checked));
}

//! Encryption at rest: `parlor init` makes an encrypted database and a private key file, the
//! database, its WAL and its backups are unreadable without the key (the `sqlite3` shell
//! cannot open them), a missing or wrong key stops the start with the reason, and `parlor
//! encrypt` and `parlor rekey` convert a database without losing a row.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use parlor::store::cipher::Key;
use parlor::store::{Store, StoreOptions};
use serde_json::json;

use crate::helpers::*;
use crate::integrity::demo_db;
use crate::shutdown::serve_with;

/// `parlor --db <db> <args>`, with `PARLOR_ENCRYPTION_KEY_FILE` when a key is given and no
/// other Parlor setting from the environment.
fn parlor(db: &Path, key: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parlor"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PARLOR_DB")
        .env_remove("PARLOR_ENCRYPTION_KEY_FILE")
        .env("RUST_LOG", "warn");
    if let Some(key) = key {
        cmd.env("PARLOR_ENCRYPTION_KEY_FILE", key);
    }
    cmd.output().expect("run parlor")
}

fn out(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether the `sqlite3` shell can read the schema of the file at `path`.
fn sqlite3_reads(path: &Path) -> bool {
    let o = Command::new("sqlite3")
        .arg(path)
        .arg("SELECT count(*) FROM sqlite_schema;")
        .output()
        .expect("the sqlite3 shell is installed (apt-get install sqlite3)");
    o.status.success() && String::from_utf8_lossy(&o.stderr).trim().is_empty()
}

/// Whether `needle` appears anywhere in the raw bytes of the file (absent file: no).
fn bytes_contain(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .unwrap_or(false)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn companion(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

/// A key file of its own, in a directory away from the database.
fn write_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    Key::generate(&path).write_new().unwrap();
    path
}

/// Every table's row count, read through the store (with the key when there is one).
/// Every row of `before` is still there, and the audit trail gained one entry: the
/// conversion's own, `action`, with its counts.
fn assert_converted(db: &Path, key: &Path, before: &[(String, i64)], action: &str) {
    let after = row_counts(db, Some(key));
    let trail = |counts: &[(String, i64)]| {
        counts
            .iter()
            .find(|(t, _)| t == "audit")
            .map_or(0, |(_, n)| *n)
    };
    let others = |counts: &[(String, i64)]| -> Vec<(String, i64)> {
        counts
            .iter()
            .filter(|(t, _)| t != "audit")
            .cloned()
            .collect()
    };
    assert_eq!(others(&after), others(before));
    assert_eq!(trail(&after), trail(before) + 1);
    let key = Key::read(key).unwrap();
    let store = Store::open_keyed(db, &StoreOptions::default(), Some(&key)).unwrap();
    let (last, detail): (String, String) = store
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT action, detail FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    store.close_blocking().unwrap();
    assert_eq!(last, action);
    assert!(detail.contains("\"rows\""), "{detail}");
}

fn row_counts(db: &Path, key: Option<&Path>) -> Vec<(String, i64)> {
    let key = key.map(|k| Key::read(k).unwrap());
    let store = Store::open_keyed(db, &StoreOptions::default(), key.as_ref()).unwrap();
    let counts = store
        .read_blocking(|c| {
            let names: Vec<String> = c
                .prepare(
                    "SELECT name FROM sqlite_schema WHERE type = 'table'
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut counts = Vec::new();
            for name in names {
                let n: i64 = c.query_row(&format!("SELECT count(*) FROM \"{name}\""), [], |r| {
                    r.get(0)
                })?;
                counts.push((name, n));
            }
            Ok(counts)
        })
        .unwrap();
    store.close_blocking().unwrap();
    counts
}

#[test]
fn init_makes_an_encrypted_database_and_a_key_file_only_its_owner_reads() {
    let (data, keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = data.path().join("clinic.db");
    let key = keys.path().join("clinic.key");

    let o = parlor(&db, Some(&key), &["init"]);
    assert!(o.status.success(), "{}", out(&o));
    let said = out(&o);
    assert!(said.contains(&key.display().to_string()), "{said}");
    assert!(
        said.contains("Losing the key loses every message"),
        "{said}"
    );
    assert_eq!(mode(&key), 0o600);
    assert!(!sqlite3_reads(&db), "sqlite3 read the encrypted database");

    // Parlor reads it with the key, and only with it.
    let o = parlor(
        &db,
        Some(&key),
        &["tenant", "create", "--name", "Riverside"],
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = parlor(&db, Some(&key), &["tenant", "list"]);
    assert!(out(&o).contains("Riverside"), "{}", out(&o));
    let o = parlor(&db, Some(&key), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // --plain keeps the old behaviour: a database any SQLite tool reads.
    let plain = data.path().join("plain.db");
    let o = parlor(&plain, None, &["init", "--plain"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(!out(&o).contains("encrypted"), "{}", out(&o));
    assert!(sqlite3_reads(&plain));
}

#[test]
fn the_database_its_wal_and_its_backup_hold_no_readable_message() {
    let keys = tempfile::tempdir().unwrap();
    let key = write_key(keys.path(), "parlor.key");
    let marker = "blood pressure 151 over 97";
    let app = spawn_with(|s| {
        s.demo = true;
        s.encryption_key_file = Some(key.clone());
    });
    let db = app.dir.path().join("parlor.db");
    let sent = app
        .post("/parlor/v1/conversations/2/messages")
        .admin()
        .tenant(1)
        .json(&json!({ "as": 4, "body": marker }));
    assert_eq!(sent.status, 201, "{:?}", sent.body);

    // While the server runs: the message is in the WAL or the file, in neither readably.
    for file in [db.clone(), companion(&db, "-wal")] {
        assert!(!bytes_contain(&file, marker), "{} holds it", file.display());
    }
    assert!(!sqlite3_reads(&db));

    let backup = app.dir.path().join("backup.db");
    let o = parlor(&db, Some(&key), &["backup", backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(!bytes_contain(&backup, marker));
    assert!(!sqlite3_reads(&backup), "sqlite3 read the backup");
    let o = parlor(&backup, Some(&key), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // The backup holds the message: Parlor reads it back with the key.
    let k = Key::read(&key).unwrap();
    let store = Store::open_keyed(&backup, &StoreOptions::default(), Some(&k)).unwrap();
    let found: i64 = store
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT count(*) FROM messages WHERE body = ?1",
                [marker],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    store.close_blocking().unwrap();
    assert_eq!(found, 1);
}

#[test]
fn a_missing_or_wrong_key_stops_the_start_and_says_which() {
    let (data, keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = data.path().join("refusals-clinic.db");
    let key = keys.path().join("right.key");
    assert!(parlor(&db, Some(&key), &["init"]).status.success());
    let wrong = write_key(keys.path(), "wrong.key");

    let refused = |key: Option<&Path>, db: &Path, expected: &[&str]| {
        let o = parlor(db, key, &["serve", "--bind", "127.0.0.1:0"]);
        let said = out(&o);
        assert!(!o.status.success(), "{said}");
        assert!(!said.contains("listening"), "{said}");
        for e in expected {
            assert!(said.contains(e), "{e:?} not in {said}");
        }
    };
    refused(
        None,
        &db,
        &[
            "is encrypted and no encryption key is configured",
            "encryption_key_file",
        ],
    );
    refused(
        Some(&wrong),
        &db,
        &["wrong.key does not open", "refusals-clinic.db"],
    );

    // A key file others may read is refused before it is used.
    let shared = keys.path().join("shared.key");
    std::fs::copy(&key, &shared).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(Some(&shared), &db, &["chmod 600"]);

    // A key beside the database travels with every copy of its directory.
    let beside = data.path().join("beside.key");
    std::fs::copy(&key, &beside).unwrap();
    refused(Some(&beside), &db, &["database's own directory"]);

    // A key for a plain database: encrypt it first.
    let plain = data.path().join("plain.db");
    assert!(parlor(&plain, None, &["init", "--plain"]).status.success());
    refused(
        Some(&key),
        &plain,
        &["plain, unencrypted", "parlor encrypt"],
    );
    // `check` and `backup` say the same.
    let o = parlor(&db, Some(&wrong), &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("does not open"), "{}", out(&o));
}

#[test]
fn encrypt_keeps_every_row_and_unread_count_and_waits_for_the_server_to_stop() {
    let (data, keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = demo_db(data.path());
    let key = keys.path().join("parlor.key");
    let before = row_counts(&db, None);
    assert!(before.iter().any(|(t, n)| t == "messages" && *n > 0));

    // Not while a server has the file open; the file is left as it was.
    let server = serve_with(&db, &[], &[]);
    let o = parlor(&db, Some(&key), &["encrypt"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("is in use"), "{}", out(&o));
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    assert!(sqlite3_reads(&db));

    let o = parlor(&db, Some(&key), &["encrypt"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains(&key.display().to_string()), "{}", out(&o));
    assert_eq!(mode(&key), 0o600);
    assert!(!sqlite3_reads(&db), "sqlite3 read the encrypted database");
    for leftover in ["-wal", "-shm", ".converting"] {
        assert!(!companion(&db, leftover).exists(), "{leftover} left behind");
    }
    assert_converted(&db, &key, &before, "encrypt");
    let o = parlor(&db, Some(&key), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(out(&o).contains("All unread counts match"), "{}", out(&o));

    // The server starts on it with the key and answers from it.
    let server = serve_with(
        &db,
        &[],
        &[("PARLOR_ENCRYPTION_KEY_FILE", key.to_str().unwrap())],
    );
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");

    let o = parlor(&db, Some(&key), &["encrypt"]);
    assert!(out(&o).contains("already encrypted"), "{}", out(&o));
}

#[test]
fn rekey_retires_the_old_key_and_only_the_new_one_opens() {
    let (data, keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = data.path().join("rekeyed.db");
    let key = keys.path().join("rekeyed.key");
    assert!(parlor(&db, Some(&key), &["init"]).status.success());
    assert!(parlor(
        &db,
        Some(&key),
        &["tenant", "create", "--name", "Northside"]
    )
    .status
    .success());
    let old_backup = data.path().join("before-rekey.db");
    let o = parlor(&db, Some(&key), &["backup", old_backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let old_text = std::fs::read_to_string(&key).unwrap();
    let before = row_counts(&db, Some(&key));

    let o = parlor(&db, Some(&key), &["rekey"]);
    assert!(o.status.success(), "{}", out(&o));
    let retired = std::fs::read_dir(keys.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".retired-"))
        .expect("the old key is kept");
    assert!(
        out(&o).contains(&retired.display().to_string()),
        "{}",
        out(&o)
    );
    assert_eq!(std::fs::read_to_string(&retired).unwrap(), old_text);
    assert_ne!(std::fs::read_to_string(&key).unwrap(), old_text);
    assert_eq!(mode(&key), 0o600);
    assert!(!companion(&key, ".new").exists());

    // The old key no longer opens the database; the new one does, with every row.
    let o = parlor(&db, Some(&retired), &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("does not open"), "{}", out(&o));
    assert_converted(&db, &key, &before, "rekey");
    let o = parlor(&db, Some(&key), &["tenant", "list"]);
    assert!(out(&o).contains("Northside"), "{}", out(&o));
    assert!(!sqlite3_reads(&db));

    // A backup from before the rotation still opens, with the retired key.
    let o = parlor(&old_backup, Some(&retired), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
}

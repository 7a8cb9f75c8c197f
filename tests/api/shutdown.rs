//! A graceful stop leaves one self-contained database file: the real binary is started, used,
//! and stopped with SIGTERM, and its WAL must be gone (or empty). `parlor check` leaves the
//! directory as it found it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use crate::integrity::demo_db;

pub struct Server {
    child: Child,
    pub base: String,
    stderr: std::thread::JoinHandle<String>,
}

/// `command` started with its standard output piped to the caller and its standard error
/// gathered by a thread, whose result is all of it once the process ends.
pub fn spawn(command: &mut Command) -> (Child, ChildStdout, std::thread::JoinHandle<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start parlor");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    (child, stdout, stderr)
}

/// `parlor serve` on `db`, once it says where it listens.
fn serve(db: &Path, args: &[&str]) -> Server {
    serve_with(db, args, &[])
}

/// `serve` with environment variables.
pub fn serve_with(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parlor"));
    command
        .arg("--db")
        .arg(db)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("PARLOR_DB")
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn");
    let (child, stdout, stderr) = spawn(&mut command);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("listening on http://") {
                let addr = line[at + "listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server says where it listens");
    // Answering a request means it is fully up, its signal handlers included.
    assert_eq!(
        ureq::get(&format!("{base}/healthz"))
            .call()
            .unwrap()
            .status(),
        200
    );
    Server {
        child,
        base,
        stderr,
    }
}

impl Server {
    /// SIGKILL, as when the machine dies: nothing is flushed or closed.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as a service manager stops it; waits for the process to end.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let status = self.child.wait().expect("the server ends");
        (status, self.stderr.join().unwrap_or_default())
    }
}

fn companion(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

/// Absent, or truncated to nothing.
fn assert_no_wal(db: &Path) {
    let wal = companion(db, "-wal");
    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(size, 0, "{} holds {size} bytes", wal.display());
}

#[test]
fn a_graceful_stop_right_after_start_leaves_no_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let server = serve(&db, &["--demo"]);
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_no_wal(&db);
    assert!(!stderr.contains("closing the database"), "{stderr}");
}

/// 200 sends to the demo's conversation 2 as user 4, bodies "`prefix` 0" to "`prefix` 199".
fn send_200(base: &str, prefix: &str) {
    let url = format!("{base}/parlor/v1/conversations/2/messages");
    for i in 0..200 {
        let r = ureq::post(&url)
            .set("Authorization", "Bearer parlor-demo-admin-token")
            .set("X-Parlor-Tenant", "1")
            .send_json(json!({ "as": 4, "body": format!("{prefix} {i}") }))
            .expect("send");
        assert_eq!(r.status(), 201);
    }
}

#[test]
fn a_graceful_stop_after_sends_leaves_no_wal_and_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let server = serve(&db, &["--demo"]);
    send_200(&server.base, "before the stop");
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_no_wal(&db);

    let stored: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM messages WHERE body LIKE 'before the stop %'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 200);
}

#[test]
fn a_graceful_stop_waits_for_a_reader_and_then_truncates_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let server = serve(&db, &["--demo"]);
    send_200(&server.base, "sent");
    // Someone is reading the file at the moment of the stop (a backup, a look with sqlite3).
    // Read-only, so that closing it does not clean up after the server.
    let reader =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let seen: i64 = reader
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert!(seen >= 200);
    let stopping = std::thread::spawn(move || server.terminate());
    std::thread::sleep(Duration::from_millis(1500));
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    let (status, stderr) = stopping.join().unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_no_wal(&db);
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn check_leaves_the_directory_as_it_found_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let before = listing(dir.path());
    assert_eq!(before, ["parlor.db"]);
    for args in [&["check"][..], &["check", "--quick"], &["check", "--fix"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("PARLOR_DB")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(listing(dir.path()), before, "after {args:?}");
    }
}

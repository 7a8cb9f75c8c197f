//! The writer's group commit: many commands, one transaction, each isolated in a savepoint.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use parlor::store::{Store, StoreOptions, Synchronous};
use parlor::Error;
use serde_json::json;

use crate::helpers::*;

fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(
        &dir.path().join("gc.db"),
        &StoreOptions {
            synchronous: Synchronous::Full,
            read_pool_size: 2,
            max_batch: 256,
        },
    )
    .unwrap()
}

fn wait_for(store: &Store, what: &str, done: impl Fn(parlor::store::WriterStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(store.writer_stats()) {
        assert!(
            Instant::now() < deadline,
            "{what}: {:?}",
            store.writer_stats()
        );
        std::thread::yield_now();
    }
}

#[test]
fn queued_commands_share_one_transaction_and_a_failing_one_sinks_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store
        .write_blocking(|c| Ok(c.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")?))
        .unwrap();
    let before = store.writer_stats();

    // The first command holds the writer until nine more are queued behind it.
    let (release, released) = mpsc::channel::<()>();
    let blocker = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.write_blocking(move |c| {
                released.recv().ok();
                c.execute("INSERT INTO t (v) VALUES (0)", [])?;
                Ok(())
            })
        })
    };
    wait_for(&store, "the writer never took the first command", |s| {
        s.commands > before.commands
    });
    let mut others = Vec::new();
    for i in 1..=9i64 {
        let store = store.clone();
        others.push(std::thread::spawn(move || {
            store.write_blocking(move |c| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [i])?;
                if i == 5 {
                    // Writes, then fails: its insert must be rolled back, nobody else's.
                    return Err(Error::Conflict("command five fails".into()));
                }
                Ok(i)
            })
        }));
    }
    wait_for(&store, "the nine commands never queued", |s| s.queued == 9);
    release.send(()).unwrap();

    assert!(blocker.join().unwrap().is_ok());
    for (i, handle) in (1..=9i64).zip(others) {
        let result = handle.join().unwrap();
        if i == 5 {
            assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
        } else {
            assert_eq!(result.unwrap(), i);
        }
    }
    let mut values: Vec<i64> = store
        .read_blocking(|c| {
            let mut stmt = c.prepare("SELECT v FROM t ORDER BY v")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<i64>>>()?)
        })
        .unwrap();
    values.dedup();
    assert_eq!(values, vec![0, 1, 2, 3, 4, 6, 7, 8, 9]);

    let after = store.writer_stats();
    assert_eq!(after.commands - before.commands, 10);
    // One transaction for the blocker, one for the nine queued behind it.
    assert_eq!(after.transactions - before.transactions, 2);
}

#[test]
fn a_panicking_command_is_an_error_and_the_writer_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let result: Result<(), Error> = store.write_blocking(|_| panic!("bug in a command"));
    assert!(matches!(result, Err(Error::Internal(_))));
    assert_eq!(
        store
            .write_blocking(|c| Ok(c.query_row("SELECT 41 + 1", [], |r| r.get::<_, i64>(0))?))
            .unwrap(),
        42
    );
}

#[test]
fn concurrent_senders_lose_nothing_keep_their_order_and_counts_stay_exact() {
    const THREADS: i64 = 8;
    const PER_THREAD: i64 = 200;
    let app = spawn_app();
    let t = app.create_tenant("Busy clinic");
    let reader = app.create_user(t, json!({"role": "patient", "display_name": "Reader"}))["id"]
        .as_i64()
        .unwrap();
    let mut senders = Vec::new();
    for i in 0..THREADS {
        let id = app.create_user(
            t,
            json!({"role": "provider", "display_name": format!("Sender {i}")}),
        )["id"]
            .as_i64()
            .unwrap();
        senders.push((id, app.token_for(t, id, &["*"])));
    }
    let mut everyone: Vec<i64> = senders.iter().map(|(id, _)| *id).collect();
    everyone.push(reader);
    let conv = app.create_conversation(t, &everyone)["id"]
        .as_i64()
        .unwrap();

    let handles: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            let url = app.url(&format!("/parlor/v1/conversations/{conv}/messages"));
            let token = token.clone();
            std::thread::spawn(move || {
                for n in 0..PER_THREAD {
                    let r = ureq::post(&url)
                        .set("Authorization", &format!("Bearer {token}"))
                        .send_json(json!({ "body": format!("{i}:{n}") }));
                    assert_eq!(r.map(|r| r.status()).unwrap_or(0), 201);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }

    let total = THREADS * PER_THREAD;
    assert_eq!(app.unread(t, conv, reader), total);
    let conversation = app
        .get(&format!("/parlor/v1/conversations/{conv}"))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(conversation.body["message_count"], total);

    // Read the whole thread back in seq order and check each sender's messages are in order.
    let mut bodies = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .get(&format!(
                "/parlor/v1/conversations/{conv}/messages?limit=100&after={after}"
            ))
            .admin()
            .tenant(t)
            .send();
        let data = page.body["data"].as_array().unwrap().clone();
        if data.is_empty() {
            break;
        }
        after = data.last().unwrap()["seq"].as_i64().unwrap();
        bodies.extend(
            data.into_iter()
                .map(|m| m["body"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(bodies.len() as i64, total);
    for i in 0..THREADS {
        let mine: Vec<i64> = bodies
            .iter()
            .filter_map(|b| b.split_once(':'))
            .filter(|(s, _)| *s == i.to_string())
            .map(|(_, n)| n.parse().unwrap())
            .collect();
        assert_eq!(
            mine,
            (0..PER_THREAD).collect::<Vec<_>>(),
            "sender {i} out of order"
        );
    }
    let drift = app
        .service
        .store
        .read_blocking(parlor::store::participants::find_drift)
        .unwrap();
    assert!(drift.is_empty(), "{drift:?}");
}

#[test]
fn the_wal_stays_bounded_under_a_steady_stream_of_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let store = Store::open(
        &path,
        &StoreOptions {
            synchronous: Synchronous::Off,
            read_pool_size: 1,
            max_batch: 256,
        },
    )
    .unwrap();
    store
        .write_blocking(|c| Ok(c.execute_batch("CREATE TABLE blobs (v BLOB NOT NULL)")?))
        .unwrap();
    // Back-to-back commits of about one page each, 20,000 frames in all: with no pause for the
    // background checkpointer to catch up, only the writer's own checkpoints keep the WAL small.
    let wal = dir.path().join("wal.db-wal");
    let mut largest = 0;
    for i in 0..20_000 {
        store
            .write_blocking(|c| {
                c.execute("INSERT INTO blobs (v) VALUES (zeroblob(3000))", [])?;
                Ok(())
            })
            .unwrap();
        if i % 100 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
    }
    // 4,096 frames of 4 KiB plus headers is about 17 MB; without the writer's checkpoints the
    // WAL holds every frame (about 82 MB). On a busy machine (load 10), while the background
    // checkpointer still ran during writes, its slow passes kept the writer's checkpoints
    // failing and the WAL reached 60-99 MB.
    assert!(
        largest < 24_000_000,
        "the WAL grew to {largest} bytes under steady writes"
    );
}

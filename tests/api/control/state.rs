//! Reset and snapshots: the whole database replaced under a running server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parlor::store::integrity::{self, Depth};
use serde_json::{json, Value};

use crate::helpers::{spawn_demo, spawn_with, TestApp};

pub(crate) fn stand_in() -> TestApp {
    spawn_with(|s| {
        s.stand_in = true;
        s.read_pool_size = 2;
    })
}

/// A tenant with two users in a conversation: (tenant, sender, reader, conversation).
pub(crate) fn pair(app: &TestApp, name: &str) -> (i64, i64, i64, i64) {
    let tenant = app.create_tenant(name);
    let a = app.create_user(tenant, json!({"username": "ann"}))["id"]
        .as_i64()
        .unwrap();
    let b = app.create_user(tenant, json!({"username": "bob"}))["id"]
        .as_i64()
        .unwrap();
    let conv = app.create_conversation(tenant, &[a, b])["id"]
        .as_i64()
        .unwrap();
    (tenant, a, b, conv)
}

pub(crate) fn tenants(app: &TestApp) -> Vec<String> {
    let r = app.get("/parlor/v1/tenants").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let list = r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body));
    list.iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn snapshot(app: &TestApp, name: &str) -> Value {
    let r = app
        .post("/__parlor/snapshots")
        .admin()
        .json(&json!({ "name": name }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

fn restore(app: &TestApp, name: &str) {
    let r = app
        .post(&format!("/__parlor/snapshots/{name}/restore"))
        .admin()
        .send();
    assert_eq!(r.status, 204, "{:?}", r.body);
}

fn sound(path: &std::path::Path) {
    let report = integrity::verify(path, Depth::Full, None).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems());
}

#[test]
fn reset_returns_to_the_start_state_and_credentials_made_since_fail_cleanly() {
    let app = stand_in();
    let (tenant, a, b, conv) = pair(&app, "Clinic");
    let token = app.token_for(tenant, a, &["*"]);
    // Used once, so that its caller is kept in memory.
    let r = app.get("/parlor/v1/conversations").bearer(&token).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.send_as(tenant, conv, a, "hello");
    assert_eq!(app.unread(tenant, conv, b), 1);

    let r = app.post("/__parlor/reset").admin().send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    // Started empty: the tenant is gone, and the token made since answers 401 (not a 500 from
    // a caller remembered in memory).
    assert_eq!(tenants(&app), Vec::<String>::new());
    let r = app.get("/parlor/v1/conversations").bearer(&token).send();
    assert_eq!(r.status, 401, "{:?}", r.body);
    // The server-admin token was there at the start: it still works, and the store writes.
    let again = app.create_tenant("Again");
    assert!(again > 0);
    sound(&app.dir.path().join("parlor.db"));
}

#[test]
fn reset_of_the_demo_brings_its_messages_and_unread_counts_back() {
    let app = spawn_demo();
    let conv = "6651b0c0a1b2c3d4e5f60002";
    let priya = "6650f0a0b1c2d3e4f5a60003";
    let unread = |app: &TestApp| -> i64 {
        let r = app
            .get(&format!("/parlor/v1/conversations/{conv}?as={priya}"))
            .admin()
            .tenant(3)
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["unread_count"].as_i64().unwrap()
    };
    let before = unread(&app);
    let sent = app
        .post("/v1/messaging/conversations/6651b0c0a1b2c3d4e5f60002/messages")
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .json(&json!({"body": "Friday at 10 AM works."}));
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    assert_eq!(unread(&app), before + 1);

    let r = app.post("/__parlor/reset").admin().send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(unread(&app), before);
    let r = app
        .get(&format!(
            "/parlor/v1/messages/{}",
            sent.body["uid"].as_str().unwrap()
        ))
        .admin()
        .tenant(3)
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);
}

#[test]
fn snapshots_are_taken_listed_restored_and_deleted() {
    let app = stand_in();
    let (tenant, a, b, conv) = pair(&app, "First");
    app.send_as(tenant, conv, a, "one");
    app.send_as(tenant, conv, a, "two");

    let taken = snapshot(&app, "two-messages");
    assert_eq!(taken["name"], "two-messages");
    assert!(taken["size"].as_u64().unwrap() > 0, "{taken}");
    assert!(taken["created_at"].as_str().unwrap().ends_with('Z'));

    // The same name again, a bad name, a missing one, an unknown field.
    let r = app
        .post("/__parlor/snapshots")
        .admin()
        .json(&json!({"name": "two-messages"}));
    assert_eq!(r.status, 409, "{:?}", r.body);
    for bad in ["", "a/b", "..", "x y", &"n".repeat(65)] {
        let r = app
            .post("/__parlor/snapshots")
            .admin()
            .json(&json!({ "name": bad }));
        assert_eq!(r.status, 400, "{bad:?}: {:?}", r.body);
        assert_eq!(r.body["error"]["field"], "name", "{:?}", r.body);
    }
    let r = app.post("/__parlor/snapshots").admin().json(&json!({}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = app
        .post("/__parlor/snapshots/nothing-here/restore")
        .admin()
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);

    // Changes after the snapshot: a message read, another sent, a second tenant.
    app.send_as(tenant, conv, a, "three");
    app.create_tenant("Second");
    assert_eq!(app.unread(tenant, conv, b), 3);

    let r = app.get("/__parlor/snapshots").admin().send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["snapshots"], json!([taken]));

    restore(&app, "two-messages");
    assert_eq!(tenants(&app), vec!["First".to_string()]);
    assert_eq!(app.unread(tenant, conv, b), 2);
    sound(&app.dir.path().join("parlor.db"));
    // The restored store takes writes, and a snapshot can be restored again.
    app.send_as(tenant, conv, a, "after");
    assert_eq!(app.unread(tenant, conv, b), 3);
    restore(&app, "two-messages");
    assert_eq!(app.unread(tenant, conv, b), 2);

    let r = app
        .delete("/__parlor/snapshots/two-messages")
        .admin()
        .send();
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app
        .delete("/__parlor/snapshots/two-messages")
        .admin()
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = app.get("/__parlor/snapshots").admin().send();
    assert_eq!(r.body["snapshots"], json!([]));
    assert!(!app
        .dir
        .path()
        .join("parlor.db.stand-in/snapshots/two-messages.db")
        .exists());
    // The name is free again.
    snapshot(&app, "two-messages");
}

#[test]
fn a_restore_under_concurrent_reads_shows_the_old_or_the_new_state_never_a_mix() {
    let app = Arc::new(stand_in());
    let (tenant, a, b, conv) = pair(&app, "Busy");
    for i in 0..3 {
        app.send_as(tenant, conv, a, &format!("early {i}"));
    }
    snapshot(&app, "three");
    for i in 0..5 {
        app.send_as(tenant, conv, a, &format!("late {i}"));
    }
    snapshot(&app, "eight");

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|n| {
            let (app, stop) = (app.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    // One answer is one read: its list and its unread count agree.
                    let r = if n % 2 == 0 {
                        app.get(&format!(
                            "/parlor/v1/conversations/{conv}/messages?as={b}&limit=50"
                        ))
                        .admin()
                        .tenant(tenant)
                        .send()
                    } else {
                        app.get(&format!("/parlor/v1/conversations?as={b}"))
                            .admin()
                            .tenant(tenant)
                            .send()
                    };
                    assert_eq!(r.status, 200, "{:?}", r.body);
                    let count = if n % 2 == 0 {
                        r.body["data"].as_array().unwrap().len() as i64
                    } else {
                        r.body["data"][0]["unread_count"].as_i64().unwrap()
                    };
                    assert!(
                        count == 3 || count == 8,
                        "a mixed state: {count}: {}",
                        r.body
                    );
                    seen.insert(count);
                }
                seen
            })
        })
        .collect();
    for round in 0..6 {
        restore(&app, if round % 2 == 0 { "three" } else { "eight" });
    }
    restore(&app, "three");
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let seen = reader.join().expect("a reader failed");
        assert!(!seen.is_empty());
    }
    assert_eq!(app.unread(tenant, conv, b), 3);
    sound(&app.dir.path().join("parlor.db"));
}

#[test]
fn an_open_event_stream_is_told_of_a_reset_and_goes_on_with_the_new_log() {
    let app = stand_in();
    let (tenant, a, _b, conv) = pair(&app, "Streams");
    app.send_as(tenant, conv, a, "before the snapshot");
    snapshot(&app, "base");
    app.send_as(tenant, conv, a, "after the snapshot");

    let mut until = event_stream(&app, tenant, "");
    until(": stream open");

    restore(&app, "base");
    let reset = until("data:");
    assert!(reset.iter().any(|l| l == "event: reset"), "{reset:?}");
    // The restored log's next event reaches the stream, though its seq is below what the
    // stream sent before.
    app.send_as(tenant, conv, a, "after the restore");
    let next = until("data:");
    assert!(
        next.iter().any(|l| l == "event: message.created"),
        "{next:?}"
    );
}

#[test]
fn an_encrypted_database_keeps_its_key_in_every_copy() {
    let keys = tempfile::tempdir().unwrap();
    let key_path = keys.path().join("parlor.key");
    parlor::store::cipher::Key::generate(&key_path)
        .write_new()
        .unwrap();
    let key = parlor::store::cipher::Key::read(&key_path).unwrap();
    let app = spawn_with(|s| {
        s.stand_in = true;
        s.encryption_key_file = Some(key_path.clone());
    });
    let (tenant, a, b, conv) = pair(&app, "Secret");
    app.send_as(tenant, conv, a, "blood pressure 151 over 97");
    snapshot(&app, "keyed");
    app.send_as(tenant, conv, a, "more");
    restore(&app, "keyed");
    assert_eq!(app.unread(tenant, conv, b), 1);
    let copy = app.dir.path().join("parlor.db.stand-in/snapshots/keyed.db");
    assert_eq!(
        parlor::store::cipher::FileKind::of(&copy).unwrap(),
        parlor::store::cipher::FileKind::Encrypted
    );
    let report = integrity::verify(&copy, Depth::Full, Some(&key)).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems());
    // A sandbox opens from the encrypted start state too.
    let r = app
        .get("/parlor/v1/tenants")
        .admin()
        .header("X-Parlor-Sandbox", "keyed-box")
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"], json!([]));
}

#[test]
fn a_request_in_flight_finishes_before_a_reset_replaces_the_store() {
    use std::io::{Read, Write};
    let app = Arc::new(spawn_demo());
    let unread = |app: &TestApp| -> Vec<(i64, i64)> {
        let r = app
            .get("/parlor/v1/conversations/2")
            .admin()
            .tenant(1)
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let id = p["user"]["id"].as_i64().unwrap();
                (id, p["unread_count"].as_i64().unwrap())
            })
            .collect()
    };
    let before = unread(&app);
    // A send whose body arrives in two parts: the request is in flight from its headers on.
    let body = json!({"as": 4, "body": "sent while the reset waited"}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        socket,
        "POST /parlor/v1/conversations/2/messages HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\nX-Parlor-Tenant: 1\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        crate::helpers::ADMIN_TOKEN,
        body.len()
    )
    .unwrap();
    socket.flush().unwrap();
    // Let the request reach its handler, then ask for the reset, which must wait for it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let resetting = {
        let app = app.clone();
        std::thread::spawn(move || app.post("/__parlor/reset").admin().send().status)
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    socket.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert_eq!(resetting.join().unwrap(), 204);
    // The send was stored before the reset, so the reset took it away; without the gate the
    // reset would have run first and the send would have landed in the reset store.
    assert_eq!(unread(&app), before);
    let r = app
        .get("/parlor/v1/conversations/2/messages?limit=100")
        .admin()
        .tenant(1)
        .send();
    assert!(
        !r.text.contains("sent while the reset waited"),
        "{}",
        r.text
    );
}

#[test]
fn webhooks_go_on_after_a_restore_took_the_log_back() {
    let app = spawn_demo();
    let receiver = crate::webhooks::Receiver::start(&[]);
    let r = app
        .post("/parlor/v1/webhooks")
        .admin()
        .tenant(1)
        .json(&json!({ "url": receiver.url(), "events": ["message.created"] }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let send = |text: &str| {
        let r = app
            .post("/parlor/v1/conversations/2/messages")
            .admin()
            .tenant(1)
            .json(&json!({ "as": 4, "body": text }));
        assert_eq!(r.status, 201, "{:?}", r.body);
    };
    snapshot(&app, "with-endpoint");
    for i in 0..3 {
        send(&format!("before the restore {i}"));
    }
    receiver.wait_for(3);
    restore(&app, "with-endpoint");
    // Its event's seq is one the dispatcher passed before the restore.
    send("after the restore");
    assert_eq!(receiver.wait_for(4).len(), 4);
}

/// The dispatcher reads a page of events, then writes its deliveries and cursor. A restore
/// between the two must not get that page written into the restored log: a delivery for a
/// message the restored state never had, and a cursor past the restored log's next events.
/// The writer is held (one command a transaction) so that the restore is queued before the
/// dispatcher's write of the page it read from the old log.
#[test]
fn a_page_read_before_a_restore_is_not_written_into_the_restored_log() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.max_batch = 1;
    });
    let receiver = crate::webhooks::Receiver::start(&[]);
    let r = app
        .post("/parlor/v1/webhooks")
        .admin()
        .tenant(1)
        .json(&json!({
            "url": receiver.url(),
            "events": ["message.created"],
            "include_text": true
        }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    snapshot(&app, "before");

    let hold = |store: parlor::store::Store| {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holding = std::thread::spawn(move || {
            store.write_blocking(move |_| {
                let _ = held.recv();
                Ok(())
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        (release, holding)
    };
    let (release_first, first) = hold(app.service.store.clone());
    // A send made inside the server (not a request, which the restore would wait for),
    // queued behind the first hold; then a second hold, then the restore.
    let service = app.service.clone();
    let sent = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(service.send_message(
            parlor::domain::TenantId(1),
            parlor::domain::IdRef::Id(2),
            parlor::domain::UserId(4),
            parlor::service::messages::NewMessage {
                body: "only in the old log".into(),
                ..Default::default()
            },
        ))
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (release_second, second) = hold(app.service.store.clone());
    let base = app.base.clone();
    let restored = std::thread::spawn(move || {
        ureq::post(&format!("{base}/__parlor/snapshots/before/restore"))
            .set(
                "Authorization",
                &format!("Bearer {}", crate::helpers::ADMIN_TOKEN),
            )
            .call()
            .map(|r| r.status())
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The send commits; the dispatcher reads its event and queues its write behind the
    // second hold and the restore.
    release_first.send(()).unwrap();
    first.join().unwrap().unwrap();
    sent.join().unwrap().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    release_second.send(()).unwrap();
    second.join().unwrap().unwrap();
    assert_eq!(restored.join().unwrap().unwrap(), 204);

    // The restored log's next event takes the seq the old log's send had (and its message the
    // same id): only the text tells them apart.
    let r = app
        .post("/parlor/v1/conversations/2/messages")
        .admin()
        .tenant(1)
        .json(&json!({ "as": 4, "body": "after the restore" }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    receiver.wait_for(1);
    // Time for a delivery that should not be there to arrive too.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let delivered: Vec<Value> = receiver
        .wait_for(1)
        .iter()
        .map(|d| serde_json::from_str::<Value>(&d.body).unwrap()["data"]["message"]["body"].clone())
        .collect();
    assert_eq!(delivered, [json!("after the restore")]);
}

/// Opens the tenant's event stream as the server admin (with `extra` header lines, each ending
/// in CRLF) and gives a reader of its lines: each call reads up to the line that starts with
/// what it is given and returns the lines read.
pub fn event_stream(app: &TestApp, tenant: i64, extra: &str) -> impl FnMut(&str) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        socket,
        "GET /parlor/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         X-Parlor-Tenant: {tenant}\r\n{extra}\r\n",
        crate::helpers::ADMIN_TOKEN
    )
    .unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut lines = BufReader::new(socket).lines();
    move |wanted: &str| -> Vec<String> {
        let mut got = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("the stream goes on");
            let done = line.starts_with(wanted);
            got.push(line);
            if done {
                return got;
            }
        }
        panic!("the stream ended before {wanted:?}: {got:?}");
    }
}

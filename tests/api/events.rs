//! The event log and `GET /parlor/v1/events` (Server-Sent Events): who sees what, resuming
//! after a reconnect, falling out of the retention window, and the event written in the
//! change's own transaction.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

/// One event as a stream carries it.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    id: i64,
    kind: String,
    data: Value,
}

/// A Server-Sent Events stream read line by line. A read that waits 20 s fails the test rather
/// than hanging it (an event that never comes).
struct Stream {
    lines: BufReader<Box<dyn Read + Send + Sync>>,
    headers: Vec<(String, String)>,
}

fn open(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Result<Stream, (u16, Value)> {
    open_url(&app.url(path), headers)
}

fn open_url(url: &str, headers: &[(&str, &str)]) -> Result<Stream, (u16, Value)> {
    let agent = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(20))
        .build();
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.set(k, v);
    }
    match req.call() {
        Ok(r) => {
            let headers = r
                .headers_names()
                .into_iter()
                .filter_map(|n| r.header(&n).map(|v| (n.clone(), v.to_string())))
                .collect();
            Ok(Stream {
                lines: BufReader::new(r.into_reader()),
                headers,
            })
        }
        Err(ureq::Error::Status(code, r)) => Err((code, r.into_json().unwrap_or(Value::Null))),
        Err(e) => panic!("request failed: {e}"),
    }
}

impl Stream {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next event, comments skipped.
    fn next(&mut self) -> Event {
        let (mut id, mut kind, mut data) = (None, None, None);
        let mut heartbeats = 0;
        loop {
            let mut line = String::new();
            let n = self.lines.read_line(&mut line).expect("read the stream");
            assert!(n > 0, "the stream ended");
            let line = line.trim_end_matches('\n');
            if line.is_empty() {
                if let (Some(id), Some(kind), Some(data)) = (id, kind.take(), data.take()) {
                    return Event { id, kind, data };
                }
                continue;
            }
            if line.starts_with(':') {
                // Heartbeats would keep a read from ever timing out: two in a row without an
                // event means it is not coming.
                if line.starts_with(": heartbeat") {
                    heartbeats += 1;
                    assert!(heartbeats < 2, "no event came");
                }
                continue;
            }
            let (field, value) = line.split_once(": ").expect("a field line");
            match field {
                "id" => id = Some(value.parse::<i64>().expect("a numeric id")),
                "event" => kind = Some(value.to_string()),
                "data" => data = Some(serde_json::from_str(value).expect("JSON data")),
                other => panic!("unexpected field {other}"),
            }
        }
    }

    /// Events up to and including the first of `kind` about message `message`.
    fn until_message(&mut self, kind: &str, message: i64) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let e = self.next();
            let done = e.kind == kind && e.data["message_id"] == message;
            seen.push(e);
            if done {
                return seen;
            }
        }
    }
}

struct Clinic {
    t: i64,
    patient: i64,
    provider: i64,
    outsider: i64,
    conv: i64,
    /// A conversation of the outsider's (with the provider).
    other: i64,
}

fn clinic(app: &TestApp) -> Clinic {
    let t = app.create_tenant("Clinic");
    let user = |role: &str, name: &str| {
        app.create_user(t, json!({"role": role, "display_name": name}))["id"]
            .as_i64()
            .unwrap()
    };
    let patient = user("patient", "Pat");
    let provider = user("provider", "Dr P");
    let outsider = user("patient", "Olive");
    let conv = app.create_conversation(t, &[patient, provider])["id"]
        .as_i64()
        .unwrap();
    let other = app.create_conversation(t, &[outsider, provider])["id"]
        .as_i64()
        .unwrap();
    Clinic {
        t,
        patient,
        provider,
        outsider,
        conv,
        other,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

#[test]
fn a_send_reaches_the_participants_stream_with_ids_and_unread_counts_and_no_text() {
    let app = spawn_app();
    let c = clinic(&app);
    let token = app.token_for(c.t, c.patient, &["native"]);
    let mut stream = open(
        &app,
        "/parlor/v1/events",
        &[("Authorization", &bearer(&token))],
    )
    .expect("stream opens");
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    assert_eq!(stream.header("cache-control"), Some("no-cache"));
    assert_eq!(stream.header("x-accel-buffering"), Some("no"));
    assert_eq!(stream.header("content-encoding"), None);

    let m = app.send_as(c.t, c.conv, c.provider, "Your lab results are in");
    let e = stream.next();
    assert_eq!(e.kind, "message.created");
    assert_eq!(e.data["seq"], e.id);
    assert_eq!(e.data["type"], "message.created");
    assert_eq!(e.data["tenant_id"], c.t);
    assert_eq!(e.data["conversation_id"], c.conv);
    assert_eq!(e.data["message_id"], id(&m));
    let mut unread = e.data["unread"].as_array().unwrap().clone();
    unread.sort_by_key(|u| u["user_id"].as_i64());
    let mut expected = vec![
        json!({"user_id": c.patient, "unread_count": 1}),
        json!({"user_id": c.provider, "unread_count": 0}),
    ];
    expected.sort_by_key(|u| u["user_id"].as_i64());
    assert_eq!(unread, expected);
    assert!(
        !e.data.to_string().contains("lab results"),
        "no message text in an event: {}",
        e.data
    );

    // Reading it is an event too, with the patient's count back to zero.
    let r = app
        .post(&format!("/parlor/v1/conversations/{}/read", c.conv))
        .bearer(&token)
        .json(&json!({}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let e = stream.next();
    assert_eq!(e.kind, "conversation.read");
    assert_eq!(e.data["user_id"], c.patient);
    let mine = e.data["unread"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == c.patient)
        .cloned();
    assert_eq!(mine, Some(json!({"user_id": c.patient, "unread_count": 0})));
}

#[test]
fn a_user_sees_nothing_of_a_conversation_they_are_not_in() {
    let app = spawn_app();
    let c = clinic(&app);
    let token = app.token_for(c.t, c.outsider, &["native"]);
    let mut stream = open(
        &app,
        "/parlor/v1/events",
        &[("Authorization", &bearer(&token))],
    )
    .expect("stream opens");
    app.send_as(c.t, c.conv, c.provider, "not for Olive");
    let theirs = app.send_as(c.t, c.other, c.provider, "for Olive");
    // The first event the outsider gets is of their own conversation.
    let e = stream.next();
    assert_eq!(
        (e.kind.as_str(), &e.data["message_id"]),
        ("message.created", &json!(id(&theirs)))
    );
    assert_eq!(e.data["conversation_id"], c.other);
}

#[test]
fn a_tenant_admin_sees_the_tenants_events_and_no_other_tenants() {
    let app = spawn_app();
    let a = clinic(&app);
    let b = clinic(&app);
    let admin_b = app.create_user(b.t, json!({"role": "admin", "display_name": "Boss"}))["id"]
        .as_i64()
        .unwrap();
    let token = app.token_for(b.t, admin_b, &["native"]);
    let mut admin = open(
        &app,
        "/parlor/v1/events",
        &[("Authorization", &bearer(&token))],
    )
    .expect("stream opens");
    // The server admin names the tenant.
    let a_header = a.t.to_string();
    let mut server_admin = open(
        &app,
        "/parlor/v1/events",
        &[
            ("Authorization", &bearer(ADMIN_TOKEN)),
            ("X-Parlor-Tenant", &a_header),
        ],
    )
    .expect("stream opens");

    let in_a = app.send_as(a.t, a.conv, a.provider, "tenant A");
    let in_b = app.send_as(b.t, b.conv, b.provider, "tenant B");

    let e = admin.next();
    assert_eq!(e.data["message_id"], id(&in_b), "tenant B's admin: {e:?}");
    assert_eq!(e.data["tenant_id"], b.t);
    let e = server_admin.next();
    assert_eq!(e.data["message_id"], id(&in_a), "server admin on A: {e:?}");

    // Without naming the tenant the server admin is told so.
    let refused = open(
        &app,
        "/parlor/v1/events",
        &[("Authorization", &bearer(ADMIN_TOKEN))],
    )
    .err()
    .expect("refused");
    assert_eq!(refused.0, 400, "{:?}", refused.1);
    assert!(refused.1.to_string().contains("X-Parlor-Tenant"));
    let anonymous = open(&app, "/parlor/v1/events", &[]).err().expect("refused");
    assert_eq!(anonymous.0, 401);
}

#[test]
fn a_reconnect_gets_exactly_the_missed_events_by_header_or_query() {
    let app = spawn_app();
    let c = clinic(&app);
    let token = app.token_for(c.t, c.patient, &["native"]);
    let auth = bearer(&token);
    let mut stream =
        open(&app, "/parlor/v1/events", &[("Authorization", &auth)]).expect("stream opens");
    let first = app.send_as(c.t, c.conv, c.provider, "one");
    let seen = stream.until_message("message.created", id(&first));
    let last = seen.last().unwrap().id;
    drop(stream);

    // While disconnected: two sends, and one in a conversation the patient is not in.
    let second = app.send_as(c.t, c.conv, c.provider, "two");
    app.send_as(c.t, c.other, c.provider, "elsewhere");
    let third = app.send_as(c.t, c.conv, c.patient, "three");

    let missed = |mut s: Stream| {
        let got = s.until_message("message.created", id(&third));
        got.iter()
            .map(|e| (e.kind.clone(), e.data["message_id"].as_i64()))
            .collect::<Vec<_>>()
    };
    let expected = vec![
        ("message.created".to_string(), Some(id(&second))),
        ("message.created".to_string(), Some(id(&third))),
    ];
    let by_header = open(
        &app,
        "/parlor/v1/events",
        &[
            ("Authorization", &auth),
            ("Last-Event-ID", &last.to_string()),
        ],
    )
    .expect("stream opens");
    assert_eq!(missed(by_header), expected);
    let by_query = open(
        &app,
        &format!("/parlor/v1/events?last_event_id={last}"),
        &[("Authorization", &auth)],
    )
    .expect("stream opens");
    assert_eq!(missed(by_query), expected);

    // Ids are increasing.
    let mut again = open(
        &app,
        &format!("/parlor/v1/events?last_event_id={last}"),
        &[("Authorization", &auth)],
    )
    .expect("stream opens");
    let ids: Vec<i64> = again
        .until_message("message.created", id(&third))
        .iter()
        .map(|e| e.id)
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > last,
        "{ids:?}"
    );

    let bad = open(
        &app,
        "/parlor/v1/events?last_event_id=yesterday",
        &[("Authorization", &auth)],
    )
    .err()
    .expect("refused");
    assert_eq!(bad.0, 400);
    assert!(bad.1.to_string().contains("last_event_id"), "{:?}", bad.1);
}

#[test]
fn a_client_that_fell_out_of_the_window_is_told_to_reset() {
    let app = spawn_app();
    let c = clinic(&app);
    let token = app.token_for(c.t, c.patient, &["native"]);
    let auth = bearer(&token);
    let start = app.service.now();
    app.send_as(c.t, c.conv, c.provider, "old news");
    // 73 hours later the default 72-hour window has dropped everything so far.
    app.service.clock.freeze(start + 73 * 3_600_000);
    let service = app.service.clone();
    let removed = actix_web::rt::System::new()
        .block_on(async move { service.prune_events(72).await })
        .unwrap();
    assert!(removed > 0);

    let mut stream = open(
        &app,
        "/parlor/v1/events",
        &[("Authorization", &auth), ("Last-Event-ID", "1")],
    )
    .expect("stream opens");
    let reset = stream.next();
    assert_eq!(reset.kind, "reset");
    let latest = reset.data["latest"].as_i64().unwrap();
    assert_eq!(reset.id, latest);
    // The stream goes on from there.
    let m = app.send_as(c.t, c.conv, c.provider, "new");
    let e = stream.next();
    assert_eq!(e.data["message_id"], id(&m));
    assert!(e.id > latest);

    // A client that is up to date is not reset even though older events are gone.
    let mut current = open(
        &app,
        "/parlor/v1/events",
        &[
            ("Authorization", &auth),
            ("Last-Event-ID", &e.id.to_string()),
        ],
    )
    .expect("stream opens");
    let m2 = app.send_as(c.t, c.conv, c.provider, "newer");
    let e2 = current.next();
    assert_eq!(
        (e2.kind.as_str(), &e2.data["message_id"]),
        ("message.created", &json!(id(&m2)))
    );
}

#[test]
fn a_failed_change_leaves_no_event() {
    let app = spawn_app();
    let c = clinic(&app);
    let auth = bearer(ADMIN_TOKEN);
    let tenant = c.t.to_string();
    let headers = [
        ("Authorization", auth.as_str()),
        ("X-Parlor-Tenant", &tenant),
    ];
    let mut stream = open(&app, "/parlor/v1/events", &headers).expect("stream opens");

    // A write that appends its event and then fails: its savepoint takes the event with it.
    let service = app.service.clone();
    let (t, conv) = (c.t, c.conv);
    let failed = actix_web::rt::System::new().block_on(async move {
        service
            .store
            .write(move |conn| {
                parlor::service::events::record(
                    conn,
                    parlor::domain::TenantId(t),
                    parlor::service::events::Kind::ConversationUpdated,
                    0,
                    parlor::domain::ConversationId(conv),
                    None,
                    None,
                )?;
                Err::<(), _>(parlor::error::Error::invalid(
                    "test",
                    "fails after the event",
                ))
            })
            .await
    });
    assert!(failed.is_err());
    // A send refused by the service (locked conversation) leaves none either.
    let r = app
        .patch(&format!("/parlor/v1/conversations/{}", c.conv))
        .admin()
        .tenant(c.t)
        .json(&json!({"locked": true}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(&format!("/parlor/v1/conversations/{}/messages", c.conv))
        .admin()
        .tenant(c.t)
        .json(&json!({"body": "refused", "as": c.provider}));
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = app
        .patch(&format!("/parlor/v1/conversations/{}", c.conv))
        .admin()
        .tenant(c.t)
        .json(&json!({"locked": false}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let m = app.send_as(c.t, c.conv, c.provider, "accepted");

    let kinds: Vec<(String, Option<i64>)> = stream
        .until_message("message.created", id(&m))
        .iter()
        .map(|e| (e.kind.clone(), e.data["message_id"].as_i64()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("conversation.updated".to_string(), None),
            ("conversation.updated".to_string(), None),
            ("message.created".to_string(), Some(id(&m))),
        ]
    );
    // And a reconnect from the start finds the same: the failed write's event is nowhere.
    let mut replay = open(
        &app,
        "/parlor/v1/events?last_event_id=0",
        &[
            ("Authorization", auth.as_str()),
            ("X-Parlor-Tenant", &tenant),
        ],
    )
    .expect("stream opens");
    let all = replay.until_message("message.created", id(&m));
    let updates = all
        .iter()
        .filter(|e| e.kind == "conversation.updated")
        .count();
    assert_eq!(updates, 2, "{all:?}");
}

#[test]
fn conversation_and_participant_changes_are_events() {
    let app = spawn_app();
    let c = clinic(&app);
    let tenant = c.t.to_string();
    let auth = bearer(ADMIN_TOKEN);
    let mut stream = open(
        &app,
        "/parlor/v1/events",
        &[("Authorization", &auth), ("X-Parlor-Tenant", &tenant)],
    )
    .expect("stream opens");
    let conv = id(&app.create_conversation(c.t, &[c.patient]));
    let r = app
        .post(&format!("/parlor/v1/conversations/{conv}/participants"))
        .admin()
        .tenant(c.t)
        .json(&json!({"user": c.provider}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .delete(&format!(
            "/parlor/v1/conversations/{conv}/participants/{}",
            c.provider
        ))
        .admin()
        .tenant(c.t)
        .send();
    assert!(r.status < 300, "{:?}", r.body);
    let r = app
        .patch(&format!("/parlor/v1/conversations/{conv}"))
        .admin()
        .tenant(c.t)
        .json(&json!({"archived": true}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .delete(&format!("/parlor/v1/conversations/{conv}"))
        .admin()
        .tenant(c.t)
        .send();
    assert!(r.status < 300, "{:?}", r.body);
    let got: Vec<(String, Value, Value)> = (0..5)
        .map(|_| stream.next())
        .map(|e| {
            (
                e.kind,
                e.data["conversation_id"].clone(),
                e.data["user_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("conversation.created".into(), json!(conv), Value::Null),
            ("participant.added".into(), json!(conv), json!(c.provider)),
            ("participant.removed".into(), json!(conv), json!(c.provider)),
            ("conversation.archived".into(), json!(conv), Value::Null),
            ("conversation.deleted".into(), json!(conv), Value::Null),
        ]
    );
    let _ = (c.outsider, c.other);
}

/// The id of the demo's tenant called `name`, read from the database file.
fn tenant_named(db: &std::path::Path, name: &str) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT id FROM tenants WHERE name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap_or_else(|e| panic!("tenant {name}: {e}"))
        .to_string()
}

/// The stream of the demo tenant called `name`, as the server admin sees it.
fn tenant_stream(app: &TestApp, name: &str) -> Stream {
    let tenant = tenant_named(&app.dir.path().join("parlor.db"), name);
    open(
        app,
        "/parlor/v1/events",
        &[
            ("Authorization", &bearer(ADMIN_TOKEN)),
            ("X-Parlor-Tenant", &tenant),
        ],
    )
    .expect("stream opens")
}

fn last_message_id(app: &TestApp) -> i64 {
    rusqlite::Connection::open(app.dir.path().join("parlor.db"))
        .unwrap()
        .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
            r.get(0)
        })
        .unwrap()
}

/// Sends through a face with `send`; every message it wrote must reach `stream` as
/// `message.created` within a second of the acknowledgement. Returns the events read.
fn face_send_reaches(
    app: &TestApp,
    stream: &mut Stream,
    face: &str,
    send: impl FnOnce() -> Resp,
) -> Vec<Event> {
    let before = last_message_id(app);
    let r = send();
    let acked = std::time::Instant::now();
    assert!(
        (200..300).contains(&r.status),
        "{face}: {} {:?}",
        r.status,
        r.body
    );
    let after = last_message_id(app);
    assert!(after > before, "{face}: the send wrote a message");
    let mut waiting: Vec<i64> = (before + 1..=after).collect();
    let mut seen = Vec::new();
    while !waiting.is_empty() {
        let e = stream.next();
        if e.kind == "message.created" {
            waiting.retain(|m| e.data["message_id"] != *m);
        }
        seen.push(e);
    }
    let waited = acked.elapsed();
    assert!(
        waited < Duration::from_secs(1),
        "{face}: the event came {waited:?} after the acknowledgement"
    );
    seen
}

#[test]
fn a_send_through_each_vendor_face_reaches_the_stream_and_a_reconnect_misses_nothing() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some("events-test-secret".into());
    });

    // MDLIVE: the clinic's patient 52 writes to provider 4.
    let r = app.post("/auth/auth_token").json(&json!({
        "auth": {"api_key": "demo-mdlive-key", "password": "demo-mdlive-secret"}
    }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let api = r.body["jwt"].as_str().unwrap().to_string();
    let r = app
        .post("/api/v1/sso_auth/auth_token")
        .bearer(&api)
        .json(&json!({
            "auth": {"subscriber_id": "MDL-SUB-0052", "first_name": "Emily",
                "last_name": "Carter", "birthdate": "1990-04-12", "gender": "F"},
            "org": {"ou": "riverside"},
            "api": {"api_key": "demo-mdlive-key", "password": "demo-mdlive-secret"}
        }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let patient = r.body["jwt"].as_str().unwrap().to_string();
    let mdlive = |text: &str| {
        app.post("/api/v1/patients/52/messages")
            .bearer(&patient)
            .json(&json!({"message": {"to_id": 4, "subject": "Refill", "message": text}}))
    };
    let mut clinic = tenant_stream(&app, "Riverside Family Clinic");
    let first = face_send_reaches(&app, &mut clinic, "mdlive", || {
        mdlive("Could you renew it?")
    });
    let resume_from = first.last().unwrap().id;

    // Pigeons.
    let mut pigeons = tenant_stream(&app, "Pigeons Demo Platform");
    face_send_reaches(&app, &mut pigeons, "pigeons", || {
        app.post("/api/v1/pigeons/chat/messages")
            .bearer("1|demoPigeonsJohnDoeToken")
            .header("X-PUBLIC-KEY", "pk_demo_pigeons")
            .json(&json!({
                "conversation_uuid": "550e8400-e29b-41d4-a716-446655440000",
                "receiver_uuid": "660e8400-e29b-41d4-a716-446655440002",
                "context_text": "Hello", "context_type": "text",
                "device": {"type": "desktop", "os": "Linux", "app_version": "1.2.3"}
            }))
    });

    // Respondent: a new conversation, then a message in it.
    let mut respondent = tenant_stream(&app, "Northwind Research (Respondent demo)");
    let post = |path: &str, body: &Value| {
        app.post(&format!("/v1/messaging{path}"))
            .header("x-api-key", "demo-respondent-key")
            .header("x-api-secret", "demo-respondent-secret")
            .json(body)
    };
    let created = post(
        "/conversations",
        &json!({"projectId": "6650a1b2c3d4e5f601234567",
                "participantUserIds": ["65a1f0c2b3d4e5f607182903"]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let uid = created.body["uid"].as_str().unwrap().to_string();
    let seen = face_send_reaches(&app, &mut respondent, "respondent", || {
        post(
            &format!("/conversations/{uid}/messages"),
            &json!({"body": "See you Thursday."}),
        )
    });
    assert_eq!(seen[0].kind, "conversation.created", "{seen:?}");

    // Trillet: a flow's generated message.
    let mut trillet = tenant_stream(&app, "Trillet Demo Workspace");
    face_send_reaches(&app, &mut trillet, "trillet", || {
        app.post("/v1/api/conversations/message/generate")
            .header("x-api-key", "demo-trillet-secret")
            .header("x-workspace-id", "674e29976b6acbac106d2650")
            .json(
                &json!({"flowId": "674e75bbe1456b11a194f091", "to": "+15550001111",
                          "autopilot": false}),
            )
    });

    // Tati: the patient's message (and the assistant's answer, if it gives one).
    let mut tati = tenant_stream(&app, "Tati Demo Program");
    face_send_reaches(&app, &mut tati, "tati", || {
        app.post("/v0.1/patients/conversations/con123/messages/")
            .header("Authorization", "Token tati-token-demo")
            .json(&json!({"message_type": "user", "content": "Can I take it with food?"}))
    });

    // The clinic's stream drops; two more messages arrive while it is away; the reconnect
    // from the last id it saw gets exactly those, in order, and nothing twice.
    drop(clinic);
    let before = last_message_id(&app);
    for text in ["One more thing", "And another"] {
        let r = mdlive(text);
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let after = last_message_id(&app);
    let resume_header = resume_from.to_string();
    let tenant = tenant_named(&app.dir.path().join("parlor.db"), "Riverside Family Clinic");
    let mut again = open(
        &app,
        "/parlor/v1/events",
        &[
            ("Authorization", &bearer(ADMIN_TOKEN)),
            ("X-Parlor-Tenant", &tenant),
            ("Last-Event-ID", &resume_header),
        ],
    )
    .expect("stream opens");
    let mut created = Vec::new();
    let mut last = resume_from;
    while created.len() < 2 {
        let e = again.next();
        assert!(
            e.id > last,
            "ids only grow and nothing repeats: {e:?} after {last}"
        );
        last = e.id;
        if e.kind == "message.created" {
            created.push(e.data["message_id"].as_i64().unwrap());
        }
    }
    assert_eq!(created, (before + 1..=after).collect::<Vec<_>>());
}

#[test]
fn an_open_stream_ends_cleanly_on_a_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let server = crate::shutdown::serve_with(
        &db,
        &["--demo"],
        &[("PARLOR_ADMIN_TOKEN", "events-stop-admin-token")],
    );
    let tenant = tenant_named(&db, "Riverside Family Clinic");
    let mut stream = open_url(
        &format!("{}/parlor/v1/events", server.base),
        &[
            ("Authorization", "Bearer events-stop-admin-token"),
            ("X-Parlor-Tenant", &tenant),
        ],
    )
    .expect("stream opens");
    let mut opening = String::new();
    stream.lines.read_line(&mut opening).unwrap();
    assert_eq!(opening, ": stream open\n");
    let reader = std::thread::spawn(move || {
        let mut rest = Vec::new();
        // A stream the server ends itself finishes its chunked body: the read ends without an
        // error. One cut off when the stop gives up waiting (after 30 s) fails the read.
        stream.lines.read_to_end(&mut rest).map(|_| rest)
    });
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{status:?}: {stderr}");
    let rest = reader.join().unwrap();
    assert!(rest.is_ok(), "the stream was cut off: {rest:?}");
}

impl Stream {
    /// Reads until the stream ends; the events it carried meanwhile. Fails if it carries on
    /// past two heartbeats.
    fn until_end(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        let mut heartbeats = 0;
        loop {
            let mut line = String::new();
            match self.lines.read_line(&mut line) {
                Ok(0) => return seen,
                Ok(_) => {}
                Err(e) => panic!("the stream failed rather than ending: {e}"),
            }
            if line.starts_with(": heartbeat") {
                heartbeats += 1;
                assert!(heartbeats < 2, "the stream did not end");
            }
            if let Some(kind) = line.strip_prefix("event: ") {
                seen.push(kind.trim().to_string());
            }
        }
    }
}

#[test]
fn the_server_admin_can_name_the_tenant_in_the_query_for_a_browser() {
    let app = spawn_app();
    let c = clinic(&app);
    let mut stream = open(
        &app,
        &format!("/parlor/v1/events?tenant={}", c.t),
        &[("Authorization", &bearer(ADMIN_TOKEN))],
    )
    .expect("stream opens");
    let m = app.send_as(c.t, c.conv, c.provider, "hello");
    assert_eq!(stream.next().data["message_id"], id(&m));
    let bad = open(
        &app,
        "/parlor/v1/events?tenant=not%20a%20tenant",
        &[("Authorization", &bearer(ADMIN_TOKEN))],
    )
    .err()
    .expect("refused");
    assert_eq!(bad.0, 400, "{:?}", bad.1);
    assert!(bad.1.to_string().contains("tenant"), "{:?}", bad.1);
}

#[test]
fn a_revoked_token_ends_its_stream_before_the_next_event() {
    let app = spawn_app();
    let c = clinic(&app);
    let r = app
        .post(&format!("/parlor/v1/users/{}/tokens", c.patient))
        .admin()
        .tenant(c.t)
        .json(&json!({"abilities": ["native"]}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let (token, token_id) = (r.body["token"].as_str().unwrap().to_string(), id(&r.body));
    let mut stream = open(
        &app,
        "/parlor/v1/events",
        &[("Authorization", &bearer(&token))],
    )
    .expect("stream opens");
    let m = app.send_as(c.t, c.conv, c.provider, "before");
    assert_eq!(stream.next().data["message_id"], id(&m));

    let r = app
        .delete(&format!("/parlor/v1/tokens/{token_id}"))
        .admin()
        .tenant(c.t)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.send_as(c.t, c.conv, c.provider, "after the revocation");
    assert_eq!(stream.until_end(), Vec::<String>::new());
}

#[test]
fn a_signed_out_session_ends_its_stream_and_opening_one_is_not_activity() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.admin_idle_timeout_minutes = 15;
    });
    let sign_in = || {
        let r = app
            .post("/parlor/v1/session")
            .json(&json!({"username": "admin", "password": "admin-demo-password"}));
        assert_eq!(r.status, 200, "{:?}", r.body);
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap();
        (
            cookie.to_string(),
            r.body["csrf_token"].as_str().unwrap().to_string(),
        )
    };
    let stream_with = |cookie: &str| {
        open(
            &app,
            "/parlor/v1/events",
            &[("Cookie", cookie), ("Accept", "text/event-stream")],
        )
    };

    // Signing out ends the page's stream: the next change is not sent down it.
    let (cookie, csrf) = sign_in();
    let mut stream = stream_with(&cookie).expect("stream opens");
    let r = app
        .delete("/parlor/v1/session")
        .header("Cookie", &cookie)
        .header("X-Parlor-CSRF", &csrf)
        .send();
    assert!((200..300).contains(&r.status), "{:?}", r.body);
    let t = tenant_named(&app.dir.path().join("parlor.db"), "Riverside Family Clinic");
    let conv = app.create_conversation(t.parse().unwrap(), &[52, 4]);
    app.send_as(t.parse().unwrap(), id(&conv), 4, "after sign-out");
    assert_eq!(stream.until_end(), Vec::<String>::new());

    // A stream (re)connecting by itself does not keep an unattended session alive.
    let start = app.service.now();
    app.service.clock.freeze(start);
    let (cookie, _) = sign_in();
    app.service.clock.freeze(start + 10 * 60_000);
    drop(stream_with(&cookie).expect("stream opens"));
    app.service.clock.freeze(start + 16 * 60_000);
    let r = app
        .get("/parlor/v1/session")
        .header("Cookie", &cookie)
        .send();
    assert_eq!(
        r.status, 401,
        "the session outlived its idle timeout: {:?}",
        r.body
    );
}

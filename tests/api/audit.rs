//! The audit trail: what each surface leaves in it, what a write and a refusal leave, the
//! chain that shows tampering, and who may read it.

use serde_json::{json, Value};

use crate::helpers::*;

const MDLIVE_SECRET: &str = "mdlive-test-jwt-secret";

/// The tenant's entries, newest first, once `wanted` finds one (reads are recorded within a
/// second of their answer, not before it), or after ten seconds whatever there is.
fn entries_until(app: &TestApp, tenant: i64, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let data = entries(app, tenant, "");
        if data.iter().any(&wanted) || std::time::Instant::now() > deadline {
            return data;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn entries(app: &TestApp, tenant: i64, query: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/parlor/v1/audit?limit=100{query}"))
        .admin()
        .tenant(tenant)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"].as_array().cloned().unwrap_or_default()
}

fn role_of(app: &TestApp, tenant: i64, user: i64) -> String {
    let r = app
        .get(&format!("/parlor/v1/users/{user}"))
        .admin()
        .tenant(tenant)
        .send();
    r.body["role"].as_str().unwrap_or_default().to_string()
}

/// The entry `surface` left for `route` (method and path), with at least one patient named,
/// each of them really a patient (or what the face calls one).
fn names_a_patient(app: &TestApp, tenant: i64, surface: &str, route: &str) -> Value {
    let found = entries_until(app, tenant, |e| {
        e["surface"] == surface && e["route"] == route
    });
    let entry = found
        .iter()
        .find(|e| e["surface"] == surface && e["route"] == route)
        .unwrap_or_else(|| panic!("no {surface} entry for {route}: {found:#?}"))
        .clone();
    assert_eq!(entry["outcome"], "ok", "{entry:#}");
    assert_eq!(entry["action"], "read", "{entry:#}");
    let patients = entry["patients"].as_array().expect("patients");
    assert!(!patients.is_empty(), "no patient named: {entry:#}");
    for p in patients {
        let role = role_of(app, tenant, p["id"].as_i64().unwrap());
        assert!(
            ["patient", "customer", "participant"].contains(&role.as_str()),
            "{p} is a {role}"
        );
    }
    assert!(entry["actor"]["kind"] != "anonymous", "{entry:#}");
    assert!(entry["credential"].is_string(), "{entry:#}");
    entry
}

#[test]
fn a_read_through_each_face_names_the_patient() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.jwt_secret = Some(MDLIVE_SECRET.into());
    });

    let path = "/v0.1/patients/conversations/con123/messages/";
    let r = app
        .get(path)
        .header("Authorization", "Token tati-token-demo")
        .send();
    assert_eq!(r.status, 200);
    let tati = names_a_patient(&app, 4, "tati", &format!("GET {path}"));
    assert_eq!(tati["actor"]["kind"], "user");
    assert_eq!(tati["patients"][0]["id"], tati["actor"]["id"]);

    let jwt = forge_mdlive(52, 1);
    let path = "/api/v1/patients/52/providers/4/conversation";
    let r = app.get(path).bearer(&jwt).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mdlive = names_a_patient(&app, 1, "mdlive", &format!("GET {path}"));
    assert_eq!(mdlive["credential"], "jwt");
    assert_eq!(mdlive["patients"][0]["id"], 52);

    let path = "/v1/api/conversations";
    let r = app
        .get(path)
        .header("x-api-key", "demo-trillet-secret")
        .header("x-workspace-id", "674e29976b6acbac106d2650")
        .send();
    assert_eq!(r.status, 200);
    let trillet = names_a_patient(&app, 2, "trillet", &format!("GET {path}"));
    assert_eq!(trillet["actor"]["kind"], "api_key");

    let path = "/api/v1/pigeons/chat/conversations/550e8400-e29b-41d4-a716-446655440000/messages";
    let r = app
        .get(path)
        .bearer("1|demoPigeonsJohnDoeToken")
        .header("X-PUBLIC-KEY", "pk_demo_pigeons")
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    names_a_patient(&app, 5, "pigeons", &format!("GET {path}"));

    let path = "/v1/messaging/conversations";
    let r = app
        .get(path)
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .send();
    assert_eq!(r.status, 200);
    let respondent = names_a_patient(&app, 3, "respondent", &format!("GET {path}"));
    assert!(respondent["objects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["type"] == "conversation"));

    let r = app.get("/parlor/v1/conversations").admin().tenant(1).send();
    assert_eq!(r.status, 200);
    let native = names_a_patient(&app, 1, "native", "GET /parlor/v1/conversations");
    assert_eq!(native["actor"]["kind"], "server_admin");
}

fn forge_mdlive(sub: i64, tid: i64) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    let claims = json!({ "sub": sub.to_string(), "tid": tid, "typ": "user", "iat": 0, "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(MDLIVE_SECRET.as_bytes()),
    )
    .unwrap()
}

/// A tenant with an admin, a provider and a patient in one conversation, and their tokens.
struct Clinic {
    tenant: i64,
    patient: i64,
    provider: i64,
    conversation: i64,
    provider_token: String,
}

fn clinic(app: &TestApp) -> Clinic {
    let tenant = app.create_tenant("Riverside");
    let patient = app.create_user(tenant, json!({ "role": "patient", "display_name": "Pat" }))
        ["id"]
        .as_i64()
        .unwrap();
    let provider = app.create_user(
        tenant,
        json!({ "role": "provider", "display_name": "Dr. P" }),
    )["id"]
        .as_i64()
        .unwrap();
    let conversation = app.create_conversation(tenant, &[patient, provider])["id"]
        .as_i64()
        .unwrap();
    let provider_token = app.token_for(tenant, provider, &["*"]);
    Clinic {
        tenant,
        patient,
        provider,
        conversation,
        provider_token,
    }
}

#[test]
fn a_write_is_recorded_in_its_own_transaction_without_its_text() {
    let app = spawn_app();
    let c = clinic(&app);
    let r = app
        .post(&format!(
            "/parlor/v1/conversations/{}/messages",
            c.conversation
        ))
        .bearer(&c.provider_token)
        .json(&json!({ "body": "the MRI shows a torn meniscus" }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let message = r.body["id"].as_i64().unwrap().to_string();
    // No waiting: the entry committed with the message.
    let found = entries(&app, c.tenant, "&action=create");
    let entry = found
        .iter()
        .find(|e| {
            e["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["type"] == "message" && o["id"] == message)
        })
        .unwrap_or_else(|| panic!("no entry for the send: {found:#?}"));
    assert_eq!(
        entry["actor"],
        json!({ "kind": "user", "id": c.provider, "name": "Dr. P" })
    );
    assert_eq!(entry["outcome"], "ok");
    assert_eq!(
        entry["patients"],
        json!([{ "id": c.patient, "name": "Pat" }])
    );
    assert!(entry["credential"].as_str().unwrap().starts_with("token:"));

    let file = std::fs::read(app.dir.path().join("parlor.db")).unwrap();
    let wal = std::fs::read(app.dir.path().join("parlor.db-wal")).unwrap_or_default();
    let trail: Vec<String> = app
        .service
        .store
        .read_blocking(|c| {
            let mut stmt = c.prepare("SELECT * FROM audit")?;
            let n = stmt.column_count();
            let rows = stmt.query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap();
    assert!(!trail.is_empty());
    assert!(
        trail.iter().all(|row| !row.contains("meniscus")),
        "{trail:#?}"
    );
    // (The message itself is of course in the file.)
    assert!(file.windows(8).any(|w| w == b"meniscus") || wal.windows(8).any(|w| w == b"meniscus"));
}

#[test]
fn refusals_and_ids_that_resolve_to_nothing_are_recorded() {
    let app = spawn_app();
    let c = clinic(&app);
    let r = app
        .get("/parlor/v1/conversations/999999")
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.status, 404);
    let found = entries_until(&app, c.tenant, |e| e["outcome"] == "not_found");
    let missing = found
        .iter()
        .find(|e| e["outcome"] == "not_found")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(missing["status"], 404);
    assert_eq!(
        missing["objects"],
        json!([{ "type": "conversation", "id": "999999" }])
    );
    assert_eq!(missing["actor"]["id"], c.provider);

    // A bad token: no tenant is known, so the entry is server-wide; the CLI export shows it.
    let r = app
        .get("/parlor/v1/conversations")
        .bearer("not-a-token")
        .send();
    assert_eq!(r.status, 401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let refused = app
            .service
            .store
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM audit WHERE outcome = 'refused' AND actor_kind = 'anonymous'
                       AND status = 401",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .unwrap();
        if refused == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the 401 was not recorded"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn only_the_tenants_admins_read_its_trail() {
    let app = spawn_app();
    let a = clinic(&app);
    let b = clinic(&app);
    let r = app
        .get(&format!("/parlor/v1/conversations/{}", b.conversation))
        .bearer(&b.provider_token)
        .send();
    assert_eq!(r.status, 200);
    entries_until(&app, b.tenant, |e| {
        e["route"]
            .as_str()
            .unwrap_or("")
            .contains("/conversations/")
    });
    assert!(entries(&app, a.tenant, "")
        .iter()
        .all(|e| e["tenant_id"] == a.tenant));

    let r = app.get("/parlor/v1/audit").bearer(&a.provider_token).send();
    assert_eq!(r.status, 403);
    let admin = app.create_user(
        a.tenant,
        json!({ "role": "admin", "display_name": "Office" }),
    )["id"]
        .as_i64()
        .unwrap();
    let token = app.token_for(a.tenant, admin, &["*"]);
    let r = app.get("/parlor/v1/audit").bearer(&token).send();
    assert_eq!(r.status, 200);
    assert!(r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["tenant_id"] == a.tenant));
    let r = app
        .get("/parlor/v1/audit")
        .bearer(&token)
        .tenant(b.tenant)
        .send();
    assert_eq!(r.status, 404);

    for bad in [
        "patient=abc",
        "since=yesterday",
        "outcome=maybe",
        "limit=0",
        "colour=red",
    ] {
        let r = app
            .get(&format!("/parlor/v1/audit?{bad}"))
            .bearer(&token)
            .send();
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
}

#[test]
fn the_patient_filter_is_the_access_report() {
    let app = spawn_app();
    let c = clinic(&app);
    let other = app.create_user(
        c.tenant,
        json!({ "role": "patient", "display_name": "Other" }),
    )["id"]
        .as_i64()
        .unwrap();
    let r = app
        .get(&format!(
            "/parlor/v1/conversations/{}/messages",
            c.conversation
        ))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.status, 200);
    let report = entries_until(&app, c.tenant, |e| {
        e["action"] == "read" && e["actor"]["id"] == c.provider
    });
    let report: Vec<&Value> = report
        .iter()
        .filter(|e| e["action"] == "read" && e["actor"]["id"] == c.provider)
        .collect();
    assert!(!report.is_empty());
    let by_patient = entries(
        &app,
        c.tenant,
        &format!("&patient={}&action=read", c.patient),
    );
    assert!(by_patient.iter().any(|e| e["actor"]["id"] == c.provider
        && e["route"] == format!("GET /parlor/v1/conversations/{}/messages", c.conversation)));
    let unrelated = entries(&app, c.tenant, &format!("&patient={other}&action=read"));
    assert!(unrelated.is_empty(), "{unrelated:#?}");
}

#[test]
fn a_graceful_stop_keeps_every_queued_read() {
    let app = spawn_app();
    let c = clinic(&app);
    for _ in 0..20 {
        let r = app
            .get(&format!("/parlor/v1/conversations/{}", c.conversation))
            .bearer(&c.provider_token)
            .send();
        assert_eq!(r.status, 200);
    }
    // Straight away, before the queue's next hand-over: closing hands it over.
    app.service.store.close_blocking().unwrap();
    let store = parlor::store::Store::open(
        &app.dir.path().join("parlor.db"),
        &parlor::store::StoreOptions::default(),
    )
    .unwrap();
    let reads: i64 = store
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM audit WHERE route LIKE 'GET /parlor/v1/conversations/%'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(reads, 20);
    store.close_blocking().unwrap();
}

#[test]
fn audit_off_records_nothing() {
    let app = spawn_with(|s| s.audit = false);
    let c = clinic(&app);
    let r = app
        .get(&format!("/parlor/v1/conversations/{}", c.conversation))
        .bearer(&c.provider_token)
        .send();
    assert_eq!(r.status, 200);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert!(entries(&app, c.tenant, "").is_empty());
}

#[test]
fn an_edited_or_removed_row_breaks_the_chain() {
    let app = spawn_app();
    let c = clinic(&app);
    for _ in 0..3 {
        app.send_as(c.tenant, c.conversation, c.patient, "hello");
    }
    let db = app.dir.path().join("parlor.db");
    let verify = |head: Option<&str>| {
        let service = app.service.clone();
        let head = head.map(str::to_string);
        actix_web::rt::System::new()
            .block_on(async move { parlor::audit::cli::verify(&service, head.as_deref()).await })
            .unwrap()
    };
    let sound = verify(None);
    assert!(sound.sound, "{}", sound.report);
    let head = sound
        .report
        .lines()
        .find_map(|l| l.strip_prefix("Head: "))
        .unwrap()
        .to_string();
    assert!(verify(Some(&head)).sound);

    // Another process edits the file, as someone with the file could.
    let edit = |sql: &str| {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(sql).unwrap();
    };
    let seq: i64 = head.split(':').next().unwrap().parse().unwrap();
    edit(&format!(
        "UPDATE audit SET client = '10.0.0.9' WHERE seq = {}",
        seq - 1
    ));
    let broken = verify(None);
    assert!(!broken.sound);
    assert!(
        broken.report.contains(&format!("entry {}", seq - 1)),
        "{}",
        broken.report
    );

    // Removing the newest entry leaves a sound-looking chain: only the kept head tells.
    let app2 = spawn_app();
    let c2 = clinic(&app2);
    app2.send_as(c2.tenant, c2.conversation, c2.patient, "hello");
    let service = app2.service.clone();
    let report = actix_web::rt::System::new()
        .block_on(async move { parlor::audit::cli::verify(&service, None).await })
        .unwrap();
    let head = report
        .report
        .lines()
        .find_map(|l| l.strip_prefix("Head: "))
        .unwrap()
        .to_string();
    let seq: i64 = head.split(':').next().unwrap().parse().unwrap();
    let conn = rusqlite::Connection::open(app2.dir.path().join("parlor.db")).unwrap();
    conn.execute("DELETE FROM audit WHERE seq = ?1", [seq])
        .unwrap();
    drop(conn);
    let service = app2.service.clone();
    let (plain, kept) = actix_web::rt::System::new().block_on(async move {
        (
            parlor::audit::cli::verify(&service, None).await.unwrap(),
            parlor::audit::cli::verify(&service, Some(&head))
                .await
                .unwrap(),
        )
    });
    assert!(plain.sound);
    assert!(!kept.sound, "{}", kept.report);

    // A row removed from the middle.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("DELETE FROM audit WHERE seq = 1", []).unwrap();
    drop(conn);
    let broken = verify(None);
    assert!(
        broken.report.contains("entry 2") && broken.report.contains("missing"),
        "{}",
        broken.report
    );
}

#[test]
fn sign_ins_and_credentials_are_named() {
    let app = spawn_app();
    let c = clinic(&app);
    app.create_user(
        c.tenant,
        json!({ "role": "provider", "display_name": "Dr. Q", "username": "drq",
                "password": "correct-horse-1" }),
    );
    let wrong = app
        .post("/parlor/v1/auth/login")
        .json(&json!({ "tenant": c.tenant, "username": "drq", "password": "wrong-password" }));
    assert_eq!(wrong.status, 401);
    let right = app
        .post("/parlor/v1/auth/login")
        .json(&json!({ "tenant": c.tenant, "username": "drq", "password": "correct-horse-1" }));
    assert_eq!(right.status, 200, "{:?}", right.body);
    let r = app
        .post(&format!("/parlor/v1/users/{}/tokens", c.patient))
        .admin()
        .tenant(c.tenant)
        .json(&json!({ "abilities": ["*"] }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let token = r.body["id"].as_i64().unwrap();
    let r = app
        .delete(&format!("/parlor/v1/tokens/{token}"))
        .admin()
        .tenant(c.tenant)
        .send();
    assert!(r.status < 300, "{:?}", r.body);

    let found = entries_until(&app, c.tenant, |e| {
        e["action"] == "sign_in" && e["outcome"] == "refused"
    });
    let refused = found
        .iter()
        .find(|e| e["action"] == "sign_in" && e["outcome"] == "refused")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(refused["actor"]["kind"], "anonymous");
    let signed_in = found
        .iter()
        .find(|e| e["action"] == "sign_in" && e["outcome"] == "ok")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(signed_in["credential"], "password");
    let token = token.to_string();
    for action in ["token.issue", "token.revoke"] {
        let e = found
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action}: {found:#?}"));
        assert!(
            e["objects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["type"] == "token" && o["id"] == token),
            "{e:#}"
        );
    }
}

#[test]
fn a_patient_export_is_recorded_with_its_counts() {
    let app = spawn_app();
    let c = clinic(&app);
    app.send_as(c.tenant, c.conversation, c.provider, "see you Tuesday");
    let r = app
        .get(&format!(
            "/parlor/v1/users/{}/export?format=html",
            c.patient
        ))
        .admin()
        .tenant(c.tenant)
        .send();
    assert_eq!(r.status, 200);
    let found = entries_until(&app, c.tenant, |e| e["action"] == "patient.export.sent");
    let asked = found
        .iter()
        .find(|e| e["action"] == "patient.export")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(
        asked["patients"],
        json!([{ "id": c.patient, "name": "Pat" }])
    );
    let sent = found
        .iter()
        .find(|e| e["action"] == "patient.export.sent")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(
        sent["detail"],
        json!({ "conversations": 1, "messages": 1, "format": "html" })
    );
    assert_eq!(sent["actor"]["kind"], "server_admin");
}

#[test]
fn the_admin_pages_calls_are_surface_admin_under_their_session() {
    let app = spawn_demo();
    let answer = app
        .post("/parlor/v1/session")
        .json(&json!({ "username": "admin", "password": "admin-demo-password" }));
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let cookie = answer
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let tenant = answer.body["user"]["tenant_id"]
        .as_i64()
        .or_else(|| answer.body["tenant"]["id"].as_i64())
        .unwrap_or(1);
    let r = app
        .get("/parlor/v1/conversations")
        .header("Cookie", &cookie)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let found = entries_until(&app, tenant, |e| {
        e["surface"] == "admin" && e["route"] == "GET /parlor/v1/conversations"
    });
    let read = found
        .iter()
        .find(|e| e["surface"] == "admin" && e["route"] == "GET /parlor/v1/conversations")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert!(
        read["credential"].as_str().unwrap().starts_with("session:"),
        "{read:#}"
    );
    assert_eq!(read["actor"]["kind"], "user");
    let signed_in = found
        .iter()
        .find(|e| e["action"] == "sign_in")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(signed_in["outcome"], "ok");
}

/// Runs the retention sweep as `parlor retention run` does, with the trail kept `audit_days`.
fn sweep(app: &TestApp, audit_days: u32) -> parlor::service::retention::Sweep {
    let service = app.service.clone();
    actix_web::rt::System::new()
        .block_on(async move {
            service
                .run_retention(parlor::service::retention::SweepOptions {
                    audited_as: Some("cli"),
                    audit_days: Some(audit_days),
                    ..Default::default()
                })
                .await
        })
        .expect("sweep")
}

#[test]
fn a_retention_run_leaves_one_entry_per_tenant_and_the_trail_keeps_its_own_years() {
    const DAY: i64 = 86_400_000;
    let app = spawn_app();
    let t0 = 1_900_000_000_000;
    app.service.clock.freeze(t0);
    let c = clinic(&app);
    app.send_as(c.tenant, c.conversation, c.provider, "old news");
    let r = app
        .request("PUT", "/parlor/v1/retention")
        .admin()
        .tenant(c.tenant)
        .json(&json!({ "message_days": 30 }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let before = entries(&app, c.tenant, "").len();
    assert!(before >= 4, "the set-up's writes are in the trail");

    // Forty days on: the message expires; the trail, kept 35 days, loses the set-up's entries.
    app.service.clock.freeze(t0 + 40 * DAY);
    let run = sweep(&app, 35);
    assert!(run.audit_removed >= before as u64, "{run:?}");
    let found = entries_until(&app, c.tenant, |e| e["action"] == "retention.run");
    let entry = found
        .iter()
        .find(|e| e["action"] == "retention.run")
        .unwrap_or_else(|| panic!("{found:#?}"));
    assert_eq!(entry["surface"], "cli");
    assert_eq!(entry["actor"]["kind"], "system");
    assert_eq!(entry["detail"]["steps"][0]["removed"], 1);
    assert_eq!(entry["detail"]["steps"][0]["conversations"], 1);
    assert!(!entry.to_string().contains("old news"));
    assert!(
        found.iter().all(|e| e["at"].as_str().unwrap() >= "2030"),
        "old entries remain"
    );

    // The chain still verifies from where pruning left it.
    let service = app.service.clone();
    let verified = actix_web::rt::System::new()
        .block_on(async move { parlor::audit::cli::verify(&service, None).await })
        .unwrap();
    assert!(verified.sound, "{}", verified.report);
    let pruned: i64 = app
        .service
        .store
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM audit WHERE action = 'audit.prune'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(pruned, 1);
}

#[test]
fn a_faces_token_call_is_a_sign_in() {
    let app = spawn_demo();
    let r = app
        .post("/api/v1/sso_auth/auth_token")
        .json(&json!({ "api": { "api_key": "demo-mdlive-key", "password": "wrong" } }));
    assert!(r.status >= 400, "{:?}", r.body);
    let r = app
        .post("/v0.1/token/")
        .json(&json!({ "username": "nobody", "password": "wrong-password" }));
    assert!(r.status == 400 || r.status == 401, "{:?}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let found = app
            .service
            .store
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM audit WHERE surface = 'tati' AND action = 'sign_in'
                       AND outcome IN ('refused', 'invalid')",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .unwrap();
        let mdlive = app
            .service
            .store
            .read_blocking(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM audit WHERE surface = 'mdlive' AND action = 'sign_in'
                       AND outcome = 'refused'",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .unwrap();
        if found == 1 && mdlive == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sign_in entries: tati {found}, mdlive {mdlive}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

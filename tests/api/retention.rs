//! Retention and legal hold: the sweep removes exactly the messages older than the tenant's
//! retention that no hold covers, with everything attached to them, and every unread count
//! stays exact; holds keep what they cover; a dry run changes nothing and counts the same;
//! tenants are apart; the API refuses bad input.

use std::process::Command;

use parlor::domain::{IdRef, MessageId, UserId};
use parlor::service::retention::{Sweep, SweepOptions};
use parlor::store::integrity::{self, Depth};
use parlor::store::messages;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const DAY: i64 = 86_400_000;
/// 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;

fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

fn user(app: &TestApp, tenant: i64, role: &str, name: &str) -> i64 {
    id(&app.create_user(tenant, json!({"role": role, "display_name": name})))
}

fn set_days(app: &TestApp, tenant: i64, days: Value) {
    let r = app
        .request("PUT", "/parlor/v1/retention")
        .admin()
        .tenant(tenant)
        .json(&json!({ "message_days": days }));
    assert_eq!(r.status, 200, "{:?}", r.body);
}

fn run(app: &TestApp, dry_run: bool, tenant: Option<i64>) -> Sweep {
    let service = app.service.clone();
    let options = SweepOptions {
        dry_run,
        tenant: tenant.map(IdRef::Id),
        ..SweepOptions::default()
    };
    actix_web::rt::System::new()
        .block_on(async move { service.run_retention(options).await })
        .expect("sweep")
}

/// (removed, conversations, held) of the messages pruning in `tenant`, None when not listed.
fn counts(sweep: &Sweep, tenant: i64) -> Option<(u64, u64, u64)> {
    sweep
        .tenants
        .iter()
        .find(|t| t.tenant.0 == tenant)
        .map(|t| {
            let s = &t.steps[0];
            (s.removed, s.conversations, s.held)
        })
}

fn exists(app: &TestApp, tenant: i64, message: i64) -> bool {
    let r = app
        .get(&format!("/parlor/v1/messages/{message}"))
        .admin()
        .tenant(tenant)
        .send();
    assert!(r.status == 200 || r.status == 404, "{:?}", r.body);
    r.status == 200
}

fn count_rows(app: &TestApp, sql: &'static str) -> i64 {
    app.service
        .store
        .read_blocking(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

/// What `parlor check` verifies: the file, the links between records, every unread count.
fn assert_check_clean(app: &TestApp) {
    let report = integrity::verify(&app.dir.path().join("parlor.db"), Depth::Full, None).unwrap();
    assert!(report.is_sound(), "{:?}", report.problems());
    // And what the conversation lists show: each one's count of live messages and last one.
    let wrong = count_rows(
        app,
        "SELECT count(*) FROM conversations c WHERE message_count <>
             (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.deleted_at IS NULL)
           OR last_message_id IS NOT
             (SELECT id FROM messages m WHERE m.conversation_id = c.id AND m.deleted_at IS NULL
              ORDER BY seq DESC LIMIT 1)",
    );
    assert_eq!(wrong, 0, "conversations whose count or last message is off");
}

#[test]
fn exactly_the_expired_messages_go_and_every_unread_count_stays_exact() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let (doctor, patient, nurse, clerk) = (
        user(&app, t, "provider", "Doctor"),
        user(&app, t, "patient", "Patient"),
        user(&app, t, "staff", "Nurse"),
        user(&app, t, "staff", "Clerk"),
    );
    app.service.clock.freeze(T0 - DAY);
    let conv = id(&app.create_conversation(t, &[doctor, patient, nurse, clerk]));

    // Outside the window: created 1 ms before the cutoff.
    app.service.clock.freeze(T0 - 1);
    let m1 = id(&app.send_as(t, conv, doctor, "m1"));
    let m2 = id(&app.send_as(t, conv, doctor, "m2"));
    let gone = id(&app.send_as(t, conv, doctor, "soft-deleted"));
    let m3 = id(&app.send_as(t, conv, patient, "m3"));
    // Inside the window: created exactly at the cutoff, which is kept.
    app.service.clock.freeze(T0);
    let r = app
        .post(&format!("/parlor/v1/conversations/{conv}/messages"))
        .admin()
        .tenant(t)
        .json(&json!({"body": "m4", "as": doctor, "reply_to": m1}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let m4 = id(&r.body);
    let m5 = id(&app.send_as(t, conv, doctor, "m5"));

    // The nurse read up to m1, then m3 alone; the clerk read nothing; reactions on m3 and m4.
    let r = app
        .post(&format!("/parlor/v1/conversations/{conv}/read"))
        .admin()
        .tenant(t)
        .json(&json!({"as": nurse, "up_to": m1}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(&format!("/parlor/v1/messages/{m3}/read"))
        .admin()
        .tenant(t)
        .json(&json!({"as": nurse}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .delete(&format!("/parlor/v1/messages/{gone}"))
        .admin()
        .tenant(t)
        .send();
    assert!(r.status < 300, "{:?}", r.body);
    app.service
        .store
        .write_blocking(move |c| {
            messages::add_reaction(c, MessageId(m3), UserId(nurse), "+1", T0)?;
            messages::add_reaction(c, MessageId(m4), UserId(nurse), "+1", T0)
        })
        .unwrap();
    let unread = |app: &TestApp| [doctor, patient, nurse, clerk].map(|u| app.unread(t, conv, u));
    assert_eq!(unread(&app), [0, 2, 3, 5]);

    set_days(&app, t, json!(30));
    app.service.clock.freeze(T0 + 30 * DAY);
    let sweep = run(&app, false, None);
    assert!(!sweep.dry_run);
    // m1, m2, m3 and the soft-deleted one: its content goes too.
    assert_eq!(counts(&sweep, t), Some((4, 1, 0)));

    for m in [m1, m2, m3, gone] {
        assert!(!exists(&app, t, m), "message {m} should be gone");
    }
    for m in [m4, m5] {
        assert!(exists(&app, t, m), "message {m} should stay");
    }
    assert_eq!(
        count_rows(&app, "SELECT count(*) FROM messages"),
        2,
        "purged rows are deleted, not hidden"
    );
    assert_eq!(count_rows(&app, "SELECT count(*) FROM reactions"), 1);
    assert_eq!(count_rows(&app, "SELECT count(*) FROM message_reads"), 0);
    let r = app
        .get(&format!("/parlor/v1/messages/{m4}"))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.body["reply_to_id"], Value::Null, "{:?}", r.body);

    // Each lost exactly the purged messages they had not read: the nurse m2, the clerk three.
    assert_eq!(unread(&app), [0, 2, 2, 2]);
    assert_check_clean(&app);
    // The conversation stays, with its members, its last message from what is left.
    let r = app
        .get(&format!("/parlor/v1/conversations/{conv}"))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["message_count"], 2, "{:?}", r.body);

    // A second run finds nothing more; the admin page's last run shows the first's counts.
    let again = run(&app, false, None);
    assert_eq!(counts(&again, t), Some((0, 0, 0)));
    let r = app.get("/parlor/v1/retention").admin().tenant(t).send();
    assert_eq!(r.body["message_days"], 30);
    assert_eq!(r.body["last_run"]["messages_removed"], 0, "{:?}", r.body);
}

#[test]
fn a_conversation_whose_messages_all_expired_stays_with_its_members() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let (doctor, patient) = (
        user(&app, t, "provider", "Doctor"),
        user(&app, t, "patient", "Patient"),
    );
    app.service.clock.freeze(T0);
    let conv = id(&app.create_conversation(t, &[doctor, patient]));
    app.send_as(t, conv, doctor, "old news");
    set_days(&app, t, json!(1));
    app.service.clock.freeze(T0 + 2 * DAY);
    assert_eq!(counts(&run(&app, false, None), t), Some((1, 1, 0)));

    let r = app
        .get(&format!("/parlor/v1/conversations/{conv}"))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message_count"], 0);
    assert_eq!(r.body["last_message"], Value::Null, "{:?}", r.body);
    assert_eq!(r.body["participants"].as_array().unwrap().len(), 2);
    assert_eq!(app.unread(t, conv, patient), 0);
    assert_check_clean(&app);
    // New messages continue the sequence; nobody's horizon went backwards.
    app.send_as(t, conv, doctor, "new");
    assert_eq!(app.unread(t, conv, patient), 1);
    assert_check_clean(&app);
}

/// Three conversations with expired messages: one held as a conversation, one through a hold
/// on its patient, one not held.
struct Held {
    app: TestApp,
    t: i64,
    convs: [i64; 3],
    patient_hold: i64,
}

fn held_setup() -> Held {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let doctor = user(&app, t, "provider", "Doctor");
    let patients = [
        user(&app, t, "patient", "P1"),
        user(&app, t, "patient", "P2"),
        user(&app, t, "patient", "P3"),
    ];
    app.service.clock.freeze(T0);
    let convs = patients.map(|p| id(&app.create_conversation(t, &[doctor, p])));
    for (i, conv) in convs.iter().enumerate() {
        for n in 0..=i {
            app.send_as(t, *conv, doctor, &format!("to {i}: {n}"));
            app.send_as(t, *conv, patients[i], &format!("from {i}: {n}"));
        }
    }
    let hold = |body: Value| {
        let r = app
            .post("/parlor/v1/legal-holds")
            .admin()
            .tenant(t)
            .json(&body);
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    };
    let c = hold(json!({"conversation": convs[0], "reason": "subpoena 2025-17"}));
    assert_eq!(c["conversation_id"], convs[0]);
    assert_eq!(c["active"], true);
    assert_eq!(c["placed_by"], Value::Null, "the server admin placed it");
    let p = hold(json!({"user": patients[1], "reason": "litigation"}));
    set_days(&app, t, json!(7));
    app.service.clock.freeze(T0 + 8 * DAY);
    Held {
        app,
        t,
        convs,
        patient_hold: id(&p),
    }
}

fn message_count(app: &TestApp, t: i64, conv: i64) -> i64 {
    let r = app
        .get(&format!("/parlor/v1/conversations/{conv}"))
        .admin()
        .tenant(t)
        .send();
    r.body["message_count"].as_i64().expect("message_count")
}

#[test]
fn a_held_conversation_and_a_held_patient_keep_everything() {
    let h = held_setup();
    let (app, t) = (&h.app, h.t);
    let sweep = run(app, false, None);
    // Conversation 0 (2 messages) and 1 (4) are held; conversation 2's 6 go.
    assert_eq!(counts(&sweep, t), Some((6, 1, 6)));
    assert_eq!(
        h.convs.map(|c| message_count(app, t, c)),
        [2, 4, 0],
        "held conversations keep every message"
    );
    assert_check_clean(app);

    // Released (by a tenant admin), the patient's hold keeps nothing; the record stays.
    let r = app
        .post(&format!(
            "/parlor/v1/legal-holds/{}/release",
            h.patient_hold
        ))
        .admin()
        .tenant(t)
        .send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert!(r.body["released_at"].is_string());
    let sweep = run(app, false, None);
    assert_eq!(counts(&sweep, t), Some((4, 1, 2)));
    assert_eq!(h.convs.map(|c| message_count(app, t, c)), [2, 0, 0]);
    let r = app.get("/parlor/v1/legal-holds").admin().tenant(t).send();
    let holds = r.body["data"].as_array().unwrap();
    assert_eq!(holds.len(), 2, "a released hold is kept on record");
    assert_eq!(holds[0]["active"], true, "active holds first");
    assert_check_clean(app);
}

#[test]
fn a_dry_run_changes_nothing_and_counts_what_the_run_then_removes() {
    let h = held_setup();
    let (app, t) = (&h.app, h.t);
    let before = count_rows(app, "SELECT count(*) FROM messages");
    let dry = run(app, true, None);
    assert!(dry.dry_run);
    assert_eq!(count_rows(app, "SELECT count(*) FROM messages"), before);
    let r = app.get("/parlor/v1/retention").admin().tenant(t).send();
    assert_eq!(r.body["last_run"], Value::Null, "a dry run is not recorded");

    let real = run(app, false, None);
    assert_eq!(counts(&dry, t), counts(&real, t));
    assert_eq!(counts(&real, t), Some((6, 1, 6)));
    let r = app.get("/parlor/v1/retention").admin().tenant(t).send();
    assert_eq!(r.body["last_run"]["messages_removed"], 6, "{:?}", r.body);
    assert_eq!(r.body["last_run"]["conversations_affected"], 1);
    assert_eq!(r.body["last_run"]["messages_held"], 6);
}

#[test]
fn another_tenants_policy_touches_nothing_here() {
    let app = spawn_app();
    let (a, b) = (app.create_tenant("A"), app.create_tenant("B"));
    app.service.clock.freeze(T0);
    let mut convs = Vec::new();
    for t in [a, b] {
        let (d, p) = (
            user(&app, t, "provider", "D"),
            user(&app, t, "patient", "P"),
        );
        let conv = id(&app.create_conversation(t, &[d, p]));
        app.send_as(t, conv, d, "hello");
        convs.push(conv);
    }
    set_days(&app, a, json!(1));
    app.service.clock.freeze(T0 + 10 * DAY);

    // Only tenant B: A's messages stay, whatever A's policy.
    let only_b = run(&app, false, Some(b));
    assert!(only_b.tenants.is_empty(), "B keeps everything: {only_b:?}");
    assert_eq!(message_count(&app, a, convs[0]), 1);

    let all = run(&app, false, None);
    assert_eq!(counts(&all, a), Some((1, 1, 0)));
    assert_eq!(counts(&all, b), None);
    assert_eq!(message_count(&app, a, convs[0]), 0);
    assert_eq!(message_count(&app, b, convs[1]), 1);
}

#[test]
fn a_purge_larger_than_one_batch_removes_every_expired_message() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let (d, p) = (
        user(&app, t, "provider", "D"),
        user(&app, t, "patient", "P"),
    );
    app.service.clock.freeze(T0);
    let conv = id(&app.create_conversation(t, &[d, p]));
    let total = 2 * parlor::store::retention::PAGE + 7;
    for i in 0..total {
        app.send_as(t, conv, if i % 3 == 0 { p } else { d }, "x");
    }
    app.service.clock.freeze(T0 + 1);
    app.send_as(t, conv, d, "kept");
    set_days(&app, t, json!(1));
    app.service.clock.freeze(T0 + DAY + 1);
    let dry = run(&app, true, None);
    let real = run(&app, false, None);
    assert_eq!(counts(&real, t), Some((total as u64, 1, 0)));
    assert_eq!(counts(&dry, t), counts(&real, t));
    assert_eq!(message_count(&app, t, conv), 1);
    assert_eq!(app.unread(t, conv, p), 1);
    assert_check_clean(&app);
}

#[test]
fn the_command_line_counts_then_removes_and_check_stays_clean() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let (d, p) = (
        user(&app, t, "provider", "D"),
        user(&app, t, "patient", "P"),
    );
    // Long ago on the real clock, which the command line uses.
    app.service.clock.freeze(T0 - 400 * DAY);
    let conv = id(&app.create_conversation(t, &[d, p]));
    for _ in 0..3 {
        app.send_as(t, conv, d, "old");
    }
    set_days(&app, t, json!(365));
    let db = app.dir.path().join("parlor.db");
    let parlor = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("PARLOR_DB")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let dry = parlor(&["retention", "run", "--dry-run", "--tenant", &t.to_string()]);
    assert!(
        dry.contains("would remove 3 from 1 conversation(s); 0 kept under legal hold"),
        "{dry}"
    );
    assert_eq!(message_count(&app, t, conv), 3);
    let real = parlor(&["retention", "run"]);
    assert!(
        real.contains("removed 3 from 1 conversation(s); 0 kept under legal hold"),
        "{real}"
    );
    assert_eq!(message_count(&app, t, conv), 0);
    assert_eq!(app.unread(t, conv, p), 0);
    let check = parlor(&["check"]);
    assert!(check.contains("All unread counts match"), "{check}");
}

#[test]
fn the_api_refuses_bad_input_and_other_tenants_ids() {
    let app = spawn_app();
    let (a, b) = (app.create_tenant("A"), app.create_tenant("B"));
    let conv_b = {
        let (d, p) = (
            user(&app, b, "provider", "D"),
            user(&app, b, "patient", "P"),
        );
        id(&app.create_conversation(b, &[d, p]))
    };
    let patient_b = user(&app, b, "patient", "P2");
    let patient_a = user(&app, a, "patient", "PA");
    let admin_a = id(&app.create_user(a, json!({"role": "admin", "display_name": "Admin"})));
    let admin_token = app.token_for(a, admin_a, &["*"]);
    let patient_token = app.token_for(a, patient_a, &["*"]);

    let r = app.get("/parlor/v1/retention").bearer(&admin_token).send();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message_days"], Value::Null, "forever by default");
    assert_eq!(r.body["last_run"], Value::Null);

    let put = |body: &str| {
        app.request("PUT", "/parlor/v1/retention")
            .bearer(&admin_token)
            .raw("application/json", body)
    };
    for (body, field) in [
        (r#"{"message_days": 0}"#, "message_days"),
        (r#"{"message_days": -3}"#, "message_days"),
        (r#"{"message_days": 100000}"#, "message_days"),
        (r#"{"message_days": "ten"}"#, "message_days"),
        (r#"{}"#, "message_days"),
        (r#"{"days": 10}"#, "days"),
    ] {
        let r = put(body);
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(r.code(), "invalid", "{body}: {:?}", r.body);
        assert!(
            r.body.to_string().contains(field),
            "{body} names {field}: {:?}",
            r.body
        );
    }
    let r = put(r#"{"message_days": 2555}"#);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message_days"], 2555);
    let r = put(r#"{"message_days": null}"#);
    assert_eq!(r.body["message_days"], Value::Null);

    // Only admins.
    let r = app
        .get("/parlor/v1/retention")
        .bearer(&patient_token)
        .send();
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = app
        .get("/parlor/v1/legal-holds")
        .bearer(&patient_token)
        .send();
    assert_eq!(r.status, 403, "{:?}", r.body);

    let hold = |body: Value| {
        app.post("/parlor/v1/legal-holds")
            .bearer(&admin_token)
            .json(&body)
    };
    for (body, field) in [
        (json!({"reason": "x"}), "conversation"),
        (
            json!({"conversation": 1, "user": patient_a, "reason": "x"}),
            "user",
        ),
        (json!({"user": patient_a}), "reason"),
        (json!({"user": patient_a, "reason": "   "}), "reason"),
        (
            json!({"conversation": conv_b, "reason": "x"}),
            "conversation",
        ),
        (json!({"user": patient_b, "reason": "x"}), "user"),
        (json!({"user": "no-such-user", "reason": "x"}), "user"),
    ] {
        let r = hold(body.clone());
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert!(
            r.body.to_string().contains(field),
            "{body} names {field}: {:?}",
            r.body
        );
    }
    let placed = hold(json!({"user": patient_a, "reason": "records request"}));
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(placed.body["placed_by"], admin_a);
    let mine = id(&placed.body);

    // Tenant B's admin (the server admin naming B) neither sees nor releases A's hold.
    let r = app.get("/parlor/v1/legal-holds").admin().tenant(b).send();
    assert_eq!(r.body["data"], json!([]), "{:?}", r.body);
    let r = app
        .post(&format!("/parlor/v1/legal-holds/{mine}/release"))
        .admin()
        .tenant(b)
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(r.code(), "not_found");
    let r = app
        .post("/parlor/v1/legal-holds/abc/release")
        .bearer(&admin_token)
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);

    let release = || {
        app.post(&format!("/parlor/v1/legal-holds/{mine}/release"))
            .bearer(&admin_token)
            .send()
    };
    let r = release();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["released_by"], admin_a);
    let r = release();
    assert_eq!(r.status, 409, "{:?}", r.body);
    let r = app
        .request("DELETE", "/parlor/v1/legal-holds")
        .bearer(&admin_token)
        .send();
    assert_eq!(r.status, 405, "holds are released, never deleted");
}

#[test]
fn the_admin_page_sets_retention_places_and_releases_a_hold_and_shows_the_last_run() {
    use crate::webdriver::Browser;
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            eprintln!("admin page retention test not run: {why}");
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = crate::helpers::spawn_demo();
    let clinic = 1;
    browser.goto(&app.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");
    browser.element("#nav a[href=\"#retention\"]");
    browser.click("#nav a[href=\"#retention\"]");
    browser.wait_for("the default policy", |b| {
        b.text("#retention-policy")
            .filter(|t| t.contains("forever"))
    });

    browser.type_into("#retention-days", "2555");
    browser.click("#retention-save");
    browser.wait_for("the new policy", |b| {
        b.text("#retention-policy")
            .filter(|t| t.contains("2555 days"))
    });
    let r = app
        .get("/parlor/v1/retention")
        .admin()
        .tenant(clinic)
        .send();
    assert_eq!(r.body["message_days"], 2555);

    browser.type_into("#hold-target", "2");
    browser.type_into("#hold-reason", "subpoena 2025-17");
    browser.click("#hold-place");
    browser.wait_for("the hold in the table", |b| {
        b.text("#legal-holds")
            .filter(|t| t.contains("subpoena 2025-17"))
    });
    browser.click("#legal-holds button.danger");
    browser.wait_for("the hold released", |b| {
        b.text("#legal-holds").filter(|t| t.contains("released"))
    });
    let r = app
        .get("/parlor/v1/legal-holds")
        .admin()
        .tenant(clinic)
        .send();
    assert_eq!(r.body["data"][0]["conversation_id"], 2, "{:?}", r.body);
    assert_eq!(r.body["data"][0]["active"], false);

    let (removed, conversations, held) = counts(&run(&app, false, Some(clinic)), clinic).unwrap();
    let shown = format!(
        "{removed} message(s) removed from {conversations} conversation(s); {held} kept under legal hold"
    );
    browser.click("#nav a[href=\"#inbox\"]");
    browser.click("#nav a[href=\"#retention\"]");
    browser.wait_for("the last run's counts", |b| {
        b.text("#retention-last-run").filter(|t| t.contains(&shown))
    });
    assert_eq!(browser.text("#status .error"), None, "no section failed");
}

#[test]
fn the_servers_scheduled_sweep_removes_what_expired() {
    use parlor::service::retention::sweep::spawn_schedule;
    use std::time::Duration;
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let (d, p) = (
        user(&app, t, "provider", "D"),
        user(&app, t, "patient", "P"),
    );
    app.service.clock.freeze(T0);
    let conv = id(&app.create_conversation(t, &[d, p]));
    app.send_as(t, conv, d, "old");
    set_days(&app, t, json!(1));
    app.service.clock.freeze(T0 + 2 * DAY);

    let service = app.service.clone();
    let store = app.service.store.clone();
    let gone = actix_web::rt::System::new().block_on(async move {
        spawn_schedule(
            service,
            Duration::ZERO,
            Duration::from_secs(3600),
            SweepOptions::default(),
        );
        // Waits for the first run to finish (its last write records it), however long the
        // machine takes (bounded, not timed).
        for _ in 0..400 {
            let policy = store
                .read(move |c| parlor::store::retention::policy(c, parlor::domain::TenantId(t)))
                .await
                .unwrap();
            if policy.last_run.is_some() {
                return true;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    assert!(gone, "the scheduled sweep never ran");
    assert_eq!(message_count(&app, t, conv), 0);
    assert_eq!(app.unread(t, conv, p), 0);
    let r = app.get("/parlor/v1/retention").admin().tenant(t).send();
    assert_eq!(r.body["last_run"]["messages_removed"], 1, "{:?}", r.body);
}

#[test]
fn a_purged_message_leaves_no_trace_of_its_text_in_the_file() {
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let (d, p) = (
        user(&app, t, "provider", "D"),
        user(&app, t, "patient", "P"),
    );
    app.service.clock.freeze(T0);
    let conv = id(&app.create_conversation(t, &[d, p]));
    for n in 0..20 {
        app.send_as(t, conv, p, &format!("diagnosis-zebra-{n:02} confidential"));
    }
    app.service.clock.freeze(T0 + DAY);
    app.send_as(t, conv, d, "kept-message-okapi");
    set_days(&app, t, json!(1));
    app.service.clock.freeze(T0 + DAY + 1);
    assert_eq!(counts(&run(&app, false, None), t), Some((20, 1, 0)));

    // The writer folds the WAL back into the file and truncates it at a graceful stop.
    app.service.store.close_blocking().unwrap();
    let db = app.dir.path().join("parlor.db");
    let bytes = std::fs::read(&db).unwrap();
    let holds = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(holds("kept-message-okapi"), "the file is readable as is");
    assert!(
        !holds("diagnosis-zebra"),
        "a purged message's text is still in the file"
    );
}

#[test]
fn a_hold_placed_after_the_sweep_read_its_page_still_wins() {
    use parlor::domain::TenantId;
    use parlor::service::retention::sweep::{Messages, Pruning};
    let app = spawn_app();
    let t = app.create_tenant("Clinic");
    let (d, p) = (
        user(&app, t, "provider", "D"),
        user(&app, t, "patient", "P"),
    );
    app.service.clock.freeze(T0);
    let conv = id(&app.create_conversation(t, &[d, p]));
    let ids: Vec<i64> = (0..3)
        .map(|_| id(&app.send_as(t, conv, d, "old")))
        .collect();
    let cutoff = T0 + 1;
    // The page as the sweep read it: all three due, none held.
    let page = app
        .service
        .store
        .read_blocking(move |c| Messages.due_after(c, TenantId(t), cutoff, 0))
        .unwrap();
    assert_eq!(page.iter().filter(|d| !d.held).count(), 3);
    // Then a hold on the patient lands before the writer gets the batch.
    let r = app
        .post("/parlor/v1/legal-holds")
        .admin()
        .tenant(t)
        .json(&json!({"user": p, "reason": "just in time"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let removed = app
        .service
        .store
        .write_blocking(move |c| Messages.remove(c, TenantId(t), cutoff, &ids))
        .unwrap();
    assert_eq!((removed.rows, removed.held), (0, 3));
    assert_eq!(message_count(&app, t, conv), 3);
}

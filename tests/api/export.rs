//! A patient's export (right of access): `GET /parlor/v1/users/{id}/export` and `parlor export
//! patient`. It holds exactly the patient's conversations, every message with its sender and
//! read receipts; the HTML page loads nothing and escapes everything; the API and the command
//! line say the same; only tenant admins export, and only users of their own tenant.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, TestApp, ADMIN_TOKEN};

const TRICKY: &str = "pain is <b>worse</b> & \"sharp\" <script>alert(1)</script>";

struct Clinic {
    app: TestApp,
    tenant: i64,
    admin_token: String,
    patient: i64,
    other_patient: i64,
    provider: i64,
    nurse: i64,
    other_tenant_patient: i64,
    /// The patient with the provider: messages, reads, a deleted message.
    visit: i64,
    /// Another patient's conversation with the same provider.
    not_theirs: i64,
    archived: i64,
    deleted: i64,
    /// The patient wrote here, then was removed.
    left: i64,
    other_tenant: i64,
    /// Message ids in `visit`, in order.
    visit_messages: Vec<i64>,
}

fn user(app: &TestApp, tenant: i64, role: &str, name: &str) -> i64 {
    app.create_user(
        tenant,
        json!({ "role": role, "display_name": name, "username": name.to_lowercase().replace(' ', "-") }),
    )["id"]
        .as_i64()
        .unwrap()
}

fn as_admin(app: &TestApp, tenant: i64, method: &str, path: &str, body: Value) -> Value {
    let r = app.request(method, path).admin().tenant(tenant).json(&body);
    assert!(r.status < 300, "{method} {path}: {} {:?}", r.status, r.body);
    r.body
}

fn clinic() -> Clinic {
    let app = spawn_app();
    let tenant = app.create_tenant("Lakeside <Clinic>");
    let elsewhere = app.create_tenant("Elsewhere");
    let admin = user(&app, tenant, "admin", "Office Manager");
    let admin_token = app.token_for(tenant, admin, &["*"]);
    let patient = user(&app, tenant, "patient", "Pat Ient");
    let other_patient = user(&app, tenant, "patient", "Otto Ther");
    let provider = user(&app, tenant, "provider", "Doc Tor");
    let nurse = user(&app, tenant, "staff", "Nur Se");
    let other_tenant_patient = user(&app, elsewhere, "patient", "Far Away");
    let far_provider = user(&app, elsewhere, "provider", "Far Doc");

    let conv = |members: &[i64]| {
        app.create_conversation(tenant, members)["id"]
            .as_i64()
            .unwrap()
    };
    let visit = conv(&[patient, provider, nurse]);
    let not_theirs = conv(&[other_patient, provider]);
    let archived = conv(&[patient, provider]);
    let deleted = conv(&[patient, provider]);
    let left = conv(&[patient, nurse]);
    let other_tenant = app.create_conversation(elsewhere, &[other_tenant_patient, far_provider])
        ["id"]
        .as_i64()
        .unwrap();

    let mut visit_messages = Vec::new();
    let send = |who: i64, text: &str, into: &mut Vec<i64>| {
        into.push(
            app.send_as(tenant, visit, who, text)["id"]
                .as_i64()
                .unwrap(),
        );
    };
    send(patient, TRICKY, &mut visit_messages);
    send(provider, "Take ibuprofen.", &mut visit_messages);
    send(patient, "Thanks", &mut visit_messages);
    send(provider, "Call us if it gets worse", &mut visit_messages);
    // The nurse reads only the fourth message, on its own.
    as_admin(
        &app,
        tenant,
        "POST",
        &format!("/parlor/v1/messages/{}/read", visit_messages[3]),
        json!({ "as": nurse }),
    );
    send(
        patient,
        "I meant to say something else",
        &mut visit_messages,
    );
    // The provider marks everything read; then the patient's last message is deleted.
    as_admin(
        &app,
        tenant,
        "POST",
        &format!("/parlor/v1/conversations/{visit}/read"),
        json!({ "as": provider }),
    );
    let r = app
        .delete(&format!("/parlor/v1/messages/{}", visit_messages[4]))
        .admin()
        .tenant(tenant)
        .send();
    assert!(r.status < 300, "{:?}", r.body);

    app.send_as(tenant, not_theirs, other_patient, "Not for the export");
    app.send_as(tenant, archived, patient, "Before archiving");
    as_admin(
        &app,
        tenant,
        "PATCH",
        &format!("/parlor/v1/conversations/{archived}"),
        json!({ "archived": true }),
    );
    app.send_as(tenant, deleted, provider, "In a deleted conversation");
    let r = app
        .delete(&format!("/parlor/v1/conversations/{deleted}"))
        .admin()
        .tenant(tenant)
        .send();
    assert!(r.status < 300, "{:?}", r.body);
    app.send_as(tenant, left, patient, "Before I was removed");
    let r = app
        .delete(&format!(
            "/parlor/v1/conversations/{left}/participants/{patient}"
        ))
        .admin()
        .tenant(tenant)
        .send();
    assert!(r.status < 300, "{:?}", r.body);
    app.send_as(
        elsewhere,
        other_tenant,
        other_tenant_patient,
        "Other clinic",
    );

    Clinic {
        app,
        tenant,
        admin_token,
        patient,
        other_patient,
        provider,
        nurse,
        other_tenant_patient,
        visit,
        not_theirs,
        archived,
        deleted,
        left,
        other_tenant,
        visit_messages,
    }
}

/// Status, headers and text of a GET.
fn get_raw(
    app: &TestApp,
    path: &str,
    token: &str,
    tenant: Option<i64>,
) -> (u16, Vec<(String, String)>, String) {
    let mut req = app.get(path).bearer(token);
    if let Some(t) = tenant {
        req = req.tenant(t);
    }
    let r = req.send();
    let headers = r
        .headers
        .into_iter()
        .map(|(n, v)| (n.to_lowercase(), v))
        .collect();
    (r.status, headers, r.text)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn export_json(c: &Clinic, user: i64) -> Value {
    let (status, headers, text) = get_raw(
        &c.app,
        &format!("/parlor/v1/users/{user}/export"),
        &c.admin_token,
        None,
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(header(&headers, "content-type"), "application/json");
    serde_json::from_str(&text).unwrap()
}

fn conversation(doc: &Value, id: i64) -> &Value {
    doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("conversation {id} is not in the export"))
}

#[test]
fn the_export_holds_exactly_the_patients_conversations() {
    let c = clinic();
    let doc = export_json(&c, c.patient);
    assert_eq!(doc["format"], "parlor-patient-export/2");
    assert_eq!(doc["clinic"]["name"], "Lakeside <Clinic>");
    assert_eq!(doc["patient"]["id"], c.patient);
    assert_eq!(doc["patient"]["display_name"], "Pat Ient");

    let ids: Vec<i64> = doc["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    // Archived, deleted and left conversations are part of the record; another patient's and
    // another tenant's are not.
    let mut expected = vec![c.visit, c.archived, c.deleted, c.left];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(!ids.contains(&c.not_theirs) && !ids.contains(&c.other_tenant));

    assert_eq!(conversation(&doc, c.archived)["status"], "archived");
    assert_eq!(conversation(&doc, c.deleted)["deleted"], true);
    let left = conversation(&doc, c.left);
    let me = left["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == c.patient)
        .expect("the removed patient is still named");
    assert_eq!(me["current"], false);
    assert_eq!(left["messages"][0]["text"], "Before I was removed");

    assert_eq!(doc["totals"]["conversations"], 4);
    assert_eq!(doc["totals"]["messages"], 8);

    // The other patient's export has their one conversation only.
    let theirs = export_json(&c, c.other_patient);
    let ids: Vec<&Value> = theirs["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&json!(c.not_theirs)]);

    // Someone with no conversation gets a whole, empty document.
    let stranger = user(&c.app, c.tenant, "patient", "New Comer");
    let empty = export_json(&c, stranger);
    assert_eq!(empty["conversations"], json!([]));
    assert_eq!(
        empty["totals"],
        json!({ "conversations": 0, "messages": 0 })
    );
}

#[test]
fn every_message_has_its_sender_and_read_receipts() {
    let c = clinic();
    let doc = export_json(&c, c.patient);
    let visit = conversation(&doc, c.visit);

    let people: Vec<(i64, bool)> = visit["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_i64().unwrap(), p["current"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        people,
        vec![(c.patient, true), (c.provider, true), (c.nurse, true)]
    );

    let messages = visit["messages"].as_array().unwrap();
    let got: Vec<(i64, i64, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["id"].as_i64().unwrap(),
                m["sender"].as_i64().unwrap(),
                m["text"].as_str().unwrap(),
            )
        })
        .collect();
    let v = &c.visit_messages;
    assert_eq!(
        got,
        vec![
            (v[0], c.patient, TRICKY),
            (v[1], c.provider, "Take ibuprofen."),
            (v[2], c.patient, "Thanks"),
            (v[3], c.provider, "Call us if it gets worse"),
            (v[4], c.patient, "I meant to say something else"),
        ]
    );

    let readers = |m: &Value| -> Vec<(i64, String)> {
        m["read_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["user"].as_i64().unwrap(),
                    r["basis"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let horizon = |u: i64| (u, "horizon".to_string());
    let single = |u: i64| (u, "message".to_string());
    // Sending moves the sender's horizon to what they sent: each has read what came before.
    assert_eq!(readers(&messages[0]), vec![horizon(c.provider)]);
    assert_eq!(readers(&messages[1]), vec![horizon(c.patient)]);
    assert_eq!(readers(&messages[2]), vec![horizon(c.provider)]);
    assert_eq!(
        readers(&messages[3]),
        vec![horizon(c.patient), single(c.nurse)]
    );
    // Deleted: the text stays, marked, and the provider had read it before it went.
    assert!(messages[4]["deleted_at"].is_string());
    assert!(messages[0]["deleted_at"].is_null());
    assert_eq!(readers(&messages[4]), vec![horizon(c.provider)]);
    for m in messages {
        for r in m["read_by"].as_array().unwrap() {
            assert!(r["at"].is_string(), "{r}");
        }
    }
}

#[test]
fn the_printable_page_loads_nothing_and_escapes_everything() {
    let c = clinic();
    let (status, headers, html) = get_raw(
        &c.app,
        &format!("/parlor/v1/users/{}/export?format=html", c.patient),
        &c.admin_token,
        None,
    );
    assert_eq!(status, 200, "{html}");
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    let disposition = header(&headers, "content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"patient-")
            && disposition.ends_with(".html\""),
        "{disposition}"
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("@media print"));
    let lower = html.to_lowercase();
    for forbidden in [
        "<script", "http://", "https://", "src=", "href=", "url(", "@import", "<link", "<img",
        "<iframe",
    ] {
        assert!(!lower.contains(forbidden), "the page contains {forbidden}");
    }
    assert!(html.contains(
        "pain is &lt;b&gt;worse&lt;/b&gt; &amp; &quot;sharp&quot; &lt;script&gt;alert(1)&lt;/script&gt;"
    ));
    assert!(!html.contains("<b>worse"));
    assert!(html.contains("Lakeside &lt;Clinic&gt;"));
    assert!(html.contains("Pat Ient"));
    assert!(html.contains("Before I was removed"));
    assert!(html.contains("[deleted "));
    assert!(!html.contains("Not for the export") && !html.contains("Other clinic"));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn the_command_line_writes_the_same_json_as_the_api() {
    let c = clinic();
    let mut api = export_json(&c, c.patient);
    let db = c.app.dir.path().join("parlor.db");
    let out_file = c.app.dir.path().join("export.json");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_parlor"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("PARLOR_DB")
            .output()
            .expect("run parlor")
    };
    let tenant = c.tenant.to_string();
    // By username, to stdout; and by id, to a file.
    let by_name = run(&[
        "export", "patient", "--tenant", &tenant, "--user", "pat-ient",
    ]);
    assert!(
        by_name.status.success(),
        "{}",
        String::from_utf8_lossy(&by_name.stderr)
    );
    let mut cli: Value = serde_json::from_slice(&by_name.stdout).unwrap();
    let to_file = run(&[
        "export",
        "patient",
        "--tenant",
        &tenant,
        "--user",
        &c.patient.to_string(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(
        to_file.status.success(),
        "{}",
        String::from_utf8_lossy(&to_file.stderr)
    );
    let mut file: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();

    for doc in [&mut api, &mut cli, &mut file] {
        assert!(doc["generated_at"].is_string());
        doc["generated_at"] = Value::Null;
    }
    assert_eq!(cli, api);
    assert_eq!(file, api);

    let html = run(&[
        "export", "patient", "--tenant", &tenant, "--user", "pat-ient", "--format", "html",
    ]);
    assert!(html.status.success());
    assert!(String::from_utf8_lossy(&html.stdout).contains("&lt;b&gt;worse"));

    let nobody = run(&[
        "export",
        "patient",
        "--tenant",
        &tenant,
        "--user",
        "no-such-user",
    ]);
    assert_eq!(nobody.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("user not found"));
    let elsewhere = run(&[
        "export",
        "patient",
        "--tenant",
        &tenant,
        "--user",
        &c.other_tenant_patient.to_string(),
    ]);
    assert_eq!(
        elsewhere.status.code(),
        Some(2),
        "another tenant's user is not found"
    );
    let bad = run(&[
        "export", "patient", "--tenant", &tenant, "--user", "pat-ient", "--format", "pdf",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("format"));
}

#[test]
fn only_tenant_admins_export_and_only_their_own_tenants_users() {
    let c = clinic();
    let path = |user: i64| format!("/parlor/v1/users/{user}/export");

    // A patient cannot export anyone, themselves included: the clinic answers the request.
    let patient_token = c.app.token_for(c.tenant, c.patient, &["*"]);
    for target in [c.other_patient, c.patient] {
        let r = c.app.get(&path(target)).bearer(&patient_token).send();
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert_eq!(r.code(), "forbidden");
    }
    let provider_token = c.app.token_for(c.tenant, c.provider, &["*"]);
    let r = c.app.get(&path(c.patient)).bearer(&provider_token).send();
    assert_eq!(r.status, 403);

    // Another tenant's user, or no user: not found.
    let r = c
        .app
        .get(&path(c.other_tenant_patient))
        .bearer(&c.admin_token)
        .send();
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(r.code(), "not_found");
    let r = c.app.get(&path(999_999)).bearer(&c.admin_token).send();
    assert_eq!(r.status, 404);
    let r = c
        .app
        .get("/parlor/v1/users/not-an-id!/export")
        .bearer(&c.admin_token)
        .send();
    assert_eq!(r.status, 404);

    let r = c
        .app
        .get(&format!("{}?format=pdf", path(c.patient)))
        .bearer(&c.admin_token)
        .send();
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["field"], "format");
    let r = c.app.get(&path(c.patient)).send();
    assert_eq!(r.status, 401);

    // The server admin names the tenant.
    let r = c.app.get(&path(c.patient)).admin().send();
    assert_eq!(r.status, 400, "{:?}", r.body);
    let (status, _, text) = get_raw(&c.app, &path(c.patient), ADMIN_TOKEN, Some(c.tenant));
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["patient"]["id"], c.patient);
    let r = c
        .app
        .get(&path(c.patient))
        .admin()
        .tenant(c.tenant + 1)
        .send();
    assert_eq!(
        r.status, 404,
        "the patient is not a user of the other tenant"
    );
}

/// More messages than one read takes: every one is exported once, in order, with the
/// receipts of both kinds on the right side of the page boundary.
#[test]
fn a_long_history_is_exported_whole_across_pages() {
    let app = spawn_with(|s| {
        s.synchronous = parlor::store::Synchronous::Off;
        s.synchronous_off_confirmed = true;
    });
    let tenant = app.create_tenant("Busy");
    let patient = user(&app, tenant, "patient", "Long Talker");
    let provider = user(&app, tenant, "provider", "Patient Doc");
    let conv = app.create_conversation(tenant, &[patient, provider])["id"]
        .as_i64()
        .unwrap();
    const N: usize = 1_234;
    let service = app.service.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ids: Vec<i64> = rt.block_on(async {
        let mut ids = Vec::with_capacity(N);
        // In chunks, so that the writer commits many sends together.
        for chunk in 0..N.div_ceil(100) {
            let sends: Vec<_> = (chunk * 100..((chunk + 1) * 100).min(N))
                .map(|i| {
                    let service = service.clone();
                    rt.spawn(async move {
                        service
                            .send_message(
                                parlor::domain::TenantId(tenant),
                                parlor::domain::IdRef::Id(conv),
                                parlor::domain::UserId(patient),
                                parlor::service::messages::NewMessage {
                                    body: format!("message {i}"),
                                    kind: None,
                                    recipient: None,
                                    subject: None,
                                    reply_to: None,
                                    status: None,
                                    metadata: None,
                                    attachments: None,
                                    attachment_ids: Vec::new(),
                                    device: None,
                                },
                            )
                            .await
                            .unwrap()
                            .id
                            .0
                    })
                })
                .collect();
            for s in sends {
                ids.push(s.await.unwrap());
            }
        }
        ids
    });
    assert_eq!(ids.len(), N);
    // Seqs are handed out in commit order; find the messages at seq 700 and 1100.
    let doc = {
        let token = app.token_for(tenant, user(&app, tenant, "admin", "Admin Two"), &["*"]);
        let horizon_at = |seq: usize| -> i64 {
            let r = app
                .get(&format!(
                    "/parlor/v1/conversations/{conv}/messages?limit=1&after={}",
                    seq - 1
                ))
                .admin()
                .tenant(tenant)
                .send();
            r.body["data"][0]["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{:?}", r.body))
        };
        let (at_700, at_1100) = (horizon_at(700), horizon_at(1100));
        as_admin(
            &app,
            tenant,
            "POST",
            &format!("/parlor/v1/conversations/{conv}/read"),
            json!({ "as": provider, "up_to": at_700 }),
        );
        as_admin(
            &app,
            tenant,
            "POST",
            &format!("/parlor/v1/messages/{at_1100}/read"),
            json!({ "as": provider }),
        );
        let (status, _, text) = get_raw(
            &app,
            &format!("/parlor/v1/users/{patient}/export"),
            &token,
            None,
        );
        assert_eq!(status, 200);
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let messages = doc["conversations"][0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), N);
    assert_eq!(doc["totals"]["messages"], N);
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m["seq"], i + 1);
        let read: Vec<&str> = m["read_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["basis"].as_str().unwrap())
            .collect();
        let expected: &[&str] = match i + 1 {
            1..=700 => &["horizon"],
            1100 => &["message"],
            _ => &[],
        };
        assert_eq!(read, expected, "message {}", i + 1);
    }
    let mut sent: Vec<i64> = messages.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    sent.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(sent, ids);
}

/// The admin page's "Export records" buttons on a user's detail fetch the export (with the
/// session cookie) and hand it to the browser as a download.
#[test]
fn the_admin_page_exports_a_users_records() {
    let browser = match crate::webdriver::Browser::start() {
        Ok(b) => b,
        Err(why)
            if std::env::var("REQUIRE_BROWSER_TEST").is_err() && std::env::var("CI").is_err() =>
        {
            eprintln!("admin page export test not run: {why}");
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = crate::helpers::spawn_demo();
    browser.goto(&app.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");
    browser.element("#inbox");
    browser.click("#nav a[href=\"#users\"]");
    browser.click("#users tr[data-user=\"52\"] button");
    browser.element("#user-detail button[data-export=\"html\"]");
    browser.screenshot(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/test-artifacts/admin-user-export.png"),
    );
    for format in ["json", "html"] {
        browser.click(&format!("#user-detail button[data-export=\"{format}\"]"));
        browser.wait_for("the export downloaded", |b| {
            b.text("#status")
                .filter(|t| t.contains("Records of Emily Carter downloaded."))
        });
        browser.run("document.querySelector('#status').textContent = ''; return null;");
    }
    assert_eq!(browser.text("#status .error"), None);
}

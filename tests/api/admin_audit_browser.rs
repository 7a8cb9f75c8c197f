//! The admin page's Audit view in a real browser: a provider reads and answers a patient's
//! conversation through the native API, then the demo clinic's admin opens that patient's
//! access report from the Users view and finds the provider there (name, surface, action);
//! narrowing by action leaves only the reply, and the report's URL can be opened directly.
//! A screenshot of the report lands in `target/test-artifacts/`.
//!
//! Like the other browser test it passes with a note where Chromium is missing, unless the
//! browser is required (`CI=true` or `REQUIRE_BROWSER_TEST=1`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_demo, TestApp};
use crate::webdriver::{binaries, Browser};

const CLINIC: i64 = 1;
const CONVERSATION: i64 = 2;
const PATIENT: i64 = 52;
const PATIENT_NAME: &str = "Emily Carter";
const PROVIDER: i64 = 4;
const PROVIDER_NAME: &str = "Travis C Stork";

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1")
}

/// Waits (up to ten seconds) until the trail holds an entry of the provider's `action` on the
/// patient: reads reach the trail within a second of their answer, not with it.
fn await_entry(app: &TestApp, action: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app
            .get(&format!(
                "/parlor/v1/audit?patient={PATIENT}&user={PROVIDER}&action={action}"
            ))
            .admin()
            .tenant(CLINIC)
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        if r.body["data"].as_array().is_some_and(|d| !d.is_empty()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {action} entry reached the trail"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The audit table's rows as the page shows them.
fn rows(browser: &Browser) -> Vec<Value> {
    let found = browser.run(
        "return [...document.querySelectorAll('#audit tbody tr[data-seq]')].map((r) => ({
           who: r.querySelector('.actor').innerText, surface: r.querySelector('.surface').innerText,
           action: r.querySelector('.action').innerText, patients: r.querySelector('.patients').innerText,
           outcome: r.querySelector('.outcome').innerText }));",
    );
    found.as_array().cloned().unwrap_or_default()
}

fn by_provider(row: &Value, action: &str) -> bool {
    row["who"]
        .as_str()
        .is_some_and(|w| w.contains(PROVIDER_NAME))
        && row["surface"] == "native"
        && row["action"]
            .as_str()
            .is_some_and(|a| a.starts_with(action))
        && row["patients"]
            .as_str()
            .is_some_and(|p| p.contains(PATIENT_NAME))
}

#[test]
fn an_admin_opens_a_patients_access_report_and_narrows_it_by_action() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!(
                "audit view browser test not run: {why} ({:?}); install chromium and \
                 chromium-driver, or set REQUIRE_BROWSER_TEST=1 to make this fail",
                binaries()
            );
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = spawn_demo();

    // The provider reads the patient's conversation and answers, with their own token.
    let token = app.token_for(CLINIC, PROVIDER, &["*"]);
    let read = app
        .get(&format!("/parlor/v1/conversations/{CONVERSATION}/messages"))
        .bearer(&token)
        .send();
    assert_eq!(read.status, 200, "{:?}", read.body);
    let sent = app
        .post(&format!("/parlor/v1/conversations/{CONVERSATION}/messages"))
        .bearer(&token)
        .json(&json!({"body": "Keep the ankle raised tonight."}));
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    await_entry(&app, "read");
    await_entry(&app, "create");

    browser.goto(&app.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");
    browser.click("#nav a[href=\"#users\"]");
    browser.click(&format!("#users tr[data-user=\"{PATIENT}\"] button"));
    browser.click("#user-access-report");

    let title = browser.wait_for("the access report's heading", |b| {
        b.text("#audit-title")
            .filter(|t| t.starts_with("Access report"))
    });
    assert_eq!(title, format!("Access report for {PATIENT_NAME}"));
    let hash = browser.run("return location.hash;");
    assert_eq!(hash, format!("#audit?patient={PATIENT}&outcome=ok"));
    let shown = browser.wait_for("the provider's read and reply in the report", |b| {
        let rows = rows(b);
        (rows.iter().any(|r| by_provider(r, "read"))
            && rows.iter().any(|r| by_provider(r, "create")))
        .then_some(rows)
    });
    assert!(
        shown
            .iter()
            .all(|r| r["outcome"].as_str().is_some_and(|o| o.starts_with("ok"))),
        "the report shows only what succeeded: {shown:?}"
    );
    browser.screenshot(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/admin-audit.png"),
    );

    // Narrowing by action keeps the filter in the URL and leaves only the reply.
    browser.type_into("#audit-action", "create");
    browser.click("#audit-apply");
    let narrowed = browser.wait_for("only create entries", |b| {
        let rows = rows(b);
        (!rows.is_empty()
            && rows.iter().all(|r| {
                r["action"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("create"))
            }))
        .then_some(rows)
    });
    assert!(
        narrowed.iter().any(|r| by_provider(r, "create")),
        "{narrowed:?}"
    );
    assert!(
        !narrowed.iter().any(|r| by_provider(r, "read")),
        "{narrowed:?}"
    );

    // The report is linkable: the same URL opened afresh shows the same filter.
    browser.goto(&app.url(&format!(
        "/admin#audit?patient={PATIENT}&outcome=ok&action=read"
    )));
    let reopened = browser.wait_for("the linked report with only reads", |b| {
        let rows = rows(b);
        (b.text("#audit-title")
            .is_some_and(|t| t.contains(PATIENT_NAME))
            && rows.iter().any(|r| by_provider(r, "read"))
            && rows
                .iter()
                .all(|r| r["action"].as_str().is_some_and(|a| a.starts_with("read"))))
        .then_some(rows)
    });
    assert!(!reopened.iter().any(|r| by_provider(r, "create")));
    assert_eq!(
        browser.text("#status .error"),
        None,
        "the view reported no error"
    );
}

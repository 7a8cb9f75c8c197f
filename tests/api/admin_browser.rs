//! The admin page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) signs in as the demo clinic's admin, opens a conversation, sends a
//! message as the provider, sees the patient's unread count go up in the inbox, signs out and
//! is refused; on the way it visits the other sections. Screenshots of the inbox, a
//! conversation and the stand-in panel land in `target/test-artifacts/`.
//!
//! Where Chromium is not installed the test says so and passes, unless the browser is
//! required: in CI (`CI=true`) or with `REQUIRE_BROWSER_TEST=1` it fails instead.

use std::path::PathBuf;

use crate::helpers::spawn_demo;
use crate::webdriver::{binaries, Browser};

const CLINIC: i64 = 1;
const CONVERSATION: i64 = 2;
const PATIENT: i64 = 52;
const PROVIDER: i64 = 4;

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1")
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts")
}

fn count(browser: &Browser, conversation: i64, user: i64) -> Option<i64> {
    browser
        .text(&format!(
            "#inbox tr[data-conversation=\"{conversation}\"] [data-unread-user=\"{user}\"] .count"
        ))?
        .trim()
        .parse()
        .ok()
}

#[test]
fn an_admin_signs_in_sends_as_the_provider_sees_the_badge_move_and_signs_out() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!(
                "admin page browser test not run: {why} ({:?}); install chromium and \
                 chromium-driver, or set REQUIRE_BROWSER_TEST=1 to make this fail",
                binaries()
            );
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = spawn_demo();
    let before = app.unread(CLINIC, CONVERSATION, PATIENT);

    browser.goto(&app.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");

    let shown = browser.wait_for("the patient's unread count in the inbox", |b| {
        count(b, CONVERSATION, PATIENT)
    });
    assert_eq!(shown, before, "the inbox shows the stored count");
    browser.screenshot(&artifacts().join("admin-inbox.png"));

    browser.click(&format!("a[data-open=\"{CONVERSATION}\"]"));
    browser.click(&format!("#send-as option[value=\"{PROVIDER}\"]"));
    browser.type_into("#send-body", "Your lab results are in.");
    browser.click("#send-submit");
    browser.wait_for("the new message in the thread", |b| {
        b.text("#thread")
            .filter(|t| t.contains("Your lab results are in."))
    });
    browser.run("window.scrollTo(0, 0); return null;");
    browser.screenshot(&artifacts().join("admin-conversation.png"));

    let last = app
        .get(&format!(
            "/parlor/v1/conversations/{CONVERSATION}/messages?limit=1"
        ))
        .admin()
        .tenant(CLINIC)
        .send();
    assert_eq!(last.body["data"][0]["body"], "Your lab results are in.");
    assert_eq!(
        last.body["data"][0]["sender_id"], PROVIDER,
        "sent as the provider"
    );

    browser.click("#nav a[href=\"#inbox\"]");
    browser.wait_for("the patient's count one higher", |b| {
        count(b, CONVERSATION, PATIENT).filter(|n| *n == before + 1)
    });
    assert_eq!(app.unread(CLINIC, CONVERSATION, PATIENT), before + 1);

    // The other sections render from the same session.
    browser.click("#nav a[href=\"#users\"]");
    browser.element("#users tr[data-user=\"52\"]");
    browser.click("#nav a[href=\"#api-keys\"]");
    browser.wait_for("the demo's API key", |b| {
        b.text("#api-keys")
            .filter(|t| t.contains("demo-mdlive-key"))
    });
    browser.type_into("#api-key-label", "from the browser test");
    browser.click("#api-key-create");
    let secret = browser.wait_for("the new key's secret", |b| b.text(".secret"));
    assert!(secret.len() >= 32, "{secret}");
    browser.click("#nav a[href=\"#stand-in\"]");
    browser.wait_for("the stand-in curl for MDLIVE", |b| {
        b.text("#curl-mdlive").filter(|t| t.starts_with("curl -s"))
    });
    browser.screenshot(&artifacts().join("admin-stand-in.png"));
    assert_eq!(browser.text("#status .error"), None, "no section failed");

    // The cookie is scoped to the native API's path: read it there (WebDriver shows HttpOnly
    // cookies), then come back; a reload keeps the session.
    browser.goto(&app.url("/parlor/v1/session"));
    let cookie = browser
        .cookie("parlor_session")
        .expect("the session cookie is set");
    browser.goto(&app.url("/admin#inbox"));
    browser.wait_for("the inbox again after a reload", |b| {
        count(b, CONVERSATION, PATIENT)
    });
    browser.click("#sign-out");
    browser.element("#signin-username");
    let status = browser.run("return fetch('/parlor/v1/conversations').then(r => r.status);");
    assert_eq!(status, 401, "the page is refused once signed out");
    let replayed = app
        .get("/parlor/v1/conversations")
        .header("Cookie", &format!("parlor_session={cookie}"))
        .send();
    assert_eq!(
        replayed.status, 401,
        "the old cookie is dead: {:?}",
        replayed.body
    );
}

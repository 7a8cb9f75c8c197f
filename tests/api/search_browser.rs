//! Message search in a real browser (headless Chromium, as for the other page tests): the
//! admin page's inbox search lists messages with their matches marked, and a hit opens the
//! conversation at the message, a recent one in the thread, an old one with its neighbours; the
//! clinic's app does the same for a patient's own messages, reading earlier pages until the
//! message is shown. Screenshots land in `target/test-artifacts/`.
//!
//! Where Chromium is not installed the test says so and passes, unless the browser is
//! required: in CI (`CI=true`) or with `REQUIRE_BROWSER_TEST=1` it fails instead.

use std::path::PathBuf;

use serde_json::json;

use crate::helpers::{spawn_app, TestApp};
use crate::webdriver::{binaries, Browser};

fn browser(test: &str) -> Option<Browser> {
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1");
    match Browser::start() {
        Ok(b) => Some(b),
        Err(why) if !required => {
            eprintln!(
                "{test}: search browser test not run: {why} ({:?}); install chromium and \
                 chromium-driver, or set REQUIRE_BROWSER_TEST=1 to make this fail",
                binaries()
            );
            None
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    }
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts")
}

struct Clinic {
    conversation: i64,
    old: i64,
    recent: i64,
}

/// A clinic with an admin, a provider and two patients. Maria's conversation holds an old
/// message (a colonoscopy), 110 notes after it and a recent one (a knee brace); Tom's holds a
/// colonoscopy message of his own.
fn clinic(app: &TestApp) -> Clinic {
    let tenant = app.create_tenant("Riverside Family Clinic");
    let user = |role: &str, name: &str, username: &str| {
        app.create_user(
            tenant,
            json!({"role": role, "display_name": name, "username": username,
                   "password": format!("{username}-password")}),
        )["id"]
            .as_i64()
            .unwrap()
    };
    user("admin", "Office", "office");
    let provider = user("provider", "Ana Reyes", "dr.reyes");
    let maria = user("patient", "Maria Lopez", "maria");
    let tom = user("patient", "Tom Baker", "tom");
    let conversation = app.create_conversation(tenant, &[provider, maria])["id"]
        .as_i64()
        .unwrap();
    let old = app.send_as(
        tenant,
        conversation,
        provider,
        "Your colonoscopy prep starts on Sunday: clear liquids only.",
    )["id"]
        .as_i64()
        .unwrap();
    for i in 1..=110 {
        app.send_as(tenant, conversation, maria, &format!("Note number {i}."));
    }
    let recent = app.send_as(
        tenant,
        conversation,
        provider,
        "Wear the <b>knee brace</b> when you walk.",
    )["id"]
        .as_i64()
        .unwrap();
    let other = app.create_conversation(tenant, &[provider, tom])["id"]
        .as_i64()
        .unwrap();
    app.send_as(tenant, other, tom, "When is my colonoscopy?");
    Clinic {
        conversation,
        old,
        recent,
    }
}

fn marks(browser: &Browser) -> Vec<String> {
    browser
        .run(
            "return [...document.querySelectorAll('#message-hits mark')].map((m) => m.textContent);",
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn hits(browser: &Browser) -> i64 {
    browser
        .run("return document.querySelectorAll('#message-hits li').length;")
        .as_i64()
        .unwrap()
}

#[test]
fn the_admin_pages_search_lists_messages_and_opens_one_in_its_conversation() {
    let Some(browser) = browser("admin") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    browser.goto(&app.url("/admin"));
    browser.sign_in("office", "office-password");
    browser.element("#inbox");

    browser.type_into("#inbox-search", "brace");
    browser.click("form[role=\"search\"] button[type=\"submit\"]");
    browser.wait_for("the hit", |b| (hits(b) == 1).then_some(()));
    assert_eq!(marks(&browser), ["brace"]);
    // The message's markup is text on the page, never elements.
    let snippet = browser.text("#message-hits .snippet").unwrap();
    assert!(snippet.contains("<b>knee brace</b>"), "{snippet}");
    assert_eq!(
        browser.run("return document.querySelectorAll('#message-hits b').length;"),
        0
    );
    browser.screenshot(&artifacts().join("admin-search.png"));
    browser.click("#message-hits li a");
    let found = browser.element("#thread li.found");
    assert_eq!(
        browser.run("return document.querySelector('#thread li.found').dataset.message;"),
        c.recent.to_string(),
        "{found}"
    );

    // An old message (the thread shows the newest 100) is shown above it with its neighbours.
    browser.goto(&app.url("/admin#inbox"));
    browser.type_into("#inbox-search", "colonoscopy");
    browser.click("form[role=\"search\"] button[type=\"submit\"]");
    browser.wait_for("both colonoscopy messages", |b| {
        (hits(b) == 2).then_some(())
    });
    browser.click(&format!("#message-hits li[data-message=\"{}\"] a", c.old));
    browser.element("#found-context li.found");
    let context = browser.text("#found-context").unwrap();
    assert!(context.contains("colonoscopy prep"), "{context}");
    assert!(context.contains("Note number 3."), "{context}");
    assert!(
        browser
            .run("return location.hash;")
            .as_str()
            .unwrap()
            .starts_with(&format!("#conversation/{}/", c.conversation)),
        "the address names the conversation and the message"
    );

    // A search the server cannot run says why, under the conversations.
    browser.goto(&app.url("/admin#inbox"));
    browser.type_into("#inbox-search", "\"knee");
    browser.click("form[role=\"search\"] button[type=\"submit\"]");
    let note = browser.wait_for("the reason", |b| {
        b.text("#message-hits-note").filter(|t| !t.is_empty())
    });
    assert!(note.contains("unbalanced quote"), "{note}");
}

#[test]
fn the_apps_search_finds_the_patients_own_messages_and_opens_them_in_the_thread() {
    let Some(browser) = browser("app") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    browser.set_window_size(390, 844);
    browser.goto(&app.url("/app/"));
    browser.sign_in("maria", "maria-password");
    browser.element("#inbox");
    browser.element("#live[data-state=\"live\"]");

    // Tom's colonoscopy message is not Maria's to find.
    browser.type_into("#inbox-search", "colonoscopy");
    browser.wait_for("Maria's one hit", |b| (hits(b) == 1).then_some(()));
    assert_eq!(marks(&browser), ["colonoscopy"]);
    browser.screenshot(&artifacts().join("app-search-390x844.png"));
    let axe = crate::app_browser::axe_source();
    let mut violations = Vec::new();
    if let Some(axe) = &axe {
        violations.extend(crate::app_browser::wcag_violations(&browser, axe));
    }
    // The thread shows the newest 100: the app reads earlier pages until the message is there.
    browser.click("#message-hits li a");
    browser.element("#thread li.msg.found");
    assert_eq!(
        browser.run("return document.querySelector('#thread li.found').dataset.message;"),
        c.old.to_string()
    );
    if let Some(axe) = &axe {
        violations.extend(crate::app_browser::wcag_violations(&browser, axe));
    }
    assert!(violations.is_empty(), "WCAG violations: {violations:#?}");

    // While a phrase is still being typed, the app asks to finish it.
    browser.goto(&app.url("/app/#/inbox"));
    browser.type_into("#inbox-search", "\"knee");
    let note = browser.wait_for("the hint", |b| {
        b.text("#message-hits-note").filter(|t| !t.is_empty())
    });
    assert!(note.contains("Finish the search"), "{note}");
    browser.type_into("#inbox-search", "\"knee brace\"");
    browser.wait_for("the phrase's hit", |b| (hits(b) == 1).then_some(()));
    assert_eq!(marks(&browser), ["knee brace"], "a phrase is marked whole");
    assert_eq!(
        browser.run("return document.querySelector('#message-hits li').dataset.message;"),
        c.recent.to_string()
    );
    // The hit opens Maria's conversation at the message, in the thread the app already shows.
    browser.click("#message-hits li a");
    browser.element("#thread li.msg.found");
    assert!(browser
        .run("return location.hash;")
        .as_str()
        .unwrap()
        .starts_with(&format!("#/c/{}/", c.conversation)));
}

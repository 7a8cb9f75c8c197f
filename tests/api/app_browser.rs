//! The clinic's app (`/app`) in a real browser, headless Chromium as for the admin page: a
//! provider replies to a patient; the patient, on a phone-sized window, sees the reply and the
//! badge and answers, and the provider sees the answer arrive over the event stream; an invite
//! link works once and never again; a patient who edits the address to another patient's
//! conversation gets "not found" (the API answered 404); the language switch shows Spanish.
//! Screenshots at 390×844 and 1280×800 land in `target/test-artifacts/`.
//!
//! Where Chromium is not installed the test says so and passes, unless the browser is
//! required: in CI (`CI=true`) or with `REQUIRE_BROWSER_TEST=1` it fails instead.

use std::path::PathBuf;

use serde_json::json;

use crate::helpers::{spawn_app, TestApp};
use crate::webdriver::{binaries, Browser};

const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 800);

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1")
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts")
}

fn browser(test: &str) -> Option<Browser> {
    match Browser::start() {
        Ok(b) => Some(b),
        Err(why) if !browser_required() => {
            eprintln!(
                "{test}: app browser test not run: {why} ({:?}); install chromium and \
                 chromium-driver, or set REQUIRE_BROWSER_TEST=1 to make this fail",
                binaries()
            );
            None
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    }
}

/// A clinic with a provider, two patients (each with a conversation with the provider) and the
/// ids the tests need.
struct Clinic {
    tenant: i64,
    provider: i64,
    patient: i64,
    conversation: i64,
    other_conversation: i64,
}

fn clinic(app: &TestApp) -> Clinic {
    let tenant = app.create_tenant("Riverside Family Clinic");
    let user = |role: &str, first: &str, last: &str, username: &str| {
        app.create_user(
            tenant,
            json!({"role": role, "first_name": first, "last_name": last,
                   "display_name": format!("{first} {last}"),
                   "username": username, "password": format!("{username}-password")}),
        )["id"]
            .as_i64()
            .unwrap()
    };
    let provider = user("provider", "Ana", "Reyes", "dr.reyes");
    let patient = user("patient", "Maria", "Lopez", "maria");
    let other = user("patient", "Tom", "Baker", "tom");
    let conversation = app.create_conversation(tenant, &[provider, patient])["id"]
        .as_i64()
        .unwrap();
    app.send_as(
        tenant,
        conversation,
        patient,
        "My knee still hurts after the exercises.",
    );
    let other_conversation = app.create_conversation(tenant, &[provider, other])["id"]
        .as_i64()
        .unwrap();
    app.send_as(
        tenant,
        other_conversation,
        other,
        "Tom's private question about his prescription.",
    );
    Clinic {
        tenant,
        provider,
        patient,
        conversation,
        other_conversation,
    }
}

/// Signs in and waits until the inbox is live: the stream's first refresh redraws the rows,
/// which would make an element found before it stale.
fn sign_in(browser: &Browser, app: &TestApp, username: &str) {
    browser.goto(&app.url("/app/"));
    browser.sign_in(username, &format!("{username}-password"));
    browser.element("#inbox");
    browser.element("#live[data-state=\"live\"]");
}

fn badge(browser: &Browser, conversation: i64) -> Option<String> {
    browser.text(&format!(
        "#inbox li[data-conversation=\"{conversation}\"] .badge"
    ))
}

/// The computed `display` of the first element matching `css`.
fn displayed(browser: &Browser, css: &str) -> String {
    let script = format!("return getComputedStyle(document.querySelector('{css}')).display;");
    browser
        .run(&script)
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn thread_shows(browser: &Browser, text: &str) {
    browser.wait_for(text, |b| b.text("#thread").filter(|t| t.contains(text)));
}

#[test]
fn a_provider_replies_and_the_patient_on_a_phone_answers_live() {
    let Some(provider_view) = browser("provider") else {
        return;
    };
    let Some(patient_view) = browser("patient") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);

    provider_view.set_window_size(DESKTOP.0, DESKTOP.1);
    sign_in(&provider_view, &app, "dr.reyes");
    let shown = provider_view.wait_for("the provider's unread badge", |b| badge(b, c.conversation));
    assert_eq!(shown.trim(), "1");
    provider_view.screenshot(&artifacts().join("app-inbox-1280x800.png"));

    provider_view.click(&format!(
        "#inbox li[data-conversation=\"{}\"] a",
        c.conversation
    ));
    thread_shows(&provider_view, "My knee still hurts");
    provider_view.wait_for("the provider's unread count to reach 0", |_| {
        (app.unread(c.tenant, c.conversation, c.provider) == 0).then_some(())
    });
    provider_view.type_into("#reply-body", "Rest it for a week, then call us.");
    provider_view.click("#reply-send");
    thread_shows(&provider_view, "Rest it for a week");
    provider_view.screenshot(&artifacts().join("app-thread-1280x800.png"));

    let last = app
        .get(&format!(
            "/parlor/v1/conversations/{}/messages?limit=1",
            c.conversation
        ))
        .admin()
        .tenant(c.tenant)
        .send();
    assert_eq!(last.body["data"][0]["sender_id"], c.provider);

    // The patient, on a phone: the reply's badge, then the thread (which reads it).
    patient_view.set_window_size(PHONE.0, PHONE.1);
    sign_in(&patient_view, &app, "maria");
    let shown = patient_view.wait_for("the patient's unread badge", |b| badge(b, c.conversation));
    assert_eq!(shown.trim(), "1");
    patient_view.screenshot(&artifacts().join("app-inbox-390x844.png"));
    patient_view.click(&format!(
        "#inbox li[data-conversation=\"{}\"] a",
        c.conversation
    ));
    thread_shows(&patient_view, "Rest it for a week");
    // The provider read the patient's message: the receipt says so.
    patient_view.wait_for("the read receipt", |b| {
        b.text("#read-receipt").filter(|t| t.starts_with("Read"))
    });
    assert_eq!(app.unread(c.tenant, c.conversation, c.patient), 0);

    // The provider's thread is live before the patient answers; the answer comes over the
    // stream, not by polling.
    provider_view.element("#live[data-state=\"live\"]");
    let polls = provider_view.run("return window.parlorPollCount;");
    patient_view.type_into("#reply-body", "Thank you, I will.");
    patient_view.click("#reply-send");
    thread_shows(&patient_view, "Thank you, I will.");
    patient_view.screenshot(&artifacts().join("app-thread-390x844.png"));
    thread_shows(&provider_view, "Thank you, I will.");
    assert_eq!(
        provider_view.run("return window.parlorPollCount;"),
        polls,
        "the answer arrived over the event stream"
    );
    // The provider's open thread marked it read, and the patient sees that live.
    patient_view.wait_for("the receipt under the patient's answer", |b| {
        let last_mine = b.run(
            "const items = [...document.querySelectorAll('#thread li')]; \
             const r = items.findIndex((li) => li.id === 'read-receipt'); \
             return r > 0 ? items[r - 1].textContent : null;",
        );
        last_mine
            .as_str()
            .filter(|t| t.contains("Thank you, I will."))
            .map(str::to_string)
    });

    // Signing out ends the session: the API refuses the page afterwards.
    patient_view.click("#sign-out");
    patient_view.element("#signin-username");
    let status = patient_view.run("return fetch('/parlor/v1/conversations').then(r => r.status);");
    assert_eq!(status, 401);
}

#[test]
fn an_invite_link_works_once_and_never_again() {
    let Some(browser) = browser("invite") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    let rosa = app.create_user(
        c.tenant,
        json!({"role": "patient", "first_name": "Rosa", "last_name": "Diaz",
               "username": "rosa"}),
    )["id"]
        .as_i64()
        .unwrap();
    let invite = app
        .post(&format!("/parlor/v1/users/{rosa}/invites"))
        .admin()
        .tenant(c.tenant)
        .json(&json!({}));
    assert_eq!(invite.status, 201, "{:?}", invite.body);
    let url = invite.body["url"].as_str().unwrap().to_string();
    assert!(url.contains("/app/#/welcome/"), "{url}");
    let secret = url.rsplit('/').next().unwrap().to_string();

    browser.set_window_size(PHONE.0, PHONE.1);
    browser.goto(&url);
    let who = browser.wait_for("who the link is for", |b| b.text("#welcome-who"));
    assert!(
        who.contains("Rosa") && who.contains("Riverside Family Clinic"),
        "{who}"
    );
    assert_eq!(
        displayed(&browser, "#nav"),
        "none",
        "no navigation before signing in"
    );
    browser.screenshot(&artifacts().join("app-welcome-390x844.png"));
    browser.type_into("#welcome-password", "a new long password");
    browser.type_into("#welcome-confirm", "a new long password");
    browser.click("#welcome-submit");
    browser.element("#inbox");
    let me = browser.run("return fetch('/parlor/v1/me').then(r => r.json()).then(j => j.id);");
    assert_eq!(me, rosa, "signed in as the invited patient");

    browser.click("#sign-out");
    browser.element("#signin-username");
    // A new tab's worth of page: the same link again.
    browser.goto(&app.url("/app/"));
    browser.goto(&url);
    browser.element("#welcome-invalid");
    assert!(browser.find("#welcome-password").is_none());
    let again = app.get(&format!("/parlor/v1/invites/{secret}")).send();
    assert_eq!(again.status, 404, "{:?}", again.body);
    let used = app
        .post(&format!("/parlor/v1/invites/{secret}"))
        .json(&json!({"password": "someone else's password"}));
    assert_eq!(used.status, 404, "{:?}", used.body);

    // The password the link set is the one that signs in.
    let signed = app
        .post("/parlor/v1/session")
        .json(&json!({"username": "rosa", "password": "a new long password", "client": "app"}));
    assert_eq!(signed.status, 200, "{:?}", signed.body);
}

#[test]
fn a_patient_editing_the_address_to_another_conversation_gets_not_found() {
    let Some(browser) = browser("url editing") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    browser.set_window_size(PHONE.0, PHONE.1);
    sign_in(&browser, &app, "maria");
    browser.goto(&app.url(&format!("/app/#/c/{}", c.other_conversation)));
    browser.element("#not-found");
    let body = browser.text("body").unwrap_or_default();
    assert!(!body.contains("prescription"), "{body}");
    let status = browser.run(&format!(
        "return fetch('/parlor/v1/conversations/{}').then(r => r.status);",
        c.other_conversation
    ));
    assert_eq!(status, 404, "the API refused the patient");
    let messages = browser.run(&format!(
        "return fetch('/parlor/v1/conversations/{}/messages').then(r => r.status);",
        c.other_conversation
    ));
    assert_eq!(messages, 404);
    // The patient's own conversation still opens.
    browser.goto(&app.url(&format!("/app/#/c/{}", c.conversation)));
    thread_shows(&browser, "My knee still hurts");
}

#[test]
fn the_language_switch_shows_spanish_and_is_remembered() {
    let Some(browser) = browser("language") else {
        return;
    };
    let app = spawn_app();
    clinic(&app);
    browser.goto(&app.url("/app/"));
    browser.element("#signin-username");
    browser.click("#lang option[value=\"es\"]");
    browser.wait_for("the Spanish sign-in form", |b| {
        b.text("#signin-form h1").filter(|t| t == "Iniciar sesión")
    });
    browser.goto(&app.url("/app/"));
    // From the keyboard: Enter in the password field signs in.
    browser.type_into("#signin-username", "maria");
    browser.type_into("#signin-password", "maria-password\u{E007}");
    browser.element("#inbox");
    let title = browser.text("main h1").unwrap_or_default();
    assert_eq!(title, "Mensajes", "the choice is remembered");
    assert_eq!(browser.run("return document.documentElement.lang;"), "es");
}

#[test]
fn a_provider_sets_their_name_and_starts_a_conversation_with_a_patient() {
    let Some(browser) = browser("contacts") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    let rosa = app.create_user(
        c.tenant,
        json!({"role": "patient", "first_name": "Rosa", "last_name": "Diaz"}),
    )["id"]
        .as_i64()
        .unwrap();
    browser.set_window_size(DESKTOP.0, DESKTOP.1);
    sign_in(&browser, &app, "dr.reyes");

    browser.click("#nav a[data-nav=\"me\"]");
    browser.type_into("#me-name", "Dr. Ana Reyes");
    browser.click("#me-save");
    browser.wait_for("the saved name", |b| {
        b.text("#status").filter(|t| t.contains("Saved"))
    });
    let me = app
        .get(&format!("/parlor/v1/users/{}", c.provider))
        .admin()
        .tenant(c.tenant)
        .send();
    assert_eq!(me.body["display_name"], "Dr. Ana Reyes");

    browser.click("#nav a[data-nav=\"new\"]");
    // The contacts are searched as the provider types (a patient's last name here).
    browser.element("#contacts li");
    assert_eq!(
        displayed(&browser, "#new-form"),
        "none",
        "the message box waits for a contact"
    );
    browser.type_into("#contact-search", "Diaz");
    browser.wait_for("only the matching patient", |b| {
        b.text("#contacts")
            .filter(|t| t.contains("Rosa Diaz") && !t.contains("Maria"))
    });
    browser.click(&format!("#contacts button[data-contact=\"{rosa}\"]"));
    browser.type_into("#new-body", "Welcome to the clinic, Rosa.");
    browser.click("#new-send");
    thread_shows(&browser, "Welcome to the clinic, Rosa.");

    let mine = app
        .get(&format!("/parlor/v1/conversations?as={rosa}"))
        .admin()
        .tenant(c.tenant)
        .send();
    let started = &mine.body["data"][0];
    assert_eq!(
        started["last_message"]["body"],
        "Welcome to the clinic, Rosa."
    );
    assert_eq!(started["last_message"]["sender_id"], c.provider);
    let mut members: Vec<i64> = started["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["id"].as_i64().unwrap())
        .collect();
    members.sort();
    assert_eq!(members, vec![c.provider, rosa]);
    assert_eq!(
        app.unread(c.tenant, started["id"].as_i64().unwrap(), rosa),
        1
    );
}

#[test]
fn the_app_is_served_with_the_admin_pages_headers() {
    let app = spawn_app();
    for path in ["/app", "/app/", "/app/app.js", "/app/i18n/es.js"] {
        let r = app.get(path).send();
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("connect-src 'self'"), "{path}: {csp}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    assert!(app.get("/app/").send().text.contains("src=\"/app/app.js\""));
    let missing = app.get("/app/nothing-here.js").send();
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "not_found");
    // The README's screenshots are not part of the app.
    assert_eq!(app.get("/app/screenshots/app-inbox.png").send().status, 404);
}

/// The keys of one language file: every line `  'key': ...`.
fn string_keys(lang: &str) -> std::collections::BTreeSet<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("app/i18n/{lang}.js"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("  '")?
                .split_once("':")
                .map(|(k, _)| k.to_string())
        })
        .collect()
}

#[test]
fn every_word_of_the_app_exists_in_english_and_spanish() {
    let (en, es) = (string_keys("en"), string_keys("es"));
    assert!(en.len() > 50, "{en:?}");
    assert_eq!(
        en.symmetric_difference(&es).collect::<Vec<_>>(),
        Vec::<&String>::new()
    );
    // Every key the app asks for by name is in the files.
    let app = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("app/app.js"))
        .unwrap();
    for (at, _) in app.match_indices("t('") {
        // `t(` itself, not the end of `split(` or `select(`.
        let before = app[..at].chars().last().unwrap_or(' ');
        if before.is_alphanumeric() || before == '.' || before == '_' {
            continue;
        }
        let key = app[at + 3..].split('\'').next().unwrap();
        assert!(en.contains(key), "app.js uses {key:?}, which en.js lacks");
    }
}

#[test]
fn a_session_that_ends_on_the_server_takes_the_app_back_to_sign_in() {
    let Some(browser) = browser("session end") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    browser.set_window_size(PHONE.0, PHONE.1);
    sign_in(&browser, &app, "maria");
    browser.goto(&app.url(&format!("/app/#/c/{}", c.conversation)));
    thread_shows(&browser, "My knee still hurts");
    // The session ends behind the app's back, as an idle timeout does on the server.
    let ended = browser.run(
        "return fetch('/parlor/v1/session').then((r) => r.json()).then((s) => \
         fetch('/parlor/v1/session', {method: 'DELETE', headers: {'X-Parlor-CSRF': s.csrf_token}})) \
         .then((r) => r.status);",
    );
    assert_eq!(ended, 204);
    // The stream is cut, its reopening refused, the poll meets a 401: the sign-in form says why.
    let said = browser.wait_for("the sign-in form with its reason", |b| {
        b.text("#signin-message")
    });
    assert!(said.contains("signed out"), "{said}");
    assert!(browser.text("#thread").is_none(), "the thread is gone");
}

/// The key under which the app remembers the chosen language (app.js `LANG_KEY`).
const LANG_KEY: &str = "parlor-app-lang";

/// axe-core's script: `AXE_CORE_JS`, else where `.ci/run` installs it from npm.
pub(crate) fn axe_source() -> Option<String> {
    let path = std::env::var("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("target/ci-node/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(path).ok()
}

/// The page's WCAG 2.1 A and AA violations as axe-core finds them: rule, impact and the first
/// few elements.
pub(crate) fn wcag_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.run(axe);
    let found = browser.run_async(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {runOnly: {type: 'tag',
                 values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
            .then(r => done(r.violations.map(v => `${v.id} (${v.impact}): ` +
                 v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))))
            .catch(e => done([`axe failed: ${e}`]));",
    );
    found
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_else(|| vec![format!("axe answered {found}")])
}

/// WCAG 2.1 AA as axe-core checks it (contrast, labels, names, landmarks, language): the
/// sign-in page, the inbox and a thread on a phone, and the thread on a desktop, in English
/// and Spanish.
#[test]
fn the_app_passes_axe_cores_wcag_2_1_aa_checks() {
    let Some(axe) = axe_source() else {
        let required = browser_required()
            || std::env::var("REQUIRE_ACCESSIBILITY_CHECK").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "axe-core is needed here: npm install --prefix target/ci-node axe-core@4 \
             (or set AXE_CORE_JS)"
        );
        eprintln!("accessibility check not run: axe-core not found (see .ci/run)");
        return;
    };
    let Some(browser) = browser("accessibility") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    let mut found = Vec::new();
    let mut check = |what: &str| {
        for v in wcag_violations(&browser, &axe) {
            found.push(format!("{what}: {v}"));
        }
    };
    browser.set_window_size(PHONE.0, PHONE.1);
    browser.goto(&app.url("/app/"));
    browser.element("#signin-username");
    check("sign-in, phone");
    sign_in(&browser, &app, "maria");
    check("inbox, phone");
    browser.goto(&app.url(&format!("/app/#/c/{}", c.conversation)));
    thread_shows(&browser, "My knee still hurts");
    check("thread, phone");
    browser.set_window_size(DESKTOP.0, DESKTOP.1);
    check("thread, desktop");
    // Spanish: longer words, the same bar (and `lang` must follow).
    browser.click("#lang option[value=\"es\"]");
    browser.wait_for("the page in Spanish", |b| {
        (b.run("return document.documentElement.lang;") == "es").then_some(())
    });
    thread_shows(&browser, "My knee still hurts");
    check("thread, desktop, Spanish");
    assert!(found.is_empty(), "WCAG violations:\n{}", found.join("\n"));
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// What has the keyboard focus: its id, else the link's address or the element's tag.
fn focused(browser: &Browser) -> String {
    browser
        .run(
            "const e = document.activeElement; \
             return e.id || (e.getAttribute('href') ? 'href:' + e.getAttribute('href') : e.tagName);",
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Presses Tab until `target` has the focus; the stops on the way, for the failure message.
fn tab_to(browser: &Browser, target: &str) -> Vec<String> {
    let mut stops = Vec::new();
    for _ in 0..20 {
        browser.keys(TAB);
        let now = focused(browser);
        stops.push(now.clone());
        if now == target {
            return stops;
        }
    }
    panic!("Tab never reached {target}: {stops:?}");
}

#[test]
fn a_patient_does_everything_from_the_keyboard() {
    let Some(browser) = browser("keyboard") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    browser.set_window_size(PHONE.0, PHONE.1);
    browser.goto(&app.url("/app/"));
    browser.element("#signin-username");
    // The form starts with the focus in the username field.
    assert_eq!(focused(&browser), "signin-username");
    browser.keys("maria");
    browser.keys(TAB);
    assert_eq!(focused(&browser), "signin-password");
    browser.keys(&format!("maria-password{ENTER}"));
    browser.element("#live[data-state=\"live\"]");

    // Through the labelled search field to the conversation, and in with Enter.
    let stops = tab_to(&browser, &format!("href:#/c/{}", c.conversation));
    assert!(stops.contains(&"inbox-search".to_string()), "{stops:?}");
    browser.keys(ENTER);
    thread_shows(&browser, "My knee still hurts");

    // To the reply box, type, Tab to Send, Enter.
    tab_to(&browser, "reply-body");
    browser.keys("Typed without a mouse.");
    browser.keys(TAB);
    assert_eq!(focused(&browser), "reply-send");
    browser.keys(ENTER);
    thread_shows(&browser, "Typed without a mouse.");
    let r = app
        .get(&format!(
            "/parlor/v1/conversations/{}/messages",
            c.conversation
        ))
        .admin()
        .tenant(c.tenant)
        .send();
    let bodies: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert!(bodies.contains(&"Typed without a mouse."), "{bodies:?}");

    // Back to the inbox by the keyboard too: the link at the top of the thread.
    browser.run("document.querySelector('#back').focus();");
    browser.keys(ENTER);
    browser.element("#inbox");
}

#[test]
fn long_inboxes_and_threads_page_back_and_archived_ones_say_so() {
    let Some(browser) = browser("paging") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    // 103 more conversations for the provider (105 in all), and 130 messages in one thread.
    for _ in 0..103 {
        app.create_conversation(c.tenant, &[c.provider, c.patient]);
    }
    let long = app.create_conversation(c.tenant, &[c.provider, c.patient])["id"]
        .as_i64()
        .unwrap();
    for i in 1..=130 {
        app.send_as(c.tenant, long, c.patient, &format!("Note number {i}."));
    }
    let r = app
        .patch(&format!(
            "/parlor/v1/conversations/{}",
            c.other_conversation
        ))
        .admin()
        .tenant(c.tenant)
        .json(&json!({"archived": true}));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rows = |b: &Browser| {
        b.run("return document.querySelectorAll('#inbox li[data-conversation]').length;")
            .as_i64()
            .unwrap_or(0)
    };
    browser.set_window_size(DESKTOP.0, DESKTOP.1);
    sign_in(&browser, &app, "dr.reyes");
    assert_eq!(rows(&browser), 100);
    // The search asks the server: it finds among all 106, not only the 100 shown.
    browser.type_into("#inbox-search", "tom");
    browser.wait_for("Tom's conversation alone", |b| (rows(b) == 1).then_some(()));
    assert!(browser
        .find(&format!(
            "#inbox li[data-conversation=\"{}\"]",
            c.other_conversation
        ))
        .is_some());
    assert_eq!(displayed(&browser, "#inbox-more"), "none");
    browser.type_into("#inbox-search", "nobody by this name");
    browser.wait_for("no match", |b| b.text("#inbox-empty"));
    browser.type_into("#inbox-search", "maria");
    browser.wait_for("Maria's first 100", |b| {
        (rows(b) == 100
            && b.find(&format!(
                "#inbox li[data-conversation=\"{}\"]",
                c.other_conversation
            ))
            .is_none())
        .then_some(())
    });
    browser.click("#inbox-more");
    browser.wait_for("all 105 of Maria's", |b| (rows(b) == 105).then_some(()));
    // Emptied the way a person does it, key by key.
    browser.run("document.querySelector('#inbox-search').focus();");
    browser.keys(&"\u{E003}".repeat(5));
    browser.wait_for("the whole inbox again", |b| (rows(b) == 100).then_some(()));
    browser.click("#inbox-more");
    browser.wait_for("106 conversations", |b| (rows(b) == 106).then_some(()));
    assert!(browser.find("#inbox-more").is_some());
    assert_eq!(
        displayed(&browser, "#inbox-more"),
        "none",
        "no further page"
    );
    // The oldest conversation, only on the second page, is there once.
    let oldest = browser.run(&format!(
        "return document.querySelectorAll('#inbox li[data-conversation=\"{}\"]').length;",
        c.conversation
    ));
    assert_eq!(oldest, 1);
    let tag = format!(
        "#inbox li[data-conversation=\"{}\"] .tag",
        c.other_conversation
    );
    assert_eq!(browser.text(&tag).as_deref(), Some("Archived"));
    assert!(browser
        .text(&format!(
            "#inbox li[data-conversation=\"{}\"] .tag",
            c.conversation
        ))
        .is_none());
    browser.goto(&app.url(&format!("/app/#/c/{}", c.other_conversation)));
    thread_shows(&browser, "Tom's private question");
    assert_eq!(
        browser.text("#thread-archived").as_deref(),
        Some("This conversation is archived.")
    );

    browser.goto(&app.url(&format!("/app/#/c/{long}")));
    thread_shows(&browser, "Note number 130.");
    let shown = |b: &Browser| {
        b.run("return document.querySelectorAll('#thread li[data-message]').length;")
            .as_i64()
            .unwrap_or(0)
    };
    assert_eq!(shown(&browser), 100);
    assert!(!browser.text("#thread").unwrap().contains("Note number 30."));
    browser.click("#thread-earlier");
    browser.wait_for("all 130 messages", |b| (shown(b) == 130).then_some(()));
    let text = browser.text("#thread").unwrap();
    assert!(text.contains("Note number 1."), "{text}");
    assert_eq!(displayed(&browser, "#thread-earlier"), "none");
    // A new message arrives live: the earlier page stays, the new one is added.
    app.send_as(c.tenant, long, c.patient, "Note number 131.");
    thread_shows(&browser, "Note number 131.");
    assert_eq!(shown(&browser), 131);
}

#[test]
fn the_language_is_the_users_own_on_every_browser() {
    let Some(browser) = browser("user language") else {
        return;
    };
    let app = spawn_app();
    let c = clinic(&app);
    let language = |app: &TestApp| {
        app.get(&format!("/parlor/v1/users/{}", c.patient))
            .admin()
            .tenant(c.tenant)
            .send()
            .body["language"]
            .clone()
    };
    // Signing in records the language the app is shown in: English here.
    sign_in(&browser, &app, "maria");
    browser.wait_for("the language saved", |_| {
        (language(&app) == json!("en")).then_some(())
    });
    // The switch saves the choice for e-mail notices too.
    browser.click("#lang option[value=\"es\"]");
    browser.wait_for("Spanish saved", |_| {
        (language(&app) == json!("es")).then_some(())
    });
    browser.click("#sign-out");
    browser.element("#signin-form");

    // Another browser (nothing remembered locally) in English: the user's choice wins.
    browser.run(&format!("localStorage.removeItem('{LANG_KEY}');"));
    browser.goto(&app.url("/app/"));
    browser.wait_for("the English sign-in form", |b| {
        b.text("#signin-form h1").filter(|t| t == "Sign in")
    });
    sign_in(&browser, &app, "maria");
    browser.wait_for("the inbox in Spanish", |b| {
        b.text("main h1").filter(|t| t == "Mensajes")
    });
    assert_eq!(browser.run("return document.documentElement.lang;"), "es");
    browser.goto(&app.url("/app/#/me"));
    let note = browser.wait_for("the language note", |b| b.text("#me-language"));
    assert!(note.contains("español"), "{note}");
}

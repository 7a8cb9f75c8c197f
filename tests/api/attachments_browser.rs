//! Attachments in real browsers (headless Chromium, as the other browser tests): on the admin
//! page, sending as the provider with a picture attached shows its thumbnail in the thread; in
//! the clinic's app, a patient attaches a picture from the reply form and sees it, and the
//! provider sees it too.
//!
//! Where Chromium is not installed the test says so and passes, unless the browser is
//! required: in CI (`CI=true`) or with `REQUIRE_BROWSER_TEST=1` it fails instead.

use serde_json::json;

use crate::attachments::PNG;
use crate::helpers::{spawn_app, spawn_demo};
use crate::webdriver::{binaries, Browser};

fn browser() -> Option<Browser> {
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1");
    match Browser::start() {
        Ok(b) => Some(b),
        Err(why) if !required => {
            eprintln!("attachments browser test not run: {why} ({:?})", binaries());
            None
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    }
}

/// Whether the first `img.thumb` in the thread has loaded a picture.
fn thumbnail_loaded(b: &Browser) -> Option<()> {
    let loaded = b.run(
        "const i = document.querySelector('#thread img.thumb'); \
         return !!(i && i.complete && i.naturalWidth > 0);",
    );
    (loaded == json!(true)).then_some(())
}

#[test]
fn the_admin_page_sends_a_picture_and_shows_its_thumbnail() {
    let Some(browser) = browser() else { return };
    let app = spawn_demo();
    let picture = app.dir.path().join("x-ray.png");
    std::fs::write(&picture, PNG).unwrap();

    browser.goto(&app.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");
    browser.click("a[data-open=\"2\"]");
    browser.click("#send-as option[value=\"4\"]");
    browser.type_into("#send-body", "Your x-ray.");
    browser.attach_file("#send-files", &picture);
    browser.click("#send-submit");
    browser.wait_for("the picture's thumbnail", thumbnail_loaded);
    let link = browser.text("#thread .file-link").unwrap_or_default();
    assert!(link.contains("x-ray.png (image/png"), "{link}");

    let last = app
        .get("/parlor/v1/conversations/2/messages?limit=1")
        .admin()
        .tenant(1)
        .send();
    assert_eq!(last.body["data"][0]["files"][0]["filename"], "x-ray.png");
    assert_eq!(last.body["data"][0]["sender_id"], 4);
}

#[test]
fn the_clinic_app_attaches_a_picture_from_the_reply_form() {
    let Some(browser) = browser() else { return };
    let app = spawn_app();
    let tenant = app.create_tenant("Riverside Family Clinic");
    let user = |role: &str, username: &str| {
        app.create_user(
            tenant,
            json!({"role": role, "display_name": username, "username": username,
                   "password": format!("{username}-password")}),
        )["id"]
            .as_i64()
            .unwrap()
    };
    let provider = user("provider", "dr.reyes");
    let patient = user("patient", "maria");
    let conv = app.create_conversation(tenant, &[provider, patient])["id"]
        .as_i64()
        .unwrap();
    app.send_as(tenant, conv, provider, "Send me a photo of the rash.");
    let picture = app.dir.path().join("rash.png");
    std::fs::write(&picture, PNG).unwrap();

    browser.set_window_size(390, 844);
    browser.goto(&app.url("/app/"));
    browser.sign_in("maria", "maria-password");
    browser.element("#inbox");
    browser.goto(&app.url(&format!("/app/#/c/{conv}")));
    browser.wait_for("the thread", |b| {
        b.text("#thread")
            .filter(|t| t.contains("photo of the rash"))
    });
    // The camera's picker and the file picker, each with its label.
    let camera = browser.run(
        "const i = document.querySelector('#reply-photo'); \
         return [i.accept, i.getAttribute('capture'), document.querySelector('label[for=reply-photo]').textContent];",
    );
    assert_eq!(camera, json!(["image/*", "environment", "Take a photo"]));
    browser.attach_file("#reply-file", &picture);
    browser.wait_for("the chosen file listed", |b| {
        b.text(".chosen").filter(|t| t.contains("rash.png"))
    });
    browser.click("#reply-send");
    browser.wait_for("the picture's thumbnail", thumbnail_loaded);

    let last = app
        .get(&format!("/parlor/v1/conversations/{conv}/messages?limit=1"))
        .admin()
        .tenant(tenant)
        .send();
    assert_eq!(last.body["data"][0]["files"][0]["filename"], "rash.png");
    assert_eq!(last.body["data"][0]["sender_id"], patient);
    assert_eq!(last.body["data"][0]["body"], "");
}

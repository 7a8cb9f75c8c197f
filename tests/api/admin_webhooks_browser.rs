//! The admin page's Webhooks view in a real browser: the demo clinic's admin is refused a
//! private address (the API's 400 shown next to the form), adds a capture endpoint for
//! `message.created`, reads its secret from the one-time box and hides it for good; a message
//! sent through the API then appears in the endpoint's outbox over the event stream, and the
//! delivery's detail shows a body naming the message and the request headers whose signature
//! is the HMAC of that body under the secret the page showed. Rotating shows a new secret once
//! more; deleting removes the endpoint. A screenshot of the outbox lands in
//! `target/test-artifacts/`.
//!
//! Like the other browser tests it passes with a note where Chromium is missing, unless the
//! browser is required (`CI=true` or `REQUIRE_BROWSER_TEST=1`).

use std::path::PathBuf;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::spawn_demo;
use crate::webdriver::{binaries, Browser};

const CLINIC: i64 = 1;
const CONVERSATION: i64 = 2;
const PROVIDER: i64 = 4;

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1")
}

/// The Standard Webhooks signature of a request, recomputed from the secret.
fn signature(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("a base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", engine.encode(mac.finalize().into_bytes()))
}

/// Whether any part of the page (text, attributes, form values) still holds `secret`.
fn page_holds(browser: &Browser, secret: &str) -> bool {
    let script = format!(
        "const s = {}; return document.documentElement.outerHTML.includes(s)
           || [...document.querySelectorAll('input, textarea')].some((i) => i.value.includes(s));",
        Value::String(secret.to_string())
    );
    browser.run(&script) == Value::Bool(true)
}

fn shown_secret(browser: &Browser) -> String {
    browser.element("#webhook-secret-box");
    browser.wait_for("a secret in the one-time box", |b| {
        text_now(b, "#webhook-secret").filter(|s| s.starts_with("whsec_"))
    })
}

/// The text of the first element matching `css`, read in one step: the outbox and the detail
/// are redrawn while the test looks at them.
fn text_now(browser: &Browser, css: &str) -> Option<String> {
    let script = format!(
        "const e = document.querySelector({}); return e ? e.innerText : null;",
        Value::String(css.to_string())
    );
    browser.run(&script).as_str().map(str::to_string)
}

fn secret_boxes(browser: &Browser) -> i64 {
    browser
        .run("return document.querySelectorAll('#webhook-secret-box, .secret-box').length;")
        .as_i64()
        .unwrap_or(-1)
}

#[test]
fn an_admin_adds_a_capture_endpoint_and_reads_its_signed_delivery_in_the_outbox() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!(
                "webhooks view browser test not run: {why} ({:?}); install chromium and \
                 chromium-driver, or set REQUIRE_BROWSER_TEST=1 to make this fail",
                binaries()
            );
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = spawn_demo();

    browser.goto(&app.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");
    browser.click("#nav a[href=\"#webhooks\"]");
    browser.wait_for("the empty endpoint list", |b| {
        text_now(b, "#webhooks tbody").filter(|t| t.contains("No endpoints yet"))
    });

    // The address policy's refusal is shown next to the form, and nothing is created.
    browser.type_into("#webhook-new-url", "http://10.0.0.5/hook");
    browser.click("#webhook-new-event-message-created");
    browser.click("#webhook-new-capture");
    browser.click("#webhook-add");
    let refused = browser.wait_for("the API's refusal next to the form", |b| {
        text_now(b, "#webhook-new-error").filter(|t| !t.is_empty())
    });
    assert!(refused.contains("url"), "{refused}");
    assert!(browser.find("#webhook-secret-box").is_none());

    // A capture endpoint for message.created (loopback: the demo allows it); the form keeps
    // its choices after the refusal.
    browser.type_into("#webhook-new-url", "http://127.0.0.1:9/parlor-hook");
    browser.type_into("#webhook-new-description", "test suite <capture>");
    browser.click("#webhook-add");
    let secret = shown_secret(&browser);
    assert_eq!(secret_boxes(&browser), 1);
    assert!(
        browser
            .text("#webhook-secret-box")
            .is_some_and(|t| t.contains("will not be shown again")),
        "the box warns that the secret is shown once"
    );
    let row = browser.wait_for("the new endpoint's row", |b| {
        text_now(b, "#webhooks tbody tr[data-webhook]")
    });
    assert!(row.contains("http://127.0.0.1:9/parlor-hook"), "{row}");
    assert!(row.contains("message.created"), "{row}");
    assert!(row.contains("capturing"), "{row}");
    // Text, not markup: the description's angle brackets are shown as typed.
    assert!(row.contains("test suite <capture>"), "{row}");
    let listed = app.get("/parlor/v1/webhooks").admin().tenant(CLINIC).send();
    let endpoint = listed.body["data"][0]["id"].as_i64().expect("an endpoint");
    assert_eq!(listed.body["data"][0]["events"][0], "message.created");
    assert_eq!(listed.body["data"][0]["capture"], true);

    // Hidden for good: no trace of it on the page, then or on the endpoint's own view.
    browser.click("#webhook-secret-dismiss");
    browser.wait_for("the secret box gone", |b| {
        b.find("#webhook-secret-box").is_none().then_some(())
    });
    assert!(!page_holds(&browser, &secret));
    browser.click(&format!("#webhooks tr[data-webhook=\"{endpoint}\"] a"));
    browser.wait_for("the endpoint's empty outbox", |b| {
        text_now(b, "#outbox tbody").filter(|t| t.contains("No deliveries yet"))
    });
    assert_eq!(secret_boxes(&browser), 0, "the secret is shown only once");
    assert!(!page_holds(&browser, &secret));

    // A message sent meanwhile appears in the open outbox by itself, as captured.
    let message = app.send_as(CLINIC, CONVERSATION, PROVIDER, "Your results are in.")["id"]
        .as_i64()
        .expect("a message id");
    let delivery = browser.wait_for("the captured delivery in the outbox", |b| {
        b.find("#outbox tr[data-status=\"captured\"]")?;
        b.run("return document.querySelector('#outbox tr[data-status=\"captured\"]').dataset.delivery;")
            .as_str()
            .map(str::to_string)
    });
    browser.click(&format!("#outbox button[data-open=\"{delivery}\"]"));
    let body: Value = browser.wait_for("the delivery's body", |b| {
        text_now(b, "#delivery-body").and_then(|t| serde_json::from_str(&t).ok())
    });
    assert_eq!(body["type"], "message.created");
    assert_eq!(body["data"]["message_id"], message);

    // The captured request as the page shows it carries the signature of the secret shown.
    let sent = browser.run(
        "const a = document.querySelector('#delivery-detail .attempt');
         const headers = {};
         const dl = a.querySelector('.request-headers');
         for (const dt of dl.querySelectorAll('dt')) headers[dt.textContent] = dt.nextElementSibling.textContent;
         return { headers, body: a.querySelector('.request-body').textContent };",
    );
    let header = |name: &str| {
        sent["headers"][name]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let expected = signature(
        &secret,
        &header("webhook-id"),
        &header("webhook-timestamp"),
        sent["body"].as_str().unwrap_or_default(),
    );
    assert!(
        header("webhook-signature")
            .split(' ')
            .any(|s| s == expected),
        "the page's signature {} is not {expected}",
        header("webhook-signature")
    );
    let as_sent: Value = serde_json::from_str(sent["body"].as_str().unwrap_or_default())
        .expect("the request body is JSON");
    assert_eq!(as_sent["data"]["message_id"], message);
    browser.run("window.scrollTo(0, 0); return null;");
    browser.screenshot(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/admin-webhooks.png"),
    );

    assert_eq!(
        browser.text("#main .pager").unwrap_or_default(),
        "",
        "one page: no pager buttons, and nothing else there"
    );

    let shown = browser.text("#main").unwrap_or_default();
    assert!(
        !shown.lines().any(|l| l.trim() == "null"),
        "a stray null on the page:\n{shown}"
    );

    // At a phone's width the view fits, the edit form open too: wide tables scroll in their
    // own box, long values wrap.
    browser.click("details.edit summary");
    browser.element("#webhook-edit-url");
    browser.set_window_size(390, 844);
    let overflow = browser
        .run("return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
    assert!(
        overflow.as_i64().is_some_and(|o| o <= 0),
        "the page is wider than a phone by {overflow}px"
    );
    browser.screenshot(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/test-artifacts/admin-webhooks-phone.png"),
    );
    browser.set_window_size(1280, 900);

    // The status filter: no failed deliveries, the captured one under its own status.
    browser.click("#outbox-status option[value=\"failed\"]");
    browser.wait_for("an empty failed list", |b| {
        text_now(b, "#outbox tbody").filter(|t| t.contains("No failed deliveries"))
    });
    browser.click("#outbox-status option[value=\"captured\"]");
    browser.element(&format!("#outbox tr[data-delivery=\"{delivery}\"]"));

    // Rotating (confirmed) shows a new secret, once, and the old one's expiry.
    browser.run("window.confirm = () => true; return null;");
    browser.click("#webhook-rotate");
    let rotated = browser.wait_for("a new secret", |b| {
        text_now(b, "#webhook-secret").filter(|s| s.starts_with("whsec_") && *s != secret)
    });
    assert_eq!(secret_boxes(&browser), 1);
    assert!(browser
        .text("#webhook-facts")
        .is_some_and(|t| t.contains("still signs until")));
    browser.click("#webhook-secret-dismiss");
    browser.wait_for("the rotated secret hidden", |b| {
        b.find("#webhook-secret-box").is_none().then_some(())
    });
    assert!(!page_holds(&browser, &rotated));

    // Deleting (confirmed) goes back to the list, now empty.
    browser.click("#webhook-delete");
    browser.wait_for("the list without the endpoint", |b| {
        text_now(b, "#webhooks tbody").filter(|t| t.contains("No endpoints yet"))
    });
    let left = app.get("/parlor/v1/webhooks").admin().tenant(CLINIC).send();
    assert_eq!(left.body["data"], serde_json::json!([]));
    assert_eq!(
        browser.text("#status .error"),
        None,
        "the view reported no error"
    );
}

/// A receiver on 127.0.0.1 answering every request `200` with a little markup; counts them.
fn receiver() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            // The request is small: read until its body (after the head) has arrived.
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let reply = "<b>thanks</b>";
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                )
                .as_bytes(),
            );
        }
    });
    (url, count)
}

#[test]
fn a_delivered_delivery_shows_its_answer_and_can_be_replayed_from_the_page() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!(
                "webhooks replay browser test not run: {why} ({:?})",
                binaries()
            );
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = spawn_demo();
    let (url, received) = receiver();
    let created = app
        .post("/parlor/v1/webhooks")
        .admin()
        .tenant(CLINIC)
        .json(&serde_json::json!({ "url": url, "events": ["*"] }));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let endpoint = created.body["id"].as_i64().unwrap();
    app.send_as(CLINIC, CONVERSATION, PROVIDER, "Lab results attached.");

    browser.goto(&app.url(&format!("/admin#webhooks/{endpoint}")));
    browser.sign_in("admin", "admin-demo-password");
    let delivery = browser.wait_for("the delivered delivery", |b| {
        b.find("#outbox tr[data-status=\"delivered\"]")?;
        b.run("return document.querySelector('#outbox tr[data-status=\"delivered\"]').dataset.delivery;")
            .as_str()
            .map(str::to_string)
    });
    browser.click(&format!("#outbox button[data-open=\"{delivery}\"]"));
    // The receiver's answer is shown as text, its markup included.
    let answer = browser.wait_for("the receiver's answer", |b| {
        text_now(b, "#delivery-detail .response-body")
    });
    assert_eq!(answer, "<b>thanks</b>");
    assert!(text_now(&browser, "#delivery-detail .attempt .meta")
        .is_some_and(|t| t.contains("answered 200") && t.contains(" ms")));

    browser.click("#delivery-replay");
    browser.wait_for("a second attempt in the detail", |b| {
        text_now(b, "#delivery-detail .attempt[data-attempt=\"2\"]")
            .and_then(|_| text_now(b, "#delivery-status"))
            .filter(|s| s == "delivered")
    });
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(browser.text("#status .error"), None);
}

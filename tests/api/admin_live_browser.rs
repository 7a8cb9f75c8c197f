//! The admin page's live updates in a real browser: the demo clinic's admin signs in, the page
//! opens its event stream with the session cookie, and messages sent and read through the API
//! by other participants change the inbox's unread badge, then the open thread and its
//! participants' counts, while the page's fallback poll never runs (the page counts its polls
//! in `window.parlorPollCount`). Signing out closes the stream. A screenshot of the live
//! conversation lands in `target/test-artifacts/`.
//!
//! Like the other browser tests it passes with a note where Chromium is missing, unless the
//! browser is required (`CI=true` or `REQUIRE_BROWSER_TEST=1`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::helpers::{spawn_demo, ADMIN_TOKEN};
use crate::webdriver::{binaries, Browser};

const CLINIC: i64 = 1;
const CONVERSATION: i64 = 2;
const PATIENT: i64 = 52;
const PATIENT_NAME: &str = "Emily Carter";
const PROVIDER: i64 = 4;

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1")
}

fn inbox_count(browser: &Browser, user: i64) -> Option<i64> {
    browser
        .text(&format!(
            "#inbox tr[data-conversation=\"{CONVERSATION}\"] [data-unread-user=\"{user}\"] .count"
        ))?
        .trim()
        .parse()
        .ok()
}

fn participant_count(browser: &Browser, user: i64) -> Option<i64> {
    browser
        .text(&format!(
            "#participants tr[data-user=\"{user}\"] .unread-count"
        ))?
        .trim()
        .parse()
        .ok()
}

fn polls(browser: &Browser) -> i64 {
    browser
        .run("return window.parlorPollCount;")
        .as_i64()
        .expect("the page counts its polls")
}

fn live(browser: &Browser) {
    browser.wait_for("the stream's marker saying live", |b| {
        b.find("#live[data-state=\"live\"]")
            .and_then(|_| b.text("#live"))
            .filter(|t| t == "Live")
    });
}

#[test]
fn the_admin_page_shows_new_messages_and_reads_over_the_stream_without_polling() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!(
                "admin page live-update browser test not run: {why} ({:?}); install chromium \
                 and chromium-driver, or set REQUIRE_BROWSER_TEST=1 to make this fail",
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
    let shown = browser.wait_for("the patient's badge in the inbox", |b| {
        inbox_count(b, PATIENT)
    });
    assert_eq!(shown, before);
    live(&browser);

    // The inbox: a message from the provider raises the patient's badge and shows in the row.
    let polled = polls(&browser);
    app.send_as(
        CLINIC,
        CONVERSATION,
        PROVIDER,
        "Your prescription is ready.",
    );
    browser.wait_for("the patient's badge one higher", |b| {
        inbox_count(b, PATIENT).filter(|n| *n == before + 1)
    });
    browser.wait_for("the new message in the row", |b| {
        b.text(&format!(
            "#inbox tr[data-conversation=\"{CONVERSATION}\"] .preview"
        ))
        .filter(|t| t.contains("Your prescription is ready."))
    });
    assert_eq!(
        polls(&browser),
        polled,
        "the badge changed over the stream, not by a poll"
    );

    // The open thread: a new message appears, then the patient's read shows as a receipt.
    browser.click(&format!("a[data-open=\"{CONVERSATION}\"]"));
    browser.wait_for("the thread", |b| {
        b.text("#thread")
            .filter(|t| t.contains("Your prescription is ready."))
    });
    live(&browser);
    let polled = polls(&browser);
    app.send_as(CLINIC, CONVERSATION, PROVIDER, "Pick it up after 3 pm.");
    browser.wait_for("the new message in the open thread", |b| {
        b.text("#thread li:last-child")
            .filter(|t| t.contains("Pick it up after 3 pm."))
    });
    browser.wait_for("the patient's count two higher", |b| {
        participant_count(b, PATIENT).filter(|n| *n == before + 2)
    });
    let read = app
        .post(&format!("/parlor/v1/conversations/{CONVERSATION}/read"))
        .admin()
        .tenant(CLINIC)
        .json(&json!({ "as": PATIENT }));
    assert_eq!(read.status, 200, "{:?}", read.body);
    browser.wait_for("the patient's count at zero", |b| {
        participant_count(b, PATIENT).filter(|n| *n == 0)
    });
    browser.wait_for("the read receipt on the last message", |b| {
        b.text("#thread li:last-child")
            .filter(|t| t.contains(&format!("Read by {PATIENT_NAME}")))
    });
    assert_eq!(
        polls(&browser),
        polled,
        "the thread changed over the stream, not by a poll"
    );
    assert_eq!(browser.text("#status .error"), None, "nothing failed");
    browser.run("window.scrollTo(0, 0); return null;");
    browser.screenshot(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/test-artifacts/admin-live-conversation.png"),
    );

    browser.click("#sign-out");
    browser.element("#signin-username");
    let marker = browser
        .run("const m = document.querySelector('#live'); return [m.dataset.state, m.hidden];");
    assert_eq!(
        marker,
        json!(["off", true]),
        "the stream closed at sign-out"
    );
}

/// The server admin's page streams too: `EventSource` cannot send `X-Parlor-Tenant`, so the page
/// names the chosen tenant in the query, and the badge moves without a poll.
#[test]
fn the_server_admins_page_streams_the_chosen_tenant() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!(
                "admin page server-admin stream browser test not run: {why} ({:?})",
                binaries()
            );
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = spawn_demo();
    let before = app.unread(CLINIC, CONVERSATION, PATIENT);

    browser.goto(&app.url("/admin"));
    browser.type_into("#signin-token", ADMIN_TOKEN);
    browser.click("#signin-token-submit");
    browser.wait_for("the patient's badge in the inbox", |b| {
        inbox_count(b, PATIENT).filter(|n| *n == before)
    });
    live(&browser);

    let polled = polls(&browser);
    app.send_as(
        CLINIC,
        CONVERSATION,
        PROVIDER,
        "Your prescription is ready.",
    );
    browser.wait_for("the patient's badge one higher", |b| {
        inbox_count(b, PATIENT).filter(|n| *n == before + 1)
    });
    assert_eq!(
        polls(&browser),
        polled,
        "the stream, not the poll, brought it"
    );
}

/// A TCP proxy in front of the server whose connections the test can cut, and keep cut: a
/// real dropped stream, as a flaky network or a restarted proxy makes it.
struct Cutter {
    port: u16,
    up: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Cutter {
    fn start(target: &str) -> Cutter {
        let target = target.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let port = listener.local_addr().expect("its address").port();
        let up = Arc::new(AtomicBool::new(true));
        let stopped = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, stopped2, open2) = (up.clone(), stopped.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut open = open2.lock().unwrap();
                for s in [&client, &server] {
                    open.push(s.try_clone().expect("a socket handle"));
                }
                pipe(
                    client.try_clone().expect("a socket handle"),
                    server.try_clone().expect("a socket handle"),
                );
                pipe(server, client);
            }
        });
        Cutter {
            port,
            up,
            stopped,
            open,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Cuts every open connection and refuses new ones until `restore`.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accepting thread so that it sees `stopped` and ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[test]
fn a_dropped_stream_falls_back_to_polling_and_resumes_without_loss() {
    let browser = match Browser::start() {
        Ok(b) => b,
        Err(why) if !browser_required() => {
            eprintln!(
                "admin page reconnect browser test not run: {why} ({:?})",
                binaries()
            );
            return;
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    };
    let app = spawn_demo();
    let proxy = Cutter::start(&app.base);

    browser.goto(&proxy.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");
    browser.element(&format!("a[data-open=\"{CONVERSATION}\"]"));
    browser.click(&format!("a[data-open=\"{CONVERSATION}\"]"));
    browser.element("#thread li");
    live(&browser);

    proxy.cut();
    let marker = browser.wait_for("the marker saying the stream is down", |b| {
        b.find("#live[data-state=\"reconnecting\"]")
            .and_then(|_| b.text("#live"))
    });
    assert_eq!(marker, "Reconnecting… (refreshing every few seconds)");
    let polled = polls(&browser);
    browser.wait_for("a poll while the stream is down", |b| {
        (polls(b) > polled).then_some(())
    });
    app.send_as(
        CLINIC,
        CONVERSATION,
        PROVIDER,
        "Sent while the stream was down.",
    );

    proxy.restore();
    live(&browser);
    browser.wait_for("the message sent while the stream was down", |b| {
        b.text("#thread li:last-child")
            .filter(|t| t.contains("Sent while the stream was down."))
    });
    // Back on the stream, the next change comes without a poll.
    let polled = polls(&browser);
    app.send_as(CLINIC, CONVERSATION, PROVIDER, "And after it came back.");
    browser.wait_for("the message sent after the stream came back", |b| {
        b.text("#thread li:last-child")
            .filter(|t| t.contains("And after it came back."))
    });
    assert_eq!(polls(&browser), polled, "no poll once the stream is back");
}

//! The admin page's Stand-in view in a real browser: its control-plane panel (static/control.js)
//! drives every `/__parlor/` operation, and each is checked through the control API itself: a
//! snapshot saved, restored and deleted, a reset, a sandbox opened from a snapshot and closed,
//! the clock frozen, set, advanced, let run and released, ids seeded and unseeded, fault rules
//! made from every part of the form (one fires on a real call; removed one by one and all at
//! once), the journal filtered, an entry's detail with its near misses, verify's count, the HAR
//! download (HAR 1.2 JSON) and a clear. The panel is absent for a tenant's admin and on a
//! clinic's server. A screenshot of the panel lands in `target/test-artifacts/`.
//!
//! Like the other browser tests it passes with a note where Chromium is missing, unless the
//! browser is required (`CI=true` or `REQUIRE_BROWSER_TEST=1`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_demo, TestApp, ADMIN_TOKEN};
use crate::webdriver::{binaries, Browser};

fn browser_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("REQUIRE_BROWSER_TEST").is_ok_and(|v| v == "1")
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts")
}

/// A browser, or None (with a note) where Chromium is missing and not required.
fn browser(what: &str) -> Option<Browser> {
    match Browser::start() {
        Ok(b) => Some(b),
        Err(why) if !browser_required() => {
            eprintln!(
                "{what} browser test not run: {why} ({:?}); install chromium and \
                 chromium-driver, or set REQUIRE_BROWSER_TEST=1 to make this fail",
                binaries()
            );
            None
        }
        Err(why) => panic!("the browser test is required here but cannot run: {why}"),
    }
}

/// The text of the first element matching `css`, read in one step (the panel redraws its
/// tables after every action).
fn text_now(browser: &Browser, css: &str) -> Option<String> {
    let script = format!(
        "const e = document.querySelector({}); return e ? e.innerText : null;",
        Value::String(css.to_string())
    );
    browser.run(&script).as_str().map(str::to_string)
}

fn no_error(browser: &Browser, after: &str) {
    assert_eq!(
        text_now(browser, "#status .error"),
        None,
        "no error after {after}"
    );
}

/// What the control plane answers the test (bearer token, not the page's session).
fn control(app: &TestApp, path: &str) -> Value {
    let r = app.get(&format!("/__parlor{path}")).admin().send();
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    r.body
}

/// Waits until the control plane's answer at `path` passes `check`.
fn until(
    browser: &Browser,
    app: &TestApp,
    what: &str,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    browser.wait_for(what, |_| {
        let answer = control(app, path);
        check(&answer).then_some(answer)
    })
}

fn sign_in_with_token(browser: &Browser, app: &TestApp) {
    browser.goto(&app.url("/admin"));
    browser.type_into("#signin-token", ADMIN_TOKEN);
    browser.click("#signin-token-submit");
    browser.element("#nav a[href=\"#stand-in\"]");
}

/// The tenants' names and ids.
fn tenants(app: &TestApp) -> Vec<(String, i64)> {
    let r = app.get("/parlor/v1/tenants").admin().send();
    r.body["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    let name = t["name"].as_str().unwrap_or_default().to_string();
                    (name, t["id"].as_i64().unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has_tenant(app: &TestApp, name: &str) -> bool {
    tenants(app).iter().any(|(n, _)| n == name)
}

#[test]
fn the_server_admin_drives_every_control_plane_operation_from_the_stand_in_panel() {
    let Some(browser) = browser("stand-in panel") else {
        return;
    };
    let app = spawn_demo();
    sign_in_with_token(&browser, &app);
    browser.click("#nav a[href=\"#stand-in\"]");
    browser.element("#control-plane");
    browser.wait_for("the start state", |b| {
        text_now(b, "#control-start").filter(|t| t.contains("demo"))
    });
    browser.run("window.confirm = () => true; return null;");

    // Every field has its label, every button its words.
    let unlabelled = browser.run(
        "return [...document.querySelectorAll('#control-plane input, #control-plane select')]
           .filter((i) => !i.labels.length).map((i) => i.name);",
    );
    assert_eq!(unlabelled, json!([]), "fields without a label");
    let mute = browser.run(
        "return [...document.querySelectorAll('#control-plane button, #control-plane a')]
           .filter((b) => !(b.getAttribute('aria-label') || b.textContent).trim()).length;",
    );
    assert_eq!(mute, 0, "buttons or links without a name");

    // The faces a rule or a filter may name are the server's.
    for select in ["#fault-face", "#journal-face"] {
        let offered = browser.run(&format!(
            "return [...document.querySelectorAll('{select} option')].map((o) => o.value).filter((v) => v).sort();"
        ));
        let mut faces: Vec<&str> = parlor::faces::FACES.iter().map(|f| f.name).collect();
        faces.push("native");
        faces.sort_unstable();
        assert_eq!(offered, json!(faces), "{select}");
    }

    // Snapshots: save one, write after it, restore it, and the write is gone.
    browser.type_into("#snapshot-name", "before-test");
    browser.click("#snapshot-save-button");
    until(&browser, &app, "the snapshot", "/snapshots", |s| {
        s["snapshots"][0]["name"] == "before-test"
    });
    browser.element("#snapshots tr[data-snapshot=\"before-test\"]");
    app.create_tenant("Written after the snapshot");
    browser.click("#snapshots button[data-restore=\"before-test\"]");
    browser.wait_for("the write undone by the restore", |_| {
        (!has_tenant(&app, "Written after the snapshot")).then_some(())
    });
    no_error(&browser, "the restore");

    // Reset: back to the demo data as loaded.
    app.create_tenant("Written before the reset");
    browser.click("#control-reset");
    browser.wait_for("the write undone by the reset", |_| {
        (!has_tenant(&app, "Written before the reset")).then_some(())
    });

    // Sandboxes: one opened from the snapshot, listed with its origin, then closed.
    browser.wait_for("the snapshot offered as an origin", |b| {
        b.find("#sandbox-from option[value=\"before-test\"]")
    });
    browser.type_into("#sandbox-name", "suite-1");
    browser.click("#sandbox-from option[value=\"before-test\"]");
    browser.click("#sandbox-open-button");
    until(&browser, &app, "the sandbox", "/sandboxes", |s| {
        s["sandboxes"][0]["name"] == "suite-1" && s["sandboxes"][0]["snapshot"] == "before-test"
    });
    let row = browser.wait_for("the sandbox's row", |b| {
        text_now(b, "#sandboxes tr[data-sandbox=\"suite-1\"]")
    });
    assert!(row.contains("snapshot before-test"), "{row}");
    browser.click("#sandboxes button[data-close=\"suite-1\"]");
    until(&browser, &app, "the sandbox closed", "/sandboxes", |s| {
        s["sandboxes"].as_array().is_some_and(|a| a.is_empty())
    });
    browser.wait_for("the sandbox gone from the page", |b| {
        b.find("#sandboxes tr[data-sandbox]")
            .is_none()
            .then_some(())
    });
    browser.click("#snapshots button[data-delete=\"before-test\"]");
    until(&browser, &app, "the snapshot deleted", "/snapshots", |s| {
        s["snapshots"].as_array().is_some_and(|a| a.is_empty())
    });

    // The clock: frozen, set a minute on (the page's session follows the clock: a small move
    // keeps it), advanced, let run, released.
    browser.click("#clock-freeze");
    until(&browser, &app, "a frozen clock", "/clock", |c| {
        c["frozen"] == true
    });
    let now = control(&app, "/clock")["now"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let now = parlor::domain::time::parse_rfc3339(&now).expect("an RFC 3339 clock");
    let later = parlor::domain::time::rfc3339_seconds(now - now % 1000 + 60_000);
    browser.type_into("#clock-at", &later);
    browser.click("#clock-freeze-at");
    until(
        &browser,
        &app,
        "the clock at the time typed",
        "/clock",
        |c| {
            c["frozen"] == true
                && c["now"]
                    .as_str()
                    .and_then(parlor::domain::time::parse_rfc3339)
                    == parlor::domain::time::parse_rfc3339(&later)
        },
    );
    browser.type_into("#clock-by", "90s");
    browser.click("#clock-advance-button");
    until(&browser, &app, "the clock 90 s later", "/clock", |c| {
        c["now"]
            .as_str()
            .and_then(parlor::domain::time::parse_rfc3339)
            == parlor::domain::time::parse_rfc3339(&later).map(|t| t + 90_000)
    });
    browser.wait_for("the page showing the frozen clock", |b| {
        text_now(b, "#clock-state").filter(|t| t == "frozen")
    });
    browser.click("#clock-run-on");
    let running = until(&browser, &app, "a running clock", "/clock", |c| {
        c["frozen"] == false
    });
    assert!(
        running["offset_ms"].as_i64().unwrap_or_default() > 0,
        "{running}"
    );
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let ahead = parlor::domain::time::rfc3339_seconds(system + 600_000);
    browser.type_into("#clock-at", &ahead);
    browser.click("#clock-run-from");
    until(
        &browser,
        &app,
        "the clock running from the time typed",
        "/clock",
        |c| c["frozen"] == false && c["offset_ms"].as_i64().is_some_and(|o| o > 500_000),
    );
    browser.click("#clock-release");
    until(&browser, &app, "the system clock", "/clock", |c| {
        c["frozen"] == false && c["offset_ms"] == 0
    });
    no_error(&browser, "the clock");

    // Ids: a number seed, a text seed, unseeded.
    browser.type_into("#ids-seed-value", "42");
    browser.click("#ids-seed-button");
    until(&browser, &app, "ids seeded with 42", "/ids", |i| {
        i["seed"] == 42
    });
    browser.type_into("#ids-seed-value", "my-suite");
    browser.click("#ids-seed-kind option[value=\"text\"]");
    browser.click("#ids-seed-button");
    until(&browser, &app, "ids seeded with a text", "/ids", |i| {
        i["seed"] == "my-suite"
    });
    browser.wait_for("the text seed on the page", |b| {
        text_now(b, "#ids-seed-shown").filter(|t| t == "\"my-suite\"")
    });
    browser.click("#ids-unseed");
    until(&browser, &app, "ids unseeded", "/ids", |i| {
        i["seeded"] == false
    });

    // Faults: a rule from the scope, firing and status fields fires on the next matching call
    // (the demo's Respondent keys belong to its Respondent tenant).
    let respondent = tenants(&app)
        .into_iter()
        .find(|(name, _)| name.contains("Respondent"))
        .map(|(_, id)| id)
        .expect("the demo's Respondent tenant");
    browser.click("#fault-face option[value=\"respondent\"]");
    browser.click("#fault-method option[value=\"GET\"]");
    browser.type_into("#fault-route", "/v1/messaging/conversations");
    browser.type_into("#fault-tenant", &respondent.to_string());
    browser.type_into("#fault-times", "1");
    browser.type_into("#fault-status", "503");
    browser.type_into("#fault-retry-after", "7");
    browser.click("#fault-add");
    let rules = until(&browser, &app, "the rule", "/faults", |f| {
        f["data"][0]["status"] == 503
    });
    let rule = &rules["data"][0];
    assert_eq!(rule["face"], "respondent");
    assert_eq!(rule["method"], "GET");
    assert_eq!(rule["route"], "/v1/messaging/conversations");
    assert_eq!(rule["tenant"], respondent);
    assert_eq!(rule["times"], 1);
    assert_eq!(rule["retry_after"], 7);
    let faulted = app
        .get("/v1/messaging/conversations")
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .send();
    assert_eq!(faulted.status, 503, "{:?}", faulted.body);
    assert_eq!(faulted.header("retry-after"), Some("7"));
    browser.click("#control-refresh");
    let row = browser.wait_for("the rule fired once", |b| {
        text_now(b, "#faults tr[data-rule] .fired").filter(|t| t.contains("spent"))
    });
    assert!(row.starts_with('1'), "{row}");
    assert_eq!(control(&app, "/faults")["data"][0]["fired"], 1);
    let first = rule["id"].as_u64().unwrap_or_default();
    browser.click(&format!("#faults button[data-remove=\"{first}\"]"));
    until(&browser, &app, "the rule removed", "/faults", |f| {
        f["data"].as_array().is_some_and(|a| a.is_empty())
    });

    // The delay and connection effects, a probability and the largest seed, unrounded.
    browser.type_into("#fault-route", "");
    browser.type_into("#fault-tenant", "");
    browser.type_into("#fault-times", "");
    browser.type_into("#fault-status", "");
    browser.type_into("#fault-retry-after", "");
    browser.type_into("#fault-sandbox", "suite-2");
    browser.type_into("#fault-probability", "0.5");
    browser.type_into("#fault-seed", "18446744073709551615");
    browser.click("#fault-delay-kind option[value=\"lognormal\"]");
    browser.type_into("#fault-median", "100");
    browser.type_into("#fault-sigma", "0.5");
    browser.click("#fault-connection option[value=\"truncate\"]");
    browser.click("#fault-add");
    let rules = until(&browser, &app, "the second rule", "/faults", |f| {
        f["data"].as_array().is_some_and(|a| a.len() == 1)
    });
    let rule = &rules["data"][0];
    assert_eq!(rule["sandbox"], "suite-2");
    assert_eq!(rule["probability"], 0.5);
    assert_eq!(
        rule["delay"],
        json!({"lognormal": {"median_ms": 100, "sigma": 0.5}})
    );
    assert_eq!(rule["connection"], "truncate");
    assert_eq!(rule["seed"].as_u64(), Some(u64::MAX));
    let shown = browser.wait_for("the seed in the list", |b| text_now(b, "#faults code.seed"));
    assert_eq!(
        shown,
        u64::MAX.to_string(),
        "the page shows the seed as it is"
    );
    browser.click("#fault-delay-kind option[value=\"uniform\"]");
    browser.type_into("#fault-uniform-low", "10");
    browser.type_into("#fault-uniform-high", "20");
    browser.click("#fault-connection option[value=\"\"]");
    browser.click("#fault-add");
    let rules = until(&browser, &app, "the third rule", "/faults", |f| {
        f["data"].as_array().is_some_and(|a| a.len() == 2)
    });
    assert_eq!(rules["data"][1]["delay"], json!({"uniform_ms": [10, 20]}));
    // The API's refusal is shown next to the form and in the status line.
    browser.click("#fault-delay-kind option[value=\"\"]");
    browser.click("#fault-add");
    let refused = browser.wait_for("the API's refusal", |b| {
        text_now(b, "#fault-add-error").filter(|t| !t.is_empty())
    });
    assert!(refused.contains("effect"), "{refused}");
    let said = text_now(&browser, "#status .error").unwrap_or_default();
    assert!(
        said.contains("effect"),
        "the status line says it too: {said}"
    );
    browser.click("#faults-clear");
    until(&browser, &app, "every rule removed", "/faults", |f| {
        f["data"].as_array().is_some_and(|a| a.is_empty())
    });

    // A rule that faults the page's own native call for the faces' cards: the error is in the
    // status line, and the panel, which needs only the control plane, still removes the rule.
    let r = app.post("/__parlor/faults").admin().json(&json!({
        "face": "native", "route": "/parlor/v1/faces", "status": 500
    }));
    assert_eq!(r.status, 201, "{:?}", r.body);
    let rule = r.body["id"].as_u64().unwrap_or_default();
    browser.click("#nav a[href=\"#users\"]");
    browser.element("#users");
    browser.click("#nav a[href=\"#stand-in\"]");
    browser.wait_for("the faces' error in the status line", |b| {
        text_now(b, "#status .error").filter(|t| !t.is_empty())
    });
    // Drawn afresh, unchanged tables included.
    browser.wait_for("the snapshots' table drawn again", |b| {
        text_now(b, "#snapshots tbody").filter(|t| t.contains("No snapshots"))
    });
    browser.click(&format!("#faults button[data-remove=\"{rule}\"]"));
    until(&browser, &app, "the native rule removed", "/faults", |f| {
        f["data"].as_array().is_some_and(|a| a.is_empty())
    });
    browser.run("window.confirm = () => true; return null;");

    // The journal: a typo'd path, found by its filters, with its near misses.
    let missed = app
        .get("/v1/messaging/conversatons")
        .header("x-api-key", "demo-respondent-key")
        .header("x-api-secret", "demo-respondent-secret")
        .send();
    assert_eq!(missed.status, 404);
    browser.click("#journal-face option[value=\"respondent\"]");
    browser.type_into("#journal-path", "/v1/messaging/*");
    browser.click("#journal-apply");
    let id = browser.wait_for("the typo in the journal", |b| {
        let row = text_now(b, "#journal tr[data-entry]")?;
        row.contains("/v1/messaging/conversatons").then(|| {
            b.run("return document.querySelector('#journal tr[data-entry]').dataset.entry;")
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    });
    let rows = browser
        .run("return [...document.querySelectorAll('#journal tr[data-entry]')].map((r) => r.dataset.status);");
    assert_eq!(
        rows,
        json!(["404", "503"]),
        "the 404 and the faulted call, nothing else"
    );
    browser.click(&format!("#journal button[data-open=\"{id}\"]"));
    let detail = browser.wait_for("the entry's detail", |b| {
        text_now(b, "#journal-detail .near-misses")
    });
    assert!(detail.contains("/v1/messaging/conversations"), "{detail}");
    let request = text_now(&browser, "#journal-detail .journal-request").unwrap_or_default();
    assert!(
        request.contains("x-api-key") && request.contains("***"),
        "{request}"
    );
    assert!(!request.contains("demo-respondent-secret"), "{request}");
    let response = text_now(&browser, "#journal-detail .journal-response").unwrap_or_default();
    assert!(response.contains("404"), "{response}");

    // Verify: the page's count is the API's.
    browser.click("#journal-verify");
    let counted = browser.wait_for("the count", |b| {
        text_now(b, "#journal-count").filter(|t| !t.is_empty())
    });
    let expected =
        control(&app, "/journal/count?face=respondent&path=/v1/messaging/*")["count"].clone();
    assert_eq!(expected, 2);
    assert!(
        counted.starts_with("2 recorded requests match"),
        "{counted}"
    );
    browser.set_window_size(1280, 1300);
    browser.run("document.querySelector('#control-journal').scrollIntoView(); return null;");
    browser.screenshot(&artifacts().join("admin-stand-in-control.png"));
    browser.set_window_size(1280, 900);

    // The HAR download: the filtered entries as HAR 1.2.
    browser.click("#journal-har");
    let har_file = browser.downloads().join("parlor-journal.har");
    let started = Instant::now();
    let har: Value = loop {
        let done = std::fs::read_to_string(&har_file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        if let Some(har) = done {
            break har;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no HAR downloaded to {}",
            har_file.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 2, "the filter's entries: {har}");
    assert!(entries[1]["request"]["url"]
        .as_str()
        .is_some_and(|u| u.ends_with("/v1/messaging/conversatons")));
    assert_eq!(entries[1]["response"]["status"], 404);

    // Clear: nothing left, the page says so.
    browser.click("#journal-clear");
    browser.wait_for("the journal cleared", |b| {
        text_now(b, "#status").filter(|t| t.contains("cleared"))
    });
    assert_eq!(control(&app, "/journal/count?face=respondent")["count"], 0);
    no_error(&browser, "the journal");
}

#[test]
fn the_panel_is_absent_for_a_tenant_admin_and_on_a_clinics_server() {
    let Some(browser) = browser("stand-in panel absence") else {
        return;
    };
    let absent = |b: &Browser| {
        b.click("#nav a[href=\"#stand-in\"]");
        b.wait_for("the stand-in view's control plane decided", |b| {
            let state = b.run(
                "const p = document.querySelector('#control-plane-place'); return p ? p.dataset.state || null : null;",
            );
            state.as_str().map(str::to_string)
        })
    };

    // A stand-in, but the demo clinic's admin: the faces' cards, no control plane.
    let demo = spawn_demo();
    browser.goto(&demo.url("/admin"));
    browser.sign_in("admin", "admin-demo-password");
    assert_eq!(absent(&browser), "absent");
    assert!(
        browser.text("#curl-mdlive").is_some(),
        "the faces' cards are shown"
    );
    assert!(browser.find("#control-plane").is_none());
    no_error(&browser, "the tenant admin's stand-in view");
    browser.click("#sign-out");
    browser.element("#signin-username");

    // A clinic's server: the server administrator, no control plane there at all.
    let clinic = spawn_app();
    clinic.create_tenant("Clinic");
    sign_in_with_token(&browser, &clinic);
    assert_eq!(absent(&browser), "absent");
    assert!(browser.find("#control-plane").is_none());
    no_error(&browser, "the clinic's stand-in view");

    // The same server administrator on a stand-in has it.
    browser.click("#sign-out");
    browser.element("#signin-username");
    sign_in_with_token(&browser, &demo);
    assert_eq!(absent(&browser), "shown");
}

//! E-mail notices of new messages, against a local SMTP sink (a small SMTP server on 127.0.0.1,
//! written here, that records MAIL FROM, RCPT TO and DATA). "Gets none" is shown without
//! waiting on a clock: after the case under test, a message to a *probe* user follows; notices
//! go out in the order users fell due, one at a time, so once the probe's arrived every
//! earlier one would have.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parlor::config::Settings;
use serde_json::json;

use crate::helpers::{spawn_telling_notices, TestApp};

const FROM: &str = "notices@riverside.example";
const CLINIC: &str = "Riverside Family Clinic";
const PUBLIC_URL: &str = "https://messages.riverside.example";
const DOCTOR: &str = "Dr. Orla Quennell";
const SECRET_TEXT: &str = "Your biopsy came back benign";

/// One e-mail the sink received.
#[derive(Clone, Debug)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let log = mails.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || session(stream, &log));
            }
        });
        Sink { port, mails }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits (up to 30 s) for a mail to `address`; returns every mail received by then.
    fn wait_for(&self, address: &str) -> Vec<Mail> {
        let start = Instant::now();
        loop {
            let mails = self.mails.lock().unwrap().clone();
            if mails.iter().any(|m| m.to.iter().any(|t| t == address)) {
                return mails;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no mail to {address}; received {mails:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One SMTP session: no extensions offered (no STARTTLS, no AUTH), every command accepted.
fn session(stream: TcpStream, log: &Mutex<Vec<Mail>>) {
    let mut out = stream.try_clone().unwrap();
    let mut lines = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes()).is_ok();
    if !reply("220 sink ESMTP") {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let arg = |prefix: &str| {
            line[prefix.len()..]
                .trim()
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or("")
                .to_string()
        };
        let ok = if upper.starts_with("MAIL FROM:") {
            from = arg("MAIL FROM:");
            reply("250 OK")
        } else if upper.starts_with("RCPT TO:") {
            to.push(arg("RCPT TO:"));
            reply("250 OK")
        } else if upper.starts_with("DATA") {
            reply("354 go on");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if lines.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            log.lock().unwrap().push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            reply("250 queued")
        } else if upper.starts_with("QUIT") {
            reply("221 bye");
            return;
        } else {
            reply("250 sink")
        };
        if !ok {
            return;
        }
    }
}

/// A server sending notices to `sink` after `delay` seconds.
fn with_notices(sink: &Sink, delay: u32) -> TestApp {
    let (app, on) = spawn_telling_notices(|s| {
        s.smtp_url = Some(sink.url());
        s.smtp_from = Some(format!("{CLINIC} <{FROM}>"));
        s.public_url = Some(PUBLIC_URL.into());
        s.notice_delay_seconds = delay;
    });
    assert!(on, "notices are on with smtp_url");
    app
}

/// A clinic with a provider; returns the tenant and the provider's id.
fn clinic(app: &TestApp) -> (i64, i64) {
    let tenant = app.create_tenant(CLINIC);
    let provider = app.create_user(
        tenant,
        json!({ "role": "provider", "display_name": DOCTOR, "email": "orla@riverside.example" }),
    )["id"]
        .as_i64()
        .unwrap();
    (tenant, provider)
}

fn patient(app: &TestApp, tenant: i64, name: &str, email: Option<&str>) -> i64 {
    let mut body = json!({ "role": "patient", "display_name": name });
    if let Some(e) = email {
        body["email"] = json!(e);
    }
    app.create_user(tenant, body)["id"].as_i64().unwrap()
}

fn conversation(app: &TestApp, tenant: i64, users: &[i64]) -> i64 {
    app.create_conversation(tenant, users)["id"]
        .as_i64()
        .unwrap()
}

/// A message from the provider to a new patient with an address, whose notice is the probe.
fn probe(app: &TestApp, tenant: i64, provider: i64) -> &'static str {
    const PROBE: &str = "probe@patients.example";
    let p = patient(app, tenant, "Probe Patient", Some(PROBE));
    let conv = conversation(app, tenant, &[provider, p]);
    app.send_as(tenant, conv, provider, "probe");
    PROBE
}

fn to(mails: &[Mail], address: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .cloned()
        .collect()
}

#[test]
fn an_unread_message_gives_one_notice_with_the_clinic_and_link_only() {
    let sink = Sink::start();
    let app = with_notices(&sink, 1);
    let (tenant, provider) = clinic(&app);
    let rosa = patient(&app, tenant, "Rosa Patient", Some("rosa@patients.example"));
    let silent = patient(&app, tenant, "No Address", None);
    let conv = conversation(&app, tenant, &[provider, rosa, silent]);
    app.send_as(tenant, conv, provider, SECRET_TEXT);

    let mails = sink.wait_for("rosa@patients.example");
    let mine = to(&mails, "rosa@patients.example");
    assert_eq!(mine.len(), 1, "{mails:?}");
    let mail = &mine[0];
    assert_eq!(mail.from, FROM);
    assert_eq!(mail.to, vec!["rosa@patients.example".to_string()]);
    assert!(
        mail.data.contains("Subject: New secure message"),
        "{}",
        mail.data
    );
    assert!(
        mail.data
            .contains(&format!("You have a new secure message from {CLINIC}.")),
        "{}",
        mail.data
    );
    assert!(
        mail.data
            .contains(&format!("Sign in to read it: {PUBLIC_URL}/app/")),
        "{}",
        mail.data
    );
    assert!(!mail.data.contains("biopsy"), "{}", mail.data);
    assert!(!mail.data.contains("Quennell"), "{}", mail.data);
    assert!(!mail.data.contains("Orla"), "{}", mail.data);

    // The sender and the patient without an address get none.
    let probe = probe(&app, tenant, provider);
    let mails = sink.wait_for(probe);
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(to(&mails, "orla@riverside.example").is_empty(), "{mails:?}");
}

#[test]
fn a_patient_who_chose_spanish_gets_the_notice_in_spanish() {
    let sink = Sink::start();
    let app = with_notices(&sink, 1);
    let (tenant, provider) = clinic(&app);
    let lucia = patient(
        &app,
        tenant,
        "Lucía Patient",
        Some("lucia@patients.example"),
    );
    let r = app
        .patch(&format!("/parlor/v1/users/{lucia}"))
        .admin()
        .tenant(tenant)
        .json(&json!({ "language": "es" }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let conv = conversation(&app, tenant, &[provider, lucia]);
    app.send_as(tenant, conv, provider, SECRET_TEXT);

    let mails = sink.wait_for("lucia@patients.example");
    let mine = to(&mails, "lucia@patients.example");
    assert_eq!(mine.len(), 1, "{mails:?}");
    let data = &mine[0].data;
    assert!(data.contains("Subject: Nuevo mensaje seguro"), "{data}");
    assert!(
        data.contains(&format!("Tiene un nuevo mensaje seguro de {CLINIC}.")),
        "{data}"
    );
    assert!(!data.contains("biopsy"), "{data}");
}

#[test]
fn a_patient_who_reads_within_the_delay_gets_none() {
    let sink = Sink::start();
    let app = with_notices(&sink, 3);
    let (tenant, provider) = clinic(&app);
    let rosa = patient(&app, tenant, "Rosa Patient", Some("rosa@patients.example"));
    let conv = conversation(&app, tenant, &[provider, rosa]);
    app.send_as(tenant, conv, provider, SECRET_TEXT);
    let r = app
        .post(&format!("/parlor/v1/conversations/{conv}/read"))
        .admin()
        .tenant(tenant)
        .json(&json!({ "as": rosa }));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.unread(tenant, conv, rosa), 0);

    let probe = probe(&app, tenant, provider);
    let mails = sink.wait_for(probe);
    assert!(to(&mails, "rosa@patients.example").is_empty(), "{mails:?}");
    assert_eq!(mails.len(), 1, "{mails:?}");
}

#[test]
fn three_messages_within_the_delay_make_one_notice() {
    let sink = Sink::start();
    let app = with_notices(&sink, 3);
    let (tenant, provider) = clinic(&app);
    let rosa = patient(&app, tenant, "Rosa Patient", Some("rosa@patients.example"));
    let conv = conversation(&app, tenant, &[provider, rosa]);
    for text in ["one", "two", "three"] {
        app.send_as(tenant, conv, provider, text);
    }
    let probe = probe(&app, tenant, provider);
    let mails = sink.wait_for(probe);
    assert_eq!(to(&mails, "rosa@patients.example").len(), 1, "{mails:?}");
    assert_eq!(mails.len(), 2, "{mails:?}");
}

#[test]
fn without_smtp_url_there_are_no_notices() {
    let (app, on) = spawn_telling_notices(|_| {});
    assert!(!on);
    let (tenant, provider) = clinic(&app);
    let rosa = patient(&app, tenant, "Rosa Patient", Some("rosa@patients.example"));
    let conv = conversation(&app, tenant, &[provider, rosa]);
    app.send_as(tenant, conv, provider, SECRET_TEXT);
    assert_eq!(app.unread(tenant, conv, rosa), 1);
}

#[test]
fn start_refuses_smtp_url_without_a_from_address() {
    let mut settings = Settings {
        smtp_url: Some("smtp://127.0.0.1:2525".into()),
        ..Settings::default()
    };
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("smtp_from"), "{err}");
    settings.smtp_from = Some("not an address".into());
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("smtp_from"), "{err}");
    settings.smtp_from = Some(FROM.into());
    settings.smtp_url = Some("smtp://user:hunter2@127.0.0.1:2525?tls=maybe".into());
    let err = settings.validate().unwrap_err().to_string();
    assert!(
        err.contains("smtp_url") && !err.contains("hunter2"),
        "{err}"
    );
    settings.smtp_url = Some("smtp://127.0.0.1:2525".into());
    assert!(settings.validate().is_ok());
}

#[test]
fn notices_go_on_after_a_stand_in_restore_took_the_event_log_back() {
    let sink = Sink::start();
    let (app, on) = spawn_telling_notices(|s| {
        s.stand_in = true;
        s.smtp_url = Some(sink.url());
        s.smtp_from = Some(format!("{CLINIC} <{FROM}>"));
        s.public_url = Some(PUBLIC_URL.into());
        s.notice_delay_seconds = 1;
    });
    assert!(on);
    let (tenant, provider) = clinic(&app);
    let rosa = patient(&app, tenant, "Rosa Patient", Some("rosa@patients.example"));
    let conv = conversation(&app, tenant, &[provider, rosa]);
    let r = app
        .post("/__parlor/snapshots")
        .admin()
        .json(&json!({"name": "base"}));
    assert_eq!(r.status, 201, "{:?}", r.body);
    // Events the restore takes back: the notice's follower has seen seqs above the restored log.
    let early = probe(&app, tenant, provider);
    sink.wait_for(early);
    let r = app.post("/__parlor/snapshots/base/restore").admin().send();
    assert_eq!(r.status, 204, "{:?}", r.body);

    app.send_as(tenant, conv, provider, "after the restore");
    let mails = sink.wait_for("rosa@patients.example");
    assert_eq!(to(&mails, "rosa@patients.example").len(), 1, "{mails:?}");
}

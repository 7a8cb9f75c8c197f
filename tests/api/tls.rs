//! Built-in TLS (`tls_cert`, `tls_key`): HTTPS with a certificate made here and trusted through
//! a test CA, reloading on change, start-up errors naming the setting, HSTS and the `Secure`
//! cookie only with TLS, and the warning (log and admin banner) for a network bind without it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parlor::config::Settings;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SerialNumber,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, TestApp, ADMIN_TOKEN};
use crate::logs;

/// Long enough for any reload on a loaded machine; the test stops waiting as soon as it sees one.
const PATIENCE: Duration = Duration::from_secs(60);

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate for `localhost`: its PEM files' contents and its DER, to recognise it.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Parlor test CA");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn leaf(&self, name: &str, serial: u64) -> Leaf {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    fn client(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        // A resumed session shows the certificate of the session it resumes: every connection
        // here makes a full handshake, to see the certificate the server presents now.
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    }
}

fn files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("cert.pem"), dir.join("key.pem"))
}

fn install(dir: &Path, leaf: &Leaf) {
    let (cert, key) = files(dir);
    std::fs::write(key, &leaf.key_pem).unwrap();
    std::fs::write(cert, &leaf.cert_pem).unwrap();
}

/// A server with built-in TLS on `bind`, serving `leaf` from files in `certs`.
fn spawn_tls(certs: &Path, leaf: &Leaf, bind: &str) -> (TestApp, SocketAddr) {
    install(certs, leaf);
    let (cert, key) = files(certs);
    let bind = bind.to_string();
    let app = spawn_with(move |s| {
        s.bind = bind;
        s.tls_cert = Some(cert);
        s.tls_key = Some(key);
    });
    let addr = app.base.trim_start_matches("http://").parse().unwrap();
    (app, addr)
}

/// An HTTPS exchange: the raw answer (head and body) and the certificate the server presented.
fn https(
    addr: SocketAddr,
    client: &Arc<ClientConfig>,
    request: &str,
) -> (String, CertificateDer<'static>) {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(Arc::clone(client), name).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes()).unwrap();
    tls.flush().unwrap();
    let answer = read_all(&mut tls);
    let presented = tls.conn.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    (String::from_utf8_lossy(&answer).into_owned(), presented)
}

/// Everything the other side sends until it closes (or the connection fails).
fn read_all(stream: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn get(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Connection: close\r\n\r\n"
    )
}

/// The value of header `name` in a raw answer.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn a_tls_client_calls_the_native_api_over_https_and_gets_hsts() {
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let leaf = ca.leaf("parlor-a", 1);
    let (_app, addr) = spawn_tls(certs.path(), &leaf, "127.0.0.1:0");

    let body = r#"{"name":"Over TLS"}"#;
    let request = format!(
        "POST /parlor/v1/tenants HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (answer, presented) = https(addr, &ca.client(), &request);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("Over TLS"), "{answer}");
    assert_eq!(presented, leaf.der);
    assert_eq!(
        header(&answer, "strict-transport-security"),
        Some("max-age=31536000"),
        "{answer}"
    );

    let (answer, _) = https(addr, &ca.client(), &get("/parlor/v1/tenants"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Over TLS"), "{answer}");
    // Errors too.
    let (answer, _) = https(addr, &ca.client(), &get("/no/such/route"));
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(header(&answer, "strict-transport-security").is_some());
}

#[test]
fn plain_http_to_the_tls_port_gets_no_answer_in_clear() {
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let (_app, addr) = spawn_tls(certs.path(), &ca.leaf("parlor-a", 1), "127.0.0.1:0");

    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.write_all(get("/healthz").as_bytes()).unwrap();
    let answer = String::from_utf8_lossy(&read_all(&mut tcp)).into_owned();
    assert!(!answer.contains("HTTP/"), "{answer:?}");
    assert!(!answer.contains("ok"), "{answer:?}");
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    logs::capture();
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let first = ca.leaf("parlor-first", 1);
    let (_app, addr) = spawn_tls(certs.path(), &first, "127.0.0.1:0");
    let client = ca.client();
    assert_eq!(https(addr, &client, &get("/healthz")).1, first.der);

    let renewed = ca.leaf("parlor-renewed", 2);
    install(certs.path(), &renewed);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (answer, presented) = https(addr, &client, &get("/healthz"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        if presented == renewed.der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was never served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A broken renewal: a warning, and the renewed certificate stays in use.
    let (cert, _) = files(certs.path());
    std::fs::write(&cert, "this is not a certificate\n").unwrap();
    let cert_name = cert.display().to_string();
    let deadline = Instant::now() + PATIENCE;
    while logs::count(&["WARN", "tls_cert", &cert_name]) == 0 {
        assert!(
            Instant::now() < deadline,
            "no warning about the broken file"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (answer, presented) = https(addr, &client, &get("/parlor/v1/tenants"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(presented, renewed.der);
}

/// What `build_app` answers for these settings: `Err(message)`, or "started".
fn start(dir: &Path, configure: impl FnOnce(&mut Settings)) -> String {
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        db: dir.join("parlor.db"),
        workers: 1,
        read_pool_size: 2,
        ..Settings::default()
    };
    configure(&mut settings);
    actix_web::rt::System::new().block_on(async move {
        match parlor::build_app(settings, None).await {
            Ok(running) => {
                // The server handles its stop command only while it is being polled.
                let handle = running.server.handle();
                actix_web::rt::spawn(running.server);
                handle.stop(false).await;
                "started".to_string()
            }
            Err(e) => e.to_string(),
        }
    })
}

#[test]
fn a_missing_or_bad_tls_setting_stops_the_start_naming_it() {
    let ca = Ca::new();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = files(dir.path());
    install(dir.path(), &ca.leaf("parlor-a", 1));
    let other = ca.leaf("parlor-b", 2);
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n").unwrap();
    let missing = dir.path().join("missing.pem");

    let cases: Vec<(&str, Option<&Path>, Option<&Path>, &str)> = vec![
        ("only the certificate", Some(&cert), None, "tls_key"),
        ("only the key", None, Some(&key), "tls_cert"),
        (
            "a missing certificate",
            Some(&missing),
            Some(&key),
            "tls_cert",
        ),
        ("a missing key", Some(&cert), Some(&missing), "tls_key"),
        (
            "an invalid certificate",
            Some(&garbage),
            Some(&key),
            "tls_cert",
        ),
        (
            "a key file holding a certificate",
            Some(&cert),
            Some(&cert),
            "tls_key",
        ),
        (
            "another certificate's key",
            Some(&cert),
            Some(&other_key),
            "tls_key",
        ),
    ];
    for (case, cert, key, setting) in cases {
        let db = tempfile::tempdir().unwrap();
        let answer = start(db.path(), |s| {
            s.tls_cert = cert.map(Path::to_path_buf);
            s.tls_key = key.map(Path::to_path_buf);
        });
        assert!(answer.contains(setting), "{case}: {answer}");
        // Refused before anything else: not even the database file was made.
        assert!(!db.path().join("parlor.db").exists(), "{case}: {answer}");
    }
    assert_eq!(
        start(dir.path(), |s| {
            s.tls_cert = Some(cert.clone());
            s.tls_key = Some(key.clone());
        }),
        "started"
    );
}

#[test]
fn the_settings_come_from_the_environment_too_and_need_each_other() {
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let s = Settings::from_sources(
        "",
        &env(&[("PARLOR_TLS_CERT", "/c.pem"), ("PARLOR_TLS_KEY", "/k.pem")]),
    )
    .unwrap();
    assert_eq!(s.tls_cert, Some(PathBuf::from("/c.pem")));
    assert_eq!(s.tls_key, Some(PathBuf::from("/k.pem")));
    let err = Settings::from_sources("", &env(&[("PARLOR_TLS_CERT", "/c.pem")])).unwrap_err();
    assert!(err.to_string().contains("tls_key"), "{err}");
}

fn sign_in_cookie_over_https(
    addr: SocketAddr,
    client: &Arc<ClientConfig>,
    forwarded: &str,
) -> String {
    let body = json!({ "token": ADMIN_TOKEN }).to_string();
    let request = format!(
        "POST /parlor/v1/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         {forwarded}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (answer, _) = https(addr, client, &request);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    header(&answer, "set-cookie").unwrap().to_string()
}

#[test]
fn hsts_and_the_secure_cookie_come_with_tls_only() {
    let plain = spawn_app();
    let res = plain.get("/healthz").send();
    assert_eq!(res.status, 200);
    assert_eq!(res.header("strict-transport-security"), None);
    let res = plain
        .post("/parlor/v1/session")
        .json(&json!({ "token": ADMIN_TOKEN }));
    assert_eq!(res.status, 200, "{:?}", res.body);
    let cookie = res.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let (_app, addr) = spawn_tls(certs.path(), &ca.leaf("parlor-a", 1), "127.0.0.1:0");
    let cookie = sign_in_cookie_over_https(addr, &ca.client(), "");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    // A client's own claim of plain HTTP does not take it away.
    let cookie = sign_in_cookie_over_https(addr, &ca.client(), "X-Forwarded-Proto: http\r\n");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

fn transport(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[test]
fn a_network_bind_without_tls_warns_in_the_log_and_on_the_admin_page() {
    logs::capture();
    let exposed = spawn_with(|s| s.bind = "0.0.0.0:0".into());
    let addr = exposed.base.trim_start_matches("http://").to_string();
    assert_eq!(logs::count(&["WARN", &addr, "without TLS"]), 1);
    let res = exposed.get("/admin/transport").send();
    assert_eq!(res.status, 200);
    assert_eq!(res.body["tls"], false);
    assert_eq!(res.body["loopback"], false);
    let warning = res.body["warning"].as_str().unwrap();
    assert!(
        warning.contains("without TLS") && warning.contains("tls_cert"),
        "{warning}"
    );

    // Loopback: nobody else can listen in.
    let local = spawn_app();
    let addr = local.base.trim_start_matches("http://").to_string();
    assert_eq!(logs::count(&[&addr, "without TLS"]), 0);
    let res = local.get("/admin/transport").send();
    assert_eq!(res.body["loopback"], true);
    assert_eq!(res.body["warning"], Value::Null);

    // TLS on the network: no warning either.
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    let (_app, addr) = spawn_tls(certs.path(), &ca.leaf("parlor-a", 1), "0.0.0.0:0");
    assert_eq!(logs::count(&[&addr.to_string(), "without TLS"]), 0);
    let (answer, _) = https(addr, &ca.client(), &get("/admin/transport"));
    let body = transport(&answer);
    assert_eq!(body["tls"], true, "{answer}");
    assert_eq!(body["warning"], Value::Null, "{answer}");
}

#[test]
fn the_admin_page_shows_the_transport_warning() {
    let app = spawn_app();
    let script = ureq::get(&app.url("/admin/app.js"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        script.contains("/admin/transport") && script.contains("  showTransportWarning();"),
        "the page never asks"
    );
    let page = ureq::get(&app.url("/admin"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("id=\"transport-warning\""), "no banner");
}

#[test]
fn the_time_limits_hold_for_tls_connections_too() {
    let ca = Ca::new();
    let certs = tempfile::tempdir().unwrap();
    install(certs.path(), &ca.leaf("parlor-a", 1));
    let (cert, key) = files(certs.path());
    let app = spawn_with(move |s| {
        s.tls_cert = Some(cert);
        s.tls_key = Some(key);
        s.body_read_timeout_seconds = 1;
    });
    let addr: SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();

    // A client that connects and never starts the handshake is let go, not kept forever.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 64];
    match idle.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the silent connection was kept open: {other:?}"),
    }

    // A body that stops arriving gets its 408 over TLS as over plain HTTP.
    let request = format!(
        "POST /parlor/v1/tenants HTTP/1.1\r\nHost: localhost\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"na"
    );
    let (answer, _) = https(addr, &ca.client(), &request);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(header(&answer, "strict-transport-security").is_some());
}

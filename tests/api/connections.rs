//! Connections as hostile or careless clients make them, over raw sockets (an HTTP client
//! library would hide every one of these): upgrade requests, stalled bodies, HEAD, pipelines
//! with a malformed request in them, and what the log says about them.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{spawn_demo, spawn_with, TestApp};

/// The demo's bearer token for the Riverside clinic's admin.
pub const CLINIC_TOKEN: &str = "demo-clinic-admin-token";

/// One response as it came off the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// How the server left the connection after its last response.
#[derive(Debug, PartialEq)]
pub enum End {
    /// An orderly close.
    Closed,
    /// A TCP reset: whatever was still in flight may be lost.
    Reset,
    /// Still open, with nothing more to say.
    Open,
}

/// What a connection received: the responses, how it ended, and any bytes that are not a
/// response (a body where none belonged, say).
#[derive(Debug)]
pub struct Exchange {
    pub responses: Vec<Raw>,
    pub end: End,
    pub stray: Vec<u8>,
}

impl Exchange {
    pub fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|r| r.status).collect()
    }
}

pub fn addr(app: &TestApp) -> SocketAddr {
    app.base
        .trim_start_matches("http://")
        .parse()
        .expect("socket address")
}

/// A request in wire format with `Host` and the given extra header lines.
pub fn request(method: &str, path: &str, headers: &[&str]) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: parlor.test\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text
}

/// How long `receive` waits for answers still missing. A busy machine (the whole suite runs at
/// once) can take well over a second to answer; only silence after every answer is complete is
/// judged with the caller's shorter `quiet`.
const PATIENCE: Duration = Duration::from_secs(15);

/// Reads from `stream` until the server closes, resets, or is silent for `quiet` once every
/// request in `methods` has a complete answer (`PATIENCE` before that); then parses the
/// responses to requests made with `methods`, in order.
pub fn receive(stream: &mut TcpStream, methods: &[&str], quiet: Duration) -> Exchange {
    let mut data = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let end = loop {
        let wait = if answered_all(&data, methods) {
            quiet
        } else {
            quiet.max(PATIENCE)
        };
        stream.set_read_timeout(Some(wait)).expect("read timeout");
        match stream.read(&mut chunk) {
            Ok(0) => break End::Closed,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break End::Reset,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break End::Open
            }
            Err(e) => panic!("read failed: {e}"),
        }
    };
    let (responses, stray) = parse(&data, methods);
    Exchange {
        responses,
        end,
        stray,
    }
}

/// Sends `bytes` in one write and receives as `receive` does.
pub fn exchange(addr: SocketAddr, bytes: &[u8], methods: &[&str], quiet: Duration) -> Exchange {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(bytes).expect("send");
    receive(&mut stream, methods, quiet)
}

/// Whether `data` holds a whole answer to each of `methods`.
fn answered_all(data: &[u8], methods: &[&str]) -> bool {
    let (responses, _) = parse(data, methods);
    responses.len() == methods.len()
        && responses.iter().zip(methods).all(|(r, method)| {
            let declared = r
                .header("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            *method == "HEAD" || r.body.len() == declared
        })
}

fn parse(mut data: &[u8], methods: &[&str]) -> (Vec<Raw>, Vec<u8>) {
    let mut responses = Vec::new();
    for method in methods {
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&data[..end]).to_string();
        let mut lines = head.split("\r\n");
        let Some(status) = lines
            .next()
            .and_then(|l| l.strip_prefix("HTTP/1.1 "))
            .and_then(|l| l.get(..3))
            .and_then(|s| s.parse().ok())
        else {
            break;
        };
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let length = if *method == "HEAD" {
            0
        } else {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        let body_end = (end + 4 + length).min(data.len());
        responses.push(Raw {
            status,
            headers,
            body: data[end + 4..body_end].to_vec(),
        });
        data = &data[body_end..];
    }
    (responses, data.to_vec())
}

const QUIET: Duration = Duration::from_secs(5);

#[test]
fn a_request_asking_for_an_upgrade_gets_an_ordinary_answer_at_once() {
    let app = spawn_demo();
    let addr = addr(&app);
    let login = |extra: &[&str]| {
        let mut headers = vec!["Content-Type: application/json", "Content-Length: 2"];
        headers.extend_from_slice(extra);
        format!("{}{{}}", request("POST", "/parlor/v1/auth/login", &headers))
    };
    for extra in [
        &["Upgrade: websocket"][..],
        &["Connection: Upgrade", "Upgrade: websocket"],
        &["Connection: Upgrade"],
        &["Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings"],
    ] {
        let got = exchange(addr, login(extra).as_bytes(), &["POST"], QUIET);
        assert_eq!(got.statuses(), [400], "{extra:?}: {got:?}");
        let answer = &got.responses[0];
        assert_eq!(answer.json()["error"]["code"], "invalid", "{extra:?}");
        assert_eq!(
            answer.header("connection"),
            Some("close"),
            "{extra:?}: an upgrade that is not made is not announced"
        );
        assert_eq!(got.end, End::Closed, "{extra:?}");
    }
    // Without a body, too.
    let got = exchange(
        addr,
        request(
            "GET",
            "/healthz",
            &["Connection: Upgrade", "Upgrade: websocket"],
        )
        .as_bytes(),
        &["GET"],
        QUIET,
    );
    assert_eq!(got.statuses(), [200], "{got:?}");
    assert_eq!(got.responses[0].json()["status"], "ok");
}

fn spawn_with_body_limits() -> TestApp {
    spawn_with(|s| {
        s.demo = true;
        s.body_read_timeout_seconds = 1;
        s.body_timeout_seconds = 3;
    })
}

#[test]
fn a_body_that_stops_arriving_gets_408_and_the_connection_closes() {
    let app = spawn_with_body_limits();
    let stalled = format!(
        "{}{{\"te",
        request(
            "POST",
            "/parlor/v1/auth/login",
            &[
                "Content-Type: application/json",
                "Content-Length: 100",
                "X-Request-Id: stalled-upload-1"
            ]
        )
    );
    let got = exchange(addr(&app), stalled.as_bytes(), &["POST"], QUIET);
    assert_eq!(got.statuses(), [408], "{got:?}");
    assert_eq!(got.responses[0].header("connection"), Some("close"));
    // Like every answer, it names the request it answers.
    assert_eq!(
        got.responses[0].header("x-request-id"),
        Some("stalled-upload-1")
    );
    assert!(
        String::from_utf8_lossy(&got.responses[0].body).contains("did not arrive in time"),
        "{got:?}"
    );
    assert_ne!(got.end, End::Open, "the connection must not stay open");
}

#[test]
fn a_body_that_trickles_past_the_overall_limit_gets_408() {
    let app = spawn_with_body_limits();
    let mut stream = TcpStream::connect(addr(&app)).unwrap();
    stream
        .write_all(
            request(
                "POST",
                "/parlor/v1/auth/login",
                &["Content-Type: application/json", "Content-Length: 100"],
            )
            .as_bytes(),
        )
        .unwrap();
    // One byte every 400 ms: never a second between reads, but 100 bytes would take 40 s.
    let mut writer = stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..25 {
            if writer.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(400));
        }
    });
    let got = receive(&mut stream, &["POST"], Duration::from_secs(15));
    trickle.join().unwrap();
    assert_eq!(got.statuses(), [408], "{got:?}");
    assert_ne!(got.end, End::Open);
}

#[test]
fn a_body_in_pieces_within_the_limits_is_read_as_usual() {
    let app = spawn_with_body_limits();
    let mut stream = TcpStream::connect(addr(&app)).unwrap();
    let body = br#"{"username":"admin","password":"nope"}"#;
    let head = request(
        "POST",
        "/parlor/v1/auth/login",
        &[
            "Content-Type: application/json",
            &format!("Content-Length: {}", body.len()),
        ],
    );
    stream.write_all(head.as_bytes()).unwrap();
    for piece in body.chunks(10) {
        std::thread::sleep(Duration::from_millis(300));
        stream.write_all(piece).unwrap();
    }
    let got = receive(&mut stream, &["POST"], Duration::from_secs(2));
    assert_eq!(got.responses.len(), 1, "{got:?}");
    assert_ne!(got.responses[0].status, 408, "{got:?}");
    assert_eq!(got.end, End::Open, "keep-alive continues");
}

/// Each path with the headers that authenticate it.
fn readable_paths() -> Vec<(&'static str, Vec<String>)> {
    vec![
        ("/healthz", vec![]),
        ("/readyz", vec![]),
        (
            "/parlor/v1/conversations",
            vec![format!("Authorization: Bearer {CLINIC_TOKEN}")],
        ),
        ("/admin", vec![]),
        ("/admin/app.js", vec![]),
        (
            "/v1/messaging/conversations",
            vec![
                "x-api-key: demo-respondent-key".into(),
                "x-api-secret: demo-respondent-secret".into(),
            ],
        ),
        (
            "/api/v1/pigeons/chat/conversations",
            vec![
                "Authorization: Bearer 1|demoPigeonsJohnDoeToken".into(),
                "X-PUBLIC-KEY: pk_demo_pigeons".into(),
            ],
        ),
    ]
}

#[test]
fn head_is_answered_wherever_get_is_with_the_get_headers_and_no_body() {
    let app = spawn_demo();
    let addr = addr(&app);
    for (path, headers) in readable_paths() {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let get = exchange(
            addr,
            request("GET", path, &headers).as_bytes(),
            &["GET"],
            Duration::from_millis(500),
        );
        assert_eq!(get.statuses(), [200], "GET {path}: {get:?}");
        let get = &get.responses[0];
        // HEAD, then a GET on the same connection: the HEAD must not carry a body.
        let both = format!(
            "{}{}",
            request("HEAD", path, &headers),
            request("GET", "/healthz", &[])
        );
        let got = exchange(
            addr,
            both.as_bytes(),
            &["HEAD", "GET"],
            Duration::from_millis(500),
        );
        assert_eq!(got.statuses(), [200, 200], "HEAD {path}: {got:?}");
        let head = &got.responses[0];
        assert_eq!(
            head.header("content-length"),
            Some(get.body.len().to_string().as_str()),
            "HEAD {path} announces the GET's length"
        );
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "HEAD {path}"
        );
        assert_eq!(
            got.responses[1].json()["status"],
            "ok",
            "HEAD {path}: {got:?}"
        );
        assert!(got.stray.is_empty(), "HEAD {path}: {got:?}");
        assert_eq!(got.end, End::Open, "HEAD {path}");
    }
}

#[test]
fn head_with_a_matching_etag_gets_the_304_a_get_gets() {
    let app = spawn_demo();
    let auth = format!("Authorization: Bearer {CLINIC_TOKEN}");
    let list = "/parlor/v1/conversations";
    let first = exchange(
        addr(&app),
        request("GET", list, &[&auth]).as_bytes(),
        &["GET"],
        Duration::from_millis(500),
    );
    let etag = first.responses[0]
        .header("etag")
        .expect("an ETag")
        .to_string();
    let conditional = format!("If-None-Match: {etag}");
    let both = format!(
        "{}{}",
        request("HEAD", list, &[&auth, &conditional]),
        request("GET", "/healthz", &[])
    );
    let got = exchange(
        addr(&app),
        both.as_bytes(),
        &["HEAD", "GET"],
        Duration::from_millis(500),
    );
    assert_eq!(got.statuses(), [304, 200], "{got:?}");
    assert_eq!(got.responses[0].header("etag"), Some(etag.as_str()));
    assert_eq!(got.responses[0].header("content-length"), None, "{got:?}");
    assert!(got.stray.is_empty(), "{got:?}");
}

#[test]
fn pipelined_get_and_head_answers_stay_in_step() {
    let app = spawn_demo();
    let auth = format!("Authorization: Bearer {CLINIC_TOKEN}");
    let list = "/parlor/v1/conversations?limit=2";
    let expected = app.raw_get(list, &format!("Bearer {CLINIC_TOKEN}"));
    // A GET answered from the database is still running when the HEAD behind it is read.
    let methods = ["GET", "HEAD", "GET", "HEAD", "HEAD", "GET"];
    let pipeline: String = methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == 2 {
                request(m, "/healthz", &[])
            } else {
                request(m, list, &[&auth])
            }
        })
        .collect();
    let got = exchange(
        addr(&app),
        pipeline.as_bytes(),
        &methods,
        Duration::from_millis(800),
    );
    assert_eq!(got.statuses(), [200; 6], "{got:?}");
    assert!(got.stray.is_empty(), "bytes outside any response: {got:?}");
    for i in [0, 5] {
        assert_eq!(
            String::from_utf8_lossy(&got.responses[i].body),
            expected,
            "response {i}"
        );
    }
    for i in [1, 3, 4] {
        assert_eq!(
            got.responses[i].header("content-length"),
            Some(expected.len().to_string().as_str()),
            "response {i}"
        );
    }
    assert_eq!(got.end, End::Open);
}

#[test]
fn a_malformed_request_in_a_pipeline_gets_the_answer_it_gets_alone() {
    let app = spawn_demo();
    let addr = addr(&app);
    let auth = format!("Authorization: Bearer {CLINIC_TOKEN}");
    let oversized = request(
        "GET",
        "/healthz",
        &[&format!("X-Big: {}", "a".repeat(140_000))],
    );
    let bad_header = request("GET", "/healthz", &["Bad Header"]);
    let more = request("GET", "/healthz", &[]).repeat(10_000);
    let cases = [
        ("oversized head alone", oversized.clone(), vec![431]),
        (
            "oversized head after a GET",
            format!("{}{oversized}", request("GET", "/healthz", &[])),
            vec![200, 431],
        ),
        (
            "oversized head after a database read",
            format!(
                "{}{oversized}",
                request("GET", "/parlor/v1/conversations", &[&auth])
            ),
            vec![200, 431],
        ),
        (
            "malformed header followed by more requests",
            format!(
                "{}{bad_header}{more}",
                request("GET", "/parlor/v1/conversations", &[&auth])
            ),
            vec![200, 400],
        ),
    ];
    for (name, bytes, statuses) in cases {
        let got = exchange(addr, bytes.as_bytes(), &["GET"; 3], QUIET);
        assert_eq!(got.statuses(), statuses, "{name}: {got:?}");
        assert_eq!(got.end, End::Closed, "{name}: closed, not reset");
    }
}

/// A `parlor serve` process on a port of its own, its stderr collected line by line.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts `parlor serve --demo` with `env` added.
    pub fn start(env: &[(&str, &str)]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_parlor"))
            .arg("--db")
            .arg(dir.path().join("served.db"))
            .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .env_remove("PARLOR_DB")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start parlor");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = None;
        for line in stdout.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("Parlor is listening on http://") {
                addr = rest.split_whitespace().next().map(|a| a.parse().unwrap());
                break;
            }
        }
        // Keep reading: a server whose stdout is closed fails on its next line.
        std::thread::spawn(move || stdout.for_each(drop));
        let (tx, stderr) = mpsc::channel();
        let err = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Served {
            child,
            addr: addr.expect("the server says where it listens"),
            stderr,
            _dir: dir,
        }
    }

    /// The stderr lines written so far, waiting up to `patience` for one containing `until`.
    pub fn log_until(&self, until: &str, patience: Duration) -> Vec<String> {
        let deadline = Instant::now() + patience;
        let mut lines = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(until);
                    lines.push(line);
                    if found {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        while let Ok(line) = self.stderr.try_recv() {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn malformed_requests_are_summed_up_at_info_and_never_logged_as_errors() {
    let served = Served::start(&[]);
    let malformed = [
        request("GET", "/healthz", &["Bad Header"]),
        "G@T / HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
        "GET / HTTP/9.9\r\n\r\n".to_string(),
        request(
            "GET",
            "/healthz",
            &[&format!("X-Big: {}", "a".repeat(140_000))],
        ),
        request(
            "POST",
            "/healthz",
            &["Content-Length: 1", "Content-Length: 2"],
        ),
        "\u{1}\u{2}\u{3}garbage\r\n\r\n".to_string(),
    ];
    for round in 0..40 {
        let bytes = &malformed[round % malformed.len()];
        let got = exchange(served.addr, bytes.as_bytes(), &["GET"], QUIET);
        assert!(
            matches!(got.statuses().as_slice(), [400] | [431]),
            "{bytes:.60}: {got:?}"
        );
    }
    let log = served.log_until("parlor::clients", Duration::from_secs(10));
    let errors: Vec<&String> = log.iter().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "client mistakes logged as errors: {errors:#?}"
    );
    let summaries: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("parlor::clients"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary, at INFO: {log:#?}");
    assert!(summaries[0].contains("INFO"), "{}", summaries[0]);
}

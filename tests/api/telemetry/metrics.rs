//! `/metrics` on `metrics_bind`: Prometheus text that an independent parser reads (the
//! `prometheus-client` package from PyPI, the Prometheus project's own Python client, run by
//! python3; required in CI, `REQUIRE_PROMETHEUS_PARSER=1`), whose counters move by exactly the
//! traffic sent, labelled by route template, never by path; and never on the public port.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{get, Process};
use crate::helpers::python_check;

const ADMIN: &str = "Bearer parlor-demo-admin-token";

/// Parses Prometheus text with `prometheus_client.parser` and prints every sample.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = json.load(sys.stdin)["text"]
samples = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        samples.append({"type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(samples))
"#;

/// One scrape, as the parser read it.
struct Scrape(Vec<Value>);

impl Scrape {
    /// The value of the sample `name` whose labels include every one of `labels` (0 when there
    /// is none: a series appears with its first observation).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|s| s["name"] == name)
            .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .map(|s| s["value"].as_f64().unwrap())
            .sum()
    }

    fn label_values(&self, label: &str) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|s| s["labels"][label].as_str().map(str::to_string))
            .collect()
    }
}

/// Scrapes `url` and parses it; None (saying why) when the parser is missing and not required.
fn scrape(url: &str) -> Option<Scrape> {
    let (status, text) = get(url);
    assert_eq!(status, 200, "{text}");
    let required = std::env::var_os("REQUIRE_PROMETHEUS_PARSER").is_some();
    let (code, out, err) = python_check(
        PARSE,
        &json!({ "text": text }),
        "the Prometheus text parser (pip install prometheus-client)",
        required,
    )?;
    assert_eq!(
        code,
        Some(0),
        "the parser refused the metrics: {err}\n{text}"
    );
    Some(Scrape(serde_json::from_str(&out).unwrap()))
}

fn native(base: &str, method: &str, path: &str, body: Option<Value>) -> u16 {
    let req = ureq::request(method, &format!("{base}{path}"))
        .set("Authorization", ADMIN)
        .set("X-Parlor-Tenant", "1");
    let answer = match body {
        Some(body) => req.send_json(body),
        None => req.call(),
    };
    match answer {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

/// Scrapes until `ready` holds (what a background task records lands a moment later).
fn scrape_until(url: &str, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let scraped = scrape(url).expect("the parser ran before");
        if ready(&scraped) || Instant::now() > deadline {
            return scraped;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_count_each_request_under_its_route_template_on_a_port_of_their_own() {
    let server = Process::demo(&[("PARLOR_METRICS_BIND", "127.0.0.1:0")]);
    let metrics = server
        .metrics
        .clone()
        .expect("the banner names the metrics' address");
    assert_ne!(metrics, format!("{}/metrics", server.base));
    // The public port has no /metrics, whatever the credential.
    let on_public = ureq::get(&format!("{}/metrics", server.base))
        .set("Authorization", ADMIN)
        .call();
    assert!(
        matches!(on_public, Err(ureq::Error::Status(404, _))),
        "{on_public:?}"
    );
    let Some(before) = scrape(&metrics) else {
        server.stop();
        return;
    };
    // A webhook endpoint that records instead of sending: each send is a captured attempt.
    assert_eq!(
        native(
            &server.base,
            "POST",
            "/parlor/v1/webhooks",
            Some(json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"], "capture": true })),
        ),
        201
    );

    let conversation = ("route", "/parlor/v1/conversations/{conv}");
    let messages = ("route", "/parlor/v1/conversations/{conv}/messages");
    for id in [2, 3, 2, 3, 2] {
        let path = format!("/parlor/v1/conversations/{id}");
        assert_eq!(native(&server.base, "GET", &path, None), 200);
    }
    for n in 0..3 {
        let body = json!({ "as": 4, "body": format!("counted {n}") });
        let path = "/parlor/v1/conversations/2/messages";
        assert_eq!(native(&server.base, "POST", path, Some(body)), 201);
    }
    for path in ["/nowhere/12345", "/nowhere/67890"] {
        assert_eq!(get(&format!("{}{path}", server.base)).0, 404);
    }
    let respondent = ureq::get(&format!("{}/v1/messaging/conversations", server.base))
        .set("x-api-key", "demo-respondent-key")
        .set("x-api-secret", "demo-respondent-secret")
        .call()
        .expect("the Respondent face answers");
    assert_eq!(respondent.status(), 200);
    // An event stream, open while the metrics are read.
    let stream = open_event_stream(&server.base);

    let after = scrape_until(&metrics, |s| {
        s.value("parlor_webhook_attempts_total", &[("outcome", "captured")]) >= 3.0
    });
    let rose = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let got = [
        ("surface", "native"),
        conversation,
        ("method", "GET"),
        ("status", "2xx"),
    ];
    assert_eq!(rose("parlor_http_requests_total", &got), 5.0);
    assert_eq!(
        rose("parlor_http_request_duration_seconds_count", &got),
        5.0
    );
    let sent = [messages, ("method", "POST"), ("status", "2xx")];
    assert_eq!(rose("parlor_http_requests_total", &sent), 3.0);
    let unmatched = [("route", "unmatched"), ("status", "4xx")];
    assert_eq!(rose("parlor_http_requests_total", &unmatched), 2.0);
    assert_eq!(
        rose(
            "parlor_http_requests_total",
            &[
                ("surface", "respondent"),
                ("route", "/v1/messaging/conversations")
            ]
        ),
        1.0
    );
    // Routes are templates: no id, no unmatched path, ever becomes a label.
    for route in after.label_values("route") {
        assert!(
            !route.contains("nowhere") && !route.split('/').any(|s| s.parse::<i64>().is_ok()),
            "a path in a label: {route}"
        );
    }
    // The writer's side of the sends, the storage's and the streams' gauges.
    assert!(rose("parlor_writer_commands_total", &[]) >= 3.0);
    assert!(rose("parlor_writer_commits_total", &[("outcome", "committed")]) >= 1.0);
    assert!(rose("parlor_writer_batch_size_count", &[]) >= 1.0);
    assert!(rose("parlor_writer_commit_seconds_count", &[]) >= 1.0);
    assert!(after.value("parlor_wal_bytes", &[]) > 0.0);
    let pool = after.value("parlor_read_pool_connections", &[("state", "in_use")])
        + after.value("parlor_read_pool_connections", &[("state", "idle")]);
    assert!(pool >= 1.0, "{pool}");
    assert_eq!(after.value("parlor_event_streams_open", &[]), 1.0);
    assert!(rose("parlor_webhook_attempts_total", &[("outcome", "captured")]) >= 3.0);
    let commit = parlor::telemetry::COMMIT;
    assert_eq!(
        after.value("parlor_build_info", &[("commit", commit)]),
        1.0,
        "{:?}",
        after.label_values("commit")
    );
    drop(stream);
    server.stop();
}

/// `GET /parlor/v1/events` as the server admin, read until the stream says it is open.
fn open_event_stream(base: &str) -> std::net::TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        conn,
        "GET /parlor/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {ADMIN}\r\n\
         X-Parlor-Tenant: 1\r\n\r\n"
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains(": stream open") {
        let n = conn.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "the stream closed: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    conn
}

#[test]
fn metrics_bind_on_the_public_address_is_refused() {
    let e = parlor::config::Settings::from_sources(
        "bind = \"127.0.0.1:8080\"\nmetrics_bind = \"127.0.0.1:8080\"",
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("metrics_bind"), "{e}");
}

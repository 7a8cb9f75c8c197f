//! `spawn_app()`: a real Parlor server on an ephemeral port with its own temporary database,
//! plus a small blocking HTTP client for tests.

#![allow(dead_code)]

use std::sync::mpsc;

use parlor::config::Settings;
use parlor::service::Service;
use serde_json::Value;

pub const ADMIN_TOKEN: &str = "test-server-admin-token";

pub struct TestApp {
    pub base: String,
    pub service: Service,
    pub dir: tempfile::TempDir,
}

/// A server with an empty database; `ADMIN_TOKEN` is the server-admin token.
pub fn spawn_app() -> TestApp {
    spawn_with(|_| {})
}

/// A server loaded with the built-in demo data.
pub fn spawn_demo() -> TestApp {
    spawn_with(|s| s.demo = true)
}

pub fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_telling_notices(configure).0
}

/// A server like `spawn_with`, also telling whether its e-mail notices run.
pub fn spawn_telling_notices(configure: impl FnOnce(&mut Settings)) -> (TestApp, bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        bind: "127.0.0.1:0".into(),
        db: dir.path().join("parlor.db"),
        admin_token: Some(ADMIN_TOKEN.into()),
        workers: 1,
        read_pool_size: 2,
        ..Settings::default()
    };
    configure(&mut settings);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match parlor::build_app(settings, None).await {
                Ok(running) => {
                    let _ = tx.send(Ok((running.addr, running.service.clone(), running.notices)));
                    let _ = running.server.await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
    });
    let (addr, service, notices) = rx.recv().expect("server thread").expect("server starts");
    let app = TestApp {
        base: format!("http://{addr}"),
        service,
        dir,
    };
    (app, notices)
}

/// A response: status and JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    /// The body as sent (for answers that are not JSON).
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The native error code, e.g. "not_found".
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub struct Req {
    inner: ureq::Request,
}

impl Req {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.inner = self.inner.set(name, value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn admin(self) -> Self {
        self.bearer(ADMIN_TOKEN)
    }

    pub fn tenant(self, tenant: i64) -> Self {
        self.header("X-Parlor-Tenant", &tenant.to_string())
    }

    pub fn send(self) -> Resp {
        finish(self.inner.call())
    }

    pub fn json(self, body: &Value) -> Resp {
        finish(self.inner.send_json(body.clone()))
    }

    pub fn raw(self, content_type: &str, body: &str) -> Resp {
        finish(
            self.inner
                .set("Content-Type", content_type)
                .send_string(body),
        )
    }
}

/// The response to a request, whatever its status: its status, its headers and the response
/// (its body still to read). A request that got no answer fails the test.
pub fn answered(
    result: Result<ureq::Response, ureq::Error>,
) -> (u16, Vec<(String, String)>, ureq::Response) {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|n| response.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    (response.status(), headers, response)
}

fn finish(result: Result<ureq::Response, ureq::Error>) -> Resp {
    let (status, headers, response) = answered(result);
    let text = response.into_string().unwrap_or_default();
    Resp {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
        text,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: &str, path: &str) -> Req {
        Req {
            inner: ureq::request(method, &self.url(path)),
        }
    }

    pub fn get(&self, path: &str) -> Req {
        self.request("GET", path)
    }

    pub fn post(&self, path: &str) -> Req {
        self.request("POST", path)
    }

    pub fn patch(&self, path: &str) -> Req {
        self.request("PATCH", path)
    }

    pub fn delete(&self, path: &str) -> Req {
        self.request("DELETE", path)
    }

    /// Creates a tenant as the server admin; returns its id.
    pub fn create_tenant(&self, name: &str) -> i64 {
        let r = self
            .post("/parlor/v1/tenants")
            .admin()
            .json(&serde_json::json!({ "name": name }));
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_i64().expect("tenant id")
    }

    /// Creates a user in `tenant` as the server admin; returns the user JSON.
    pub fn create_user(&self, tenant: i64, body: Value) -> Value {
        let r = self
            .post("/parlor/v1/users")
            .admin()
            .tenant(tenant)
            .json(&body);
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    }

    /// Issues a token for a user as the server admin; returns the secret.
    pub fn token_for(&self, tenant: i64, user: i64, abilities: &[&str]) -> String {
        let r = self
            .post(&format!("/parlor/v1/users/{user}/tokens"))
            .admin()
            .tenant(tenant)
            .json(&serde_json::json!({ "abilities": abilities }));
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["token"].as_str().expect("token").to_string()
    }

    /// Creates a conversation among `users` as the server admin; returns the conversation JSON.
    pub fn create_conversation(&self, tenant: i64, users: &[i64]) -> Value {
        let r = self
            .post("/parlor/v1/conversations")
            .admin()
            .tenant(tenant)
            .json(&serde_json::json!({ "participants": users }));
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    }

    /// Sends `body` as `user` through the server admin; returns the message JSON.
    pub fn send_as(&self, tenant: i64, conversation: i64, user: i64, body: &str) -> Value {
        let r = self
            .post(&format!("/parlor/v1/conversations/{conversation}/messages"))
            .admin()
            .tenant(tenant)
            .json(&serde_json::json!({ "body": body, "as": user }));
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    }

    /// `user`'s unread count in `conversation`, from the native API.
    pub fn unread(&self, tenant: i64, conversation: i64, user: i64) -> i64 {
        let r = self
            .get(&format!(
                "/parlor/v1/conversations/{conversation}?as={user}"
            ))
            .admin()
            .tenant(tenant)
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["unread_count"].as_i64().expect("unread_count")
    }
}

/// JSON text without the whitespace between tokens: golden files are kept readable, responses
/// are compact, and comparing the two this way also checks key order.
pub fn minify(text: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for ch in text.chars() {
        if in_string {
            out.push(ch);
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if ch == '"' {
            in_string = true;
            out.push(ch);
        } else if !ch.is_whitespace() {
            out.push(ch);
        }
    }
    out
}

impl TestApp {
    /// A GET's body exactly as sent, for checks of key order.
    pub fn raw_get(&self, path: &str, authorization: &str) -> String {
        ureq::get(&self.url(path))
            .set("Authorization", authorization)
            .call()
            .expect("GET succeeds")
            .into_string()
            .expect("a text body")
    }
}

/// Runs `script` with python3, `input` as JSON on its standard input, for the checks made by an
/// independent implementation from PyPI: its exit code, output and errors. None, saying so,
/// when python3 or the package (`what`) is missing and the check is not `required`; a panic
/// when it is.
pub fn python_check(
    script: &str,
    input: &Value,
    what: &str,
    required: bool,
) -> Option<(Option<i32>, String, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if !required => {
            eprintln!("not checked by {what}: no python3 ({e})");
            return None;
        }
        Err(e) => panic!("{what} is required but python3 cannot run: {e}"),
    };
    // A script that stops before reading (its module is missing) closes the pipe: what it
    // printed says why, so a failed write is judged by that, not by the write's own error.
    let written = child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.contains("No module named") {
        assert!(!required, "{what} is required but not installed: {stderr}");
        eprintln!("not checked by {what}: {stderr}");
        return None;
    }
    if let Err(e) = written {
        panic!("{what} stopped before reading its input ({e}): {stderr}");
    }
    Some((out.status.code(), stdout, stderr))
}

/// A checker whose module is missing stops before it reads: it is reported as not installed
/// (and skipped when not required), however much input was waiting for it.
#[test]
fn a_checker_without_its_module_is_skipped_not_a_broken_pipe() {
    let input = Value::String("x".repeat(1 << 20));
    let checked = python_check(
        "import parlor_no_such_module",
        &input,
        "a checker whose module is missing",
        false,
    );
    assert!(checked.is_none());
}

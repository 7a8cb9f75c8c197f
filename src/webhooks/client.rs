//! The HTTP client of deliveries (reqwest): one POST per attempt, to the addresses
//! `address.rs` has checked (`resolve_to_addrs`, so the check and the connection cannot
//! disagree), over rustls with bundled roots for https, never through a proxy from the
//! environment. Redirects are never followed: a 3xx is an answer like any other. Only the
//! status and the first `KEEP` bytes of the answer's body are read.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::{timeout_at, Instant};

use super::address::Target;

/// How much of an answer's body the outbox keeps.
pub const KEEP: usize = 1024;

/// What came back.
pub struct Answer {
    pub status: u16,
    /// At most `KEEP` bytes of the body, as text (invalid UTF-8 replaced).
    pub body: String,
}

/// POSTs `body` with `headers` to `target`. Connecting, sending and the answer's head must all
/// come within `timeout`; the body is read only as far as it has come by then, since the status
/// alone decides the outcome.
pub async fn post(
    target: &Target,
    headers: &[(String, String)],
    body: &str,
    timeout: Duration,
) -> Result<Answer, String> {
    let deadline = Instant::now() + timeout;
    let late = || format!("no answer within {} s", timeout.as_secs_f64());
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((*tls_config()?).clone())
        .resolve_to_addrs(&target.host, &target.addrs)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| format!("the HTTP client cannot start: {e}"))?;
    let mut request = client.post(url(target)).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let answer = match timeout_at(deadline, request.send()).await {
        Err(_) => return Err(late()),
        Ok(Err(e)) => return Err(describe(target, &e)),
        Ok(Ok(answer)) => answer,
    };
    let status = answer.status().as_u16();
    Ok(Answer {
        status,
        body: first_bytes(answer, deadline).await,
    })
}

/// The URL to ask for: the host as named (the `Host` header and TLS's server name), which the
/// client resolves only to the checked addresses.
fn url(target: &Target) -> String {
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let scheme = if target.tls { "https" } else { "http" };
    let path = if target.path.is_empty() {
        "/"
    } else {
        &target.path
    };
    format!("{scheme}://{host}:{}{path}", target.port)
}

/// Words for the outbox: what went wrong, without the client's internals.
fn describe(target: &Target, e: &reqwest::Error) -> String {
    // The innermost cause says it best ("Connection refused", a certificate problem).
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if e.is_connect() {
        format!("cannot connect to {}:{}: {cause}", target.host, target.port)
    } else {
        format!("the request to {} failed: {cause}", target.host)
    }
}

/// Up to `KEEP` bytes of the body, as far as it has come by `deadline`. A body cut short
/// keeps what arrived: the status has already decided the outcome.
async fn first_bytes(mut answer: reqwest::Response, deadline: Instant) -> String {
    let mut body = Vec::new();
    while body.len() < KEEP {
        match timeout_at(deadline, answer.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(KEEP);
    String::from_utf8_lossy(&body).into_owned()
}

/// TLS with the bundled Mozilla roots (`webpki-roots`): the same on every host.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS is not available: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_host_and_keep_the_path() {
        let target = |host: &str, tls, port, path: &str| Target {
            tls,
            host: host.into(),
            port,
            path: path.into(),
            addrs: Vec::new(),
        };
        assert_eq!(
            url(&target("hooks.example.org", true, 443, "/in?x=1")),
            "https://hooks.example.org:443/in?x=1"
        );
        assert_eq!(url(&target("::1", false, 8080, "")), "http://[::1]:8080/");
    }
}

//! The HTTP/1.1 client of deliveries: one POST per connection, to an address `address.rs` has
//! checked (so the check and the connection cannot disagree), over TLS with bundled roots for
//! https. Redirects are never followed: a 3xx is an answer like any other. Only the status and
//! the first `KEEP` bytes of the answer's body are read.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::address::Target;

/// How much of an answer's body the outbox keeps.
pub const KEEP: usize = 1024;
/// The most bytes of status line and headers read before giving up on an answer.
const HEAD_LIMIT: usize = 16 * 1024;

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
    let tcp = timeout_at(deadline, connect(target))
        .await
        .map_err(|_| late())??;
    let request = request(target, headers, body);
    if target.tls {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| format!("{} is not a TLS server name ({e})", target.host))?;
        let tls = timeout_at(
            deadline,
            tokio_rustls::TlsConnector::from(tls_config()?).connect(name, tcp),
        )
        .await
        .map_err(|_| late())?
        .map_err(|e| format!("TLS handshake with {} failed: {e}", target.host))?;
        talk(tls, &request, deadline)
            .await
            .map_err(|e| e.unwrap_or_else(late))
    } else {
        talk(tcp, &request, deadline)
            .await
            .map_err(|e| e.unwrap_or_else(late))
    }
}

/// The first of the checked addresses that accepts a connection.
async fn connect(target: &Target) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for addr in &target.addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

fn request(target: &Target, headers: &[(String, String)], body: &str) -> Vec<u8> {
    let default_port = if target.tls { 443 } else { 80 };
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let authority = if target.port == default_port {
        host
    } else {
        format!("{host}:{}", target.port)
    };
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n",
        if target.path.is_empty() {
            "/"
        } else {
            &target.path
        },
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Sends the request and reads the answer; `Err(None)` when `deadline` passed first.
async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    deadline: Instant,
) -> Result<Answer, Option<String>> {
    let sent = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    timeout_at(deadline, sent)
        .await
        .map_err(|_| None)?
        .map_err(|e| Some(format!("sending the request failed: {e}")))?;
    let mut buf = Vec::with_capacity(2048);
    loop {
        let (status, head_len, framing) = loop {
            if let Some(parsed) = parse_head(&buf)? {
                break parsed;
            }
            if buf.len() > HEAD_LIMIT {
                return Err(Some("the answer's headers are too long".into()));
            }
            let n = timeout_at(deadline, read_more(&mut stream, &mut buf))
                .await
                .map_err(|_| None)??;
            if n == 0 {
                return Err(Some("the connection closed before an answer".into()));
            }
        };
        buf.drain(..head_len);
        // An interim answer (100 Continue, 103 Early Hints): the real one follows.
        if (100..200).contains(&status) {
            continue;
        }
        // These never have a body, whatever their headers say.
        let framing = if status == 204 || status == 304 {
            Framing::Length(0)
        } else {
            framing
        };
        let body = read_body(&mut stream, buf, framing, deadline).await;
        return Ok(Answer { status, body });
    }
}

async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, Option<String>> {
    let mut chunk = [0u8; 4096];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(|e| Some(format!("reading the answer failed: {e}")))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

#[derive(Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// The status, the length of the head and how the body is framed, once the head is whole.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, Framing)>, Option<String>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let status = response.code.unwrap_or(0);
            let mut framing = Framing::UntilClose;
            for h in response.headers.iter() {
                let value = String::from_utf8_lossy(h.value);
                if h.name.eq_ignore_ascii_case("transfer-encoding")
                    && value.to_ascii_lowercase().contains("chunked")
                {
                    framing = Framing::Chunked;
                    break;
                }
                if h.name.eq_ignore_ascii_case("content-length") {
                    if let Ok(n) = value.trim().parse() {
                        framing = Framing::Length(n);
                    }
                }
            }
            Ok(Some((status, len, framing)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(Some(format!("the answer is not HTTP ({e})"))),
    }
}

/// Up to `KEEP` bytes of the body. A body cut short or badly framed keeps what arrived: the
/// status has already decided the outcome.
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    framing: Framing,
    deadline: Instant,
) -> String {
    let want = match framing {
        Framing::Length(n) => n.min(KEEP),
        // Chunk headers take room too: read a little more than `KEEP`, then decode.
        Framing::Chunked | Framing::UntilClose => KEEP + 64,
    };
    while buf.len() < want {
        match timeout_at(deadline, read_more(stream, &mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    let mut body = match framing {
        Framing::Chunked => dechunk(&buf),
        _ => buf,
    };
    body.truncate(KEEP);
    String::from_utf8_lossy(&body).into_owned()
}

/// The data of a chunked body, as far as `raw` holds it.
fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = size_text
            .split(';')
            .next()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|n| *n > 0) else {
            break;
        };
        rest = &rest[eol + 2..];
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        if take < size || rest.len() < size + 2 {
            break;
        }
        rest = &rest[size + 2..];
    }
    out
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
    fn chunked_bodies_are_decoded() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
        assert_eq!(dechunk(b"5\r\nhel"), b"hel");
    }

    #[test]
    fn heads_are_read() {
        let (status, len, framing) =
            parse_head(b"HTTP/1.1 410 Gone\r\nContent-Length: 3\r\n\r\nabc")
                .unwrap()
                .unwrap();
        assert_eq!((status, len), (410, 40));
        assert!(matches!(framing, Framing::Length(3)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
    }
}

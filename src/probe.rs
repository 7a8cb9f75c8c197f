//! `parlor health`: asks a running server whether it is ready (`GET /readyz`) and exits 0 when
//! it is. A container's HEALTHCHECK runs it (slim images have no curl), and so can a script.
//!
//! Plain HTTP over one connection, with a deadline for each step: a server that accepts the
//! connection and then says nothing is as unhealthy as one that refuses it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long the probe waits to connect, and then for each read or write.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of the answer that is read: `/readyz` says a few words.
const MAX_ANSWER: u64 = 64 * 1024;

/// What the server answered.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn ready(&self) -> bool {
        self.status == 200
    }
}

/// The address to probe for a server listening on `bind`: the same port on loopback when it
/// listens on every address.
pub fn local_address(bind: &str) -> String {
    match bind.rsplit_once(':') {
        Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
        Some(("[::]", port)) => format!("[::1]:{port}"),
        _ => bind.to_string(),
    }
}

/// `GET /readyz` on `addr` (host:port).
pub fn readyz(addr: &str) -> Result<Answer> {
    let target = resolve(addr)?;
    let mut conn = TcpStream::connect_timeout(&target, TIMEOUT)
        .map_err(|e| unreachable(addr, &e.to_string()))?;
    conn.set_read_timeout(Some(TIMEOUT))
        .and_then(|_| conn.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| unreachable(addr, &e.to_string()))?;
    let request =
        format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n\r\n");
    conn.write_all(request.as_bytes())
        .map_err(|e| unreachable(addr, &e.to_string()))?;
    let mut raw = Vec::new();
    conn.take(MAX_ANSWER)
        .read_to_end(&mut raw)
        .map_err(|e| unreachable(addr, &format!("no answer ({e})")))?;
    parse(&raw).ok_or_else(|| unreachable(addr, "the answer is not HTTP"))
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::invalid("url", format!("\"{addr}\" is not a host:port address")))
}

fn unreachable(addr: &str, why: &str) -> Error {
    Error::unavailable(format!("{addr}: {why}"), None)
}

/// The status line's code and the body (after the blank line) of an HTTP/1.x answer.
fn parse(raw: &[u8]) -> Option<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    Some(Answer {
        status,
        body: body.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_every_address_is_probed_on_loopback() {
        assert_eq!(local_address("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(local_address("[::]:8080"), "[::1]:8080");
        assert_eq!(local_address("127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(local_address("parlor.lan:80"), "parlor.lan:80");
    }

    #[test]
    fn the_status_and_body_are_read_from_the_answer() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"status\":\"ready\"}";
        assert_eq!(
            parse(ok),
            Some(Answer {
                status: 200,
                body: "{\"status\":\"ready\"}".into()
            })
        );
        let down = b"HTTP/1.1 503 Service Unavailable\r\n\r\n{\"status\":\"unavailable\"}";
        assert_eq!(parse(down).map(|a| a.status), Some(503));
        assert_eq!(parse(b"SSH-2.0-OpenSSH\r\n"), None);
    }
}

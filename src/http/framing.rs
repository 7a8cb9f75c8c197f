//! Where each request on a connection begins, found by following HTTP/1.1 framing the way
//! actix-http does, so that a HEAD request can be renamed before actix-http's codec reads it.
//!
//! actix-http's codec keeps "this request is HEAD" once per connection and sets it when it
//! *parses* a request, not when it answers one. With pipelining it parses the next request
//! while the previous one is still being answered, so a GET followed by a HEAD was answered
//! without its body (and a HEAD followed by a GET with one), and every later response on the
//! connection was misread. A HEAD renamed to `HEAD_MARK` never sets that flag; the request
//! guard (`guard.rs`) serves it as a GET and drops the body, keeping the body's length.

use actix_web::web::BytesMut;

/// The method a HEAD request reaches actix-http with. A client sending it directly gets what
/// a HEAD gets.
pub const HEAD_MARK: &str = "PARLOR-HEAD";

/// actix-http's limits: the largest request head it buffers and the most headers it parses.
const MAX_HEAD: usize = 131_072;
const MAX_HEADERS: usize = 96;

/// Follows one connection's requests. Bytes go in as read from the client and come out as
/// actix-http should read them: the same bytes, except that a request head is held back until
/// it is complete, and a HEAD request line starts with `HEAD_MARK` instead.
#[derive(Default)]
pub struct Framer {
    state: State,
    /// The request head read so far.
    head: Vec<u8>,
}

#[derive(Default)]
enum State {
    /// Between requests or inside a head.
    #[default]
    Head,
    /// Inside a body of known length: this many bytes left.
    Body(u64),
    Chunked(Chunk),
    /// Framing unknown from here on (an upgrade, CONNECT, or a request actix-http will refuse
    /// and then close the connection): bytes pass as they are and nothing more is renamed.
    Through,
}

impl Framer {
    /// Appends to `out` what actix-http should read after `input`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut BytesMut) {
        while !input.is_empty() {
            match &mut self.state {
                State::Through => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Body(left) => {
                    let n = usize::try_from(*left).map_or(input.len(), |l| l.min(input.len()));
                    out.extend_from_slice(&input[..n]);
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = State::Head;
                    }
                    input = &input[n..];
                }
                State::Chunked(chunk) => match chunk.advance(input) {
                    Some((used, done)) => {
                        out.extend_from_slice(&input[..used]);
                        if done {
                            self.state = State::Head;
                        }
                        input = &input[used..];
                    }
                    None => self.state = State::Through,
                },
                State::Head => input = self.read_head(input, out),
            }
        }
    }

    /// The client closed its side: what was held back goes on unchanged, for actix-http to
    /// refuse as the incomplete request it is.
    pub fn finish(&mut self, out: &mut BytesMut) {
        out.extend_from_slice(&self.head);
        self.head = Vec::new();
        self.state = State::Through;
    }

    /// Takes head bytes from `input`; returns what follows the head once it is complete.
    fn read_head<'a>(&mut self, mut input: &'a [u8], out: &mut BytesMut) -> &'a [u8] {
        if self.head.is_empty() {
            // Both parsers skip empty lines before a request line; they need no holding back.
            let blank = input
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            out.extend_from_slice(&input[..blank]);
            input = &input[blank..];
            if input.is_empty() {
                return input;
            }
        }
        let before = self.head.len();
        self.head.extend_from_slice(input);
        let Some(end) = end_of_head(&self.head, before.saturating_sub(2)) else {
            if self.head.len() > MAX_HEAD {
                self.release(out);
            }
            return &[];
        };
        self.head.truncate(end);
        let rest = &input[end - before..];
        match parse(&self.head) {
            Some((renamed, next)) => {
                if renamed {
                    out.extend_from_slice(HEAD_MARK.as_bytes());
                    out.extend_from_slice(&self.head["HEAD".len()..]);
                } else {
                    out.extend_from_slice(&self.head);
                }
                self.head.clear();
                if self.head.capacity() > 16 * 1024 {
                    self.head = Vec::new();
                }
                self.state = next;
            }
            None => self.release(out),
        }
        rest
    }

    fn release(&mut self, out: &mut BytesMut) {
        out.extend_from_slice(&self.head);
        self.head = Vec::new();
        self.state = State::Through;
    }
}

/// The index just past the empty line ending a head (LF LF or LF CR LF: httparse accepts bare
/// LF line ends), searching from `from`.
fn end_of_head(head: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < head.len() {
        if head[i] == b'\n' {
            match head.get(i + 1) {
                Some(b'\n') => return Some(i + 2),
                Some(b'\r') if head.get(i + 2) == Some(&b'\n') => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// A complete head: whether it is a HEAD request, and how its body is framed. `None` for a
/// head actix-http will refuse (it then answers 400 and closes).
fn parse(head: &[u8]) -> Option<(bool, State)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        _ => return None,
    }
    let method = request.method?;
    let http11 = request.version == Some(1);
    let (mut length, mut encoding, mut websocket) = (None, None, false);
    for header in request.headers.iter() {
        let value = std::str::from_utf8(header.value).ok().map(str::trim);
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = value?;
            if length.is_some() || value.starts_with('+') {
                return None;
            }
            length = Some(value.parse::<u64>().ok()?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if encoding.is_some() {
                return None;
            }
            encoding = Some(value?);
        } else if header.name.eq_ignore_ascii_case("upgrade") {
            websocket |= value.is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        }
    }
    // The framing rules of actix-http's request decoder, in its order.
    let next = match (encoding, length) {
        (Some(te), None) if http11 && te.eq_ignore_ascii_case("chunked") => {
            State::Chunked(Chunk::default())
        }
        (Some(_), _) => State::Through,
        (None, _) if websocket => State::Through,
        (None, Some(n)) if n > 0 => State::Body(n),
        (None, _) if method == "CONNECT" => State::Through,
        (None, _) => State::Head,
    };
    Some((method == "HEAD", next))
}

/// Where a chunked body is, as actix-http's chunked decoder reads it.
#[derive(Default)]
struct Chunk {
    step: Step,
    size: u64,
}

#[derive(Default, Clone, Copy, PartialEq)]
enum Step {
    #[default]
    SizeFirst,
    SizeRest,
    SizeLws,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
}

impl Chunk {
    /// Consumes body bytes from `input`: how many, and whether the body ended there. `None`
    /// when the body is malformed (actix-http refuses it too).
    fn advance(&mut self, input: &[u8]) -> Option<(usize, bool)> {
        let mut i = 0;
        while i < input.len() {
            if self.step == Step::Data {
                let n =
                    usize::try_from(self.size).map_or(input.len() - i, |s| s.min(input.len() - i));
                self.size -= n as u64;
                i += n;
                if self.size == 0 {
                    self.step = Step::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.step = match (self.step, b) {
                (Step::SizeFirst, _) => {
                    self.size = u64::from(hex(b)?);
                    Step::SizeRest
                }
                (Step::SizeRest | Step::SizeLws, b'\t' | b' ') => Step::SizeLws,
                (Step::SizeRest | Step::SizeLws, b';') => Step::Extension,
                (Step::SizeRest | Step::SizeLws | Step::Extension, b'\r') => Step::SizeLf,
                (Step::SizeRest, _) => {
                    self.size = self.size.checked_mul(16)? + u64::from(hex(b)?);
                    Step::SizeRest
                }
                (Step::Extension, 0x00..=0x08 | 0x0a..=0x1f | 0x7f) => return None,
                (Step::Extension, _) => Step::Extension,
                (Step::SizeLf, b'\n') if self.size > 0 => Step::Data,
                (Step::SizeLf, b'\n') => Step::EndCr,
                (Step::DataCr, b'\r') => Step::DataLf,
                (Step::DataLf, b'\n') => Step::SizeFirst,
                (Step::Trailer, b'\r') => Step::TrailerLf,
                (Step::Trailer, _) => Step::Trailer,
                (Step::TrailerLf, b'\n') => Step::EndCr,
                (Step::EndCr, b'\r') => Step::EndLf,
                (Step::EndCr, _) => Step::Trailer,
                (Step::EndLf, b'\n') => return Some((i, true)),
                _ => return None,
            };
        }
        Some((i, false))
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes and returns what actix-http would read.
    fn run(input: &[u8], step: usize) -> Vec<u8> {
        let mut framer = Framer::default();
        let mut out = BytesMut::new();
        for piece in input.chunks(step) {
            framer.feed(piece, &mut out);
        }
        out.to_vec()
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn head_request_lines_are_renamed_wherever_a_request_starts() {
        let input = concat!(
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            "HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nHEAD /not-a-request",
            "\r\nHEAD /d HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            "6;x=y\r\nHEAD /\r\n0\r\nTrailer: t\r\n\r\n",
            "HEAD /f HTTP/1.0\n\n",
        );
        let expected = input
            .replace("HEAD /b", "PARLOR-HEAD /b")
            .replace("HEAD /d", "PARLOR-HEAD /d")
            .replace("HEAD /f", "PARLOR-HEAD /f");
        for step in [1, 2, 3, 7, 64, input.len()] {
            assert_eq!(text(run(input.as_bytes(), step)), expected, "step {step}");
        }
    }

    #[test]
    fn an_incomplete_head_is_held_back_until_it_ends_or_the_client_leaves() {
        let mut framer = Framer::default();
        let mut out = BytesMut::new();
        framer.feed(b"GET / HTTP/1.1\r\nHost", &mut out);
        assert!(out.is_empty());
        framer.finish(&mut out);
        assert_eq!(&out[..], b"GET / HTTP/1.1\r\nHost");
    }

    #[test]
    fn unknown_framing_passes_everything_through_unchanged() {
        for input in [
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nHEAD / HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxHEAD / HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nHEAD / HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHEAD / HTTP/1.1\r\n\r\n",
            "G@T / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(text(run(input.as_bytes(), 5)), input);
        }
    }

    #[test]
    fn a_head_too_long_for_actix_http_is_passed_on_for_it_to_refuse() {
        let mut input = b"HEAD / HTTP/1.1\r\nX-Big: ".to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(run(&input, 4096), input);
    }
}

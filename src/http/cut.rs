//! Connection effects a stand-in's fault rules ask for (`control::faults`): a request can order
//! the connection it came on to end without an answer, to be reset, or to let the head of the
//! real answer out with only half its body. The order travels as connection data
//! (`on_connect_ext`); the connection carries it out on its next writes, which is where the
//! bytes are: the answer's head as it goes out names its real `Content-Length`, whatever
//! middleware shaped the body before.
//!
//! A server without fault rules (a clinic's) has no `Cutter` on its connections.

use std::cell::Cell;
use std::rc::Rc;

/// What a request orders its connection to do instead of answering normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Close without sending a byte.
    Empty,
    /// Reset (RST) without sending a byte.
    Reset,
    /// Send the answer's head, half its body, then close.
    Truncate,
    /// Send the answer's head, then close: a truncated answer to HEAD, whose head names the
    /// length of a body that never follows.
    HeadOnly,
}

/// The handle a request finds in its connection data to order a cut.
#[derive(Clone, Default)]
pub struct CutHandle(Rc<Cell<Option<Cut>>>);

impl CutHandle {
    pub fn order(&self, cut: Cut) {
        self.0.set(Some(cut));
    }
}

enum State {
    /// Writing normally.
    Idle,
    /// Truncating: the answer's head so far, and whether half its body follows it.
    Head(Vec<u8>, bool),
    /// Truncating: this many body bytes may still go out.
    Body(usize),
    /// Nothing more goes out; `reset`: the socket is reset rather than closed.
    Ended { reset: bool },
}

/// The end of a response head.
const HEAD_END: &[u8] = b"\r\n\r\n";
/// A head longer than this is not an answer Parlor wrote: cut there.
const MAX_HEAD: usize = 64 * 1024;

/// One connection's side of the cut: what it has been ordered, and how far it is.
pub struct Cutter {
    handle: CutHandle,
    state: State,
}

impl Default for Cutter {
    fn default() -> Self {
        Self::new()
    }
}

impl Cutter {
    pub fn new() -> Self {
        Self {
            handle: CutHandle::default(),
            state: State::Idle,
        }
    }

    pub fn handle(&self) -> CutHandle {
        self.handle.clone()
    }

    /// How many leading bytes of `buf` may be written: `None` when no cut is under way (all of
    /// them), `Some(0)` when the connection must end now.
    pub fn allowance(&mut self, buf: &[u8]) -> Option<usize> {
        if matches!(self.state, State::Idle) {
            self.state = match self.handle.0.take()? {
                Cut::Empty => State::Ended { reset: false },
                Cut::Reset => State::Ended { reset: true },
                Cut::Truncate => State::Head(Vec::new(), true),
                Cut::HeadOnly => State::Head(Vec::new(), false),
            };
        }
        Some(match &mut self.state {
            State::Idle | State::Ended { .. } => 0,
            State::Head(head, _) => {
                // The pattern may straddle what was written and `buf`.
                let kept = head.len().min(HEAD_END.len() - 1);
                let mut window = head[head.len() - kept..].to_vec();
                window.extend_from_slice(buf);
                match window.windows(HEAD_END.len()).position(|w| w == HEAD_END) {
                    Some(at) => at + HEAD_END.len() - kept,
                    None if head.len() + buf.len() > MAX_HEAD => {
                        self.state = State::Ended { reset: false };
                        0
                    }
                    None => buf.len(),
                }
            }
            State::Body(left) => {
                let n = (*left).min(buf.len());
                if n == 0 {
                    self.state = State::Ended { reset: false };
                }
                n
            }
        })
    }

    /// `written` (a prefix of what `allowance` allowed) went out.
    pub fn wrote(&mut self, written: &[u8]) {
        match &mut self.state {
            State::Head(head, body) => {
                head.extend_from_slice(written);
                if head.ends_with(HEAD_END) {
                    let half = if *body {
                        content_length(head).map_or(0, |n| n / 2)
                    } else {
                        0
                    };
                    self.state = State::Body(half);
                }
            }
            State::Body(left) => *left = left.saturating_sub(written.len()),
            State::Idle | State::Ended { .. } => {}
        }
    }

    /// Everything the cut lets out has been written: the connection should end now rather
    /// than wait for another write (an answer to HEAD has no body to end it).
    pub fn done(&mut self) -> bool {
        if matches!(self.state, State::Body(0)) {
            self.state = State::Ended { reset: false };
        }
        matches!(self.state, State::Ended { .. })
    }

    /// A cut is under way: writes go through `allowance` one buffer at a time.
    pub fn cutting(&self) -> bool {
        !matches!(self.state, State::Idle) || self.handle.0.get().is_some()
    }

    /// The connection was ordered reset.
    pub fn resets(&self) -> bool {
        matches!(self.state, State::Ended { reset: true })
    }
}

/// The `Content-Length` a response head names (none for a chunked answer).
fn content_length(head: &[u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response.parse(head).ok()?;
    response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` as a writer would, each written whole when allowed; returns what went out
    /// and whether the connection was told to end.
    fn run(cut: Cut, chunks: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut cutter = Cutter::new();
        cutter.handle().order(cut);
        let mut out = Vec::new();
        for chunk in chunks {
            let mut rest: &[u8] = chunk;
            while !rest.is_empty() {
                match cutter.allowance(rest) {
                    None => {
                        out.extend_from_slice(rest);
                        break;
                    }
                    Some(0) => return (out, true),
                    Some(n) => {
                        cutter.wrote(&rest[..n]);
                        out.extend_from_slice(&rest[..n]);
                        rest = &rest[n..];
                    }
                }
            }
        }
        (out, false)
    }

    #[test]
    fn truncate_keeps_the_head_and_half_the_body() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";
        let (out, _) = run(
            Cut::Truncate,
            &[&head[..20], &head[20..], b"0123456789", b"next"],
        );
        let mut want = head.to_vec();
        want.extend_from_slice(b"01234");
        assert_eq!(out, want);
    }

    #[test]
    fn the_head_end_may_straddle_two_writes() {
        let (out, ended) = run(
            Cut::Truncate,
            &[b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r", b"\nabcd"],
        );
        assert_eq!(out, b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab");
        assert!(ended);
    }

    #[test]
    fn a_head_answer_is_cut_after_its_head() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";
        let (out, _) = run(Cut::HeadOnly, &[head, b"HTTP/1.1 200 OK\r\n"]);
        assert_eq!(out, head);
        let mut cutter = Cutter::new();
        cutter.handle().order(Cut::HeadOnly);
        assert_eq!(cutter.allowance(head), Some(head.len()));
        assert!(!cutter.done());
        cutter.wrote(head);
        assert!(cutter.done());
    }

    #[test]
    fn empty_and_reset_send_nothing() {
        assert_eq!(run(Cut::Empty, &[b"HTTP/1.1 200 OK\r\n"]), (vec![], true));
        let mut cutter = Cutter::new();
        cutter.handle().order(Cut::Reset);
        assert_eq!(cutter.allowance(b"x"), Some(0));
        assert!(cutter.resets());
    }

    #[test]
    fn without_an_order_everything_goes() {
        let mut cutter = Cutter::new();
        assert!(!cutter.cutting());
        assert_eq!(cutter.allowance(b"anything"), None);
    }
}

//! One client connection as actix-http sees it: the stream (TCP, or TLS over it), with its
//! requests followed by a `Framer` (so HEAD requests can be renamed), and closed with a linger.
//!
//! Why the linger: when actix-http meets a request it cannot parse it answers 400 or 431 and
//! drops the socket at once. If the client has sent more than was read (the rest of a
//! pipeline, the tail of an oversized head), closing a socket with unread data makes the
//! kernel send a reset instead of a normal close, and the reset can destroy the error response
//! before the client reads it. Closing the sending side first and reading off what the client
//! still sends, for a short while, lets the response arrive.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::web::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::cut::{CutHandle, Cutter};
use super::framing::Framer;
use super::stream::Stream;

/// How long a closed connection keeps reading off what its client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// How much one read takes from the socket.
const READ_SIZE: usize = 8 * 1024;

pub struct Connection {
    /// `None` only while being dropped.
    io: Option<Stream>,
    framer: Framer,
    /// Bytes framed and not yet handed to actix-http.
    ready: BytesMut,
    /// The client closed its sending side.
    eof: bool,
    /// Fault rules' connection effects, on a stand-in only (`cut.rs`).
    cutter: Option<Box<Cutter>>,
}

impl Connection {
    /// `cuts`: requests may order the connection cut (a stand-in's fault rules).
    pub fn new(io: Stream, cuts: bool) -> Self {
        Connection {
            io: Some(io),
            framer: Framer::default(),
            ready: BytesMut::new(),
            eof: false,
            cutter: cuts.then(|| Box::new(Cutter::new())),
        }
    }

    /// What requests on this connection order a cut with, when they may.
    pub fn cut_handle(&self) -> Option<CutHandle> {
        self.cutter.as_ref().map(|c| c.handle())
    }

    fn io(&mut self) -> io::Result<Pin<&mut Stream>> {
        self.io
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                if this.ready.is_empty() && this.ready.capacity() > 4 * READ_SIZE {
                    this.ready = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut scratch = [0u8; READ_SIZE];
            let mut read = ReadBuf::new(&mut scratch);
            match this.io()?.poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    this.eof = true;
                    this.framer.finish(&mut this.ready);
                }
                // A partial head yields nothing yet: read again until the socket has no more.
                Poll::Ready(Ok(())) => this.framer.feed(read.filled(), &mut this.ready),
            }
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(cutter) = this.cutter.as_mut().filter(|_| !buf.is_empty()) else {
            return this.io()?.poll_write(cx, buf);
        };
        let allowed = match cutter.allowance(buf) {
            None => buf.len(),
            Some(0) => return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into())),
            Some(n) => n,
        };
        let Some(io) = this.io.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let written = Pin::new(io).poll_write(cx, &buf[..allowed]);
        if let Poll::Ready(Ok(n)) = written {
            cutter.wrote(&buf[..n]);
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // A cut counts bytes one buffer at a time.
        if self.cutter.as_ref().is_some_and(|c| c.cutting()) {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            return self.poll_write(cx, first);
        }
        self.get_mut().io()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = this.io()?.poll_flush(cx);
        // A cut that has let out all it will ends the connection now (actix-http flushes after
        // each round of writes), not after the keep-alive.
        if matches!(flushed, Poll::Ready(Ok(()))) && this.cutter.as_mut().is_some_and(|c| c.done())
        {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io()?.poll_shutdown(cx)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let Some(io) = self.io.take() else { return };
        if self.cutter.as_ref().is_some_and(|c| c.resets()) {
            io.reset();
            return;
        }
        if self.eof {
            return;
        }
        // Outside a runtime (the server is stopping) the socket simply closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(io));
        }
    }
}

/// Sends the end of the stream after what is already queued, then reads and discards what the
/// client still sends until it closes too or `LINGER` passes.
async fn linger(mut io: Stream) {
    let _ = std::future::poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx)).await;
    let drain = async {
        let mut sink = [0u8; 4096];
        loop {
            let mut buf = ReadBuf::new(&mut sink);
            match std::future::poll_fn(|cx| Pin::new(&mut io).poll_read(cx, &mut buf)).await {
                Ok(()) if !buf.filled().is_empty() => {}
                _ => return,
            }
        }
    };
    let _ = actix_web::rt::time::timeout(LINGER, drain).await;
}

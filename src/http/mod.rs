//! The HTTP layer beneath the routes: how connections are accepted, read and closed, and what
//! every request gets whatever surface it is for (HEAD, upgrades, time limits on bodies), and
//! what the log says about clients' mistakes.
//!
//! - `serve.rs` — the server: actix-web's parts with each socket wrapped in a `Connection`.
//! - `conn.rs` — a connection: requests followed by `framing.rs`, a lingering close.
//! - `cut.rs` — a connection ended, reset or truncated on a stand-in's fault rule's order.
//! - `stream.rs` — what a connection reads and writes: the TCP socket, or TLS over it.
//! - `tls.rs` — built-in TLS: the rustls configuration, the certificate reloaded on change.
//! - `transport.rs` — the warning when other machines reach the server without TLS.
//! - `framing.rs` — where each pipelined request starts; renames HEAD for actix-http's codec.
//! - `guard.rs` — the middleware every request passes: HEAD, upgrades, slow bodies.
//! - `files.rs` — attachments on the wire: upload bodies, downloads (ranges, ETag, headers).
//! - `clients.rs` — the tracing layer that turns clients' mistakes from ERRORs into a summary.

mod clients;
mod conn;
pub mod cut;
pub mod files;
mod framing;
mod guard;
mod serve;
mod stream;
mod tls;
pub mod transport;

pub use clients::ClientFaults;
pub use guard::{BodyLimits, Head, RequestGuard};
pub use serve::serve;
pub use tls::{server_config as tls_config, TlsFiles};

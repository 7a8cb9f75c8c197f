//! The HTTP layer beneath the routes: how connections are accepted, read and closed, and what
//! every request gets whatever surface it is for (HEAD, upgrades, time limits on bodies), and
//! what the log says about clients' mistakes.
//!
//! - `serve.rs` — the server: actix-web's parts with each socket wrapped in a `Connection`.
//! - `conn.rs` — a connection: requests followed by `framing.rs`, a lingering close.
//! - `framing.rs` — where each pipelined request starts; renames HEAD for actix-http's codec.
//! - `guard.rs` — the middleware every request passes: HEAD, upgrades, slow bodies.
//! - `clients.rs` — the tracing layer that turns clients' mistakes from ERRORs into a summary.

mod clients;
mod conn;
mod framing;
mod guard;
mod serve;

pub use clients::ClientFaults;
pub use guard::{BodyLimits, RequestGuard};
pub use serve::serve;

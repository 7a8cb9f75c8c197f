//! The process's log: lines on standard error, as text for people or as one JSON object a line
//! for log shippers (`log_format`). Which lines: `RUST_LOG`, else `DEFAULT_FILTER`.
//!
//! Nothing Parlor logs carries a body, a token, a password, a cookie or a query string, at any
//! level: the request lines name the route template, and the rest name ids and causes
//! (`tests/api/request_logs.rs` drives requests full of secrets with `RUST_LOG=trace` and looks
//! for them in everything the process wrote).

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::http::ClientFaults;

/// Parlor's own lines from INFO (one per request among them), everyone else's from WARN.
/// actix's own parlor::http lines stay at WARN.
pub const DEFAULT_FILTER: &str = "warn,parlor=info,parlor::http=warn";

/// Installs the log for the process (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (text, json) = match format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    // Colours only for a person at a terminal, not in a journal or a file.
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    // The event's fields at the top level of its object, beside level and time.
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let logging = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json);
    // Clients' malformed requests are summed up at INFO rather than logged as ERRORs.
    let _ = match ClientFaults::start() {
        Ok(faults) => logging.with(faults).try_init(),
        Err(_) => logging.try_init(),
    };
}

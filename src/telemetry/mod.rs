//! Seeing the server run: the log (`logging.rs`: text or JSON lines), one line and two metrics
//! per request (`requests.rs`: request id, route template, status, duration, tenant), and the
//! Prometheus metrics (`names.rs`, what is measured; `exporter.rs`, the recorder and
//! `/metrics` on `metrics_bind`, a listener of its own).
//!
//! Metrics are recorded with the `metrics` crate's macros wherever the thing happens (the
//! writer, the event streams, webhook attempts, backups). Until `exporter::install` has run the
//! macros record nothing, so a server without `metrics_bind` pays nothing but the macros' check.

pub mod exporter;
pub mod logging;
pub mod names;
pub mod requests;

/// The commit the binary was built from (`build.rs`).
pub const COMMIT: &str = env!("BUILT_FROM_COMMIT");

/// `parlor --version`: the package version and the commit.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BUILT_FROM_COMMIT"),
    ")"
);

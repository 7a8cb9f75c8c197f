//! Parlor: one binary and one SQLite file that together are a complete messaging server.
//!
//! `build_app` wires the store, the service layer and the HTTP faces together; `main.rs` is a
//! thin command line around it, and the integration tests call it directly.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod app;
pub mod app_page;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod config;
pub mod control;
pub mod domain;
pub mod encryption;
pub mod error;
pub mod export;
pub mod faces;
pub mod fixture;
pub mod http;
pub mod idempotency;
pub mod lanes;
pub mod native;
pub mod notices;
pub mod openapi;
pub mod probe;
pub mod progress;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod webhooks;

pub use app::App;
pub use config::Settings;
pub use error::{Error, Result};
pub use server::build_app;

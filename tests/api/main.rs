//! All integration tests, in one binary. `helpers` starts a real server on port 0 with a fresh
//! temporary database for each test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod logs;
mod webdriver;

mod accounts;
mod admin_audit_browser;
mod admin_browser;
mod admin_live_browser;
mod admin_session;
mod admin_webhooks_browser;
mod app_browser;
mod audit;
mod bench_ceiling;
mod callers;
mod config_example;
mod connections;
mod control;
mod cors;
mod crowd;
mod duplicates;
mod encryption;
mod events;
mod export;
mod faces_mdlive;
mod faces_pigeons;
mod faces_respondent;
mod faces_tati;
mod faces_trillet;
mod fidelity;
mod fixtures;
mod full_disk;
mod group_commit;
mod idempotency;
mod integrity;
mod native;
mod notices;
mod openapi;
mod query_plans;
mod read_state;
mod readme_examples;
mod retention;
mod search;
mod search_browser;
mod send_path;
mod shutdown;
mod throttle;
mod tls;
mod webhooks;

//! The Prometheus recorder and `GET /metrics` on `metrics_bind`: an actix server of its own
//! with one worker, on its own listener, never the public port, so that nothing a tenant's
//! user can reach serves it (and no credential of the public API opens it).
//!
//! The recorder is the process's (the `metrics` macros have one global recorder): installed by
//! the first server started with `metrics_bind`, shared by any later one in the same process.
//! Gauges that are a state rather than an event (the writer's queue, the WAL's size, the read
//! pool) are read from the store at each scrape.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::names;
use crate::error::{Error, Result};
use crate::store::Store;

static HANDLE: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();
/// Whether the recorder is installed: the request path asks this before it builds labels.
static ON: AtomicBool = AtomicBool::new(false);

/// How often histograms' samples are folded into their buckets between scrapes, so that a
/// server nobody scrapes keeps a bounded amount of them.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Whether metrics are being recorded in this process.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Installs the recorder once per process; later calls return the same handle.
pub fn install() -> Result<&'static PrometheusHandle> {
    let installed = HANDLE.get_or_init(|| {
        let recorder = buckets()
            .map_err(|e| format!("metrics buckets: {e}"))?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder)
            .map_err(|e| format!("installing the metrics recorder: {e}"))?;
        names::describe();
        metrics::gauge!(
            names::BUILD_INFO,
            "version" => env!("CARGO_PKG_VERSION"),
            "commit" => super::COMMIT
        )
        .set(1.0);
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("parlor-metrics".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            })
            .map_err(|e| format!("starting the metrics upkeep thread: {e}"))?;
        ON.store(true, Ordering::Relaxed);
        Ok(handle)
    });
    installed.as_ref().map_err(|e| Error::internal(e.clone()))
}

fn buckets() -> std::result::Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::REQUEST_SECONDS.into()),
            names::SECONDS_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(names::WRITER_COMMIT_SECONDS.into()),
            names::COMMIT_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(names::WRITER_BATCH.into()),
            names::BATCH_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full(names::BACKUP_SECONDS.into()),
            names::BACKUP_BUCKETS,
        )
}

/// The metrics server, bound and ready to be awaited.
pub struct MetricsServer {
    pub server: actix_web::dev::Server,
    pub addr: SocketAddr,
}

/// Installs the recorder and binds `/metrics` on `bind`, reading the gauges of `store`.
pub fn serve(bind: &str, store: Store) -> Result<MetricsServer> {
    let handle = install()?;
    let listener = TcpListener::bind(bind)
        .map_err(|e| Error::invalid("metrics_bind", format!("cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr().map_err(Error::internal)?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "metrics are served without authentication on {addr}: make sure only the \
             monitoring server can reach it (a firewall, or metrics_bind on loopback)"
        );
    }
    let scraped = web::Data::new(Scraped {
        handle: handle.clone(),
        store,
    });
    let server = crate::http::serve(listener, 1, None, false, move || {
        actix_web::App::new()
            .app_data(scraped.clone())
            .route("/metrics", web::get().to(scrape))
            .default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .content_type("text/plain; charset=utf-8")
                    .body("not found: metrics are at /metrics\n")
            }))
    })
    .map_err(Error::internal)?;
    Ok(MetricsServer { server, addr })
}

struct Scraped {
    handle: PrometheusHandle,
    store: Store,
}

/// The text exposition format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn scrape(scraped: web::Data<Scraped>) -> HttpResponse {
    let store = scraped.store.clone();
    // The WAL's size is a stat of a file: off the worker, like every call that may block.
    match web::block(move || store.sample()).await {
        Ok(sample) => {
            metrics::gauge!(names::WRITER_QUEUE).set(sample.writes_queued as f64);
            metrics::gauge!(names::WAL_BYTES).set(sample.wal_bytes as f64);
            metrics::gauge!(names::READ_POOL, "state" => "in_use").set(f64::from(
                sample.pool_connections.saturating_sub(sample.pool_idle),
            ));
            metrics::gauge!(names::READ_POOL, "state" => "idle").set(f64::from(sample.pool_idle));
            metrics::gauge!(names::READ_QUEUE).set(sample.reads_waiting as f64);
        }
        Err(e) => tracing::warn!("metrics: reading the store's gauges: {e}"),
    }
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(scraped.handle.render())
}

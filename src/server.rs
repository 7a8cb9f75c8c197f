//! Wiring: settings → store → service → HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::{error::InternalError, web, HttpRequest, HttpResponse};

use crate::app::App;
use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::Sessions;
use crate::auth::throttle::SignInThrottle;
use crate::config::Settings;
use crate::domain::Clock;
use crate::error::{Error, Result};
use crate::native::{self, dto::HealthDto, error::ApiError};
use crate::service::idempotency::KeyLocks;
use crate::service::Service;
use crate::store::health::Readiness;
use crate::store::{self, origin, StartupCheck, Store, StoreOptions, Synchronous};
use crate::{admin, app_page, audit, faces, fixture, http};

/// A server bound to its address, ready to be awaited (or spawned).
pub struct Running {
    pub server: actix_web::dev::Server,
    pub addr: SocketAddr,
    pub service: Service,
    /// What a fixture loaded at this start holds, for printing.
    pub loaded: Option<fixture::Summary>,
    /// Credentials to show at start (the demo's, with `--demo`).
    pub credentials: Vec<fixture::Credential>,
    /// "https" with built-in TLS, else "http".
    pub scheme: &'static str,
    /// Whether e-mail notices are on (`smtp_url`).
    pub notices: bool,
    /// Where `/metrics` is served (`metrics_bind`), when it is.
    pub metrics_addr: Option<SocketAddr>,
}

/// `read_pool_size`, with 0 meaning two per CPU core, at most eight: enough to keep every core
/// reading while others wait on the disk, and no more, since each connection keeps its own
/// page cache (and each reader thread its own allocator heap) in memory.
pub fn read_connections(configured: u32) -> u32 {
    if configured > 0 {
        return configured;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(2, 8) as u32
}

/// Opens the database after the start-up check (`startup_check_seconds`,
/// `read_only_if_damaged`).
pub fn open_store(settings: &Settings) -> Result<Store> {
    let key = crate::encryption::key_for(settings)?;
    let store = Store::open_checked(
        &settings.db,
        &StoreOptions {
            synchronous: settings.synchronous,
            read_pool_size: read_connections(settings.read_pool_size),
            max_batch: settings.max_batch,
        },
        &StartupCheck {
            budget: (settings.startup_check_seconds > 0)
                .then(|| Duration::from_secs(settings.startup_check_seconds.into())),
            read_only_if_damaged: settings.read_only_if_damaged,
        },
        key.as_ref(),
    )?;
    store.set_read_queue_depth(settings.read_queue_depth);
    if settings.checkpoints == store::Checkpoints::External {
        // Litestream reads the WAL's pages as they are: it cannot replicate an encrypted file.
        if key.is_some() {
            let _ = store.close_blocking();
            return Err(Error::invalid(
                "checkpoints",
                "\"external\" is for Litestream, which cannot read an encrypted database; \
                 replicate a plain database, or copy the scheduled backups off the machine \
                 (restic) instead",
            ));
        }
        store.hand_checkpoints_over();
    }
    Ok(store)
}

/// `synchronous = "off"` may lose recent messages and may corrupt the file on power loss. It is
/// accepted for data that can be loaded again (the demo, a fixture) and refused for anything
/// else unless `synchronous_off_confirmed` says the risk is understood. `loading`: this start
/// loads the demo or a fixture.
pub async fn check_synchronous(store: &Store, settings: &Settings, loading: bool) -> Result<()> {
    if settings.synchronous != Synchronous::Off {
        return Ok(());
    }
    if settings.synchronous_off_confirmed {
        tracing::warn!(
            "synchronous = \"off\" (confirmed): a power cut may lose recent messages and may \
             corrupt {}",
            settings.db.display()
        );
        return Ok(());
    }
    let (tenants, scratch) = store
        .read(|c| Ok((origin::holds_tenants(c)?, origin::is_scratch(c)?)))
        .await?;
    if scratch || (!tenants && loading) {
        return Ok(());
    }
    Err(Error::invalid(
        "synchronous",
        format!(
            "\"off\" may lose recent messages and may corrupt the database file on power loss, \
             and {} {}. Use \"full\" (or \"normal\"), or set synchronous_off_confirmed = true \
             to accept the risk",
            settings.db.display(),
            if tenants {
                "holds data that was not loaded from the demo or a fixture"
            } else {
                "is about to receive data that is not from the demo or a fixture"
            }
        ),
    ))
}

/// Opens the store, loads the demo data or a fixture if asked, binds the listener and builds
/// the HTTP server. Must run inside an actix/tokio runtime; the caller awaits `server`.
pub async fn build_app(
    settings: Settings,
    fixture_file: Option<&std::path::Path>,
) -> Result<Running> {
    settings.validate()?;
    // Before the database is touched: a TLS file that does not load stops the start here.
    let tls = settings.tls_files().map(http::tls_config).transpose()?;
    let store = open_store(&settings)?;
    let loading = settings.demo || fixture_file.is_some();
    let control = crate::control::enabled(settings.stand_in, settings.demo, fixture_file.is_some())
        .then(|| {
            web::Data::new(crate::control::ControlPlane::new(match fixture_file {
                Some(path) => crate::control::Start::Fixture(path.display().to_string()),
                None if settings.demo => crate::control::Start::Demo,
                None => crate::control::Start::Empty,
            }))
        });
    check_synchronous(&store, &settings, loading).await?;
    let empty_before =
        loading && !store.health().is_damaged() && !store.read(origin::holds_tenants).await?;
    let service = Service::new(store, Clock::system());
    service.set_password_queue_depth(settings.password_queue_depth);

    if let Some(token) = &settings.admin_token {
        match service.ensure_server_admin_token(token).await {
            // Read-only on a damaged file: the token cannot be recorded, the rest still serves.
            Err(Error::Unavailable { .. }) if service.store.health().is_damaged() => {
                tracing::warn!("admin_token is not accepted: the database is read-only")
            }
            other => other?,
        }
    }
    let mut loaded = None;
    let mut credentials = Vec::new();
    if settings.demo {
        let (summary, demo_credentials) = fixture::load_demo(&service).await?;
        loaded = summary;
        credentials = demo_credentials;
        if settings.admin_token.is_none() {
            // The demo is for trying things out: give it a known server-admin token.
            service
                .ensure_server_admin_token(fixture::DEMO_ADMIN_TOKEN)
                .await?;
            credentials.insert(
                0,
                fixture::Credential {
                    tenant: "(all tenants)".into(),
                    kind: "server admin token",
                    who: "native API, admin page".into(),
                    value: fixture::DEMO_ADMIN_TOKEN.into(),
                },
            );
        }
    }
    if let Some(path) = fixture_file {
        let doc = fixture::Document::from_file(path)?;
        loaded = Some(fixture::load(&service, doc).await?);
    }
    if empty_before {
        service.store.write(origin::mark_scratch).await?;
    }

    if settings.retention_sweep {
        crate::service::retention::sweep::spawn_daily(
            service.clone(),
            crate::service::retention::SweepOptions {
                audited_as: settings.audit.then_some("system"),
                audit_days: Some(settings.audit_retention_days),
                ..Default::default()
            },
        );
    }

    let jwt = JwtKeys::new(
        service
            .jwt_secret(settings.jwt_secret.clone())
            .await?
            .as_bytes(),
    );

    let listener = TcpListener::bind(&settings.bind)
        .map_err(|e| Error::invalid("bind", format!("cannot listen on {}: {e}", settings.bind)))?;
    let addr = listener.local_addr().map_err(Error::internal)?;
    let transport = http::transport::Transport {
        tls: tls.is_some(),
        addr,
    };
    if let Some(warning) = transport.warning() {
        tracing::warn!("{warning}");
    }
    let workers = if settings.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        settings.workers
    };
    let body_limit = settings.body_limit;
    let guard = http::RequestGuard::new(http::BodyLimits {
        between_reads: Duration::from_secs(settings.body_read_timeout_seconds.into()),
        total: Duration::from_secs(settings.body_timeout_seconds.into()),
    })
    .hsts(tls.is_some());
    let face_settings = settings.clone();
    let audit_on = settings.audit;
    let doors = std::sync::Arc::new(faces::doors::Doors::new(&settings, control.is_some()));
    let sessions = Sessions::new(
        settings.admin_idle_timeout_minutes,
        settings.admin_session_hours,
    );
    let sign_in_throttle = SignInThrottle::new(settings.password_throttle);
    let closing = tokio::sync::watch::Sender::new(false);
    let events = crate::native::events::Hub::start(service.clone(), closing.subscribe());
    let app = web::Data::new(App {
        service: service.clone(),
        settings,
        jwt,
        sessions,
        sign_in_throttle,
        idempotency: KeyLocks::default(),
        closing,
        events,
        gate: crate::control::state::Gate::default(),
    });
    end_streams_on_stop(app.closing.clone());
    // The start state a reset returns to: the data as loaded, before anything is served.
    let state = match control {
        Some(_) => Some(crate::control::state::State::start(app.clone()).await?),
        None => None,
    };
    // After the state's start, which makes the control directory afresh: the journal's file
    // lives in it too.
    let journal = crate::control::journal::Journal::start(control.is_some(), &app.settings)?;
    let hooks = std::sync::Arc::new(crate::webhooks::Webhooks::new(
        crate::webhooks::address::Outbound {
            allow_private: app.settings.webhook_allow_private,
            // The stand-in configurations: a test suite's receiver listens on loopback.
            allow_loopback: loading,
        },
        Duration::from_secs(app.settings.webhook_timeout_seconds.into()),
        crate::webhooks::parse_schedule(&app.settings.webhook_retry_schedule)?,
        app.settings.webhook_outbox_days,
    ));
    // A file served read-only (damaged) takes no deliveries: nothing could record them.
    if !service.store.health().is_damaged() {
        crate::webhooks::start(service.clone(), hooks.clone(), app.closing.subscribe()).await;
    }
    let notices = !service.store.health().is_damaged()
        && crate::notices::start(service.clone(), &app.settings, app.closing.subscribe())?;
    // After the dispatcher's catch-up: events committed before a long stop are turned into
    // deliveries before the window can drop them.
    crate::service::events::spawn_pruner(service.clone(), app.settings.events_retention_hours);
    if !service.store.health().is_damaged() {
        crate::service::attachments::spawn_cleaner(
            service.clone(),
            app.settings.attachment_unsent_hours,
        );
    }
    // Before the public port opens, so that nothing is served unmeasured; a metrics_bind
    // that cannot be bound stops the start.
    let metrics_addr = match &app.settings.metrics_bind {
        Some(bind) => {
            let metrics = crate::telemetry::exporter::serve(bind, service.store.clone())?;
            actix_web::rt::spawn(metrics.server);
            Some(metrics.addr)
        }
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let faults = control.as_ref().map(|plane| plane.faults.clone());
    let backups = crate::backups::Status::default();
    // A read-only (damaged) file is not copied over the last good backups.
    if !service.store.health().is_damaged() {
        if let Some(plan) = crate::backups::Plan::of(&app.settings, service.store.key())? {
            crate::backups::start(
                plan,
                service.clock.clone(),
                backups.clone(),
                app.closing.subscribe(),
                app.settings.audit.then(|| service.store.clone()),
            )?;
        }
    }
    let server = http::serve(listener, workers, tls, faults.is_some(), move || {
        let app_settings = face_settings.clone();
        let front = doors.clone();
        let journal = journal.clone();
        let journal_data = journal.clone();
        actix_web::App::new()
            .app_data(app.clone())
            .app_data(web::Data::from(hooks.clone()))
            .app_data(web::Data::from(doors.clone()))
            .app_data(web::Data::new(transport))
            .app_data(web::Data::new(backups.clone()))
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                InternalError::from_response(
                    e,
                    ApiError(Error::NotFound("resource")).error_response_owned(),
                )
                .into()
            }))
            // A stand-in's fault rules: after the front door has named the face, before routing,
            // inside the journal, which records a faulted answer as it went out.
            .wrap(crate::control::faults::Faulting(faults.clone()))
            // Inside the audit trail, whose draft knows the tenant, and the front door.
            .wrap_fn(move |req, routes| crate::control::journal::record(&journal, req, routes))
            // Inside the front door: the path is read as the face's framework reads it.
            .wrap_fn(move |req, routes| audit::trail::record(audit_on, req, routes))
            // Inside the front door (a refusal is in the face's format), outside the audit
            // trail (a sandbox's request is recorded in the sandbox).
            .wrap(crate::control::state::Admission(state.clone()))
            // Faces keep their frameworks' habits with paths and CORS, before routing.
            .wrap_fn(move |req, routes| faces::doors::front_door(&front, req, routes))
            // Outside everything but the guard: every answer carries the request id, and gets
            // its log line and metrics.
            .wrap_fn(crate::telemetry::requests::observe)
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route(
                http::transport::ROUTE,
                web::get().to(http::transport::status),
            )
            .configure(native::routes)
            .configure(admin::routes)
            .configure(app_page::routes)
            .configure(|cfg| faces::routes(cfg, &app_settings))
            .configure(|cfg| {
                // A clinic's server has no control plane at all: its paths are plain 404s.
                if let (Some(plane), Some(state)) = (&control, &state) {
                    cfg.app_data(plane.clone());
                    cfg.app_data(web::Data::from(state.clone()));
                    if let Some(journal) = &journal_data {
                        cfg.app_data(web::Data::from(journal.clone()));
                    }
                    crate::control::routes(cfg);
                }
            })
            .default_service(web::to(not_found))
            .wrap(guard)
    })
    .map_err(Error::internal)?;
    Ok(Running {
        server,
        addr,
        service,
        loaded,
        credentials,
        scheme,
        notices,
        metrics_addr,
    })
}

/// actix-server stops on these signals (SIGTERM gracefully), waiting for open connections; an
/// event stream never ends by itself, so it is told to here.
fn end_streams_on_stop(closing: tokio::sync::watch::Sender<bool>) {
    #[cfg(unix)]
    actix_web::rt::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let kinds = [
            SignalKind::terminate(),
            SignalKind::interrupt(),
            SignalKind::quit(),
        ];
        let mut signals = Vec::new();
        for kind in kinds {
            match signal(kind) {
                Ok(s) => signals.push(s),
                Err(e) => tracing::warn!("event streams will not end on a stop signal: {e}"),
            }
        }
        let [mut a, mut b, mut c] = match <[_; 3]>::try_from(signals) {
            Ok(s) => s,
            Err(_) => return,
        };
        tokio::select! {
            _ = a.recv() => {},
            _ = b.recv() => {},
            _ = c.recv() => {},
        }
        closing.send_replace(true);
    });
}

impl ApiError {
    fn error_response_owned(&self) -> HttpResponse {
        actix_web::ResponseError::error_response(self)
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthDto { status: "ok" })
}

/// `/readyz`: 200 when the database answers; 503 with the reason when it does not, when its
/// storage is full or damaged, or when the writer is stuck. Also what an operator watches: can
/// changes be stored, how large the WAL is, how old the last scheduled backup is.
#[derive(serde::Serialize)]
struct ReadinessDto {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    database: DatabaseDto,
    /// Present when backups are scheduled (`backup_every`).
    #[serde(skip_serializing_if = "Option::is_none")]
    backups: Option<crate::backups::status::BackupsDto>,
}

#[derive(serde::Serialize)]
struct DatabaseDto {
    writable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    wal_bytes: Option<u64>,
}

async fn readyz(app: web::Data<App>, backups: web::Data<crate::backups::Status>) -> HttpResponse {
    let stuck_after = Duration::from_secs(app.settings.writer_stuck_seconds.into());
    let state = app.service.store.state(stuck_after).await;
    let (mut answer, status, reason) = match state.readiness {
        Readiness::Ready => (HttpResponse::Ok(), "ready", None),
        Readiness::NotReady(reason) => (
            HttpResponse::ServiceUnavailable(),
            "unavailable",
            Some(reason),
        ),
    };
    answer
        .insert_header(("Cache-Control", "no-store"))
        .json(ReadinessDto {
            status,
            reason,
            database: DatabaseDto {
                writable: state.writable,
                wal_bytes: state.wal_bytes,
            },
            backups: backups.report(app.service.clock.now_ms()),
        })
}

/// A path no route matches: the 404 of the face whose path it is, else the native one.
async fn not_found(req: HttpRequest) -> HttpResponse {
    if let Some(doors) = req.app_data::<web::Data<faces::doors::Doors>>() {
        if let Some(response) = doors.not_found(&req) {
            return response;
        }
    }
    ApiError(Error::NotFound("route")).error_response_owned()
}

/// `parlor backup`: a consistent copy of the database while a server may be running.
pub fn backup(settings: &Settings, dest: &std::path::Path) -> Result<()> {
    store::backup(
        &settings.db,
        dest,
        crate::encryption::key_for(settings)?.as_ref(),
    )
}

//! Wiring: settings → store → service → HTTP server.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::{error::InternalError, web, HttpRequest, HttpResponse};

use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::Sessions;
use crate::auth::throttle::SignInThrottle;
use crate::config::Settings;
use crate::domain::Clock;
use crate::error::{Error, Result};
use crate::native::{self, dto::HealthDto, error::ApiError};
use crate::service::idempotency::KeyLocks;
use crate::service::Service;
use crate::store::{self, Store, StoreOptions};
use crate::{admin, faces, fixture, http};

/// What every handler shares.
pub struct App {
    pub service: Service,
    pub settings: Settings,
    /// Signs and checks the MDLIVE face's JWTs.
    pub jwt: JwtKeys,
    /// The admin page's signed-in sessions (in memory: a restart signs everyone out).
    pub sessions: Sessions,
    /// Failed password checks on every surface, to slow down guessing.
    pub sign_in_throttle: SignInThrottle,
    /// Idempotency-Keys in use, so that concurrent retries wait for the first.
    pub idempotency: KeyLocks,
}

/// A server bound to its address, ready to be awaited (or spawned).
pub struct Running {
    pub server: actix_web::dev::Server,
    pub addr: SocketAddr,
    pub service: Service,
    /// What a fixture loaded at this start holds, for printing.
    pub loaded: Option<fixture::Summary>,
    /// Credentials to show at start (the demo's, with `--demo`).
    pub credentials: Vec<fixture::Credential>,
}

pub fn open_store(settings: &Settings) -> Result<Store> {
    let store = Store::open(
        &settings.db,
        &StoreOptions {
            synchronous: settings.synchronous,
            read_pool_size: settings.read_pool_size,
            max_batch: settings.max_batch,
        },
    )?;
    store.set_read_queue_depth(settings.read_queue_depth);
    Ok(store)
}

/// Opens the store, loads the demo data or a fixture if asked, binds the listener and builds
/// the HTTP server. Must run inside an actix/tokio runtime; the caller awaits `server`.
pub async fn build_app(
    settings: Settings,
    fixture_file: Option<&std::path::Path>,
) -> Result<Running> {
    settings.validate()?;
    let store = open_store(&settings)?;
    let service = Service::new(store, Clock::system());
    service.set_password_queue_depth(settings.password_queue_depth);

    if let Some(token) = &settings.admin_token {
        service.ensure_server_admin_token(token).await?;
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

    let jwt = JwtKeys::new(
        service
            .jwt_secret(settings.jwt_secret.clone())
            .await?
            .as_bytes(),
    );

    let listener = TcpListener::bind(&settings.bind)
        .map_err(|e| Error::invalid("bind", format!("cannot listen on {}: {e}", settings.bind)))?;
    let addr = listener.local_addr().map_err(Error::internal)?;
    let workers = if settings.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        settings.workers
    };
    let body_limit = settings.body_limit;
    let guard = http::RequestGuard::new(http::BodyLimits {
        between_reads: Duration::from_secs(settings.body_read_timeout_seconds.into()),
        total: Duration::from_secs(settings.body_timeout_seconds.into()),
    });
    let face_settings = settings.clone();
    let doors = std::sync::Arc::new(faces::doors::Doors::new(&settings));
    let sessions = Sessions::new(
        settings.admin_idle_timeout_minutes,
        settings.admin_session_hours,
    );
    let sign_in_throttle = SignInThrottle::new(settings.password_throttle);
    let app = web::Data::new(App {
        service: service.clone(),
        settings,
        jwt,
        sessions,
        sign_in_throttle,
        idempotency: KeyLocks::default(),
    });
    let server = http::serve(listener, workers, move || {
        let app_settings = face_settings.clone();
        let front = doors.clone();
        actix_web::App::new()
            .app_data(app.clone())
            .app_data(web::Data::from(doors.clone()))
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                InternalError::from_response(
                    e,
                    ApiError(Error::NotFound("resource")).error_response_owned(),
                )
                .into()
            }))
            // Faces keep their frameworks' habits with paths and CORS, before routing.
            .wrap_fn(move |req, routes| faces::doors::front_door(&front, req, routes))
            .wrap(actix_web::middleware::Logger::new("%r %s %Dms").log_target("parlor::http"))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .configure(native::routes)
            .configure(admin::routes)
            .configure(|cfg| faces::routes(cfg, &app_settings))
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
    })
}

impl ApiError {
    fn error_response_owned(&self) -> HttpResponse {
        actix_web::ResponseError::error_response(self)
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthDto { status: "ok" })
}

/// Ready when the database answers a query.
async fn readyz(app: web::Data<App>) -> HttpResponse {
    let answered = app
        .service
        .store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM tenants", [], |r| r.get::<_, i64>(0))?))
        .await;
    match answered {
        Ok(_) => HttpResponse::Ok().json(HealthDto { status: "ready" }),
        Err(e) => {
            tracing::error!("readiness check failed: {e}");
            HttpResponse::ServiceUnavailable().json(HealthDto {
                status: "unavailable",
            })
        }
    }
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
    store::backup(&settings.db, dest)
}

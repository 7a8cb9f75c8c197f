//! What every handler shares. Its own module so that handlers depend on the state they use,
//! not on `server.rs`, the file that wires them.

use actix_web::{web, HttpRequest};

use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::Sessions;
use crate::auth::throttle::SignInThrottle;
use crate::config::Settings;
use crate::error::Error;
use crate::service::idempotency::KeyLocks;
use crate::service::Service;

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
    /// Set once the server is stopping: open event streams end, so they do not hold up the
    /// graceful stop.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// The committed events, rendered once for every open stream.
    pub events: crate::native::events::Hub,
    /// Every request to this app's store holds it shared; a reset or restore takes it whole
    /// (`control::state`).
    pub gate: crate::control::state::Gate,
}

impl App {
    /// The app serving `req` (`build_app` gives it to every route).
    pub fn of(req: &HttpRequest) -> Result<web::Data<App>, Error> {
        req.app_data::<web::Data<App>>()
            .cloned()
            .ok_or_else(|| Error::internal("app data missing"))
    }
}

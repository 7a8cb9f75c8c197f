//! Sandboxes: a request with `X-Parlor-Sandbox: <name>` is served by that sandbox's own app (its
//! own database file, writer and readers, service, event hub, sessions), so that tests running
//! in parallel never see each other's writes. A sandbox opens on its first request, from the
//! start state or from the snapshot `X-Parlor-Sandbox-From` names (or explicitly: `POST
//! /__parlor/sandboxes`). At most `stand_in_sandboxes` stay open; opening one more closes the
//! least recently used.
//!
//! What a sandbox shares with the server: the settings, the clock (one time for the whole
//! server), the password threads, and the data it was copied from (so the server-admin token
//! and the demo's credentials work in it). What it does not: everything made in it, tokens and
//! sign-in sessions included, which work only there. No background task runs for a sandbox
//! (webhook deliveries, e-mail notices, retention and event pruning): it lives for a test.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, OnceCell};

use super::{blocking, Name, State};
use crate::app::App;
use crate::auth::jwt::JwtKeys;
use crate::auth::sessions::Sessions;
use crate::auth::throttle::SignInThrottle;
use crate::control::auth::ServerAdmin;
use crate::domain::time::rfc3339_ms;
use crate::error::{Error, Result};
use crate::native::error::ApiResult;
use crate::native::extract::Json;
use crate::openapi::{op, Op};
use crate::service::idempotency::KeyLocks;
use crate::service::Service;
use crate::store::{Store, StoreOptions, Synchronous};

/// Where the sandbox routes live (the admission middleware does not open a sandbox for them).
pub const PATH: &str = "/__parlor/sandboxes";

/// Read connections (and reader threads) of a sandbox: a test's traffic, not a clinic's.
const SANDBOX_READERS: u32 = 2;

/// What a sandbox was copied from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Start,
    Snapshot(Name),
}

pub struct Sandbox {
    name: Name,
    origin: Origin,
    pub app: web::Data<App>,
    file: PathBuf,
    created_at: i64,
    last_used_at: AtomicI64,
    /// When it was last used, in the order of uses (the clock may be frozen).
    last_use: AtomicU64,
    requests: AtomicU64,
    closed: AtomicBool,
}

/// Uses of every sandbox, in order: what "least recently used" compares.
static USES: AtomicU64 = AtomicU64::new(0);
/// Tells apart the files of sandboxes opened under the same name one after another.
static FILES: AtomicU64 = AtomicU64::new(0);

impl Sandbox {
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Counts a request.
    pub fn used(&self, service: &Service) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.last_used_at.store(service.now(), Ordering::Relaxed);
        self.last_use
            .store(USES.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Closed (deleted, or past the cap): a request that held it must open it again.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits for the requests inside, ends its event streams, stops its store (the writer
    /// drains what is queued) and removes its file.
    async fn close(self: Arc<Self>) -> Result<()> {
        let _alone = self.app.gate.close().await;
        self.closed.store(true, Ordering::Release);
        self.app.closing.send_replace(true);
        let stopped = self.app.service.store.close().await;
        let file = self.file.clone();
        blocking(move || {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::internal(format!("{path:?}: {e}")))
                    }
                    _ => {}
                }
            }
            Ok(())
        })
        .await?;
        stopped
    }
}

/// A sandbox, or the one being opened: two first requests at once open it once.
#[derive(Default)]
struct Slot(OnceCell<Arc<Sandbox>>);

/// The open sandboxes, by name.
pub struct Sandboxes {
    slots: Mutex<HashMap<Name, Arc<Slot>>>,
    cap: usize,
}

impl Sandboxes {
    pub fn new(cap: usize) -> Sandboxes {
        Sandboxes {
            slots: Mutex::new(HashMap::new()),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Name, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sandbox `name`, opened from `from` (else the start state) if it is not open yet.
    /// `from` given for an open sandbox must be what it was opened from.
    pub async fn open(
        &self,
        state: &State,
        name: &Name,
        from: Option<Origin>,
    ) -> Result<Arc<Sandbox>> {
        let (slot, fresh) = {
            let mut slots = self.lock();
            match slots.get(name) {
                Some(slot) => (slot.clone(), false),
                None => {
                    let slot = Arc::new(Slot::default());
                    slots.insert(name.clone(), slot.clone());
                    (slot, true)
                }
            }
        };
        let origin = from.clone().unwrap_or(Origin::Start);
        let opened = slot
            .0
            .get_or_try_init(|| create(state, name.clone(), origin))
            .await
            .cloned();
        let sandbox = match opened {
            Ok(sandbox) => sandbox,
            Err(e) => {
                self.forget(name, &slot);
                return Err(e);
            }
        };
        if !self.holds(name, &slot) {
            // Deleted while it was being opened.
            actix_web::rt::spawn(closed(sandbox));
            return Err(Error::unavailable(
                "the sandbox was deleted while it was being opened; try again",
                Some(1),
            ));
        }
        if let Some(from) = from.filter(|f| *f != sandbox.origin) {
            return Err(Error::Conflict(format!(
                "sandbox {:?} is already open, from {}, not from {}; delete it to start it \
                 again from another state",
                name.as_str(),
                describe(&sandbox.origin),
                describe(&from)
            )));
        }
        if fresh {
            self.trim(&sandbox);
        }
        Ok(sandbox)
    }

    fn holds(&self, name: &Name, slot: &Arc<Slot>) -> bool {
        self.lock().get(name).is_some_and(|s| Arc::ptr_eq(s, slot))
    }

    fn forget(&self, name: &Name, slot: &Arc<Slot>) {
        let mut slots = self.lock();
        if slots.get(name).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(name);
        }
    }

    /// Past the cap, closes the least recently used sandboxes other than `opened`.
    fn trim(&self, opened: &Arc<Sandbox>) {
        let evicted = {
            let mut slots = self.lock();
            let mut open: Vec<(Name, u64)> = slots
                .iter()
                .filter_map(|(name, slot)| {
                    let sandbox = slot.0.get()?;
                    Some((name.clone(), sandbox.last_use.load(Ordering::Relaxed)))
                })
                .collect();
            let mut evicted = Vec::new();
            while open.len() > self.cap {
                let Some(oldest) = open
                    .iter()
                    .enumerate()
                    .filter(|(_, (name, _))| *name != opened.name)
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(i, _)| i)
                else {
                    break;
                };
                let (name, _) = open.swap_remove(oldest);
                if let Some(sandbox) = slots.remove(&name).and_then(|s| s.0.get().cloned()) {
                    evicted.push(sandbox);
                }
            }
            evicted
        };
        for sandbox in evicted {
            tracing::info!(
                "stand-in: sandbox {:?} closed (least recently used of more than {})",
                sandbox.name.as_str(),
                self.cap
            );
            actix_web::rt::spawn(closed(sandbox));
        }
    }

    /// Takes `name` out of the open sandboxes, for closing.
    fn take(&self, name: &Name) -> Option<Arc<Sandbox>> {
        let slot = self.lock().remove(name)?;
        slot.0.get().cloned()
    }

    fn list(&self) -> Vec<Arc<Sandbox>> {
        let mut open: Vec<Arc<Sandbox>> = self
            .lock()
            .values()
            .filter_map(|s| s.0.get().cloned())
            .collect();
        open.sort_by(|a, b| a.name.cmp(&b.name));
        open
    }
}

async fn closed(sandbox: Arc<Sandbox>) {
    let name = sandbox.name.clone();
    if let Err(e) = sandbox.close().await {
        tracing::warn!("stand-in: closing sandbox {:?}: {e}", name.as_str());
    }
}

fn describe(origin: &Origin) -> String {
    match origin {
        Origin::Start => "the start state".into(),
        Origin::Snapshot(name) => format!("snapshot {:?}", name.as_str()),
    }
}

/// Copies the origin's file (a file nobody writes: the start state or a snapshot) on a blocking
/// thread and opens a store and an app on it.
async fn create(state: &State, name: Name, origin: Origin) -> Result<Arc<Sandbox>> {
    let src = match &origin {
        Origin::Start => state.files.start(),
        Origin::Snapshot(snapshot) if state.snapshots.holds(snapshot) => {
            state.files.snapshot(snapshot)
        }
        Origin::Snapshot(_) => return Err(Error::NotFound("snapshot")),
    };
    let file = state.files.sandboxes().join(format!(
        "{}.{}.db",
        name.as_str(),
        FILES.fetch_add(1, Ordering::Relaxed)
    ));
    let main = &state.main;
    let options = StoreOptions {
        // A sandbox is made again from its origin, never recovered: no fsync is worth its cost.
        synchronous: Synchronous::Off,
        read_pool_size: SANDBOX_READERS,
        max_batch: main.settings.max_batch,
    };
    let key = state.key.clone();
    let target = file.clone();
    let store = blocking(move || {
        std::fs::copy(&src, &target)
            .map_err(|e| Error::internal(format!("copying {}: {e}", src.display())))?;
        Store::open_keyed(&target, &options, key.as_ref()).inspect_err(|_| {
            let _ = std::fs::remove_file(&target);
        })
    })
    .await?;
    store.set_read_queue_depth(main.settings.read_queue_depth);
    let service = main.service.sandbox(store, name.as_str());
    let jwt = JwtKeys::new(
        service
            .jwt_secret(main.settings.jwt_secret.clone())
            .await?
            .as_bytes(),
    );
    let closing = watch::Sender::new(false);
    follow_stop(&main.closing, &closing);
    let now = service.now();
    let settings = &main.settings;
    let app = web::Data::new(App {
        events: crate::native::events::Hub::start(service.clone(), closing.subscribe()),
        service,
        settings: settings.clone(),
        jwt,
        sessions: Sessions::new(
            settings.admin_idle_timeout_minutes,
            settings.admin_session_hours,
        ),
        sign_in_throttle: SignInThrottle::new(settings.password_throttle),
        idempotency: KeyLocks::default(),
        closing,
        gate: super::Gate::default(),
    });
    Ok(Arc::new(Sandbox {
        name,
        origin,
        app,
        file,
        created_at: now,
        last_used_at: AtomicI64::new(now),
        last_use: AtomicU64::new(USES.fetch_add(1, Ordering::Relaxed)),
        requests: AtomicU64::new(0),
        closed: AtomicBool::new(false),
    }))
}

/// A graceful stop of the server ends the sandbox's event streams too.
fn follow_stop(server: &watch::Sender<bool>, sandbox: &watch::Sender<bool>) {
    let mut stopping = server.subscribe();
    let mut closed = sandbox.subscribe();
    let sandbox = sandbox.clone();
    actix_web::rt::spawn(async move {
        tokio::select! {
            changed = stopping.changed() => {
                if changed.is_ok() {
                    sandbox.send_replace(true);
                }
            }
            _ = closed.changed() => {}
        }
    });
}

/// The sandboxes' operations, for the control plane's table.
pub fn operations() -> Vec<Op> {
    use crate::control::ADMIN;
    vec![
        op(
            Method::GET,
            "/sandboxes",
            "The open sandboxes, and how many may be open",
            list,
        )
        .json::<SandboxesDto>(200)
        .errors(ADMIN),
        op(
            Method::POST,
            "/sandboxes",
            "Open a sandbox ahead of its first request, from the start state or a snapshot",
            open,
        )
        .body::<OpenBody>()
        .json::<SandboxDto>(201)
        .errors(&[400, 401, 403, 409]),
        op(
            Method::DELETE,
            "/sandboxes/{name}",
            "Close a sandbox: wait for its requests, stop its store, remove its file",
            delete,
        )
        .empty(204)
        .errors(&[400, 401, 403, 404]),
    ]
}

#[derive(Serialize, JsonSchema)]
struct SandboxDto {
    name: String,
    /// The snapshot it was opened from; `null`: the start state.
    snapshot: Option<String>,
    created_at: String,
    last_used_at: String,
    requests: u64,
}

impl SandboxDto {
    fn of(s: &Sandbox) -> SandboxDto {
        SandboxDto {
            name: s.name.as_str().to_owned(),
            snapshot: match &s.origin {
                Origin::Start => None,
                Origin::Snapshot(name) => Some(name.as_str().to_owned()),
            },
            created_at: rfc3339_ms(s.created_at),
            last_used_at: rfc3339_ms(s.last_used_at.load(Ordering::Relaxed)),
            requests: s.requests.load(Ordering::Relaxed),
        }
    }
}

#[derive(Serialize, JsonSchema)]
struct SandboxesDto {
    sandboxes: Vec<SandboxDto>,
    /// How many may be open at once (`stand_in_sandboxes`).
    cap: usize,
}

/// `GET /__parlor/sandboxes`.
async fn list(_admin: ServerAdmin, state: web::Data<State>) -> ApiResult<HttpResponse> {
    let sandboxes = state
        .sandboxes
        .list()
        .iter()
        .map(|s| SandboxDto::of(s))
        .collect();
    Ok(HttpResponse::Ok().json(SandboxesDto {
        sandboxes,
        cap: state.sandboxes.cap,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    name: String,
    /// A snapshot's name; absent: the start state.
    from: Option<String>,
}

/// `POST /__parlor/sandboxes {"name", "from"?}`: opens a sandbox ahead of its first request.
async fn open(
    _admin: ServerAdmin,
    state: web::Data<State>,
    body: Json<OpenBody>,
) -> ApiResult<HttpResponse> {
    let name = Name::parse("name", &body.0.name)?;
    let from = body
        .0
        .from
        .as_deref()
        .map(|f| Name::parse("from", f).map(Origin::Snapshot))
        .transpose()?;
    if state.sandboxes.lock().contains_key(&name) {
        return Err(Error::Conflict(format!(
            "sandbox {:?} is already open; delete it first to open it again",
            name.as_str()
        ))
        .into());
    }
    if let Some(Origin::Snapshot(snapshot)) = &from {
        if !state.snapshots.holds(snapshot) {
            return Err(Error::invalid("from", "no snapshot has this name").into());
        }
    }
    let sandbox = state.sandboxes.open(&state, &name, from).await?;
    Ok(HttpResponse::Created().json(SandboxDto::of(&sandbox)))
}

/// `DELETE /__parlor/sandboxes/{name}`: waits for its requests, stops its store, removes its
/// file.
async fn delete(
    _admin: ServerAdmin,
    state: web::Data<State>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let name = Name::parse("name", &name)?;
    let sandbox = state
        .sandboxes
        .take(&name)
        .ok_or(Error::NotFound("sandbox"))?;
    sandbox.close().await?;
    Ok(HttpResponse::NoContent().finish())
}

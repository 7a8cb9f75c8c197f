//! `GET /parlor/v1/events`: the event log as Server-Sent Events.
//!
//! The writer publishes each batch of committed events; one relay task (`Hub`) renders every
//! event to its frame once and passes the batch on to the streams. Each stream is a task that
//! catches up from the table (a reconnect), then keeps the batch events its audience wants:
//! an open stream costs no database read per send, and a frame's bytes are shared by every
//! stream that sends it. A stream that falls behind the broadcast catches up from the table.
//!
//! Frames go to the response body through a channel whose unread bytes are counted: a client
//! that stops reading is cut off once they pass `HIGH_WATER` and stay there for `GRACE`,
//! rather than held in memory. No compression on this route: a compressing encoder buffers.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch, Notify};

use super::auth::{resume_session, session_cookie, tenant_of, Caller, TENANT_HEADER};
use super::dto::{EventDto, ResetDto};
use super::error::ApiResult;
use super::extract::Query;
use crate::app::App;
use crate::auth::sessions::Use;
use crate::auth::{presented, Presented, Principal};
use crate::domain::{IdRef, TenantId};
use crate::error::Error;
use crate::service::events::{Audience, Start, PAGE};
use crate::service::Service;
use crate::store::events::{Event, Restart};

/// A comment line this often keeps an idle connection open through proxies.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Bytes handed to the body and not yet taken by the connection past which a stream waits.
const HIGH_WATER: usize = 256 * 1024;
/// How long a stream waits for its client to read below `HIGH_WATER` before cutting it off.
const GRACE: Duration = Duration::from_secs(10);

#[derive(Deserialize, schemars::JsonSchema)]
pub struct EventsQuery {
    last_event_id: Option<String>,
    /// The tenant the server admin names, for a client that cannot send `X-Parlor-Tenant`
    /// (a browser's `EventSource`).
    tenant: Option<String>,
}

/// An event as every stream sends it, rendered once.
pub struct Rendered {
    seq: i64,
    tenant: TenantId,
    subject: Option<i64>,
    /// The conversation's participants when it happened (from the unread counts).
    members: Vec<i64>,
    frame: Bytes,
}

impl Rendered {
    fn of(e: &Event) -> Rendered {
        let dto = EventDto::of(e);
        let members = dto.payload.unread.iter().map(|u| u.user_id).collect();
        let data = serde_json::to_string(&dto).unwrap_or_default();
        Rendered {
            seq: e.seq,
            tenant: e.tenant,
            subject: e.subject,
            members,
            frame: Bytes::from(frame(e.seq, &e.kind, &data)),
        }
    }

    fn for_(&self, audience: &Audience) -> bool {
        audience.wants(self.tenant, self.subject, &self.members)
    }
}

/// What the hub hands every stream.
#[derive(Clone)]
enum Relayed {
    Events(Arc<Vec<Rendered>>),
    /// The database was restored (the stand-in's reset or a snapshot): the log goes on after
    /// `latest`, which may be below what a stream has sent.
    Restarted {
        latest: i64,
    },
}

/// The relay from the writer's batches to the streams: renders each event once.
#[derive(Clone)]
pub struct Hub {
    batches: broadcast::Sender<Relayed>,
}

impl Hub {
    /// Starts relaying the store's batches, until `closing` turns true (a graceful stop, or a
    /// stand-in's sandbox closed).
    pub fn start(service: Service, mut closing: watch::Receiver<bool>) -> Hub {
        let (batches, _) = broadcast::channel(crate::store::events::BATCHES_KEPT);
        let hub = Hub {
            batches: batches.clone(),
        };
        let mut from = service.store.event_batches();
        let mut restarts = service.store.event_restarts();
        actix_web::rt::spawn(async move {
            let mut last = 0;
            let relay = |events: &[Event], last: &mut i64| {
                let fresh: Vec<Rendered> = events
                    .iter()
                    .filter(|e| e.seq > *last)
                    .map(Rendered::of)
                    .collect();
                if let Some(r) = fresh.last() {
                    *last = r.seq;
                    let _ = batches.send(Relayed::Events(Arc::new(fresh)));
                }
            };
            // Looked at before every batch: the writer marks a restart before it publishes the
            // restored log's first batch, which the old `last` would filter out.
            let restarted = |restarts: &mut watch::Receiver<Restart>, last: &mut i64| {
                let latest = restarts.borrow_and_update().latest;
                *last = latest;
                let _ = batches.send(Relayed::Restarted { latest });
            };
            loop {
                let got = tokio::select! {
                    got = from.recv() => got,
                    changed = restarts.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        restarted(&mut restarts, &mut last);
                        continue;
                    }
                    _ = closing.changed() => return,
                };
                if restarts.has_changed().unwrap_or(false) {
                    restarted(&mut restarts, &mut last);
                }
                match got {
                    Ok(batch) => relay(&batch, &mut last),
                    Err(RecvError::Closed) => return,
                    // This task alone fell behind the writer: what it missed is in the table.
                    Err(RecvError::Lagged(_)) => loop {
                        match service.events_after(None, last).await {
                            Ok(page) => {
                                relay(&page, &mut last);
                                if page.len() < PAGE as usize {
                                    break;
                                }
                            }
                            Err(e) => {
                                tracing::warn!("events: catching up the relay: {e}");
                                break;
                            }
                        }
                    },
                }
            }
        });
        hub
    }
}

/// The seq a reconnecting client last saw: `Last-Event-ID`, else `?last_event_id=`.
fn last_seen(req: &HttpRequest, query: &EventsQuery) -> Result<Option<i64>, Error> {
    let (name, value) = match req.headers().get("Last-Event-ID") {
        Some(v) => (
            "Last-Event-ID",
            v.to_str()
                .map_err(|_| Error::invalid("Last-Event-ID", "must be an event id"))?
                .to_owned(),
        ),
        None => match &query.last_event_id {
            Some(v) => ("last_event_id", v.clone()),
            None => return Ok(None),
        },
    };
    let value = value.trim();
    // A browser's EventSource sends an empty Last-Event-ID before it has seen an id.
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| Error::invalid(name, "must be an event id (a non-negative integer)"))
}

/// Whose events `principal` may see in `tenant`.
fn audience_of(principal: &Principal, tenant: TenantId) -> Audience {
    Audience {
        tenant,
        user: match principal {
            Principal::User { user, .. } if !principal.is_admin() => Some(user.id),
            _ => None,
        },
    }
}

/// What a stream was opened with, so that it can be checked again while the stream runs:
/// the same precedence as the native API's (a bearer token over the session cookie).
enum Credential {
    Bearer(String),
    Session(String),
}

impl Credential {
    fn of(req: &HttpRequest) -> Option<Credential> {
        match presented(req, &["bearer"]) {
            Presented::Token(token) => Some(Credential::Bearer(token)),
            Presented::Missing => session_cookie(req).map(Credential::Session),
            _ => None,
        }
    }

    /// Who the credential is now. A session is looked at without counting as activity.
    async fn principal(&self, app: &App) -> Result<Principal, Error> {
        let token = match self {
            Credential::Bearer(token) => token.clone(),
            Credential::Session(cookie) => {
                resume_session(app, cookie, Use::Read, None, false)
                    .await?
                    .credential
            }
        };
        app.service.authenticate_bearer(token).await
    }
}

/// Keeps a stream to what its credential allows: a signed-out or expired session, a revoked
/// token, a removed user or a changed role ends it (the client reconnects and is answered
/// afresh). Checked at every heartbeat, and before a batch is sent whenever the directory of
/// users and credentials changed since the last check (a version counter: free otherwise).
struct Guard {
    app: web::Data<App>,
    credential: Credential,
    audience: Audience,
    version: u64,
}

impl Guard {
    async fn holds(&mut self, always: bool) -> bool {
        let version = self.app.service.store.directory_version();
        if !always && version == self.version {
            return true;
        }
        self.version = version;
        match self.credential.principal(&self.app).await {
            Ok(p) => audience_of(&p, self.audience.tenant) == self.audience,
            Err(_) => false,
        }
    }
}

pub async fn stream(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
    query: Query<EventsQuery>,
) -> ApiResult<HttpResponse> {
    let named = match req.headers().get(TENANT_HEADER) {
        Some(v) => Some((TENANT_HEADER, v.to_str().ok().map(str::to_owned))),
        None => query.0.tenant.clone().map(|t| ("tenant", Some(t))),
    };
    let named = named
        .map(|(name, v)| {
            v.as_deref()
                .and_then(IdRef::parse)
                .ok_or_else(|| Error::invalid(name, "is not a tenant id or uuid"))
        })
        .transpose()?;
    let tenant = tenant_of(&app, &caller.0, named).await?;
    let seen = last_seen(&req, &query.0)?;
    let audience = audience_of(&caller.0, tenant);
    let credential = Credential::of(&req)
        .ok_or_else(|| Error::Unauthenticated("missing Authorization header".into()))?;
    let guard = Guard {
        app: app.clone(),
        credential,
        audience,
        version: app.service.store.directory_version(),
    };
    // Subscribed before the start is read, so nothing committed in between is missed.
    let live = app.events.batches.subscribe();
    let start = app.service.event_start(seen).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let pending = Arc::new(Pending::default());
    let out = Out {
        tx,
        pending: pending.clone(),
        grace: GRACE,
    };
    actix_web::rt::spawn(pump(guard, start, live, app.closing.subscribe(), out));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(Body { rx, pending }))
}

/// Bytes handed to the body and not yet taken, and a wake-up when some are taken.
#[derive(Default)]
struct Pending {
    bytes: AtomicUsize,
    taken: Notify,
}

struct Out {
    tx: mpsc::UnboundedSender<Bytes>,
    pending: Arc<Pending>,
    /// How long the client may stay above `HIGH_WATER` (`GRACE`).
    grace: Duration,
}

impl Out {
    /// Hands `frame` to the body; false when the client is gone or too slow (cut off).
    async fn put(&self, frame: Bytes) -> bool {
        while self.pending.bytes.load(Ordering::Acquire) > HIGH_WATER {
            let taken = self.pending.taken.notified();
            if self.pending.bytes.load(Ordering::Acquire) <= HIGH_WATER {
                break;
            }
            if actix_web::rt::time::timeout(self.grace, taken)
                .await
                .is_err()
            {
                tracing::info!("events: a client that stopped reading was cut off");
                return false;
            }
        }
        self.pending.bytes.fetch_add(frame.len(), Ordering::AcqRel);
        self.tx.send(frame).is_ok()
    }
}

struct Body {
    rx: mpsc::UnboundedReceiver<Bytes>,
    pending: Arc<Pending>,
}

impl futures_core::Stream for Body {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(bytes)) => {
                this.pending.bytes.fetch_sub(bytes.len(), Ordering::AcqRel);
                this.pending.taken.notify_one();
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn frame(id: i64, event: &str, data: &str) -> String {
    format!("id: {id}\nevent: {event}\ndata: {data}\n\n")
}

/// Sends the audience's events after `cursor` from the table, moving `cursor` past every
/// event read; false when the stream must end.
async fn catch_up(service: &Service, audience: &Audience, cursor: &mut i64, out: &Out) -> bool {
    loop {
        let page = match service.events_after(Some(audience.tenant), *cursor).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!("events: a stream stopped: {e}");
                return false;
            }
        };
        for event in &page {
            let r = Rendered::of(event);
            if r.for_(audience) && !out.put(r.frame).await {
                return false;
            }
            *cursor = event.seq;
        }
        if page.len() < PAGE as usize {
            return true;
        }
    }
}

/// One open stream in the metrics (`parlor_event_streams_open`) for as long as it lives.
struct OpenStream;

impl OpenStream {
    fn counted() -> OpenStream {
        metrics::gauge!(crate::telemetry::names::EVENT_STREAMS).increment(1.0);
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!(crate::telemetry::names::EVENT_STREAMS).decrement(1.0);
    }
}

/// Feeds one stream until its client leaves, falls too far behind, or the server stops.
async fn pump(
    mut guard: Guard,
    start: Start,
    mut live: broadcast::Receiver<Relayed>,
    mut closing: watch::Receiver<bool>,
    out: Out,
) {
    let _open = OpenStream::counted();
    let mut cursor = match start {
        Start::After(seq) => seq,
        Start::Reset { latest } => {
            let data = serde_json::to_string(&ResetDto {
                reason: "the events after the given id are no longer kept: read the current state again",
                latest,
            })
            .unwrap_or_default();
            if !out.put(frame(latest, "reset", &data).into()).await {
                return;
            }
            latest
        }
    };
    // A comment first, so that the client (and any proxy) sees the stream open at once.
    if !out.put(Bytes::from_static(b": stream open\n\n")).await {
        return;
    }
    let service = guard.app.service.clone();
    let audience = guard.audience;
    if !catch_up(&service, &audience, &mut cursor, &out).await {
        return;
    }
    let mut heartbeat = actix_web::rt::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    loop {
        tokio::select! {
            batch = live.recv() => match batch {
                Ok(Relayed::Restarted { latest }) => {
                    let data = serde_json::to_string(&ResetDto {
                        reason: "the server's data was reset or restored: read the current state again",
                        latest,
                    })
                    .unwrap_or_default();
                    if !guard.holds(false).await || !out.put(frame(latest, "reset", &data).into()).await {
                        return;
                    }
                    cursor = latest;
                }
                Ok(Relayed::Events(batch)) => {
                    if !guard.holds(false).await {
                        return;
                    }
                    let from = cursor;
                    for r in batch.iter().filter(|r| r.seq > from) {
                        if r.for_(&audience) && !out.put(r.frame.clone()).await {
                            return;
                        }
                        cursor = r.seq;
                    }
                }
                // Fell behind the broadcast: the missed events are in the table.
                Err(RecvError::Lagged(_)) => {
                    if !catch_up(&service, &audience, &mut cursor, &out).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            _ = heartbeat.tick() => {
                if !guard.holds(true).await || !out.put(Bytes::from_static(b": heartbeat\n\n")).await {
                    return;
                }
            }
            _ = closing.changed() => return,
            _ = out.tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use futures_core::Stream as _;

    use super::*;

    fn channel(grace: Duration) -> (Out, Body) {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(Pending::default());
        let out = Out {
            tx,
            pending: pending.clone(),
            grace,
        };
        (out, Body { rx, pending })
    }

    #[actix_web::test]
    async fn a_client_that_stops_reading_is_cut_off_and_one_that_reads_is_not() {
        let (out, mut body) = channel(Duration::from_millis(50));
        let frame = Bytes::from(vec![b'x'; 64 * 1024]);
        // Up to the high-water mark and one frame past it, nothing waits.
        for _ in 0..=HIGH_WATER / frame.len() {
            assert!(out.put(frame.clone()).await);
        }
        assert!(out.pending.bytes.load(Ordering::Acquire) > HIGH_WATER);
        // The client takes nothing for the whole grace period: cut off.
        assert!(!out.put(frame.clone()).await);

        // A client that reads within the grace period lets the stream go on.
        let mut out = out;
        out.grace = Duration::from_secs(10);
        let reader = actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            let taken = poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await;
            assert!(matches!(taken, Some(Ok(b)) if b.len() == 64 * 1024));
            body
        });
        assert!(out.put(frame).await);
        let _body = reader.await.unwrap();
    }
}

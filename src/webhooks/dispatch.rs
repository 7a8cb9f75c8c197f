//! The dispatcher: follows the event log from its stored cursor and, for each event and each
//! enabled endpoint of the event's tenant that wants it, enqueues a delivery. A page of events
//! that enqueues deliveries becomes one writer command that inserts them and advances the
//! cursor together, so a restart never enqueues them twice. A page that enqueues nothing (no
//! endpoint wants it: the common case) writes nothing; the cursor is stored at most once a
//! second then, so that following the log costs a send no second commit. A restart reads such
//! events again, and again enqueues nothing for them. It sleeps on the writer's committed-seq
//! watch between pages, never polling.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{payload, Webhooks};
use crate::domain::{Ids, Message, MessageId};
use crate::error::Result;
use crate::service::Service;
use crate::store::events::{Event, Restart};
use crate::store::messages;
use crate::store::webhooks::{self as store, Endpoint, NewAttempt, NewDelivery};

/// Events read and enqueued per writer command.
const PAGE: u32 = 200;
/// The wait after a failed page before trying it again.
const BACKOFF: Duration = Duration::from_secs(1);
/// How often the cursor is stored when pages enqueue nothing.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Where the dispatcher is in the log, and where the stored cursor is.
pub struct Cursor {
    /// The log this position is in: how many restores (the stand-in's reset, a snapshot) had
    /// replaced it when it was read (`store::events::Restart::count`).
    log: u64,
    /// None until read from the database.
    at: Option<i64>,
    saved: i64,
    saved_when: std::time::Instant,
    /// Where deliveries' ids come from: a sequence of its own, so that when the dispatcher runs
    /// never changes the ids requests get (and a seeded stand-in's delivery ids repeat too).
    ids: Option<Ids>,
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor {
            log: 0,
            at: None,
            saved: 0,
            saved_when: std::time::Instant::now(),
            ids: None,
        }
    }
}

/// Reads the log up to its end: what was committed while the server was down (and, at a
/// first start, the demo's or a fixture's events, for which no endpoint exists yet).
pub async fn catch_up(service: &Service, hooks: &Webhooks, cursor: &mut Cursor) -> Result<()> {
    while step(service, hooks, cursor).await? {}
    Ok(())
}

/// How many restores have replaced the log so far. The writer counts one before any command
/// runs on the restored file, so a write command that finds the count it was prepared under
/// writes into the log its page was read from.
fn restores(service: &Service) -> watch::Receiver<Restart> {
    service.store.event_restarts()
}

/// Stores a cursor that ran ahead of the stored one (at a stop), unless a restore replaced the
/// log it is a position in.
async fn save(service: &Service, cursor: &Cursor) {
    if let Some(at) = cursor.at.filter(|at| *at > cursor.saved) {
        let (log, restarts) = (cursor.log, restores(service));
        let saved = service
            .store
            .write(move |c| {
                if restarts.borrow().count != log {
                    return Ok(());
                }
                store::set_cursor(c, at)
            })
            .await;
        if let Err(e) = saved {
            tracing::warn!("webhooks: storing the log cursor at a stop: {e}");
        }
    }
}

/// Follows the log: a page (or a few) per commit that appended events. `committed` was marked
/// seen before the last catch-up; `caught_up` false (it failed) reads at once.
pub async fn run(
    service: Service,
    hooks: Arc<Webhooks>,
    mut cursor: Cursor,
    mut committed: watch::Receiver<i64>,
    caught_up: bool,
    mut closing: watch::Receiver<bool>,
) {
    let mut read_now = !caught_up;
    loop {
        if !read_now {
            tokio::select! {
                changed = committed.changed() => if changed.is_err() { return },
                _ = closing.changed() => return save(&service, &cursor).await,
            }
        }
        read_now = false;
        committed.borrow_and_update();
        loop {
            match step(&service, &hooks, &mut cursor).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!("webhooks: reading the event log failed (tried again): {e}");
                    tokio::select! {
                        _ = actix_web::rt::time::sleep(BACKOFF) => {}
                        _ = closing.changed() => return save(&service, &cursor).await,
                    }
                }
            }
        }
    }
}

/// What one page needs from the database, read in one snapshot.
struct Page {
    /// The stored cursor, when it was read for this page.
    stored: Option<i64>,
    events: Vec<Event>,
    endpoints: Vec<Endpoint>,
    messages: HashMap<i64, Message>,
}

/// Handles one page of events; true when there may be more.
///
/// A restore (the stand-in's reset, a snapshot) replaces the log and the stored cursor with
/// it: a position in the old log means nothing in the new one, so the cursor is read again. A
/// page read from the old log is dropped, and its deliveries and cursor are never written into
/// the new one: the write checks, on the writer's thread, that no restore came in between.
async fn step(service: &Service, hooks: &Webhooks, cursor: &mut Cursor) -> Result<bool> {
    let restarts = restores(service);
    let log = restarts.borrow().count;
    if log != cursor.log {
        *cursor = Cursor {
            log,
            ..Cursor::default()
        };
    }
    let known = cursor.at;
    let page = service
        .store
        .read(move |c| {
            let stored = match known {
                Some(_) => None,
                None => Some(store::cursor(c)?),
            };
            let from = known.or(stored).unwrap_or(0);
            let events = store::events_after(c, from, PAGE)?;
            let endpoints = if events.is_empty() {
                Vec::new()
            } else {
                store::enabled_endpoints(c)?
            };
            let mut texts = HashMap::new();
            for e in &events {
                let entitled = endpoints
                    .iter()
                    .any(|p| p.include_text && p.tenant == e.tenant && p.wants(&e.kind));
                if let (true, Some(id)) = (entitled, e.message) {
                    // A message deleted since is sent without its text.
                    if let Ok(m) = messages::get(c, e.tenant, MessageId(id)) {
                        texts.insert(id, m);
                    }
                }
            }
            Ok(Page {
                stored,
                events,
                endpoints,
                messages: texts,
            })
        })
        .await?;
    if restarts.borrow().count != log {
        return Ok(true);
    }
    if let Some(stored) = page.stored {
        cursor.at = Some(stored);
        cursor.saved = stored;
    }
    let Some(last) = page.events.last().map(|e| e.seq) else {
        return Ok(false);
    };
    let more = page.events.len() == PAGE as usize;
    let now = service.now();
    let mut queued = Vec::new();
    for event in &page.events {
        let mut plain = None;
        let mut with_text = None;
        for endpoint in &page.endpoints {
            if endpoint.tenant != event.tenant
                || event.seq <= endpoint.from_seq
                || !endpoint.wants(&event.kind)
            {
                continue;
            }
            let message = event
                .message
                .and_then(|id| page.messages.get(&id))
                .filter(|_| endpoint.include_text);
            let slot = if message.is_some() {
                &mut with_text
            } else {
                &mut plain
            };
            let body = slot
                .get_or_insert_with(|| payload::body(event, message))
                .clone();
            queued.push((endpoint.clone(), event.seq, event.kind.clone(), body));
        }
    }
    let enqueued = queued.len();
    let captured = queued.iter().filter(|(e, ..)| e.capture).count();
    let ids = (cursor.ids)
        .get_or_insert_with(|| service.ids().derive("webhooks"))
        .clone();
    if enqueued == 0 && cursor.saved_when.elapsed() < SAVE_EVERY {
        cursor.at = Some(last);
        return Ok(more);
    }
    let written = service
        .store
        .write(move |c| {
            if restarts.borrow().count != log {
                return Ok(false);
            }
            for (endpoint, seq, kind, body) in &queued {
                let uid = format!("msg_{}", ids.uuid(now).replace('-', ""));
                let status = if endpoint.capture {
                    "captured"
                } else {
                    "pending"
                };
                let id = store::insert_delivery(
                    c,
                    &NewDelivery {
                        uid: uid.clone(),
                        endpoint: endpoint.id,
                        tenant: endpoint.tenant,
                        event_seq: *seq,
                        event_type: kind.clone(),
                        body: body.clone(),
                        status,
                        now,
                    },
                )?;
                if endpoint.capture {
                    // Exactly what would have been sent now, signature included.
                    let headers = super::send::headers(endpoint, &uid, now, body);
                    store::insert_attempt(
                        c,
                        &NewAttempt {
                            delivery: id,
                            attempt: 1,
                            at: now,
                            request_headers: &super::send::headers_json(&headers),
                            request_body: body,
                            response_status: None,
                            response_body: None,
                            duration_ms: None,
                            error: None,
                        },
                    )?;
                }
            }
            store::set_cursor(c, last)?;
            Ok(true)
        })
        .await?;
    if !written {
        return Ok(true);
    }
    if captured > 0 {
        metrics::counter!(crate::telemetry::names::WEBHOOK_ATTEMPTS, "outcome" => "captured")
            .increment(captured as u64);
    }
    cursor.at = Some(last);
    cursor.saved = last;
    cursor.saved_when = std::time::Instant::now();
    if enqueued > 0 {
        hooks.wake();
    }
    Ok(more)
}

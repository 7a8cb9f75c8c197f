//! The sender: sends each enabled endpoint's oldest pending delivery once it is due, several
//! endpoints at once (at most `PARALLEL`) but one delivery at a time per endpoint, so that an
//! endpoint receives its events in order: a delivery being retried holds back the later ones.
//! Every attempt is recorded in the outbox with what was sent and what came back.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{address, client, sign, Webhooks};
use crate::service::Service;
use crate::store::webhooks::{self as store, Delivery, Endpoint, NewAttempt};

/// Endpoints sent to at the same time.
const PARALLEL: usize = 8;
/// The longest sleep with nothing due (a wake-up or a due time usually comes first).
const IDLE: Duration = Duration::from_secs(60);
/// The wait after the queue could not be read.
const BACKOFF: Duration = Duration::from_secs(1);
/// Retries wait their scheduled time give or take this fraction, so that endpoints that failed
/// together do not all come back at once.
const JITTER: f64 = 0.2;

pub const USER_AGENT: &str = concat!("Parlor-Webhooks/", env!("CARGO_PKG_VERSION"));

/// The headers of an attempt at `now` (millis): the Standard Webhooks three, signed with every
/// key the endpoint signs with now.
pub fn headers(endpoint: &Endpoint, uid: &str, now: i64, body: &str) -> Vec<(String, String)> {
    let timestamp = now.div_euclid(1000);
    vec![
        ("content-type".into(), "application/json".into()),
        ("user-agent".into(), USER_AGENT.into()),
        ("webhook-id".into(), uid.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            sign::signature_header(&endpoint.signing_keys(now), uid, timestamp, body),
        ),
    ]
}

pub fn headers_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_default()
}

/// `scan_now`: whether deliveries are waiting already (from before a restart); otherwise the
/// sender first waits for a wake-up, reading nothing while the server has nothing to send.
pub async fn run(
    service: Service,
    hooks: Arc<Webhooks>,
    scan_now: bool,
    mut closing: watch::Receiver<bool>,
) {
    let mut scan = scan_now;
    // The endpoints with an attempt in flight, by the task making it (a task that panicked
    // must still free its endpoint).
    let mut busy: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut flying: JoinSet<()> = JoinSet::new();
    loop {
        let mut wait = IDLE;
        let heads = if scan {
            service.store.read(store::heads).await
        } else {
            Ok(Vec::new())
        };
        scan = true;
        match heads {
            Ok(heads) => {
                let now = service.now();
                for (endpoint, delivery) in heads {
                    if busy.values().any(|e| *e == endpoint.id) {
                        continue;
                    }
                    if delivery.next_at > now {
                        let until = u64::try_from(delivery.next_at - now).unwrap_or(0);
                        wait = wait.min(Duration::from_millis(until));
                        continue;
                    }
                    if flying.len() >= PARALLEL {
                        break;
                    }
                    let id = endpoint.id;
                    let (service, hooks) = (service.clone(), hooks.clone());
                    let task = flying.spawn_local(async move {
                        attempt(&service, &hooks, endpoint, delivery).await;
                    });
                    busy.insert(task.id(), id);
                }
            }
            Err(e) => {
                tracing::warn!("webhooks: reading the delivery queue failed (tried again): {e}");
                wait = BACKOFF;
            }
        }
        tokio::select! {
            Some(done) = flying.join_next_with_id(), if !flying.is_empty() => {
                let task = match done {
                    Ok((task, ())) => task,
                    Err(e) => {
                        tracing::error!("webhooks: a delivery attempt failed unexpectedly: {e}");
                        e.id()
                    }
                };
                busy.remove(&task);
            }
            _ = hooks.wake.notified() => {}
            _ = actix_web::rt::time::sleep(wait) => {}
            // In-flight attempts are dropped: their deliveries stay pending and are sent again
            // at the next start (at least once; receivers dedupe by `webhook-id`).
            _ = closing.changed() => return,
        }
    }
}

/// One attempt at `delivery`, recorded with its outcome.
async fn attempt(service: &Service, hooks: &Webhooks, endpoint: Endpoint, delivery: Delivery) {
    let now = service.now();
    let headers = headers(&endpoint, &delivery.uid, now, &delivery.body);
    if endpoint.capture {
        // Capture turned on after this delivery was queued: it is recorded, not sent.
        return capture(service, &delivery, now, &headers).await;
    }
    let started = Instant::now();
    let outcome = match address::parse(&endpoint.url) {
        Err(why) => Err(format!("the URL {why}")),
        Ok(url) => match address::resolve(&url, hooks.outbound).await {
            Err(why) => Err(format!("refused: {why}")),
            Ok(target) => client::post(&target, &headers, &delivery.body, hooks.timeout).await,
        },
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let number = delivery.attempts + 1;
    let retries_used = number - delivery.round_start;
    let done = service.now();
    let (status, answer, error) = match &outcome {
        Ok(a) => (Some(a.status), Some(a.body.clone()), None),
        Err(e) => (None, None, Some(e.clone())),
    };
    let gone = status == Some(410);
    let (state, next_at, finished) = match status {
        Some(s) if (200..300).contains(&s) => ("delivered", done, Some(done)),
        // The receiver says the endpoint is gone: it is disabled, and this delivery and the
        // later ones wait, in order, for it to be enabled again.
        Some(410) => ("pending", done, None),
        _ => match usize::try_from(retries_used)
            .ok()
            .and_then(|n| hooks.schedule.get(n - 1))
        {
            Some(wait) => ("pending", done + jittered(*wait), None),
            None => ("failed", done, Some(done)),
        },
    };
    let counted = match (status, state) {
        (Some(410), _) => "gone",
        (_, "delivered") => "delivered",
        (_, "failed") => "failed",
        _ => "retrying",
    };
    metrics::counter!(crate::telemetry::names::WEBHOOK_ATTEMPTS, "outcome" => counted).increment(1);
    let headers_text = headers_json(&headers);
    let body = delivery.body.clone();
    let recorded = service
        .store
        .write(move |c| {
            // The endpoint was deleted meanwhile, and its deliveries with it.
            if store::delivery(c, endpoint.id, delivery.id).is_err() {
                return Ok(());
            }
            store::insert_attempt(
                c,
                &NewAttempt {
                    delivery: delivery.id,
                    attempt: number,
                    at: now,
                    request_headers: &headers_text,
                    request_body: &body,
                    response_status: status,
                    response_body: answer.as_deref(),
                    duration_ms: Some(duration_ms),
                    error: error.as_deref(),
                },
            )?;
            store::set_state(c, delivery.id, state, number, next_at, finished)?;
            if gone {
                store::disable(
                    c,
                    endpoint.id,
                    "the endpoint answered 410 Gone; enable it again to resume its deliveries",
                    done,
                )?;
            }
            Ok(())
        })
        .await;
    match recorded {
        Ok(()) if gone => tracing::info!(
            "webhooks: endpoint {} answered 410 Gone and was disabled",
            endpoint.id
        ),
        Ok(()) => {}
        Err(e) => tracing::warn!(
            "webhooks: recording an attempt of delivery {} failed (it is sent again): {e}",
            delivery.id
        ),
    }
}

async fn capture(service: &Service, delivery: &Delivery, now: i64, headers: &[(String, String)]) {
    metrics::counter!(crate::telemetry::names::WEBHOOK_ATTEMPTS, "outcome" => "captured")
        .increment(1);
    let (id, endpoint, number) = (delivery.id, delivery.endpoint, delivery.attempts + 1);
    let (headers, body) = (headers_json(headers), delivery.body.clone());
    let recorded = service
        .store
        .write(move |c| {
            if store::delivery(c, endpoint, id).is_err() {
                return Ok(());
            }
            store::insert_attempt(
                c,
                &NewAttempt {
                    delivery: id,
                    attempt: number,
                    at: now,
                    request_headers: &headers,
                    request_body: &body,
                    response_status: None,
                    response_body: None,
                    duration_ms: None,
                    error: None,
                },
            )?;
            store::set_state(c, id, "captured", number, now, Some(now))
        })
        .await;
    if let Err(e) = recorded {
        tracing::warn!("webhooks: recording a captured delivery {id} failed (tried again): {e}");
    }
}

/// `wait` in millis, give or take `JITTER`.
fn jittered(wait: Duration) -> i64 {
    let factor = 1.0 + rand::thread_rng().gen_range(-JITTER..=JITTER);
    (wait.as_millis() as f64 * factor) as i64
}

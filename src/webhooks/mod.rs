//! Webhook deliveries, off the request path. `dispatch.rs` follows the event log and enqueues
//! one delivery per event and matching endpoint; `send.rs` sends what is due, each endpoint's
//! deliveries strictly in order; `address.rs` decides where a delivery may go, `client.rs`
//! makes the request, `sign.rs` signs it (Standard Webhooks), `payload.rs` builds its body.
//! The endpoints' rules are `service/webhooks.rs`.

pub mod address;
pub mod client;
mod dispatch;
pub mod payload;
mod send;
pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::error::{Error, Result};
use crate::service::Service;
use address::Outbound;

/// What the dispatcher and the sender share with the handlers: the outbound policy, the
/// settings of an attempt, and a wake-up for the sender (new deliveries, a re-enabled
/// endpoint, a replay).
pub struct Webhooks {
    pub outbound: Outbound,
    pub timeout: Duration,
    /// The wait before each retry; a delivery is tried once more than it has entries.
    pub schedule: Vec<Duration>,
    pub outbox_days: u32,
    wake: Notify,
}

impl Webhooks {
    pub fn new(
        outbound: Outbound,
        timeout: Duration,
        schedule: Vec<Duration>,
        outbox_days: u32,
    ) -> Self {
        Webhooks {
            outbound,
            timeout,
            schedule,
            outbox_days,
            wake: Notify::new(),
        }
    }

    /// Tells the sender to look at the queue again.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Starts the dispatcher, the sender and the outbox pruner; they stop when `closing` turns
/// true (a graceful stop). A delivery in flight then is sent again at the next start. The
/// dispatcher first catches up with the log here, before the server serves, so that a fresh
/// start adds no reads of its own to the first requests'.
pub async fn start(service: Service, hooks: Arc<Webhooks>, closing: watch::Receiver<bool>) {
    // Marked seen first: whatever commits during the catch-up wakes the dispatcher after it.
    let mut committed = service.store.committed_events();
    committed.borrow_and_update();
    let mut cursor = dispatch::Cursor::default();
    let caught_up = match dispatch::catch_up(&service, &hooks, &mut cursor).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("webhooks: reading the event log failed (tried again): {e}");
            false
        }
    };
    // Unknown: look.
    let pending = service
        .store
        .read(crate::store::webhooks::any_pending)
        .await
        .unwrap_or(true);
    actix_web::rt::spawn(dispatch::run(
        service.clone(),
        hooks.clone(),
        cursor,
        committed,
        caught_up,
        closing.clone(),
    ));
    actix_web::rt::spawn(send::run(
        service.clone(),
        hooks.clone(),
        pending,
        closing.clone(),
    ));
    actix_web::rt::spawn(prune(service, hooks.outbox_days, closing));
}

/// How often the outbox is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

async fn prune(service: Service, days: u32, mut closing: watch::Receiver<bool>) {
    loop {
        match service.prune_webhook_outbox(days).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!("webhooks: removed {n} deliveries past the outbox window"),
            Err(e) => tracing::warn!("pruning the webhook outbox failed (tried again later): {e}"),
        }
        tokio::select! {
            _ = actix_web::rt::time::sleep(PRUNE_EVERY) => {}
            _ = closing.changed() => return,
        }
    }
}

/// `webhook_retry_schedule`: waits such as "5s 5m 30m 2h", separated by spaces or commas;
/// units ms, s, m, h, d.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>> {
    let bad = |part: &str| {
        Error::invalid(
            "webhook_retry_schedule",
            format!(
                "{part:?} is not a wait: give numbers with a unit (ms, s, m, h, d) separated \
                 by spaces, e.g. \"5s 5m 30m 2h 5h 10h 10h\""
            ),
        )
    };
    let mut out = Vec::new();
    for part in text.split([' ', ',']).filter(|p| !p.is_empty()) {
        let digits = part
            .find(|ch: char| !ch.is_ascii_digit())
            .unwrap_or(part.len());
        let n: u64 = part[..digits].parse().map_err(|_| bad(part))?;
        let unit_ms = match &part[digits..] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad(part)),
        };
        let ms = n
            .checked_mul(unit_ms)
            .filter(|ms| *ms <= 30 * 86_400_000)
            .ok_or_else(|| {
                Error::invalid(
                    "webhook_retry_schedule",
                    format!("{part:?} is longer than 30 days"),
                )
            })?;
        out.push(Duration::from_millis(ms));
    }
    if out.len() > 50 {
        return Err(Error::invalid(
            "webhook_retry_schedule",
            "at most 50 retries",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        let s = parse_schedule("5s 5m 30m 2h 5h 10h 10h").unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s[1], Duration::from_secs(300));
        assert_eq!(
            parse_schedule("20ms,1d").unwrap()[1],
            Duration::from_secs(86_400)
        );
        assert!(parse_schedule("").unwrap().is_empty());
        assert!(parse_schedule("5x").is_err());
        assert!(parse_schedule("s").is_err());
        assert!(parse_schedule("31d").is_err());
    }
}

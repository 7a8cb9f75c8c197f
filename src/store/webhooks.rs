//! Webhooks: endpoints, the dispatcher's cursor, deliveries and their attempts (the outbox).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::events::Event;
use super::Cached;
use crate::domain::TenantId;
use crate::error::{Error, Result};

/// A registered endpoint, secrets included: only the service and the sender see this. Not
/// `Debug`, so that no log line can print a secret by accident.
#[derive(Clone)]
pub struct Endpoint {
    pub id: i64,
    pub tenant: TenantId,
    pub url: String,
    /// Event types, or `["*"]`.
    pub events: Vec<String>,
    pub format: String,
    pub include_text: bool,
    pub capture: bool,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub description: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<i64>,
    pub from_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Endpoint {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == "*" || e == kind)
    }

    /// The keys that sign at `now`: the current one, and the previous one during a rotation.
    pub fn signing_keys(&self, now: i64) -> Vec<&str> {
        let mut keys = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_until) {
            if now < until {
                keys.push(old);
            }
        }
        keys
    }
}

const ENDPOINT_COLUMNS: &str = "id, tenant_id, url, events, format, include_text, capture, \
     enabled, disabled_reason, description, secret, previous_secret, previous_until, from_seq, \
     created_at, updated_at";

fn endpoint_row(r: &Row<'_>) -> rusqlite::Result<Endpoint> {
    let events: String = r.get(3)?;
    Ok(Endpoint {
        id: r.get(0)?,
        tenant: TenantId(r.get(1)?),
        url: r.get(2)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        format: r.get(4)?,
        include_text: r.get(5)?,
        capture: r.get(6)?,
        enabled: r.get(7)?,
        disabled_reason: r.get(8)?,
        description: r.get(9)?,
        secret: r.get(10)?,
        previous_secret: r.get(11)?,
        previous_until: r.get(12)?,
        from_seq: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

fn events_json(events: &[String]) -> Result<String> {
    serde_json::to_string(events).map_err(Error::internal)
}

/// Stores a new endpoint (its `id` and `from_seq` are assigned here) and returns it.
pub fn insert_endpoint(c: &Connection, e: &Endpoint) -> Result<Endpoint> {
    let from_seq = super::events::committed(c)?;
    let id = c.row(
        "INSERT INTO webhook_endpoints (tenant_id, url, events, format, include_text, capture,
             enabled, description, secret, from_seq, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) RETURNING id",
        params![
            e.tenant.0,
            e.url,
            events_json(&e.events)?,
            e.format,
            e.include_text,
            e.capture,
            e.enabled,
            e.description,
            e.secret,
            from_seq,
            e.created_at,
        ],
        |r| r.get::<_, i64>(0),
    )?;
    get_endpoint(c, e.tenant, id)
}

/// The tenant's endpoint `id` (another tenant's is not found).
pub fn get_endpoint(c: &Connection, tenant: TenantId, id: i64) -> Result<Endpoint> {
    c.row(
        &format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2"
        ),
        params![id, tenant.0],
        endpoint_row,
    )
    .optional()?
    .ok_or(Error::NotFound("webhook endpoint"))
}

pub fn list_endpoints(c: &Connection, tenant: TenantId) -> Result<Vec<Endpoint>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([tenant.0], endpoint_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every enabled endpoint of every tenant: what the dispatcher matches events against.
pub fn enabled_endpoints(c: &Connection) -> Result<Vec<Endpoint>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled = 1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([], endpoint_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Writes the endpoint's changeable fields as they stand in `e`.
pub fn update_endpoint(c: &Connection, e: &Endpoint) -> Result<()> {
    c.exec(
        "UPDATE webhook_endpoints SET url = ?3, events = ?4, include_text = ?5, capture = ?6,
             enabled = ?7, disabled_reason = ?8, description = ?9, secret = ?10,
             previous_secret = ?11, previous_until = ?12, updated_at = ?13
         WHERE id = ?1 AND tenant_id = ?2",
        params![
            e.id,
            e.tenant.0,
            e.url,
            events_json(&e.events)?,
            e.include_text,
            e.capture,
            e.enabled,
            e.disabled_reason,
            e.description,
            e.secret,
            e.previous_secret,
            e.previous_until,
            e.updated_at,
        ],
    )?;
    Ok(())
}

/// Turns an endpoint off for a reason of the sender's (a 410).
pub fn disable(c: &Connection, id: i64, reason: &str, now: i64) -> Result<()> {
    c.exec(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?2, updated_at = ?3
         WHERE id = ?1",
        params![id, reason, now],
    )?;
    Ok(())
}

/// Removes the endpoint with its deliveries and their attempts.
pub fn delete_endpoint(c: &Connection, tenant: TenantId, id: i64) -> Result<()> {
    get_endpoint(c, tenant, id)?;
    // Explicitly, not left to the cascade, so nothing depends on `foreign_keys`.
    c.exec(
        "DELETE FROM webhook_attempts WHERE delivery_id IN
           (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?1)",
        [id],
    )?;
    c.exec(
        "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1",
        [id],
    )?;
    c.exec("DELETE FROM webhook_endpoints WHERE id = ?1", [id])?;
    Ok(())
}

/// The last event the dispatcher has handled.
pub fn cursor(c: &Connection) -> Result<i64> {
    Ok(
        c.row("SELECT seq FROM webhook_cursor WHERE id = 1", [], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .unwrap_or(0),
    )
}

pub fn set_cursor(c: &Connection, seq: i64) -> Result<()> {
    c.exec(
        "INSERT INTO webhook_cursor (id, seq) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
        [seq],
    )?;
    Ok(())
}

/// Every tenant's events after `after`, oldest first, at most `limit`.
pub fn events_after(c: &Connection, after: i64, limit: u32) -> Result<Vec<Event>> {
    let mut stmt = c.prepare_cached(
        "SELECT seq, tenant_id, type, actor_kind, actor_id, at, conversation_id, message_id,
                subject_id, payload
         FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit], |r| {
        Ok(Event {
            seq: r.get(0)?,
            tenant: TenantId(r.get(1)?),
            kind: r.get(2)?,
            actor_kind: r.get(3)?,
            actor_id: r.get(4)?,
            at: r.get(5)?,
            conversation: r.get(6)?,
            message: r.get(7)?,
            subject: r.get(8)?,
            payload: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A delivery as enqueued.
pub struct NewDelivery {
    pub uid: String,
    pub endpoint: i64,
    pub tenant: TenantId,
    pub event_seq: i64,
    pub event_type: String,
    pub body: String,
    pub status: &'static str,
    pub now: i64,
}

pub fn insert_delivery(c: &Connection, d: &NewDelivery) -> Result<i64> {
    let finished = (d.status != "pending").then_some(d.now);
    Ok(c.row(
        "INSERT INTO webhook_deliveries (uid, endpoint_id, tenant_id, event_seq, event_type, body,
             status, next_at, created_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9) RETURNING id",
        params![
            d.uid,
            d.endpoint,
            d.tenant.0,
            d.event_seq,
            d.event_type,
            d.body,
            d.status,
            d.now,
            finished,
        ],
        |r| r.get(0),
    )?)
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: i64,
    pub uid: String,
    pub endpoint: i64,
    pub tenant: TenantId,
    pub event_seq: i64,
    pub event_type: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    /// `attempts` when it was last replayed: the retries of the current round are the rest.
    pub round_start: i64,
    pub next_at: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "id, uid, endpoint_id, tenant_id, event_seq, event_type, body, \
     status, attempts, round_start, next_at, created_at, finished_at";

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        uid: r.get(1)?,
        endpoint: r.get(2)?,
        tenant: TenantId(r.get(3)?),
        event_seq: r.get(4)?,
        event_type: r.get(5)?,
        body: r.get(6)?,
        status: r.get(7)?,
        attempts: r.get(8)?,
        round_start: r.get(9)?,
        next_at: r.get(10)?,
        created_at: r.get(11)?,
        finished_at: r.get(12)?,
    })
}

/// The endpoint's delivery `id` (the endpoint already checked to be the tenant's).
pub fn delivery(c: &Connection, endpoint: i64, id: i64) -> Result<Delivery> {
    c.row(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1 AND endpoint_id = ?2"
        ),
        params![id, endpoint],
        delivery_row,
    )
    .optional()?
    .ok_or(Error::NotFound("webhook delivery"))
}

/// The endpoint's deliveries, newest first, below `before` (an id), with `status` if given.
pub fn deliveries(
    c: &Connection,
    endpoint: i64,
    status: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Delivery>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE endpoint_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![endpoint, status, before, limit], delivery_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Each enabled endpoint's oldest pending delivery, due or not: only that one may be sent, so
/// that an endpoint receives its events in order.
pub fn heads(c: &Connection) -> Result<Vec<(Endpoint, Delivery)>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled = 1 ORDER BY id"
    ))?;
    let endpoints = stmt
        .query_map([], endpoint_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut head = c.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE endpoint_id = ?1 AND status = 'pending' ORDER BY id LIMIT 1"
    ))?;
    let mut out = Vec::new();
    for e in endpoints {
        if let Some(d) = head.query_row([e.id], delivery_row).optional()? {
            out.push((e, d));
        }
    }
    Ok(out)
}

/// Whether any delivery waits to be sent.
pub fn any_pending(c: &Connection) -> Result<bool> {
    Ok(c.row(
        "SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE status = 'pending')",
        [],
        |r| r.get(0),
    )?)
}

/// An attempt as recorded.
pub struct NewAttempt<'a> {
    pub delivery: i64,
    pub attempt: i64,
    pub at: i64,
    pub request_headers: &'a str,
    pub request_body: &'a str,
    pub response_status: Option<u16>,
    pub response_body: Option<&'a str>,
    pub duration_ms: Option<i64>,
    pub error: Option<&'a str>,
}

pub fn insert_attempt(c: &Connection, a: &NewAttempt<'_>) -> Result<()> {
    c.exec(
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, request_headers, request_body,
             response_status, response_body, duration_ms, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            a.delivery,
            a.attempt,
            a.at,
            a.request_headers,
            a.request_body,
            a.response_status,
            a.response_body,
            a.duration_ms,
            a.error,
        ],
    )?;
    Ok(())
}

/// Where a delivery stands after an attempt.
pub fn set_state(
    c: &Connection,
    id: i64,
    status: &str,
    attempts: i64,
    next_at: i64,
    finished_at: Option<i64>,
) -> Result<()> {
    c.exec(
        "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_at = ?4, finished_at = ?5
         WHERE id = ?1",
        params![id, status, attempts, next_at, finished_at],
    )?;
    Ok(())
}

/// Puts a finished delivery back in line, due now, with a fresh retry schedule.
pub fn replay(c: &Connection, id: i64, now: i64) -> Result<()> {
    c.exec(
        "UPDATE webhook_deliveries SET status = 'pending', round_start = attempts, next_at = ?2,
             finished_at = NULL
         WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Attempt {
    pub attempt: i64,
    pub at: i64,
    pub request_headers: String,
    pub request_body: String,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

pub fn attempts(c: &Connection, delivery: i64) -> Result<Vec<Attempt>> {
    let mut stmt = c.prepare_cached(
        "SELECT attempt, at, request_headers, request_body, response_status, response_body,
                duration_ms, error
         FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY attempt, id",
    )?;
    let rows = stmt.query_map([delivery], |r| {
        Ok(Attempt {
            attempt: r.get(0)?,
            at: r.get(1)?,
            request_headers: r.get(2)?,
            request_body: r.get(3)?,
            response_status: r.get(4)?,
            response_body: r.get(5)?,
            duration_ms: r.get(6)?,
            error: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes at most `limit` finished deliveries (and their attempts) created before `before`;
/// pending ones stay whatever their age. Returns how many deliveries went.
pub fn prune(c: &Connection, before: i64, limit: u32) -> Result<usize> {
    let ids: Vec<i64> = {
        let mut stmt = c.prepare_cached(
            "SELECT id FROM webhook_deliveries WHERE created_at < ?1 AND status <> 'pending'
             ORDER BY created_at LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before, limit], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        c.exec("DELETE FROM webhook_attempts WHERE delivery_id = ?1", [id])?;
        c.exec("DELETE FROM webhook_deliveries WHERE id = ?1", [id])?;
    }
    Ok(ids.len())
}

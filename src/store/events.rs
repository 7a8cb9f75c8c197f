//! The event log (`events`): one row per change, appended in the change's own savepoint, read
//! back by Server-Sent Events streams from a sequence number, pruned by age in bounded batches.
//!
//! The writer publishes "committed up to seq N" after each commit (`take_appended`): the rows
//! themselves are then read from the table by each stream, on a reader.

use std::cell::Cell;

use rusqlite::Connection;

use super::Cached;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::error::Result;

/// Who made a change, as the audit trail names callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub kind: &'static str,
    pub id: Option<i64>,
}

impl Actor {
    pub const SYSTEM: Actor = Actor {
        kind: "system",
        id: None,
    };
}

thread_local! {
    /// The actor of the write command running on this (the writer) thread.
    static ACTOR: Cell<Option<Actor>> = const { Cell::new(None) };
    /// The highest seq appended on this thread since the writer last published.
    static APPENDED: Cell<i64> = const { Cell::new(0) };
}

/// Runs `f` with `actor` as the author of the events it appends.
pub fn acting<T>(actor: Option<Actor>, f: impl FnOnce() -> T) -> T {
    let before = ACTOR.with(|a| a.replace(actor));
    let out = f();
    ACTOR.with(|a| a.set(before));
    out
}

/// The highest seq appended since the last call (0: none): whether the batch the writer just
/// ended appended any event.
pub(crate) fn take_appended() -> i64 {
    APPENDED.with(|s| s.replace(0))
}

/// One change, as appended.
pub struct NewEvent<'a> {
    pub tenant: TenantId,
    pub kind: &'a str,
    pub at: i64,
    pub conversation: Option<ConversationId>,
    pub message: Option<i64>,
    pub subject: Option<UserId>,
    pub payload: &'a str,
}

pub fn append(conn: &Connection, e: &NewEvent<'_>) -> Result<i64> {
    let actor = ACTOR.with(Cell::get).unwrap_or(Actor::SYSTEM);
    let seq = conn.row(
        "INSERT INTO events (tenant_id, type, actor_kind, actor_id, at, conversation_id,
                             message_id, subject_id, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING seq",
        rusqlite::params![
            e.tenant.0,
            e.kind,
            actor.kind,
            actor.id,
            e.at,
            e.conversation.map(|c| c.0),
            e.message,
            e.subject.map(|u| u.0),
            e.payload,
        ],
        |r| r.get::<_, i64>(0),
    )?;
    APPENDED.with(|s| s.set(s.get().max(seq)));
    Ok(seq)
}

/// Each participant's unread count in `conv`, by user id.
pub fn unread_counts(conn: &Connection, conv: ConversationId) -> Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, unread_count FROM participants WHERE conversation_id = ?1 ORDER BY user_id",
    )?;
    let rows = stmt.query_map([conv.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An event as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub tenant: TenantId,
    pub kind: String,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub at: i64,
    pub conversation: Option<i64>,
    pub message: Option<i64>,
    pub subject: Option<i64>,
    pub payload: String,
}

const COLUMNS: &str = "seq, tenant_id, type, actor_kind, actor_id, at, conversation_id, \
                       message_id, subject_id, payload";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
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
}

/// The tenant's events after `after`, oldest first, at most `limit`. With `user`, only those of
/// the conversations the user is in now, and those about the user (a removal, their reads).
pub fn after(
    conn: &Connection,
    tenant: TenantId,
    user: Option<UserId>,
    after: i64,
    limit: u32,
) -> Result<Vec<Event>> {
    let mut stmt = match user {
        None => conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE tenant_id = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3"
        ))?,
        Some(_) => conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE tenant_id = ?1 AND seq > ?2
               AND (subject_id = ?4 OR conversation_id IN
                    (SELECT conversation_id FROM participants WHERE user_id = ?4))
             ORDER BY seq LIMIT ?3"
        ))?,
    };
    let rows = match user {
        None => stmt.query_map(rusqlite::params![tenant.0, after, limit], from_row)?,
        Some(u) => stmt.query_map(rusqlite::params![tenant.0, after, limit, u.0], from_row)?,
    };
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The latest seq committed (0: none ever).
pub fn committed(conn: &Connection) -> Result<i64> {
    Ok(conn.row(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        [],
        |r| r.get(0),
    )?)
}

/// The window: the oldest seq still stored and the latest seq ever handed out (0 when none).
/// With nothing stored, the oldest is `latest + 1`.
pub fn window(conn: &Connection) -> Result<(i64, i64)> {
    let latest = committed(conn)?;
    let oldest: Option<i64> = conn.row("SELECT MIN(seq) FROM events", [], |r| r.get(0))?;
    Ok((oldest.unwrap_or(latest + 1), latest))
}

/// Removes at most `limit` events older than `before` (millis), oldest first; returns how many.
pub fn prune(conn: &Connection, before: i64, limit: u32) -> Result<usize> {
    Ok(conn.exec(
        "DELETE FROM events WHERE seq IN
           (SELECT seq FROM events WHERE at < ?1 ORDER BY seq LIMIT ?2)",
        rusqlite::params![before, limit],
    )?)
}

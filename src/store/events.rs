//! The event log (`events`): one row per change, appended in the change's own savepoint, read
//! back by Server-Sent Events streams from a sequence number, pruned by age in bounded batches.
//!
//! After each commit that appended events, the writer reads back what it committed and
//! publishes it (`Publisher`): the rows as a batch to every live stream, and the highest seq
//! on a watch. A stream reads the table only to catch up (a reconnect, or a stream that fell
//! behind the broadcast), so a hundred open streams cost no reads per send.

use std::cell::Cell;
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{broadcast, watch};

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
fn take_appended() -> i64 {
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

/// The events after `after`, oldest first, at most `limit`: the tenant's, or (None) every
/// tenant's. Which of a tenant's events a user may see is decided on the rows
/// (`service::events::Audience`), the same way for the table and the live batches.
pub fn after(
    conn: &Connection,
    tenant: Option<TenantId>,
    after: i64,
    limit: u32,
) -> Result<Vec<Event>> {
    let mut stmt = match tenant {
        Some(_) => conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE tenant_id = ?3 AND seq > ?1
             ORDER BY seq LIMIT ?2"
        ))?,
        None => conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?,
    };
    let rows = match tenant {
        Some(t) => stmt.query_map(rusqlite::params![after, limit, t.0], from_row)?,
        None => stmt.query_map(rusqlite::params![after, limit], from_row)?,
    };
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A batch of committed events, oldest first, shared by every stream.
pub type Batch = Arc<Vec<Event>>;

/// How many batches a slow subscriber may fall behind before it must catch up from the table.
/// The ring holds them whether anyone listens or not, so it is kept small: falling behind
/// costs a read, not an event.
pub const BATCHES_KEPT: usize = 128;

/// The writer's side of publishing: what it committed since it last published.
pub struct Publisher {
    last: Cell<i64>,
    seq: watch::Sender<i64>,
    batches: broadcast::Sender<Batch>,
    restarts: watch::Sender<Restart>,
}

/// The subscribers' side, kept by the `Writer` handle.
#[derive(Clone)]
pub struct Published {
    pub seq: watch::Receiver<i64>,
    pub batches: broadcast::Sender<Batch>,
    pub restarts: watch::Receiver<Restart>,
}

/// The log was replaced by a restore (the stand-in's reset or a snapshot): its seqs may have
/// gone backwards, so a subscriber's cursor means nothing any more. The writer changes this
/// before it publishes any batch of the new log, so a subscriber that looks at it before each
/// batch never filters the new log's events with the old log's cursor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restart {
    /// How many restores so far.
    pub count: u64,
    /// The latest seq of the log as restored.
    pub latest: i64,
}

impl Publisher {
    /// Starts after the latest seq committed in `conn`'s file.
    pub fn new(conn: &Connection) -> Result<(Publisher, Published)> {
        let last = committed(conn)?;
        let (seq_tx, seq_rx) = watch::channel(last);
        let (batches, _) = broadcast::channel(BATCHES_KEPT);
        let (restarts, restarts_rx) = watch::channel(Restart::default());
        let published = Published {
            seq: seq_rx,
            batches: batches.clone(),
            restarts: restarts_rx,
        };
        Ok((
            Publisher {
                last: Cell::new(last),
                seq: seq_tx,
                batches,
                restarts,
            },
            published,
        ))
    }

    /// After the database was replaced: the log starts again from what the file holds.
    pub fn restarted(&self, conn: &Connection) {
        take_appended();
        let latest = committed(conn).unwrap_or_else(|e| {
            tracing::error!("reading the restored event log: {e}");
            0
        });
        self.last.set(latest);
        self.restarts.send_modify(|r| {
            r.count += 1;
            r.latest = latest;
        });
        self.seq.send_replace(latest);
    }

    /// After a commit: when the batch appended events, reads back every event committed since
    /// the last call and publishes them. Read back rather than taken from the appends: a
    /// rolled-back savepoint hands its seqs out again, and only committed rows may be seen.
    pub fn publish(&self, conn: &Connection) {
        if take_appended() == 0 {
            return;
        }
        let mut events = Vec::new();
        loop {
            match after(conn, None, self.last.get(), 10_000) {
                Ok(page) => {
                    let full = page.len() == 10_000;
                    if let Some(e) = page.last() {
                        self.last.set(e.seq);
                    }
                    events.extend(page);
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    // The streams catch up from the table when they next hear of a seq.
                    tracing::error!("reading the events just committed: {e}");
                    break;
                }
            }
        }
        if events.is_empty() {
            return;
        }
        self.seq.send_replace(self.last.get());
        // No subscriber is not an error: nobody is listening.
        let _ = self.batches.send(Arc::new(events));
    }
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

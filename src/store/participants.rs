//! The participant pivot and the read-state arithmetic on it. The rules these implement are in
//! `service::read_state`; this module only says how to do each step in SQL.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;

use crate::domain::{ConversationId, ConversationView, IdRef, Participant, TenantId, UserId};
use crate::error::{Error, Result};

pub(crate) const COLUMNS: &str =
    "p.conversation_id, p.user_id, p.joined_at, p.unread_count, p.last_read_at, p.last_read_seq, p.muted";

pub(crate) fn from_row_at(r: &Row, at: usize) -> rusqlite::Result<Participant> {
    Ok(Participant {
        conversation_id: ConversationId(r.get(at)?),
        user_id: UserId(r.get(at + 1)?),
        joined_at: r.get(at + 2)?,
        unread_count: r.get(at + 3)?,
        last_read_at: r.get(at + 4)?,
        last_read_seq: r.get(at + 5)?,
        muted: r.get(at + 6)?,
    })
}

/// The number of messages of `conv` that `user` has not read, counted from the messages table:
/// live, sent by someone else, above the horizon, and not read one by one.
pub const RECOUNT_SQL: &str = "SELECT count(*) FROM messages m
     WHERE m.conversation_id = ?1 AND m.deleted_at IS NULL AND m.sender_id <> ?2 AND m.seq > ?3
       AND NOT EXISTS (SELECT 1 FROM message_reads r
                       WHERE r.conversation_id = m.conversation_id AND r.user_id = ?2 AND r.seq = m.seq)";

pub struct NewParticipant {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub joined_at: i64,
    pub last_read_seq: i64,
    pub last_read_at: Option<i64>,
    pub muted: bool,
    pub sort_at: i64,
}

pub fn insert(conn: &Connection, p: &NewParticipant) -> Result<()> {
    conn.exec(
        "INSERT INTO participants (conversation_id, user_id, joined_at, last_read_seq, last_read_at, muted, sort_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![p.conversation_id.0, p.user_id.0, p.joined_at, p.last_read_seq, p.last_read_at, p.muted, p.sort_at],
    )?;
    Ok(())
}

/// Removes a membership and the single-message reads that went with it; false if absent.
pub fn delete(conn: &Connection, conv: ConversationId, user: UserId) -> Result<bool> {
    conn.exec(
        "DELETE FROM message_reads WHERE conversation_id = ?1 AND user_id = ?2",
        params![conv.0, user.0],
    )?;
    let n = conn.exec(
        "DELETE FROM participants WHERE conversation_id = ?1 AND user_id = ?2",
        params![conv.0, user.0],
    )?;
    Ok(n > 0)
}

pub fn get(conn: &Connection, conv: ConversationId, user: UserId) -> Result<Option<Participant>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM participants p WHERE p.conversation_id = ?1 AND p.user_id = ?2"
    ))?;
    Ok(stmt
        .query_row(params![conv.0, user.0], |r| from_row_at(r, 0))
        .optional()?)
}

/// Everyone in the conversation, in the order they joined.
pub fn list(conn: &Connection, conv: ConversationId) -> Result<Vec<Participant>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM participants p WHERE p.conversation_id = ?1 ORDER BY p.joined_at, p.user_id"
    ))?;
    let rows = stmt.query_map([conv.0], |r| from_row_at(r, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Everyone in each of `convs`, in one statement per `IN_CHUNK` conversations. Unordered: the
/// caller groups and orders them, which keeps a sort out of SQLite.
pub fn of_conversations(conn: &Connection, convs: &[ConversationId]) -> Result<Vec<Participant>> {
    let mut out = Vec::with_capacity(convs.len() * 2);
    let mut stmt = conn.prepare_cached(of_conversations_sql())?;
    for chunk in convs.chunks(super::IN_CHUNK) {
        let bound = super::padded(chunk, |c| c.0);
        let mut rows = stmt.query(rusqlite::params_from_iter(bound))?;
        while let Some(r) = rows.next()? {
            out.push(from_row_at(r, 0)?);
        }
    }
    Ok(out)
}

/// The statement of `of_conversations`.
pub(crate) fn of_conversations_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT {COLUMNS} FROM participants p WHERE p.conversation_id IN ({})",
            super::in_marks(1)
        )
    })
}

/// What a send needs to know about its conversation and sender, read in one statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendCheck {
    pub conversation: ConversationId,
    pub deleted: bool,
    pub locked: bool,
    /// Whether the sender is a member.
    pub member: bool,
    /// Whether the sender has single-message reads here, which the send's horizon will cover.
    pub sender_reads: bool,
}

/// The conversation `conv` of the tenant (deleted or not) as a send from `sender` sees it; None
/// when there is no such conversation. One statement instead of the conversation's row, the
/// sender's membership and a blind delete of their single reads: a send runs at the writer's
/// pace, so every statement saved there is throughput.
pub fn send_check(
    conn: &Connection,
    tenant: TenantId,
    conv: &IdRef,
    sender: UserId,
) -> Result<Option<SendCheck>> {
    let id = match super::row_id(conn, tenant, super::Keyed::Conversations, conv) {
        Ok(id) => id,
        Err(Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(conn
        .row(
            "SELECT c.id, c.deleted, c.locked,
                 EXISTS (SELECT 1 FROM participants p WHERE p.conversation_id = c.id AND p.user_id = ?3),
                 EXISTS (SELECT 1 FROM message_reads r WHERE r.conversation_id = c.id AND r.user_id = ?3)
             FROM conversations c WHERE c.id = ?1 AND c.tenant_id = ?2",
            params![id, tenant.0, sender.0],
            |r| {
                Ok(SendCheck {
                    conversation: ConversationId(r.get(0)?),
                    deleted: r.get(1)?,
                    locked: r.get(2)?,
                    member: r.get(3)?,
                    sender_reads: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// Message `seq` was sent by `sender` at `at`, the newest in the conversation: one more unread
/// for everyone else; the sender's horizon moves to it, so they have nothing unread and their
/// single reads are covered (dropped, when `sender_reads` says they have any); everyone's sort
/// key moves to `at`.
pub fn on_message_sent(
    conn: &Connection,
    conv: ConversationId,
    sender: UserId,
    seq: i64,
    at: i64,
    sender_reads: bool,
) -> Result<()> {
    conn.exec(
        "UPDATE participants SET
             unread_count = CASE WHEN user_id = ?2 THEN 0 ELSE unread_count + 1 END,
             last_read_seq = CASE WHEN user_id = ?2 THEN MAX(last_read_seq, ?3) ELSE last_read_seq END,
             last_read_at = CASE WHEN user_id = ?2 THEN ?4 ELSE last_read_at END,
             sort_at = ?4
         WHERE conversation_id = ?1",
        params![conv.0, sender.0, seq, at],
    )?;
    if sender_reads {
        conn.exec(
            "DELETE FROM message_reads WHERE conversation_id = ?1 AND user_id = ?2 AND seq <= ?3",
            params![conv.0, sender.0, seq],
        )?;
    }
    Ok(())
}

/// Added to a never-messaged conversation's creation time to make its members' sort key: below
/// every message time, so such conversations list after all the others, newest first, off the
/// same index.
pub const NEVER_MESSAGED: i64 = i64::MIN / 2;

/// The sort key of a conversation on its members' rows (`sort_at`): the time of its last
/// message, else its creation time moved below every message time.
pub fn sort_key(last_message_at: Option<i64>, created_at: i64) -> i64 {
    last_message_at.unwrap_or_else(|| NEVER_MESSAGED.saturating_add(created_at))
}

/// The conversation's last activity changed (a delete, a load): every member's sort key
/// follows its last message, or its creation when it has none left.
pub fn resort(conn: &Connection, conv: ConversationId) -> Result<()> {
    conn.exec(
        "UPDATE participants SET sort_at = (
             SELECT COALESCE(c.last_message_at, c.created_at + ?2) FROM conversations c WHERE c.id = ?1)
         WHERE conversation_id = ?1",
        params![conv.0, NEVER_MESSAGED],
    )?;
    Ok(())
}

/// Moves `user`'s horizon forward to `seq` (never backwards), drops the single reads it now
/// covers, and recounts. Returns the new unread count.
pub fn advance_horizon(
    conn: &Connection,
    conv: ConversationId,
    user: UserId,
    seq: i64,
    at: i64,
) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "UPDATE participants SET last_read_seq = MAX(last_read_seq, ?3), last_read_at = ?4
         WHERE conversation_id = ?1 AND user_id = ?2",
    )?;
    stmt.execute(params![conv.0, user.0, seq, at])?;
    let mut stmt = conn.prepare_cached(
        "DELETE FROM message_reads WHERE conversation_id = ?1 AND user_id = ?2
           AND seq <= (SELECT last_read_seq FROM participants WHERE conversation_id = ?1 AND user_id = ?2)",
    )?;
    stmt.execute(params![conv.0, user.0])?;
    recount(conn, conv, user)
}

/// Sets `user`'s unread count from a recount of the messages table; returns it.
pub fn recount(conn: &Connection, conv: ConversationId, user: UserId) -> Result<i64> {
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE participants SET unread_count = ({}) WHERE conversation_id = ?1 AND user_id = ?2
         RETURNING unread_count",
        RECOUNT_SQL.replace("?3", "participants.last_read_seq")
    ))?;
    Ok(stmt
        .query_row(params![conv.0, user.0], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// One message fewer unread for `user`.
pub fn decrement_unread(conn: &Connection, conv: ConversationId, user: UserId) -> Result<()> {
    conn.exec(
        "UPDATE participants SET unread_count = MAX(unread_count - 1, 0)
         WHERE conversation_id = ?1 AND user_id = ?2",
        params![conv.0, user.0],
    )?;
    Ok(())
}

/// A message is being deleted: one fewer unread for every member who had not read it. Must run
/// before the message is marked deleted and before its single reads are dropped.
pub fn on_message_deleted(
    conn: &Connection,
    conv: ConversationId,
    seq: i64,
    sender: UserId,
) -> Result<()> {
    conn.exec(
        "UPDATE participants SET unread_count = unread_count - 1
         WHERE conversation_id = ?1 AND user_id <> ?3 AND last_read_seq < ?2
           AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.conversation_id = ?1
                           AND r.user_id = participants.user_id AND r.seq = ?2)",
        params![conv.0, seq, sender.0],
    )?;
    Ok(())
}

/// A page of `user`'s live conversations in the tenant by last activity, newest first, never-messaged last
/// (newest created first), strictly after the `(sort_at, conversation id)` cursor. Served by the
/// `participants_user_activity` index whatever the user's number of conversations.
pub fn list_for_user(
    conn: &Connection,
    tenant: TenantId,
    user: UserId,
    before: Option<(i64, i64)>,
    limit: u32,
) -> Result<Vec<ConversationView>> {
    use super::conversations::{from_row, COLUMN_COUNT};
    let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
    let mut stmt = conn.prepare_cached(&list_for_user_sql(limit))?;
    let rows = stmt.query_map(params![user.0, at, id, tenant.0], |r| {
        Ok(ConversationView {
            conversation: from_row(r)?,
            me: from_row_at(r, COLUMN_COUNT)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The statement of `list_for_user`. The limit is part of the text, not a parameter: SQLite
/// plans with a bound LIMIT's value and so re-prepares such a statement every time it is
/// bound, which cost a fifth of a list's time. The rest of the text is built once.
pub(crate) fn list_for_user_sql(limit: u32) -> String {
    use super::conversations::COLUMNS as CONV;
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let head = SQL.get_or_init(|| {
        format!(
            "SELECT {CONV}, {COLUMNS} FROM participants p JOIN conversations c ON c.id = p.conversation_id
             WHERE p.user_id = ?1 AND (p.sort_at, p.conversation_id) < (?2, ?3) AND c.deleted = 0
               AND c.tenant_id = ?4
             ORDER BY p.sort_at DESC, p.conversation_id DESC LIMIT "
        )
    });
    format!("{head}{limit}")
}

/// `(conversation id, unread count)` for each of `user`'s live conversations with unread
/// messages.
pub fn unread_for_user(conn: &Connection, user: UserId) -> Result<Vec<(ConversationId, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.conversation_id, p.unread_count FROM participants p
         JOIN conversations c ON c.id = p.conversation_id
         WHERE p.user_id = ?1 AND p.unread_count > 0 AND c.deleted = 0
         ORDER BY p.conversation_id",
    )?;
    let rows = stmt.query_map([user.0], |r| Ok((ConversationId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A pivot row whose stored count differs from a recount of the messages table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub stored: i64,
    pub actual: i64,
}

/// Every pivot row whose stored unread count is not what the messages say.
pub fn find_drift(conn: &Connection) -> Result<Vec<Drift>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT conversation_id, user_id, unread_count, actual FROM (
             SELECT p.conversation_id, p.user_id, p.unread_count,
                    ({}) AS actual
             FROM participants p)
         WHERE unread_count <> actual ORDER BY conversation_id, user_id",
        RECOUNT_SQL
            .replace("?1", "p.conversation_id")
            .replace("?2", "p.user_id")
            .replace("?3", "p.last_read_seq")
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok(Drift {
            conversation_id: ConversationId(r.get(0)?),
            user_id: UserId(r.get(1)?),
            stored: r.get(2)?,
            actual: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

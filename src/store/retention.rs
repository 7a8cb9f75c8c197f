//! Retention: each tenant's policy, and the SQL of the sweep that removes expired messages
//! (`service::retention` runs it in batches and keeps the unread counts exact).

use rusqlite::{params, Connection, OptionalExtension};

use super::Cached;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::error::Result;

/// What a tenant keeps, and what the last real sweep did in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Days messages are kept; None: forever.
    pub message_days: Option<i64>,
    /// When the policy was last set (None: never set, the default applies).
    pub updated_at: Option<i64>,
    pub last_run: Option<LastRun>,
}

/// The counts of the last sweep that changed anything (dry runs are not recorded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LastRun {
    pub at: i64,
    pub removed: i64,
    pub conversations: i64,
    pub held: i64,
}

/// The tenant's policy; the default (keep forever) when it never set one.
pub fn policy(conn: &Connection, tenant: TenantId) -> Result<Policy> {
    Ok(conn
        .row(
            "SELECT message_days, updated_at, last_run_at, last_removed, last_conversations,
                    last_held
             FROM retention_policies WHERE tenant_id = ?1",
            [tenant.0],
            |r| {
                let at: Option<i64> = r.get(2)?;
                Ok(Policy {
                    message_days: r.get(0)?,
                    updated_at: r.get(1)?,
                    last_run: match at {
                        Some(at) => Some(LastRun {
                            at,
                            removed: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                            conversations: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                            held: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                        }),
                        None => None,
                    },
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

pub fn set_message_days(
    conn: &Connection,
    tenant: TenantId,
    days: Option<i64>,
    now: i64,
) -> Result<()> {
    conn.exec(
        "INSERT INTO retention_policies (tenant_id, message_days, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id) DO UPDATE SET message_days = ?2, updated_at = ?3",
        params![tenant.0, days, now],
    )?;
    Ok(())
}

/// The message counts of a real run (its time is `stamp_run`'s).
/// `(removed, conversations, held)`.
pub fn record_run(conn: &Connection, tenant: TenantId, counts: (u64, u64, u64)) -> Result<()> {
    let (removed, conversations, held) = counts;
    conn.exec(
        "UPDATE retention_policies SET last_removed = ?2, last_conversations = ?3, last_held = ?4
         WHERE tenant_id = ?1",
        params![tenant.0, removed as i64, conversations as i64, held as i64],
    )?;
    Ok(())
}

/// When the last real run went through the tenant.
pub fn stamp_run(conn: &Connection, tenant: TenantId, at: i64) -> Result<()> {
    conn.exec(
        "UPDATE retention_policies SET last_run_at = ?2 WHERE tenant_id = ?1",
        params![tenant.0, at],
    )?;
    Ok(())
}

/// Whether an active legal hold of the message's tenant covers message `m`: a hold on its
/// conversation, or on a user who sent it, was its recipient, takes part in its conversation
/// or is that conversation's customer.
const HELD: &str = "EXISTS (SELECT 1 FROM legal_holds h
     WHERE h.tenant_id = m.tenant_id AND h.released_at IS NULL
       AND (h.conversation_id = m.conversation_id
            OR h.user_id = m.sender_id OR h.user_id = m.recipient_id
            OR EXISTS (SELECT 1 FROM participants p
                       WHERE p.conversation_id = m.conversation_id AND p.user_id = h.user_id)
            OR EXISTS (SELECT 1 FROM conversations c
                       WHERE c.id = m.conversation_id AND c.customer_id = h.user_id)))";

/// Whether an active legal hold covers message `id` (its files stay when it is deleted).
pub fn is_held(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.row(
        &format!("SELECT {HELD} FROM messages m WHERE m.id = ?1"),
        [id],
        |r| r.get(0),
    )?)
}

/// How many expired messages one page of the sweep reads (on a reader, not the writer).
pub const PAGE: usize = 500;

/// An expired message (live or soft-deleted) as the sweep finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired {
    pub id: i64,
    pub conversation_id: ConversationId,
    pub held: bool,
}

/// The tenant's next `PAGE` messages created before `cutoff`, with an id above `after`, in id
/// order. Walking the table by id from where the last page ended reads it once in all, with
/// no index of its own (which every send would pay for).
pub fn expired_after(
    conn: &Connection,
    tenant: TenantId,
    cutoff: i64,
    after: i64,
) -> Result<Vec<Expired>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.id, m.conversation_id, {HELD} FROM messages m
         WHERE m.id > ?3 AND m.tenant_id = ?1 AND m.created_at < ?2
         ORDER BY m.id LIMIT {PAGE}"
    ))?;
    let rows = stmt.query_map(params![tenant.0, cutoff, after], |r| {
        Ok(Expired {
            id: r.get(0)?,
            conversation_id: ConversationId(r.get(1)?),
            held: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An expired message the writer is about to remove: what the unread counts need.
#[derive(Clone, Copy, Debug)]
pub struct Purgeable {
    pub id: i64,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender_id: UserId,
    /// Not soft-deleted: it may still count as unread for someone.
    pub live: bool,
    /// A hold covers it now (placed since the page was read): it stays.
    pub held: bool,
}

/// Message `id` if it is still the tenant's and still created before `cutoff` (None: it went
/// meanwhile, removed by a sweep running at the same time).
pub fn purgeable(
    conn: &Connection,
    tenant: TenantId,
    cutoff: i64,
    id: i64,
) -> Result<Option<Purgeable>> {
    Ok(conn
        .row(
            &format!(
                "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.deleted_at IS NULL, {HELD}
                 FROM messages m WHERE m.id = ?3 AND m.tenant_id = ?1 AND m.created_at < ?2"
            ),
            params![tenant.0, cutoff, id],
            |r| {
                Ok(Purgeable {
                    id: r.get(0)?,
                    conversation_id: ConversationId(r.get(1)?),
                    seq: r.get(2)?,
                    sender_id: UserId(r.get(3)?),
                    live: r.get(4)?,
                    held: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Hard-deletes a message and everything attached to it: its single reads and reactions
/// (explicitly, not left to the cascade, so nothing depends on `foreign_keys`), and the link of
/// any reply to it (the reply stays, without its target).
pub fn delete_message(conn: &Connection, id: i64) -> Result<()> {
    conn.exec("DELETE FROM message_reads WHERE message_id = ?1", [id])?;
    conn.exec("DELETE FROM reactions WHERE message_id = ?1", [id])?;
    super::attachments::remove_of_message(conn, id)?;
    conn.exec(
        "UPDATE messages SET reply_to_id = NULL WHERE reply_to_id = ?1",
        [id],
    )?;
    conn.exec("DELETE FROM messages WHERE id = ?1", [id])?;
    Ok(())
}

/// The conversation's last message, as recorded on it.
pub fn last_message_id(conn: &Connection, conv: ConversationId) -> Result<Option<i64>> {
    Ok(conn
        .row(
            "SELECT last_message_id FROM conversations WHERE id = ?1",
            [conv.0],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// `live` fewer live messages in the conversation (none of them its last).
pub fn discount_messages(conn: &Connection, conv: ConversationId, live: i64) -> Result<()> {
    conn.exec(
        "UPDATE conversations SET message_count = message_count - ?2 WHERE id = ?1",
        params![conv.0, live],
    )?;
    Ok(())
}

/// Runs `f` with SQLite's `secure_delete` on, then puts it back: what `f` deletes is
/// overwritten with zeros in the file instead of lingering in free space, where anyone opening
/// the file could still read a purged message.
pub fn securely<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let before: i64 = conn.row("PRAGMA secure_delete", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA secure_delete = ON")?;
    let out = f();
    let restore = match before {
        0 => "OFF",
        2 => "FAST",
        _ => "ON",
    };
    conn.execute_batch(&format!("PRAGMA secure_delete = {restore}"))?;
    out
}

//! The read-state invariant, step by step. For participant P of conversation C, a message M is
//! read by P when P sent it, or `M.seq <= P.last_read_seq`, or a single read (M, P) exists;
//! deleted messages are never unread; and `P.unread_count` always equals the number of C's
//! messages not read by P.
//!
//! Each function here runs inside one writer transaction and moves the stored counts exactly as
//! far as the facts it changes, so the equality holds after every command. `parlor check` and
//! the property test recount from the messages table to prove it.

use rusqlite::Connection;

use super::events::{self, Kind};
use crate::domain::{Conversation, ConversationId, Message, UserId};
use crate::error::Result;
use crate::store::{conversations, messages, participants};

/// A message was just inserted: it is unread for every other participant, the conversation's
/// last-message fields move to it, and the sender has now read everything up to it (it is the
/// newest message, so the sender's count is zero).
/// `sender_reads`: whether the sender had single reads in the conversation (they are dropped).
pub fn on_sent(conn: &Connection, message: &Message, sender_reads: bool) -> Result<()> {
    let conv = message.conversation_id;
    conversations::record_sent(
        conn,
        conv,
        message.id,
        message.seq,
        &message.body,
        message.created_at,
        message.sender_id,
    )?;
    participants::on_message_sent(
        conn,
        conv,
        message.sender_id,
        message.seq,
        message.created_at,
        sender_reads,
    )?;
    events::record(
        conn,
        message.tenant_id,
        Kind::MessageCreated,
        message.created_at,
        conv,
        Some(message.id),
        None,
    )
}

/// Moves `user`'s horizon to `seq` (never backwards) and recounts; returns the new count.
pub fn mark_up_to(
    conn: &Connection,
    conv: &Conversation,
    user: UserId,
    seq: i64,
    now: i64,
) -> Result<i64> {
    let count = participants::advance_horizon(conn, conv.id, user, seq, now)?;
    events::record(
        conn,
        conv.tenant_id,
        Kind::ConversationRead,
        now,
        conv.id,
        None,
        Some(user),
    )?;
    Ok(count)
}

/// Marks one message read by `user`. Returns false when it was already read (idempotent).
pub fn mark_one(
    conn: &Connection,
    message: &Message,
    user: UserId,
    horizon: i64,
    now: i64,
) -> Result<bool> {
    if message.sender_id == user
        || message.seq <= horizon
        || messages::has_single_read(conn, message.conversation_id, user, message.seq)?
    {
        return Ok(false);
    }
    messages::insert_single_read(conn, message, user, now)?;
    participants::decrement_unread(conn, message.conversation_id, user)?;
    events::record(
        conn,
        message.tenant_id,
        Kind::MessageRead,
        now,
        message.conversation_id,
        Some(message.id),
        Some(user),
    )?;
    Ok(true)
}

/// Soft-deletes a message: whoever had not read it has one fewer unread, and the
/// conversation's last message and everyone's sort key follow the newest live message.
pub fn on_delete(conn: &Connection, message: &Message, now: i64) -> Result<()> {
    participants::on_message_deleted(
        conn,
        message.conversation_id,
        message.seq,
        message.sender_id,
    )?;
    messages::mark_deleted(conn, message.id, now)?;
    conversations::refresh_last_message(conn, message.conversation_id)?;
    participants::resort(conn, message.conversation_id)?;
    events::record(
        conn,
        message.tenant_id,
        Kind::MessageDeleted,
        now,
        message.conversation_id,
        Some(message.id),
        None,
    )
}

/// A user joins: everything already in the conversation counts as read for them.
pub fn on_join(
    conn: &Connection,
    conv: &Conversation,
    user: UserId,
    now: i64,
    muted: bool,
) -> Result<()> {
    participants::insert(
        conn,
        &participants::NewParticipant {
            conversation_id: conv.id,
            user_id: user,
            joined_at: now,
            last_read_seq: conv.last_seq,
            last_read_at: None,
            muted,
            sort_at: participants::sort_key(
                conv.last_message.as_ref().map(|m| m.at),
                conv.created_at,
            ),
        },
    )
}

/// Recomputes everything derived for one conversation from its facts: the last message, the
/// count, every sort key and every unread count. Used after loading fixtures and by
/// `parlor check --fix`.
pub fn rebuild(conn: &Connection, conv: ConversationId) -> Result<()> {
    conversations::refresh_last_message(conn, conv)?;
    participants::resort(conn, conv)?;
    for p in participants::list(conn, conv)? {
        participants::recount(conn, conv, p.user_id)?;
    }
    Ok(())
}

impl super::Service {
    /// Recounts every unread count from the messages table; returns the rows that differed,
    /// correcting them when `fix` is set.
    pub async fn check_read_state(&self, fix: bool) -> Result<Vec<participants::Drift>> {
        if !fix {
            return self.store.read(participants::find_drift).await;
        }
        self.store
            .write(|c| {
                let drift = participants::find_drift(c)?;
                let mut seen = Vec::new();
                for d in &drift {
                    if !seen.contains(&d.conversation_id) {
                        rebuild(c, d.conversation_id)?;
                        seen.push(d.conversation_id);
                    }
                }
                Ok(drift)
            })
            .await
    }
}

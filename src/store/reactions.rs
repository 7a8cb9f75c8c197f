//! Reactions to messages (one row per message, user and emoji). Adding one is
//! `messages::add_reaction`; this module reads them back with the reacting user's uuid.

use rusqlite::Connection;

use crate::domain::{ConversationId, MessageId};
use crate::error::Result;

/// A reaction as shown to clients: who (by uuid), what, when.
#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    pub message_id: MessageId,
    pub user_uuid: String,
    pub emoji: String,
    pub created_at: i64,
}

const SELECT: &str = "SELECT r.message_id, u.uuid, r.emoji, r.created_at
     FROM reactions r JOIN users u ON u.id = r.user_id";

fn collect(mut stmt: rusqlite::CachedStatement<'_>, key: i64) -> Result<Vec<Reaction>> {
    let rows = stmt.query_map([key], |r| {
        Ok(Reaction {
            message_id: MessageId(r.get(0)?),
            user_uuid: r.get(1)?,
            emoji: r.get(2)?,
            created_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every reaction to the messages of `conv`, oldest first.
pub fn for_conversation(conn: &Connection, conv: ConversationId) -> Result<Vec<Reaction>> {
    let stmt = conn.prepare_cached(&format!(
        "{SELECT} JOIN messages m ON m.id = r.message_id
         WHERE m.conversation_id = ?1 ORDER BY r.created_at, r.message_id, r.user_id, r.emoji"
    ))?;
    collect(stmt, conv.0)
}

/// The reactions to one message, oldest first.
pub fn for_message(conn: &Connection, message: MessageId) -> Result<Vec<Reaction>> {
    let stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE r.message_id = ?1 ORDER BY r.created_at, r.user_id, r.emoji"
    ))?;
    collect(stmt, message.0)
}

//! One-to-one conversations: those with exactly two participants. MDLIVE's provider threads
//! and system messages are these.

use rusqlite::{params, Connection};

use super::conversations::{from_row, COLUMNS as CONV, COLUMN_COUNT};
use super::participants::{from_row_at, COLUMNS as PIVOT};
use crate::domain::{Conversation, Participant, UserId};
use crate::error::Result;

/// One of a user's live one-to-one conversations: the conversation, the user's own pivot row
/// and the other participant.
pub struct Pair {
    pub conversation: Conversation,
    pub me: Participant,
    pub other: UserId,
}

/// Every live conversation whose participants are exactly `user` and one other user, by last
/// activity, oldest first (never-messaged ones first, by id).
pub fn pairs_of(conn: &Connection, user: UserId) -> Result<Vec<Pair>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONV}, {PIVOT}, other.user_id
         FROM participants p
         JOIN conversations c ON c.id = p.conversation_id
         JOIN participants other ON other.conversation_id = p.conversation_id
                                AND other.user_id <> p.user_id
         WHERE p.user_id = ?1 AND c.deleted = 0
           AND (SELECT count(*) FROM participants n WHERE n.conversation_id = p.conversation_id) = 2
         ORDER BY COALESCE(c.last_message_at, 0), c.id"
    ))?;
    let rows = stmt.query_map(params![user.0], |r| {
        Ok(Pair {
            conversation: from_row(r)?,
            me: from_row_at(r, COLUMN_COUNT)?,
            other: UserId(r.get(COLUMN_COUNT + 7)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

//! The reads behind a patient's export (right of access): everything the file still holds about
//! one user's conversations, deleted rows included, read a page at a time.

use rusqlite::{params, Connection, OptionalExtension};

use super::Cached;
use crate::domain::{
    Conversation, ConversationId, Message, MessageId, MessageRead, TenantId, UserId,
};
use crate::error::{Error, Result};

/// Every conversation of the tenant that `user` is a participant of, or was: a removed
/// participant's row is gone, but the messages they sent or were sent still name them, and a
/// Trillet conversation names its customer and agent. Deleted conversations included. Ordered
/// by id (creation order), so the export reads the same whatever arrives meanwhile.
///
/// The messages are scanned whole: no index leads with the sender, and one would cost every
/// send its upkeep for the sake of a rare request. `NOT INDEXED` keeps it a scan in file order:
/// through `(conversation_id, seq)` SQLite would fetch every row out of order to save sorting
/// a handful of distinct ids. Only those ids are kept, never the messages.
pub fn conversation_ids_of(
    conn: &Connection,
    tenant: TenantId,
    user: UserId,
) -> Result<Vec<ConversationId>> {
    let mut ids = std::collections::BTreeSet::new();
    for sql in [
        "SELECT p.conversation_id FROM participants p CROSS JOIN conversations c
             ON c.id = p.conversation_id
         WHERE p.user_id = ?2 AND c.tenant_id = ?1",
        "SELECT DISTINCT conversation_id FROM messages NOT INDEXED
         WHERE tenant_id = ?1 AND (sender_id = ?2 OR recipient_id = ?2)",
        "SELECT id FROM conversations WHERE tenant_id = ?1 AND (customer_id = ?2 OR agent_id = ?2)",
    ] {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params![tenant.0, user.0])?;
        while let Some(r) = rows.next()? {
            ids.insert(r.get::<_, i64>(0)?);
        }
    }
    Ok(ids.into_iter().map(ConversationId).collect())
}

/// A conversation of the tenant, deleted or not.
pub fn conversation(
    conn: &Connection,
    tenant: TenantId,
    id: ConversationId,
) -> Result<Conversation> {
    conn.row(
        &format!(
            "SELECT {} FROM conversations c WHERE c.id = ?1 AND c.tenant_id = ?2",
            super::conversations::COLUMNS
        ),
        params![id.0, tenant.0],
        super::conversations::from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("conversation"))
}

/// Everyone a message of `conv` names, as sender or recipient, deleted messages included: the
/// people of a conversation who may no longer be its participants.
pub fn people_named(conn: &Connection, conv: ConversationId) -> Result<Vec<UserId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT sender_id FROM messages WHERE conversation_id = ?1
         UNION
         SELECT recipient_id FROM messages WHERE conversation_id = ?1 AND recipient_id IS NOT NULL",
    )?;
    let rows = stmt.query_map([conv.0], |r| Ok(UserId(r.get(0)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A message as the file holds it, with when it was deleted (None while live).
pub struct StoredMessage {
    pub message: Message,
    pub deleted_at: Option<i64>,
}

/// The oldest `limit` messages of `conv` with seq above `after`, deleted ones included.
pub fn messages_after(
    conn: &Connection,
    conv: ConversationId,
    after: i64,
    limit: u32,
) -> Result<Vec<StoredMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {}, deleted_at FROM messages WHERE conversation_id = ?1 AND seq > ?2
         ORDER BY seq LIMIT ?3",
        super::messages::COLUMNS
    ))?;
    let rows = stmt.query_map(params![conv.0, after, limit], |r| {
        Ok(StoredMessage {
            message: super::messages::from_row(r)?,
            deleted_at: r.get(19)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `user`'s single-message reads in `conv` with seq in `first..=last`, off the primary key.
pub fn single_reads(
    conn: &Connection,
    conv: ConversationId,
    user: UserId,
    first: i64,
    last: i64,
) -> Result<Vec<MessageRead>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, seq, read_at FROM message_reads
         WHERE conversation_id = ?1 AND user_id = ?2 AND seq BETWEEN ?3 AND ?4",
    )?;
    let rows = stmt.query_map(
        params![conv.0, user.0, first, last],
        super::messages::read_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A reaction to a message.
pub struct Reaction {
    pub message_id: MessageId,
    pub user_id: UserId,
    pub emoji: String,
    pub created_at: i64,
}

/// The reactions to `messages`, in one statement per `IN_CHUNK` messages.
pub fn reactions_to(conn: &Connection, messages: &[MessageId]) -> Result<Vec<Reaction>> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "SELECT message_id, user_id, emoji, created_at FROM reactions
             WHERE message_id IN ({}) ORDER BY message_id, created_at",
            super::in_marks(1)
        )
    });
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(sql)?;
    for chunk in messages.chunks(super::IN_CHUNK) {
        let mut rows = stmt.query(rusqlite::params_from_iter(super::padded(chunk, |m| m.0)))?;
        while let Some(r) = rows.next()? {
            out.push(Reaction {
                message_id: MessageId(r.get(0)?),
                user_id: UserId(r.get(1)?),
                emoji: r.get(2)?,
                created_at: r.get(3)?,
            });
        }
    }
    Ok(out)
}

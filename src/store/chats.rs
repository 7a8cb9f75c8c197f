//! Two-person chats: finding the conversation two users already share, and what their
//! messages were sent from.

use rusqlite::{params, Connection, OptionalExtension};

use super::Cached;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::error::Result;

/// A live conversation of the tenant in which both `a` and `b` take part and whose tag is
/// `tag_type` / `tag_id` (JSON text), NULL matching NULL; the most recently created first.
pub fn find_shared(
    conn: &Connection,
    tenant: TenantId,
    a: UserId,
    b: UserId,
    tag_type: Option<&str>,
    tag_id: Option<&str>,
) -> Result<Option<ConversationId>> {
    Ok(conn
        .row(
            "SELECT c.id FROM participants pa
             JOIN participants pb ON pb.conversation_id = pa.conversation_id AND pb.user_id = ?3
             JOIN conversations c ON c.id = pa.conversation_id
             WHERE pa.user_id = ?2 AND c.tenant_id = ?1 AND c.deleted = 0
               AND c.tag_type IS ?4 AND c.tag_id IS ?5
             ORDER BY c.created_at DESC, c.id DESC LIMIT 1",
            params![tenant.0, a.0, b.0, tag_type, tag_id],
            |r| r.get(0),
        )
        .optional()?
        .map(ConversationId))
}

/// How many live messages of `user`'s live conversations were sent from each `device.type`
/// (None for messages without one), most first.
pub fn messages_per_device_type(
    conn: &Connection,
    user: UserId,
) -> Result<Vec<(Option<String>, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT CASE WHEN json_type(m.device, '$.type') = 'text'
                     THEN json_extract(m.device, '$.type') END AS device_type, count(*) AS n
         FROM participants p
         JOIN conversations c ON c.id = p.conversation_id
         JOIN messages m ON m.conversation_id = p.conversation_id
         WHERE p.user_id = ?1 AND c.deleted = 0 AND m.deleted_at IS NULL
         GROUP BY device_type ORDER BY n DESC, device_type",
    )?;
    let rows = stmt.query_map([user.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

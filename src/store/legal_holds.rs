//! Legal holds: placed on a conversation or a user, released but never deleted.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::error::{Error, Result};

/// What a hold covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Conversation(ConversationId),
    User(UserId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub id: i64,
    pub tenant_id: TenantId,
    pub target: Target,
    pub reason: String,
    /// None: the server admin.
    pub placed_by: Option<UserId>,
    pub placed_at: i64,
    /// None while active, or when the server admin released it (see `released_at`).
    pub released_by: Option<UserId>,
    pub released_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, conversation_id, user_id, reason, placed_by, placed_at, \
                       released_by, released_at";

fn from_row(r: &Row) -> rusqlite::Result<Hold> {
    let conversation: Option<i64> = r.get(2)?;
    let user: Option<i64> = r.get(3)?;
    Ok(Hold {
        id: r.get(0)?,
        tenant_id: TenantId(r.get(1)?),
        // The table's CHECK makes exactly one of the two set.
        target: match (conversation, user) {
            (Some(c), _) => Target::Conversation(ConversationId(c)),
            (None, u) => Target::User(UserId(u.unwrap_or_default())),
        },
        reason: r.get(4)?,
        placed_by: r.get::<_, Option<i64>>(5)?.map(UserId),
        placed_at: r.get(6)?,
        released_by: r.get::<_, Option<i64>>(7)?.map(UserId),
        released_at: r.get(8)?,
    })
}

pub fn insert(
    conn: &Connection,
    tenant: TenantId,
    target: Target,
    reason: &str,
    by: Option<UserId>,
    now: i64,
) -> Result<Hold> {
    let (conversation, user) = match target {
        Target::Conversation(c) => (Some(c.0), None),
        Target::User(u) => (None, Some(u.0)),
    };
    conn.exec(
        "INSERT INTO legal_holds (tenant_id, conversation_id, user_id, reason, placed_by, placed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![tenant.0, conversation, user, reason, by.map(|u| u.0), now],
    )?;
    get(conn, tenant, conn.last_insert_rowid())
}

/// The tenant's hold `id`; another tenant's is not found.
pub fn get(conn: &Connection, tenant: TenantId, id: i64) -> Result<Hold> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM legal_holds WHERE id = ?1 AND tenant_id = ?2"),
        params![id, tenant.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("legal hold"))
}

/// Every hold of the tenant, active ones first, newest first within each.
pub fn list(conn: &Connection, tenant: TenantId) -> Result<Vec<Hold>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM legal_holds WHERE tenant_id = ?1
         ORDER BY released_at IS NOT NULL, id DESC"
    ))?;
    let rows = stmt.query_map([tenant.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Releases an active hold; false when it was already released.
pub fn release(conn: &Connection, id: i64, by: Option<UserId>, now: i64) -> Result<bool> {
    let n = conn.exec(
        "UPDATE legal_holds SET released_at = ?2, released_by = ?3
         WHERE id = ?1 AND released_at IS NULL",
        params![id, now, by.map(|u| u.0)],
    )?;
    Ok(n > 0)
}

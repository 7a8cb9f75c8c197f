//! Invite and password-reset links (`invites`): one-time secrets, stored as SHA-256.

use rusqlite::{params, Connection, OptionalExtension};

use super::Cached;
use crate::domain::{TenantId, UserId};
use crate::error::Result;

/// A link as stored (never its secret).
#[derive(Clone, Debug, PartialEq)]
pub struct Invite {
    pub id: i64,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub purpose: String,
    pub created_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, tenant_id, user_id, purpose, created_at, expires_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Invite> {
    Ok(Invite {
        id: r.get(0)?,
        tenant_id: TenantId(r.get(1)?),
        user_id: UserId(r.get(2)?),
        purpose: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

/// Stores a new link for the user, revoking their earlier unused ones first: only the newest
/// link handed out works.
pub fn insert(
    conn: &Connection,
    hash: &[u8],
    tenant: TenantId,
    user: UserId,
    purpose: &str,
    now: i64,
    expires_at: i64,
) -> Result<Invite> {
    revoke_unused(conn, user, now)?;
    conn.exec(
        "INSERT INTO invites (secret_hash, tenant_id, user_id, purpose, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![hash, tenant.0, user.0, purpose, now, expires_at],
    )?;
    Ok(Invite {
        id: conn.last_insert_rowid(),
        tenant_id: tenant,
        user_id: user,
        purpose: purpose.to_string(),
        created_at: now,
        expires_at,
    })
}

/// Revokes the user's links that are still unused.
pub fn revoke_unused(conn: &Connection, user: UserId, now: i64) -> Result<usize> {
    Ok(conn.exec(
        "UPDATE invites SET revoked_at = ?2
         WHERE user_id = ?1 AND used_at IS NULL AND revoked_at IS NULL",
        params![user.0, now],
    )?)
}

/// The live link whose secret hashes to `hash`: unused, unrevoked, not expired at `now`.
pub fn live(conn: &Connection, hash: &[u8], now: i64) -> Result<Option<Invite>> {
    Ok(conn
        .row(
            &format!(
                "SELECT {COLUMNS} FROM invites WHERE secret_hash = ?1
                 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2"
            ),
            params![hash, now],
            from_row,
        )
        .optional()?)
}

/// Marks the live link `hash` used and returns it; None when it is not live. The check and
/// the mark are one statement, so of two uses only one finds it.
pub fn consume(conn: &Connection, hash: &[u8], now: i64) -> Result<Option<Invite>> {
    Ok(conn
        .row(
            &format!(
                "UPDATE invites SET used_at = ?2 WHERE secret_hash = ?1
                 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
                 RETURNING {COLUMNS}"
            ),
            params![hash, now],
            from_row,
        )
        .optional()?)
}

/// When the user's live link expires, if they have one.
pub fn outstanding(conn: &Connection, user: UserId, now: i64) -> Result<Option<i64>> {
    Ok(conn
        .row(
            "SELECT MAX(expires_at) FROM invites WHERE user_id = ?1
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
            params![user.0, now],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

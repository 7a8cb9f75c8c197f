//! Push-notification device tokens (Pigeons): one per user and platform.

use rusqlite::{params, Connection};

use super::Cached;
use crate::domain::{TenantId, UserId};
use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct PushDevice {
    pub id: i64,
    pub token: String,
    pub platform: String,
}

/// Registers `token` for the user's `platform`, replacing the token the user had there (the
/// row, and so its id, stays).
pub fn upsert(
    conn: &Connection,
    tenant: TenantId,
    user: UserId,
    token: &str,
    platform: &str,
    device: Option<&str>,
    now: i64,
) -> Result<PushDevice> {
    Ok(conn.row(
        "INSERT INTO push_devices (tenant_id, user_id, token, platform, device, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (user_id, platform) DO UPDATE SET
             token = excluded.token, device = excluded.device, created_at = excluded.created_at
         RETURNING id, token, platform",
        params![tenant.0, user.0, token, platform, device, now],
        |r| {
            Ok(PushDevice {
                id: r.get(0)?,
                token: r.get(1)?,
                platform: r.get(2)?,
            })
        },
    )?)
}

/// Removes the user's registrations of `token`; returns how many there were.
pub fn delete_token(
    conn: &Connection,
    tenant: TenantId,
    user: UserId,
    token: &str,
) -> Result<usize> {
    Ok(conn.exec(
        "DELETE FROM push_devices WHERE tenant_id = ?1 AND user_id = ?2 AND token = ?3",
        params![tenant.0, user.0, token],
    )?)
}

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;

use crate::domain::{ApiKey, TenantId};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, tenant_id, key, label, created_at, revoked_at";

fn from_row(r: &Row) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        tenant_id: TenantId(r.get(1)?),
        key: r.get(2)?,
        label: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

pub fn insert(
    conn: &Connection,
    tenant: TenantId,
    key: &str,
    secret_hash: &[u8],
    label: Option<&str>,
    now: i64,
) -> Result<ApiKey> {
    conn.exec(
        "INSERT INTO api_keys (tenant_id, key, secret_hash, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![tenant.0, key, secret_hash, label, now],
    )?;
    get(conn, tenant, conn.last_insert_rowid())
}

pub fn get(conn: &Connection, tenant: TenantId, id: i64) -> Result<ApiKey> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1 AND tenant_id = ?2"),
        params![id, tenant.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("api key"))
}

pub fn list(conn: &Connection, tenant: TenantId) -> Result<Vec<ApiKey>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([tenant.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn revoke(conn: &Connection, tenant: TenantId, id: i64, now: i64) -> Result<ApiKey> {
    let changed = conn.exec(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND tenant_id = ?2",
        params![id, tenant.0, now],
    )?;
    if changed == 0 {
        return Err(Error::NotFound("api key"));
    }
    get(conn, tenant, id)
}

/// The key named `key`, in any tenant, with its secret's digest (for authentication).
pub fn find_by_key(conn: &Connection, key: &str) -> Result<Option<(ApiKey, Vec<u8>)>> {
    Ok(conn
        .row(
            &format!("SELECT {COLUMNS}, secret_hash FROM api_keys WHERE key = ?1"),
            [key],
            |r| Ok((from_row(r)?, r.get(6)?)),
        )
        .optional()?)
}

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;

use crate::domain::{Tenant, TenantId, UserId};
use crate::error::{Error, Result};

const COLUMNS: &str =
    "id, uuid, name, public_key, workspace_id, utc_offset_minutes, owner_id, assistant_id, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: TenantId(r.get(0)?),
        uuid: r.get(1)?,
        name: r.get(2)?,
        public_key: r.get(3)?,
        workspace_id: r.get(4)?,
        utc_offset_minutes: r.get(5)?,
        owner_id: r.get::<_, Option<i64>>(6)?.map(UserId),
        assistant_id: r.get::<_, Option<i64>>(7)?.map(UserId),
        created_at: r.get(8)?,
    })
}

pub struct NewTenant<'a> {
    pub id: Option<i64>,
    pub uuid: &'a str,
    pub name: &'a str,
    pub public_key: Option<&'a str>,
    pub workspace_id: Option<&'a str>,
    pub utc_offset_minutes: i32,
    pub created_at: i64,
}

pub fn insert(conn: &Connection, t: &NewTenant) -> Result<TenantId> {
    conn.exec(
        "INSERT INTO tenants (id, uuid, name, public_key, workspace_id, utc_offset_minutes, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![t.id, t.uuid, t.name, t.public_key, t.workspace_id, t.utc_offset_minutes, t.created_at],
    )?;
    Ok(TenantId(conn.last_insert_rowid()))
}

pub fn set_owner(conn: &Connection, tenant: TenantId, owner: UserId) -> Result<()> {
    conn.exec(
        "UPDATE tenants SET owner_id = ?2 WHERE id = ?1",
        params![tenant.0, owner.0],
    )?;
    Ok(())
}

pub fn set_assistant(conn: &Connection, tenant: TenantId, assistant: UserId) -> Result<()> {
    conn.exec(
        "UPDATE tenants SET assistant_id = ?2 WHERE id = ?1",
        params![tenant.0, assistant.0],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: TenantId) -> Result<Tenant> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("tenant"))
}

/// By integer id or uuid.
pub fn find(conn: &Connection, id: &crate::domain::IdRef) -> Result<Tenant> {
    use crate::domain::IdRef;
    let found = match id {
        IdRef::Id(n) => conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM tenants WHERE id = ?1"),
                [n],
                from_row,
            )
            .optional()?,
        IdRef::Key(k) => conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM tenants WHERE uuid = ?1"),
                [k],
                from_row,
            )
            .optional()?,
    };
    found.ok_or(Error::NotFound("tenant"))
}

pub fn list(conn: &Connection) -> Result<Vec<Tenant>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM tenants ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The tenant whose `public_key` (Pigeons `X-PUBLIC-KEY`) is `key`.
pub fn find_by_public_key(conn: &Connection, key: &str) -> Result<Tenant> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM tenants WHERE public_key = ?1"),
        [key],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("tenant"))
}

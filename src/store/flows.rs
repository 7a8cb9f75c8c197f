use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;

use crate::domain::{Flow, FlowChannel, TenantId, UserId};
use crate::error::{Error, Result};

const COLUMNS: &str = "id, oid, tenant_id, name, channel, agent_id, initiation_message, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Flow> {
    let channel: String = r.get(4)?;
    Ok(Flow {
        id: r.get(0)?,
        oid: r.get(1)?,
        tenant_id: TenantId(r.get(2)?),
        name: r.get(3)?,
        channel: FlowChannel::parse(&channel).unwrap_or(FlowChannel::Sms),
        agent_id: r.get::<_, Option<i64>>(5)?.map(UserId),
        initiation_message: r.get(6)?,
        created_at: r.get(7)?,
    })
}

pub struct NewFlow<'a> {
    pub oid: &'a str,
    pub tenant_id: TenantId,
    pub name: &'a str,
    pub channel: &'a str,
    pub agent_id: Option<UserId>,
    pub initiation_message: &'a str,
    pub created_at: i64,
}

pub fn insert(conn: &Connection, f: &NewFlow) -> Result<i64> {
    conn.exec(
        "INSERT INTO flows (oid, tenant_id, name, channel, agent_id, initiation_message, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![f.oid, f.tenant_id.0, f.name, f.channel, f.agent_id.map(|a| a.0), f.initiation_message, f.created_at],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, tenant: TenantId, id: i64) -> Result<Flow> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM flows WHERE id = ?1 AND tenant_id = ?2"),
        params![id, tenant.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("flow"))
}

/// By its ObjectId, within the tenant.
pub fn find_by_oid(conn: &Connection, tenant: TenantId, oid: &str) -> Result<Flow> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM flows WHERE oid = ?1 AND tenant_id = ?2"),
        params![oid, tenant.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("flow"))
}

use rusqlite::{params, Connection};

use super::Cached;

use crate::domain::{TenantId, UserId};
use crate::error::Result;

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

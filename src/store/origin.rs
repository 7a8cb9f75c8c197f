//! Where a database's data came from: loaded for trying things out (the demo, a fixture), or
//! entered for real. `synchronous = "off"` may corrupt the file on power loss, so the server
//! accepts it only for the first kind (`server::check_synchronous`).

use rusqlite::Connection;

use super::{settings, Cached};
use crate::error::Result;

/// Set when the first tenant ever stored in the database came from the demo or a fixture.
const SCRATCH_KEY: &str = "data_origin";
const SCRATCH: &str = "demo-or-fixture";

/// Whether the database holds any tenant yet. `parlor init` alone stores only a server-admin
/// token: no clinic's data.
pub fn holds_tenants(conn: &Connection) -> Result<bool> {
    Ok(conn.row("SELECT EXISTS (SELECT 1 FROM tenants)", [], |r| r.get(0))?)
}

/// Whether the database's data was loaded from the demo or a fixture.
pub fn is_scratch(conn: &Connection) -> Result<bool> {
    Ok(settings::get(conn, SCRATCH_KEY)?.as_deref() == Some(SCRATCH))
}

/// Records that the data now in the database came from the demo or a fixture. Only meaningful
/// right after loading into a database that held no tenant; the first origin recorded stays.
pub fn mark_scratch(conn: &Connection) -> Result<()> {
    settings::get_or_insert(conn, SCRATCH_KEY, SCRATCH)?;
    Ok(())
}

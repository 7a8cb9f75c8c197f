//! Applies `schema.sql` to a new database and records the version in `PRAGMA user_version`.
//! Later changes are appended to `STEPS` as numbered additive steps; shipped steps never change.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Step N (1-based) brings the database from version N-1 to N.
const STEPS: &[&str] = &[include_str!("../../schema.sql")];

pub const VERSION: i64 = STEPS.len() as i64;

pub fn apply(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(Error::internal(format!(
            "the database is at schema version {current}, newer than this parlor ({VERSION}); \
             upgrade parlor"
        )));
    }
    for (index, step) in STEPS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

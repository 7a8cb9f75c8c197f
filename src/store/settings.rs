//! Server-wide values created once and kept in the database.

use rusqlite::{params, Connection, OptionalExtension};

use super::Cached;

use crate::error::Result;

pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT value FROM server_settings WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

/// Stores `value` under `key` unless a value is already there; returns the stored value.
pub fn get_or_insert(conn: &Connection, key: &str, value: &str) -> Result<String> {
    conn.exec(
        "INSERT INTO server_settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
        params![key, value],
    )?;
    Ok(conn.row(
        "SELECT value FROM server_settings WHERE key = ?1",
        [key],
        |r| r.get(0),
    )?)
}

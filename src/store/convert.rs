//! Re-encrypting a whole database file (`parlor encrypt`, `parlor rekey`): export it into a
//! new file next to it (`sqlcipher_export`), verify and flush that file, and only then rename
//! it over the original. Until the rename the original is untouched; after it the new file is
//! complete; so a crash at any point leaves one good database.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::cipher::{self, FileKind, Key};
use crate::error::{Error, Result};

/// `path` with `suffix` added to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Exports the database at `db` (opened with `from`) into a new file encrypted with `to`,
/// verifies it, and renames it over `db`. Returns the tables and rows copied.
pub fn convert(db: &Path, from: Option<&Key>, to: &Key) -> Result<(usize, u64)> {
    let next = sibling(db, ".converting");
    for leftover in [next.clone(), sibling(&next, "-journal")] {
        if leftover.exists() {
            std::fs::remove_file(&leftover).map_err(|e| {
                Error::internal(format!("cannot remove {}: {e}", leftover.display()))
            })?;
        }
    }
    let source = hold_alone(db, from)?;
    let result = export_and_swap(&source, db, &next, to);
    if result.is_err() {
        let _ = std::fs::remove_file(&next);
    }
    drop(source);
    result
}

/// Opens `db` and keeps it to this connection alone until it is dropped, so that nothing
/// writes to the original while it is copied. Fails at once if anything else has it open.
fn hold_alone(db: &Path, key: Option<&Key>) -> Result<Connection> {
    // ATTACH opens the new file with this connection's flags: it must be allowed to create.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = cipher::open(db, flags, key)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", db.display())))?;
    cipher::unlock(&conn, db, key)?;
    let in_use = || {
        Error::Conflict(format!(
            "{} is in use (a running server, or another parlor command): stop it, then try \
             again",
            db.display()
        ))
    };
    // In exclusive locking mode the lock taken here is held until the connection closes.
    conn.execute_batch("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE;")?;
    conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                in_use()
            }
            _ => Error::from(e),
        })?;
    // Everything in the WAL into the file, and the WAL and its index removed: neither must
    // meet the new file that takes the old one's name. Leaving WAL mode does both, and needs
    // the file to itself; the server switches back to WAL when it next opens it.
    let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(in_use());
    }
    Ok(conn)
}

fn export_and_swap(source: &Connection, db: &Path, next: &Path, to: &Key) -> Result<(usize, u64)> {
    let next_text = next
        .to_str()
        .ok_or_else(|| Error::invalid("db", "the database path must be valid UTF-8"))?;
    let version: i64 = source.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
    source.execute(
        "ATTACH DATABASE ?1 AS converted KEY ?2",
        [next_text, &to.key_spec()],
    )?;
    let exported = source
        .query_row("SELECT sqlcipher_export('converted')", [], |_| Ok(()))
        .and_then(|_| source.execute_batch(&format!("PRAGMA converted.user_version = {version};")));
    let detached = source.execute_batch("DETACH DATABASE converted;");
    exported?;
    detached?;

    std::fs::File::open(next)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::internal(format!("cannot flush {}: {e}", next.display())))?;
    let counts = verify_copy(source, next, to)?;
    std::fs::rename(next, db).map_err(|e| {
        Error::internal(format!(
            "cannot move {} over {}: {e}",
            next.display(),
            db.display()
        ))
    })?;
    cipher::sync_dir(db)?;
    Ok(counts)
}

/// The new file opens with its key only, is sound, and holds as many rows in every table as
/// the original.
fn verify_copy(source: &Connection, next: &Path, key: &Key) -> Result<(usize, u64)> {
    if FileKind::of(next)? != FileKind::Encrypted {
        return Err(Error::internal(format!(
            "the new file {} is not encrypted; the database was left as it was",
            next.display()
        )));
    }
    let copy = cipher::open(next, OpenFlags::SQLITE_OPEN_READ_WRITE, Some(key))?;
    cipher::unlock(&copy, next, Some(key))?;
    let verdict: String = copy.query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
    if verdict != "ok" {
        return Err(Error::internal(format!(
            "the new file {} did not pass the integrity check ({verdict}); the database was \
             left as it was",
            next.display()
        )));
    }
    let tables: Vec<String> = {
        let mut stmt = source.prepare(
            "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        names
    };
    let mut rows = 0u64;
    for table in &tables {
        let count = |c: &Connection| -> Result<Option<i64>> {
            let sql = format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\""));
            Ok(c.query_row(&sql, [], |r| r.get(0)).optional()?)
        };
        let (before, after) = (count(source)?, count(&copy)?);
        if before != after {
            return Err(Error::internal(format!(
                "the new file {} holds {after:?} rows of {table} where the database holds \
                 {before:?}; the database was left as it was",
                next.display()
            )));
        }
        rows += before.unwrap_or(0) as u64;
    }
    Ok((tables.len(), rows))
}

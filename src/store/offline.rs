//! Whether a database file is open elsewhere: `parlor restore` must not replace a file a server
//! (or Litestream, or a `sqlite3` shell) has open.
//!
//! Every connection to a WAL database holds a shared lock on the file for as long as it is open,
//! idle or not, and the operating system drops it when the process ends, even by `kill -9`. So an
//! exclusive transaction in exclusive locking mode, tried without waiting, succeeds exactly when
//! nobody else has the file open: no pid file to go stale, nothing to clean up after a crash.

use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::OpenFlags;

use super::cipher::{self, FileKind, Key};
use crate::error::{Error, Result};

/// True when another connection has `path` open. A missing file is not in use. `key` opens an
/// encrypted file (it is not applied to a plain one).
pub fn in_use(path: &Path, key: Option<&Key>) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let kind = FileKind::of(path)?;
    let key = key.filter(|_| kind == FileKind::Encrypted);
    let conn = cipher::open(path, OpenFlags::SQLITE_OPEN_READ_WRITE, key)
        .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
    // Closing must not fold a crashed server's WAL into the file: the file and its WAL are to be
    // moved aside exactly as they are.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.execute_batch("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE;")?;
    let tried = conn.execute_batch("BEGIN EXCLUSIVE; ROLLBACK;");
    match tried {
        Ok(()) => Ok(false),
        Err(e) => match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Ok(true)
            }
            // A first page SQLite cannot read: no server can have this file open either (the
            // start-up check refuses such a file even read-only).
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                Ok(false)
            }
            _ => Err(Error::internal(format!(
                "cannot tell whether {} is in use: {e}",
                path.display()
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_connection_makes_the_file_in_use_and_closing_it_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);",
        )
        .unwrap();
        assert!(in_use(&path, None).unwrap());
        drop(conn);
        assert!(!in_use(&path, None).unwrap());
    }
}

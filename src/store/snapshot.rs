//! Whole-database copies for the stand-in control plane (`control::state`): the start state, named
//! snapshots and sandboxes. Both directions use SQLite's online backup API, which copies pages
//! rather than rows (a `VACUUM INTO` rebuilds every table and index), so a copy costs about what
//! copying the file costs.
//!
//! An encrypted database's copies are encrypted with the same key: both ends of the backup open
//! with it (`cipher::open`), and SQLCipher copies the pages as they are.

use std::path::Path;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

use super::cipher::{self, Key};
use crate::error::{Error, Result};

/// All pages in one step: the copy is one read transaction of the source, so it is consistent
/// even while the writer commits (a copy in several steps restarts when the source changes).
const ALL_PAGES: std::os::raw::c_int = -1;

/// Copies the database at `src` (which a server may be writing) into the new file `dest`.
/// Blocking: call it off the async workers. `dest` must not exist; a copy that fails is removed.
pub fn copy(src: &Path, key: Option<&Key>, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists",
            dest.display()
        )));
    }
    let out = copy_pages(src, key, dest);
    if out.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    out
}

fn copy_pages(src: &Path, key: Option<&Key>, dest: &Path) -> Result<()> {
    // Not `open`: its look at the file's first bytes opens and closes a descriptor of the live
    // database, and closing any descriptor of a file drops every POSIX lock this process holds
    // on it (the server's own included), letting another process take the file from under the
    // server. The key is the running store's, which opened the file with it.
    let from = cipher::open(src, OpenFlags::SQLITE_OPEN_READ_WRITE, key)?;
    from.execute_batch("PRAGMA busy_timeout = 5000;")?;
    let mut to = cipher::open(
        dest,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        key,
    )?;
    {
        run(&Backup::new(&from, &mut to)?)?;
    }
    // The pages carry the source's WAL flag; leave a file that is whole without a `-wal`
    // beside it, so that it can be copied as a plain file (a sandbox's first use).
    to.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    to.close().map_err(|(_, e)| Error::from(e))?;
    Ok(())
}

/// Replaces the whole content of `conn`'s database with the file at `src`, in one transaction of
/// `conn`: other connections (the readers) see the old state until it commits and the new state
/// after, never a mix. For the writer's connection only (nothing else writes), outside any
/// transaction of its own. The destination stays in WAL mode.
pub fn restore_into(conn: &mut Connection, src: &Path, key: Option<&Key>) -> Result<()> {
    if !src.exists() {
        return Err(Error::NotFound("snapshot"));
    }
    let from = open(src, key)?;
    {
        run(&Backup::new(&from, conn)?)?;
    }
    // The copied pages went into the WAL; copy them back into the file now rather than leave a
    // WAL as large as the database to the background checkpointer.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!("checkpoint after a restore: {e}");
    }
    Ok(())
}

/// Runs a backup in one step, waiting out a lock held by another connection (a checkpoint) for
/// a bounded time.
fn run(backup: &Backup<'_, '_>) -> Result<()> {
    use rusqlite::backup::StepResult;
    let mut waits = 0;
    loop {
        match backup.step(ALL_PAGES)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked if waits < BUSY_WAITS => {
                waits += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => {
                return Err(Error::unavailable(
                    "the database stayed locked; try the copy again",
                    Some(1),
                ))
            }
        }
    }
}

/// How many 10 ms waits a copy makes for a lock before it gives up (5 s, `busy_timeout`'s).
const BUSY_WAITS: u32 = 500;

fn open(path: &Path, key: Option<&Key>) -> Result<Connection> {
    cipher::fits(path, key)?;
    let conn = cipher::open(path, OpenFlags::SQLITE_OPEN_READ_WRITE, key)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

//! `parlor restore FILE`: puts a verified copy in place of the database while no server runs,
//! keeping the replaced file (and its `-wal` and `-shm`) aside under a dated name.
//!
//! The copy is first copied beside the database (same file system, so the last step is one
//! rename) and verified there, as `parlor check` would: the bytes checked are the bytes served.
//! Until that rename nothing of the current database has moved; if anything before it fails,
//! the database is as it was.

use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::domain::clock::Millis;
use crate::error::{Error, Result};
use crate::store::integrity::{self, Depth};
use crate::store::offline;

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub db: PathBuf,
    /// The replaced files, under their new names (none when there was no database).
    pub aside: Vec<PathBuf>,
}

/// The companions SQLite keeps beside a database, moved with it.
const COMPANIONS: [&str; 3] = ["", "-wal", "-shm"];

pub fn restore(settings: &Settings, copy: &Path, now: Millis) -> Result<Restored> {
    let db = &settings.db;
    if !copy.is_file() {
        return Err(Error::invalid(
            "file",
            format!("{} does not exist or is not a file", copy.display()),
        ));
    }
    let key = crate::encryption::key_for(settings)?;
    refuse_if_in_use(db, key.as_ref())?;
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = db
        .file_name()
        .map_or_else(|| "parlor.db".into(), |n| n.to_string_lossy().into_owned());
    let staged = dir.join(format!(".{name}.restoring"));
    let _ = std::fs::remove_file(&staged);
    let placed = stage(copy, &staged, key.as_ref()).and_then(|()| {
        let stamp = crate::domain::time::utc(now).format("%Y%m%dT%H%M%SZ");
        place(
            db,
            &staged,
            key.as_ref(),
            &format!("{name}.replaced-{stamp}"),
            &dir,
        )
    });
    if placed.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    placed
}

/// Copies `copy` to `staged`, flushed, and verifies it there with the configured key.
fn stage(copy: &Path, staged: &Path, key: Option<&crate::store::cipher::Key>) -> Result<()> {
    std::fs::copy(copy, staged)
        .map_err(|e| Error::internal(format!("copying {}: {e}", copy.display())))?;
    super::sync_file(staged)?;
    let report = integrity::verify(staged, Depth::Full, key)?;
    if !report.is_sound() {
        let mut text = format!(
            "{} is not a sound copy, so nothing was replaced. `parlor check` of it finds:",
            copy.display()
        );
        let problems = report.problems();
        for p in problems.iter().take(5) {
            text.push_str(&format!("\n  - {p}"));
        }
        if problems.is_empty() {
            text.push_str("\n  - the check could not finish");
        } else if problems.len() > 5 {
            text.push_str(&format!("\n  - … and {} more", problems.len() - 5));
        }
        return Err(Error::invalid("file", text));
    }
    Ok(())
}

fn refuse_if_in_use(db: &Path, key: Option<&crate::store::cipher::Key>) -> Result<()> {
    if offline::in_use(db, key)? {
        return Err(Error::Conflict(format!(
            "{} is open in another process (a running server, Litestream, a sqlite3 shell); stop \
             it first, then restore",
            db.display()
        )));
    }
    Ok(())
}

/// The last step, once the copy is staged and verified: checks again that nobody has the
/// database open (staging and verifying take seconds on a large file, and a server started
/// meanwhile would go on writing into the file moved aside), then swaps.
fn place(
    db: &Path,
    staged: &Path,
    key: Option<&crate::store::cipher::Key>,
    aside_name: &str,
    dir: &Path,
) -> Result<Restored> {
    refuse_if_in_use(db, key)?;
    swap(db, staged, aside_name, dir)
}

/// Moves the database and its companions aside as `aside_name…`, then renames `staged` into
/// place; if that fails, the moved files go back.
fn swap(db: &Path, staged: &Path, aside_name: &str, dir: &Path) -> Result<Restored> {
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let put_back = |moved: &[(PathBuf, PathBuf)]| {
        for (from, to) in moved.iter().rev() {
            let _ = std::fs::rename(to, from);
        }
    };
    for suffix in COMPANIONS {
        let from = PathBuf::from(format!("{}{suffix}", db.display()));
        if !from.exists() {
            continue;
        }
        let to = dir.join(format!("{aside_name}{suffix}"));
        if let Err(e) = std::fs::rename(&from, &to) {
            put_back(&moved);
            return Err(Error::internal(format!(
                "moving {} aside: {e}",
                from.display()
            )));
        }
        moved.push((from, to));
    }
    if let Err(e) = std::fs::rename(staged, db) {
        put_back(&moved);
        return Err(Error::internal(format!(
            "putting the copy in place of {}: {e}",
            db.display()
        )));
    }
    super::sync_file(dir)?;
    Ok(Restored {
        db: db.to_path_buf(),
        aside: moved.into_iter().map(|(_, to)| to).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that opened the database while the copy was being staged and verified: the
    /// swap is refused and nothing is moved.
    #[test]
    fn a_database_opened_while_the_copy_was_verified_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("parlor.db");
        let staged = dir.path().join(".parlor.db.restoring");
        let server = rusqlite::Connection::open(&db).unwrap();
        server
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        std::fs::write(&staged, b"the verified copy").unwrap();

        let refused = place(&db, &staged, None, "parlor.db.replaced-x", dir.path()).unwrap_err();
        assert!(matches!(refused, Error::Conflict(_)), "{refused}");
        assert!(staged.exists());
        let rows: i64 = server
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        assert!(!dir.path().join("parlor.db.replaced-x").exists());

        drop(server);
        let restored = place(&db, &staged, None, "parlor.db.replaced-x", dir.path()).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), b"the verified copy");
        assert!(restored
            .aside
            .contains(&dir.path().join("parlor.db.replaced-x")));
    }
}

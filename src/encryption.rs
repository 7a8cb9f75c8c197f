//! Encryption at rest, above the store: which key opens the configured database, the key
//! `parlor init` creates for a new clinic, and the two conversions, `parlor encrypt` (plain to
//! encrypted) and `parlor rekey` (a new key). A conversion exports the whole database into a
//! new file next to it (`sqlcipher_export`), verifies and flushes that file, and only then
//! renames it over the original: until the rename the original is untouched, after it the new
//! file is complete, so a crash at any point leaves one good database.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::store::cipher::{self, FileKind, Key};

/// Where a key goes when none is configured, in order of preference: the system's settings
/// directory (when this user may write there, as a service installed by root would), else the
/// user's own. Never the database's directory: a copy of that directory (a backup, a stolen
/// disk) must not carry the key with it.
pub fn default_key_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/etc/parlor")];
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(home) = config_home {
        dirs.push(home.join("parlor"));
    }
    dirs
}

/// The key file's name for a database: its file name with `.key` (`parlor.db` → `parlor.key`),
/// so that two databases on one machine get two keys.
pub fn key_file_name(db: &Path) -> String {
    let stem = db
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("parlor");
    format!("{stem}.key")
}

/// The key that opens `settings.db`, if any. A configured key file is always read (and a plain
/// database with one is refused when the store opens it). With none configured, a plain or new
/// database is served plain, and an encrypted one is opened with the key at the default place.
pub fn key_for(settings: &Settings) -> Result<Option<Key>> {
    if let Some(path) = &settings.encryption_key_file {
        refuse_beside(path, &settings.db)?;
        return Key::read(path).map(Some);
    }
    if FileKind::of(&settings.db)? != FileKind::Encrypted {
        return Ok(None);
    }
    let name = key_file_name(&settings.db);
    let dirs = default_key_dirs();
    match dirs.iter().map(|d| d.join(&name)).find(|p| p.exists()) {
        Some(path) => Key::read(&path).map(Some),
        None => Err(cipher::no_key(
            &settings.db,
            dirs.first().map(|d| d.join(&name)).as_deref(),
        )),
    }
}

/// A key file in the database's own directory travels with every copy of that directory.
fn refuse_beside(key: &Path, db: &Path) -> Result<()> {
    let dir_of = |p: &Path| {
        p.parent()
            .map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d })
            .and_then(|d| d.canonicalize().ok())
    };
    match (dir_of(key), dir_of(db)) {
        (Some(k), Some(d)) if k == d => Err(Error::invalid(
            "encryption_key_file",
            format!(
                "the key file {} is in the database's own directory, so every copy of that \
                 directory would carry the key with the data. Keep it elsewhere (e.g. \
                 /etc/parlor/) and point encryption_key_file there",
                key.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// What `parlor init` did about encryption.
pub struct InitKey {
    pub key: Key,
    /// False when an existing key file was taken (an earlier, interrupted init).
    pub created: bool,
}

/// The key for a new clinic's database: the configured key file, or one at the first default
/// place this user may write. An existing file there is used as it is, never overwritten.
/// `None` when the database already exists (init then only issues a token).
pub fn key_for_new_database(settings: &Settings) -> Result<Option<InitKey>> {
    if FileKind::of(&settings.db)? != FileKind::New {
        return Ok(None);
    }
    let candidates = match &settings.encryption_key_file {
        Some(path) => vec![path.clone()],
        None => default_key_dirs()
            .into_iter()
            .map(|d| d.join(key_file_name(&settings.db)))
            .collect(),
    };
    let mut refused = Vec::new();
    for path in candidates {
        refuse_beside(&path, &settings.db)?;
        match take_or_create(&path) {
            Ok(made) => return Ok(Some(made)),
            Err(e) => refused.push(e.to_string()),
        }
    }
    Err(Error::invalid(
        "encryption_key_file",
        format!(
            "no place to write the new key: {}. Set encryption_key_file to a path outside the \
             database's directory",
            refused.join("; ")
        ),
    ))
}

fn take_or_create(path: &Path) -> Result<InitKey> {
    if path.exists() {
        return Ok(InitKey {
            key: Key::read(path)?,
            created: false,
        });
    }
    let key = Key::generate(path);
    key.write_new()?;
    Ok(InitKey { key, created: true })
}

/// What `parlor encrypt` or `parlor rekey` did: the summary an audit entry records.
#[derive(Clone, Debug)]
pub struct Conversion {
    pub db: PathBuf,
    /// The key file that opens the database now.
    pub key_file: PathBuf,
    /// Where the previous key was kept (rekey): it still opens older backups.
    pub retired_key_file: Option<PathBuf>,
    pub tables: usize,
    pub rows: u64,
}

/// `parlor encrypt`: converts the plain database into an encrypted one, with the configured
/// key file, or a new key at the default place. A key file that already exists is used.
pub fn encrypt(settings: &Settings) -> Result<Conversion> {
    let db = &settings.db;
    match FileKind::of(db)? {
        FileKind::Plain => {}
        FileKind::New => {
            return Err(Error::invalid(
                "db",
                format!("there is no database at {}", db.display()),
            ))
        }
        FileKind::Encrypted => {
            return Err(Error::Conflict(format!(
                "{} is already encrypted; `parlor rekey` gives it a new key",
                db.display()
            )))
        }
        FileKind::Unrecognised => {
            return Err(Error::invalid(
                "db",
                format!(
                    "{} is not a SQLite database (or its header is damaged); run `parlor check`",
                    db.display()
                ),
            ))
        }
    }
    let key = match &settings.encryption_key_file {
        Some(path) => {
            refuse_beside(path, db)?;
            take_or_create(path)?.key
        }
        None => first_writable_default(settings)?,
    };
    let (tables, rows) = convert(db, None, &key)?;
    Ok(Conversion {
        db: db.clone(),
        key_file: key.source().to_owned(),
        retired_key_file: None,
        tables,
        rows,
    })
}

fn first_writable_default(settings: &Settings) -> Result<Key> {
    let mut refused = Vec::new();
    for dir in default_key_dirs() {
        let path = dir.join(key_file_name(&settings.db));
        refuse_beside(&path, &settings.db)?;
        match take_or_create(&path) {
            Ok(made) => return Ok(made.key),
            Err(e) => refused.push(e.to_string()),
        }
    }
    Err(Error::invalid(
        "encryption_key_file",
        format!("no place to write the new key: {}", refused.join("; ")),
    ))
}

/// `parlor rekey`: re-encrypts the database with a new key, which replaces the old one in the
/// same key file. The new key is written beside it (`<key file>.new`) before the database is
/// touched; the old one is kept as `<key file>.retired-<unix time>`, since backups taken before
/// still need it. The key file holds the old key until the re-encrypted database is in place.
pub fn rekey(settings: &Settings) -> Result<Conversion> {
    let db = &settings.db;
    if FileKind::of(db)? != FileKind::Encrypted {
        return Err(Error::invalid(
            "db",
            format!(
                "{} is not encrypted; `parlor encrypt` encrypts it",
                db.display()
            ),
        ));
    }
    let old = key_for(settings)?.ok_or_else(|| cipher::no_key(db, None))?;
    let key_file = old.source().to_owned();
    let pending = sibling(&key_file, ".new");
    // A `.new` left by an interrupted rekey may hold the key the database now needs.
    if pending.exists() {
        return Err(Error::Conflict(format!(
            "{} exists: an earlier `parlor rekey` was interrupted. If the database opens with \
             the key in {}, delete {}; otherwise move {} over {}. Then run rekey again",
            pending.display(),
            key_file.display(),
            pending.display(),
            pending.display(),
            key_file.display()
        )));
    }
    let new = Key::generate(&pending);
    new.write_new()?;
    let (tables, rows) = match convert(db, Some(&old), &new) {
        Ok(counts) => counts,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(e);
        }
    };
    // The database now opens with the new key only. Keep the old key, then put the new one
    // in its place in one rename: the key file always holds a key, never half of one.
    let retired = sibling(
        &key_file,
        &format!(".retired-{}", chrono::Utc::now().timestamp()),
    );
    std::fs::hard_link(&key_file, &retired)
        .or_else(|_| std::fs::copy(&key_file, &retired).map(|_| ()))
        .map_err(|e| Error::internal(format!("cannot keep the old key: {e}")))?;
    std::fs::rename(&pending, &key_file).map_err(|e| {
        Error::internal(format!(
            "the database is re-encrypted with the key in {}, but it could not be moved to {}: \
             {e}. Move it there by hand",
            pending.display(),
            key_file.display()
        ))
    })?;
    cipher::sync_dir(&key_file)?;
    Ok(Conversion {
        db: db.clone(),
        key_file,
        retired_key_file: Some(retired),
        tables,
        rows,
    })
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Exports the database at `db` (opened with `from`) into a new file encrypted with `to`,
/// verifies it, and renames it over `db`. Returns the tables and rows copied.
fn convert(db: &Path, from: Option<&Key>, to: &Key) -> Result<(usize, u64)> {
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
    conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;").map_err(|e| {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                in_use()
            }
            _ => Error::from(e),
        }
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
        .and_then(|_| {
            source.execute_batch(&format!("PRAGMA converted.user_version = {version};"))
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_named_after_its_database() {
        assert_eq!(key_file_name(Path::new("/var/lib/parlor/parlor.db")), "parlor.key");
        assert_eq!(key_file_name(Path::new("clinic.sqlite")), "clinic.key");
        assert!(default_key_dirs()[0].starts_with("/etc"));
    }

    #[test]
    fn a_key_beside_the_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let said = refuse_beside(&dir.path().join("parlor.key"), &dir.path().join("parlor.db"))
            .unwrap_err()
            .to_string();
        assert!(said.contains("database's own directory"), "{said}");
        let elsewhere = tempfile::tempdir().unwrap();
        refuse_beside(
            &elsewhere.path().join("parlor.key"),
            &dir.path().join("parlor.db"),
        )
        .unwrap();
    }
}

//! Encryption at rest, above the store: which key opens the configured database, the key
//! `parlor init` creates for a new clinic, and the key files of the two conversions, `parlor
//! encrypt` (plain to encrypted) and `parlor rekey` (a new key). The conversion of the
//! database itself is `store::convert`.

use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::store::cipher::{self, FileKind, Key};
use crate::store::convert;

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
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
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
    first_usable(configured_or_default(settings), &settings.db).map(Some)
}

/// The configured key file, else the default places in order.
fn configured_or_default(settings: &Settings) -> Vec<PathBuf> {
    match &settings.encryption_key_file {
        Some(path) => vec![path.clone()],
        None => default_key_dirs()
            .into_iter()
            .map(|d| d.join(key_file_name(&settings.db)))
            .collect(),
    }
}

/// The key in the first of `candidates` that holds one or can be written. A key file that
/// exists but cannot be used is an error, not a reason to make a second key elsewhere.
fn first_usable(candidates: Vec<PathBuf>, db: &Path) -> Result<InitKey> {
    let mut refused = Vec::new();
    for path in candidates {
        refuse_beside(&path, db)?;
        if path.exists() {
            return take_or_create(&path);
        }
        match take_or_create(&path) {
            Ok(made) => return Ok(made),
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
    let key = first_usable(configured_or_default(settings), db)?.key;
    let (tables, rows) = convert::convert(db, None, &key)?;
    Ok(Conversion {
        db: db.clone(),
        key_file: key.source().to_owned(),
        retired_key_file: None,
        tables,
        rows,
    })
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
    let (tables, rows) = match convert::convert(db, Some(&old), &new) {
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
    convert::sibling(path, suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_named_after_its_database() {
        assert_eq!(
            key_file_name(Path::new("/var/lib/parlor/parlor.db")),
            "parlor.key"
        );
        assert_eq!(key_file_name(Path::new("clinic.sqlite")), "clinic.key");
        assert!(default_key_dirs()[0].starts_with("/etc"));
    }

    #[test]
    fn a_key_beside_the_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let said = refuse_beside(
            &dir.path().join("parlor.key"),
            &dir.path().join("parlor.db"),
        )
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

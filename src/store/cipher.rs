//! Encryption at rest: every connection to the database file is opened here, and applies the
//! SQLCipher key (when there is one) before anything else touches the file.
//!
//! The key is raw (256 bits, given to SQLCipher as `x'…'`), so opening a connection derives
//! nothing: SQLCipher runs its PBKDF2 for a passphrase on every new connection, and the read
//! pool opens connections on demand.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// The first 16 bytes of every plain SQLite file. SQLCipher writes its random salt there.
const PLAIN_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// SQLCipher 4's default page size: an encrypted file is a whole number of these.
const CIPHER_PAGE: u64 = 4096;

/// A 256-bit database key and the file it was read from (named in errors, never the key).
#[derive(Clone)]
pub struct Key {
    bytes: [u8; 32],
    source: PathBuf,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(from {})", self.source.display())
    }
}

impl Key {
    /// Reads a key file: 64 hexadecimal characters (surrounding whitespace ignored). Refuses a
    /// file that other users can read or write, as ssh does with a private key: whoever can
    /// read the key can read every message.
    pub fn read(path: &Path) -> Result<Key> {
        let mut file = std::fs::File::open(path).map_err(|e| {
            Error::invalid(
                "encryption_key_file",
                format!("cannot read the key file {}: {e}", path.display()),
            )
        })?;
        refuse_shared(path, &file)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|e| {
            Error::invalid(
                "encryption_key_file",
                format!("cannot read the key file {}: {e}", path.display()),
            )
        })?;
        let bytes = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                Error::invalid(
                    "encryption_key_file",
                    format!(
                        "{} does not hold a key: it must contain exactly 64 hexadecimal \
                         characters (256 bits), as `parlor init` and `parlor rekey` write",
                        path.display()
                    ),
                )
            })?;
        Ok(Key {
            bytes,
            source: path.to_owned(),
        })
    }

    /// A new random key, not yet written anywhere.
    pub fn generate(source: &Path) -> Key {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Key {
            bytes,
            source: source.to_owned(),
        }
    }

    /// Writes the key to its file, which must not exist yet, readable by its owner only, and
    /// flushed to the disk (with its directory entry) before this returns: a key that a power
    /// cut could lose would lose the database with it.
    pub fn write_new(&self) -> Result<()> {
        let path = &self.source;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let failed = |e: std::io::Error| {
            Error::internal(format!("cannot write the key file {}: {e}", path.display()))
        };
        let mut file = options.open(path).map_err(failed)?;
        file.write_all(format!("{}\n", hex::encode(self.bytes)).as_bytes())
            .map_err(failed)?;
        file.sync_all().map_err(failed)?;
        sync_dir(path)
    }

    /// The file the key came from (or goes to).
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The key as SQL text for `PRAGMA key`, `PRAGMA rekey` and `ATTACH … KEY`: a blob
    /// literal inside a string, which SQLCipher takes as the raw key. Only hex digits, so
    /// nothing needs escaping.
    pub(crate) fn sql_literal(&self) -> String {
        format!("\"{}\"", self.key_spec())
    }

    /// The key as SQLCipher's raw-key text, `x'…'`, for binding as a parameter.
    pub(crate) fn key_spec(&self) -> String {
        format!("x'{}'", hex::encode(self.bytes))
    }
}

/// Creates `dir` (and its parents) if missing; a directory this creates is its owner's only.
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", dir.display())))
}

#[cfg(unix)]
fn refuse_shared(path: &Path, file: &std::fs::File) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|e| Error::internal(format!("cannot inspect {}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(Error::invalid(
            "encryption_key_file",
            format!(
                "the key file {0} can be read or changed by other users (mode {1:o}); only its \
                 owner may: run `chmod 600 {0}`",
                path.display(),
                mode & 0o777
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_shared(_path: &Path, _file: &std::fs::File) -> Result<()> {
    Ok(())
}

/// Flushes the directory entry of `path` (after a create or a rename), so that the file is
/// found under its name after a power cut.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::internal(format!("cannot flush {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// What the file at a database path holds, judged from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// No file, or an empty one: it will be created (encrypted if a key is given).
    New,
    /// A plain SQLite database.
    Plain,
    /// Not a plain database, and shaped like a SQLCipher one: whole 4 KiB pages, beginning
    /// with a random salt.
    Encrypted,
    /// Neither: not a database at all, or one whose header is damaged.
    Unrecognised,
}

impl FileKind {
    pub fn of(path: &Path) -> Result<FileKind> {
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileKind::New),
            Err(e) => {
                return Err(Error::internal(format!(
                    "cannot open {}: {e}",
                    path.display()
                )))
            }
        };
        let len = file
            .metadata()
            .map_err(|e| Error::internal(format!("cannot inspect {}: {e}", path.display())))?
            .len();
        if len == 0 {
            return Ok(FileKind::New);
        }
        let mut head = [0u8; 16];
        if len < 16 || file.read_exact(&mut head).is_err() {
            return Ok(FileKind::Unrecognised);
        }
        if &head == PLAIN_MAGIC {
            return Ok(FileKind::Plain);
        }
        // A random 16-byte salt has about 15.5 distinct bytes; a header overwritten by a
        // failing disk or a stray write (zeros, one repeated byte, text) rarely looks like one.
        let mut seen = [false; 256];
        head.iter().for_each(|b| seen[*b as usize] = true);
        let distinct = seen.iter().filter(|s| **s).count();
        let text = head.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
        if len % CIPHER_PAGE == 0 && distinct >= 10 && !text {
            Ok(FileKind::Encrypted)
        } else {
            Ok(FileKind::Unrecognised)
        }
    }
}

/// Opens a connection to `path` and, with a key, applies it before anything else. Every
/// connection Parlor opens to a database file comes from here (the writer, each pooled
/// reader, the checkpointer, backups, checks, encrypt and rekey).
pub fn open(path: &Path, flags: OpenFlags, key: Option<&Key>) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)?;
    apply(&conn, key)?;
    Ok(conn)
}

/// Applies `key` to a freshly opened connection (nothing for a plain database). For a
/// connection opened elsewhere (the read pool's manager).
pub fn apply(conn: &Connection, key: Option<&Key>) -> rusqlite::Result<()> {
    if let Some(key) = key {
        // SQLCipher would also print each failed page decryption to stderr; a wrong key is
        // reported by `unlock`, in words.
        conn.execute_batch(&format!(
            "PRAGMA cipher_log_level = NONE; PRAGMA key = {};",
            key.sql_literal()
        ))?;
    }
    Ok(())
}

/// The SQLCipher version linked in ("4.14.0 community"); empty when SQLite is not SQLCipher.
pub fn cipher_version(conn: &Connection) -> rusqlite::Result<String> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row("PRAGMA cipher_version", [], |r| r.get::<_, String>(0))
        .optional()?
        .unwrap_or_default())
}

/// Confirms that `key` (or no key) opens the existing database at `path`, with an error that
/// says which of the three mismatches it is. Reading the schema is the first read that
/// decrypts a page; a wrong key makes it fail as "not a database".
pub fn unlock(conn: &Connection, path: &Path, key: Option<&Key>) -> Result<()> {
    let answered = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    });
    match (answered, key) {
        (Ok(_), _) => Ok(()),
        (Err(e), Some(key)) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            Err(wrong_key(path, key))
        }
        (Err(e), _) => Err(Error::from(e)),
    }
}

/// Refuses a key that does not fit the file at `path`, or a missing one, naming which. A new
/// file fits any key; a file that is not recognisable as a database is left to the integrity
/// check to report when no key is given.
pub fn fits(path: &Path, key: Option<&Key>) -> Result<()> {
    match (FileKind::of(path)?, key) {
        (FileKind::New, _) | (FileKind::Plain, None) | (FileKind::Unrecognised, None) => Ok(()),
        (FileKind::Plain, Some(key)) => Err(key_for_plain(path, key)),
        (FileKind::Encrypted, None) => Err(no_key(path, None)),
        (FileKind::Encrypted | FileKind::Unrecognised, Some(key)) => {
            let conn = open(path, OpenFlags::SQLITE_OPEN_READ_WRITE, Some(key))
                .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
            conn.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")?;
            unlock(&conn, path, Some(key))
        }
    }
}

/// "The key does not open this database."
pub fn wrong_key(path: &Path, key: &Key) -> Error {
    let mut pending = key.source().as_os_str().to_owned();
    pending.push(".new");
    let pending = PathBuf::from(pending);
    let interrupted = if pending.exists() {
        format!(
            ". An interrupted `parlor rekey` left a new key in {}: if the database opens with \
             it, move it over {}",
            pending.display(),
            key.source().display()
        )
    } else {
        String::new()
    };
    Error::invalid(
        "encryption_key_file",
        format!(
            "the key in {} does not open {} (a different key, or the file is damaged). Parlor \
             did not start. Use the key file `parlor init`, `parlor encrypt` or `parlor rekey` \
             wrote for this database{interrupted}",
            key.source().display(),
            path.display()
        ),
    )
}

/// "The database is encrypted and no key is configured."
pub fn no_key(path: &Path, looked_at: Option<&Path>) -> Error {
    let looked = looked_at.map_or(String::new(), |p| {
        format!(" (nor is there one at the default place, {})", p.display())
    });
    Error::invalid(
        "encryption_key_file",
        format!(
            "{} is encrypted and no encryption key is configured{looked}. Parlor did not start. \
             Set encryption_key_file (or PARLOR_ENCRYPTION_KEY_FILE) to the key file `parlor \
             init` or `parlor encrypt` printed. (If this database was never encrypted, its \
             first page is damaged: see README, \"After a power cut or a disk error\".)",
            path.display()
        ),
    )
}

/// "A key is configured but the database is plain."
pub fn key_for_plain(path: &Path, key: &Key) -> Error {
    Error::invalid(
        "encryption_key_file",
        format!(
            "a key is configured ({}) but {} is a plain, unencrypted database. Parlor did not \
             start. Run `parlor encrypt` to encrypt it with that key, or unset \
             encryption_key_file to serve it unencrypted",
            key.source().display(),
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_in(dir: &Path) -> Key {
        let key = Key::generate(&dir.join("k.key"));
        key.write_new().unwrap();
        key
    }

    #[test]
    fn the_linked_sqlcipher_is_4x() {
        let conn = Connection::open_in_memory().unwrap();
        let version = cipher_version(&conn).unwrap();
        assert!(version.starts_with("4."), "{version:?}");
    }

    #[test]
    fn a_key_file_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_in(dir.path());
        let read = Key::read(key.source()).unwrap();
        assert_eq!(read.bytes, key.bytes);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key.source())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(key.source(), std::fs::Permissions::from_mode(0o640)).unwrap();
            let refused = Key::read(key.source()).unwrap_err().to_string();
            assert!(refused.contains("chmod 600"), "{refused}");
        }
        assert!(
            key.write_new().is_err(),
            "an existing key file is never overwritten"
        );
        assert!(!format!("{key:?}").contains(&hex::encode(key.bytes)));
    }

    #[test]
    fn a_key_file_without_a_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        std::fs::write(&path, "correct horse battery staple\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let said = Key::read(&path).unwrap_err().to_string();
        assert!(said.contains("64 hexadecimal"), "{said}");
    }

    #[test]
    fn files_are_told_apart_by_their_first_page() {
        let dir = tempfile::tempdir().unwrap();
        let key = key_in(dir.path());
        let plain = dir.path().join("plain.db");
        let secret = dir.path().join("secret.db");
        for (path, key) in [(&plain, None), (&secret, Some(&key))] {
            let conn = open(path, OpenFlags::default(), key).unwrap();
            conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
                .unwrap();
        }
        assert_eq!(
            FileKind::of(&dir.path().join("none.db")).unwrap(),
            FileKind::New
        );
        assert_eq!(FileKind::of(&plain).unwrap(), FileKind::Plain);
        assert_eq!(FileKind::of(&secret).unwrap(), FileKind::Encrypted);
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
        assert_eq!(FileKind::of(&junk).unwrap(), FileKind::Unrecognised);

        let keyless = open(&secret, OpenFlags::default(), None).unwrap();
        assert!(unlock(&keyless, &secret, None).is_err());
        let other = Key::generate(&dir.path().join("other.key"));
        let wrong = open(&secret, OpenFlags::default(), Some(&other)).unwrap();
        let said = unlock(&wrong, &secret, Some(&other))
            .unwrap_err()
            .to_string();
        assert!(said.contains("does not open"), "{said}");
        let right = open(&secret, OpenFlags::default(), Some(&key)).unwrap();
        unlock(&right, &secret, Some(&key)).unwrap();
    }
}

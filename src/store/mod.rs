//! SQL lives here and only here. Reads go through an r2d2 pool of read-only connections, run by
//! a fixed set of reader threads (one per connection); writes go through the single writer
//! thread (`writer.rs`).

pub mod api_keys;
pub mod chats;
pub mod constraints;
pub mod conversations;
pub mod direct;
pub mod flows;
pub mod idempotency;
pub mod messages;
pub mod participants;
pub mod push_devices;
pub mod reactions;
pub mod schema;
pub mod search;
pub mod settings;
pub mod tenants;
pub mod tokens;
pub mod users;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::lanes::Lane;
pub use writer::WriterStats;

/// Reads that may wait for a reader thread before more are refused (`read_queue_depth`).
pub const DEFAULT_READ_QUEUE_DEPTH: usize = 1024;

/// `PRAGMA synchronous` for the write connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub synchronous: Synchronous,
    pub read_pool_size: u32,
    /// The most write commands the writer puts in one transaction.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            read_pool_size: 8,
            max_batch: 256,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// One thread per read connection: a read never waits inside a thread for a connection,
    /// and reads beyond what the connections can serve wait as queued closures, not threads.
    readers: Lane,
    writer: writer::Writer,
    path: PathBuf,
    /// Dropping the last clone stops the background checkpointer.
    _checkpointer: std::sync::Arc<mpsc::Sender<()>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies the schema and starts the
    /// writer and checkpointer threads.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store> {
        let mut conn = Connection::open(path)
            .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
        configure_writer(&conn, options.synchronous)?;
        schema::apply(&mut conn)?;

        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                c.execute_batch(
                    "PRAGMA query_only = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -32768;",
                )
            });
        let pool = r2d2::Pool::builder()
            .max_size(options.read_pool_size.max(1))
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| Error::internal(format!("read pool: {e}")))?;

        let readers = Lane::start(
            "parlor-read",
            options.read_pool_size.max(1) as usize,
            DEFAULT_READ_QUEUE_DEPTH,
            "too many reads are waiting for the database",
        )?;
        let writer = writer::Writer::start(conn, options.max_batch.max(1))?;
        let checkpointer = start_checkpointer(path)?;
        Ok(Store {
            pool,
            readers,
            writer,
            path: path.to_owned(),
            _checkpointer: std::sync::Arc::new(checkpointer),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled read connection, on one of the reader threads. Past
    /// `read_queue_depth` waiting reads it fails at once with `Error::Unavailable`.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.readers
            .run(move || {
                let conn = pool.get()?;
                in_read_transaction(&conn, f)
            })
            .await
    }

    /// How many reads may wait for a reader thread before more are refused.
    pub fn set_read_queue_depth(&self, depth: usize) {
        self.readers.set_depth(depth);
    }

    /// Reads waiting for a reader thread right now.
    pub fn reads_waiting(&self) -> usize {
        self.readers.waiting()
    }

    /// `read` for callers that are not async (the CLI, tests).
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.pool.get()?;
        in_read_transaction(&conn, f)
    }

    /// Runs `f` on the writer thread inside its own savepoint of a group-commit transaction.
    /// Resolves after the transaction holding it has committed; if `f` fails, nothing it wrote
    /// stays. A request sent with an Idempotency-Key claims its key in the savepoint of its
    /// first successful write (`idempotency.rs`).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let boarding = idempotency::board();
        let result = match self.writer.submit(boarding.wrap(f)) {
            Ok(answer) => answer
                .await
                .map_err(|_| Error::internal("writer thread stopped"))
                .and_then(|r| r),
            Err(e) => Err(e),
        };
        boarding.settle(result.is_ok());
        result
    }

    /// `write` for callers that are not async. Must not be called from inside an async task.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.writer
            .submit(f)?
            .blocking_recv()
            .map_err(|_| Error::internal("writer thread stopped"))?
    }

    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    /// A consistent copy of the whole database at `dest`, taken while others read and write.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        backup(&self.path, dest)
    }
}

fn configure_writer(conn: &Connection, synchronous: Synchronous) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::internal(format!(
            "cannot switch to WAL (got {mode})"
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {};
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -65536;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA journal_size_limit = 67108864;",
        synchronous.pragma()
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Checkpoints the WAL from its own connection every half second, so that commits never pay
/// for a checkpoint (automatic checkpoints are off on the writer).
fn start_checkpointer(path: &Path) -> Result<mpsc::Sender<()>> {
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("parlor-checkpoint".into())
        .spawn(move || loop {
            match stopped.recv_timeout(Duration::from_millis(500)) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!("wal checkpoint failed: {e}");
                    }
                }
                _ => {
                    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
                    return;
                }
            }
        })
        .map_err(Error::internal)?;
    Ok(stop)
}

/// Copies the database at `src` to `dest` with `VACUUM INTO`: one read transaction, so the copy
/// is a consistent snapshot even while a server writes. Refuses to overwrite `dest`.
pub fn backup(src: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    if !src.exists() {
        return Err(Error::NotFound("database file"));
    }
    let conn = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    let dest_text = dest
        .to_str()
        .ok_or_else(|| Error::invalid("file", "the backup path must be valid UTF-8"))?;
    conn.execute("VACUUM INTO ?1", [dest_text])?;
    Ok(())
}

/// `execute` and `query_row` through the connection's statement cache. Every statement in the
/// store is a fixed string, so each is parsed once per connection instead of once per call;
/// on the writer's hot path that parsing was a fifth of the time.
pub(crate) trait Cached {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// How many prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 128;

/// Shared by the row mappers: JSON text columns into values.
pub(crate) fn json_column(text: Option<String>) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The tables whose rows carry the three identities (`id`, `uuid`, `oid`).
#[derive(Clone, Copy)]
pub(crate) enum Keyed {
    Users,
    Conversations,
    Messages,
}

impl Keyed {
    fn table(self) -> &'static str {
        match self {
            Keyed::Users => "users",
            Keyed::Conversations => "conversations",
            Keyed::Messages => "messages",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Keyed::Users => "user",
            Keyed::Conversations => "conversation",
            Keyed::Messages => "message",
        }
    }
}

/// The integer id a client's `IdRef` names: as given, or the tenant's row whose `uuid` or `oid`
/// is the key (a uuid match wins). Scoped to the tenant so that another tenant's ids can
/// neither be reached nor shadow this tenant's own. The caller still loads the row with its
/// tenant check.
pub(crate) fn row_id(
    conn: &Connection,
    tenant: crate::domain::TenantId,
    kind: Keyed,
    id: &crate::domain::IdRef,
) -> Result<i64> {
    use rusqlite::OptionalExtension;
    let key = match id {
        crate::domain::IdRef::Id(n) => return Ok(*n),
        crate::domain::IdRef::Key(k) => k,
    };
    let table = kind.table();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT COALESCE((SELECT id FROM {table} WHERE uuid = ?1 AND tenant_id = ?2),
                         (SELECT id FROM {table} WHERE oid = ?1 AND tenant_id = ?2))"
    ))?;
    stmt.query_row(rusqlite::params![key, tenant.0], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .optional()?
    .flatten()
    .ok_or(Error::NotFound(kind.noun()))
}

/// One read transaction around all of a read's statements: they see one snapshot, and SQLite
/// takes its WAL read lock once instead of once per statement.
fn in_read_transaction<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let tx = conn.unchecked_transaction()?;
    let out = f(&tx);
    drop(tx);
    out
}

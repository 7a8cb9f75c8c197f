//! SQL lives here and only here. Reads go through an r2d2 pool of read-only connections, run by
//! a fixed set of reader threads (one per connection); writes go through the single writer
//! thread (`writer.rs`).

pub mod api_keys;
pub mod attachments;
pub mod audit;
mod audit_queue;
pub mod chats;
pub mod cipher;
pub mod constraints;
pub mod contacts;
pub mod conversations;
pub mod convert;
pub mod direct;
pub mod events;
pub mod export;
pub mod flows;
pub mod health;
pub mod idempotency;
pub mod integrity;
pub mod invites;
pub mod legal_holds;
pub mod message_search;
pub mod messages;
pub mod offline;
pub mod origin;
pub mod participants;
pub mod push_devices;
pub mod reactions;
pub mod retention;
pub mod schema;
pub mod search;
pub mod settings;
pub mod snapshot;
pub mod stats;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result, StorageFault};
use crate::lanes::Lane;
use cipher::Key;
use health::Health;
use integrity::Outcome;
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

/// Who checkpoints the WAL (`checkpoints`): Parlor itself (its writer between batches, a
/// background thread when idle, a TRUNCATE at a graceful stop), or something outside it —
/// Litestream, which must own checkpoints while it replicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Checkpoints {
    Parlor,
    External,
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

/// What the server checks before it serves a database file.
#[derive(Clone, Debug)]
pub struct StartupCheck {
    /// How long the quick check may take; `None` skips it.
    pub budget: Option<Duration>,
    /// Serve a damaged file read-only instead of refusing it.
    pub read_only_if_damaged: bool,
}

#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// One thread per read connection: a read never waits inside a thread for a connection,
    /// and reads beyond what the connections can serve wait as queued closures, not threads.
    readers: Lane,
    writer: writer::Writer,
    path: PathBuf,
    health: Health,
    checkpointer: Arc<Checkpointer>,
    audit: Arc<audit_queue::AuditQueue>,
    /// The SQLCipher key every connection applies first; `None` for a plain database.
    key: Option<Key>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies the schema and starts the
    /// writer and checkpointer threads. No start-up check: for tools and tests; the server
    /// uses `open_checked`.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store> {
        Self::open_keyed(path, options, None)
    }

    /// `open` of a database encrypted with `key` (or plain, with `None`).
    pub fn open_keyed(path: &Path, options: &StoreOptions, key: Option<&Key>) -> Result<Store> {
        cipher::fits(path, key)?;
        Self::start(path, options, Health::new(path, false), key)
    }

    /// `open`, after a quick check of the file bounded by `check.budget`. A damaged file is
    /// refused with an error that names the damage and the way out, or, with
    /// `read_only_if_damaged`, opened read-only (every change answers 503). With `key`, the
    /// file is (or becomes, if new) encrypted with it; a key that does not fit is refused
    /// before the check.
    pub fn open_checked(
        path: &Path,
        options: &StoreOptions,
        check: &StartupCheck,
        key: Option<&Key>,
    ) -> Result<Store> {
        // Before the check: without the right key, the file would look damaged to it.
        cipher::fits(path, key)?;
        let health = Health::new(path, check.read_only_if_damaged);
        let outcome = match check.budget {
            Some(budget) if path.exists() => integrity::quick_check_within(path, budget, key)?,
            _ => Outcome::Sound,
        };
        match outcome {
            Outcome::Sound | Outcome::NotRun => {}
            Outcome::Unfinished => tracing::warn!(
                "the start-up check of {} did not finish within {} s (a large file); serving \
                 without it. Raise startup_check_seconds, or run `parlor check --quick` at a \
                 quiet time to verify the file",
                path.display(),
                check.budget.map_or(0, |b| b.as_secs())
            ),
            Outcome::Problems(problems) => {
                // Nothing can be read from such a file, not even read-only.
                let unreadable = problems.iter().any(|p| p == integrity::NOT_A_DATABASE);
                if !check.read_only_if_damaged || unreadable {
                    return Err(refusal(path, &problems, unreadable));
                }
                health.start_damaged(problems.join("; "));
            }
        }
        Self::start(path, options, health, key)
    }

    fn start(
        path: &Path,
        options: &StoreOptions,
        health: Health,
        key: Option<&Key>,
    ) -> Result<Store> {
        let mut conn = cipher::open(path, OpenFlags::default(), key)
            .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
        // A damaged file is not touched: no journal mode switch, no schema step.
        if !health.is_damaged() {
            configure_writer(&conn, options.synchronous)?;
            schema::apply(&mut conn)?;
            index_noted_messages(&conn);
        }

        let pool_key = key.cloned();
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(move |c| {
                cipher::apply(c, pool_key.as_ref())?;
                c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                c.execute_batch(&format!(
                    "PRAGMA query_only = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -{READ_CACHE_KIB};"
                ))
            });
        // No minimum of idle connections: r2d2 tops that up from a background thread, and a
        // connection opened there just as the process exits stays open, leaving `-wal` and
        // `-shm` behind. Connections are still made on demand and kept for reuse.
        let pool = r2d2::Pool::builder()
            .max_size(options.read_pool_size.max(1))
            // A SQLite connection does not go stale; checking each one out ran a statement.
            .test_on_check_out(false)
            .min_idle(Some(0))
            .build(manager)
            .map_err(|e| Error::internal(format!("read pool: {e}")))?;

        let readers = Lane::start(
            "parlor-read",
            options.read_pool_size.max(1) as usize,
            DEFAULT_READ_QUEUE_DEPTH,
            "too many reads are waiting for the database",
        )?;
        let writer = writer::Writer::start(conn, options.max_batch.max(1), health.clone())?;
        let checkpointer = Checkpointer::start(path, key, health.clone(), writer.activity())?;
        let audit = audit_queue::AuditQueue::start(writer.clone()).map_err(Error::internal)?;
        Ok(Store {
            pool,
            readers,
            writer,
            path: path.to_owned(),
            health,
            checkpointer: Arc::new(checkpointer),
            audit: Arc::new(audit),
            key: key.cloned(),
        })
    }

    /// A graceful stop: waits for every write already submitted, copies the WAL back into the
    /// database file and truncates it. Later writes answer 503. Call once the HTTP server has
    /// stopped, so that no read holds the WAL open.
    pub async fn close(&self) -> Result<()> {
        let checkpointer = self.checkpointer.clone();
        let audit = self.audit.clone();
        tokio::task::spawn_blocking(move || {
            audit.stop();
            checkpointer.stop()
        })
        .await
        .map_err(|e| Error::internal(format!("stopping the checkpointer: {e}")))?;
        self.writer
            .stop()
            .await
            .map_err(|_| Error::internal("the writer had already stopped"))?
    }

    /// `close` for callers that are not async. Must not be called from inside an async task.
    pub fn close_blocking(&self) -> Result<()> {
        self.audit.stop();
        self.checkpointer.stop();
        self.writer
            .stop()
            .blocking_recv()
            .map_err(|_| Error::internal("the writer had already stopped"))?
    }

    /// Stops Parlor's own checkpoints (the background thread's, the writer's between batches and
    /// at its stop): `checkpoints = "external"`, where Litestream makes them.
    pub fn hand_checkpoints_over(&self) {
        self.checkpointer.stop();
        self.writer.hand_checkpoints_over();
    }

    /// Whether the server should get traffic, and if not, why.
    pub async fn readiness(&self) -> health::Readiness {
        self.state(Duration::MAX).await.readiness
    }

    /// What `/readyz` reports: readiness, and whether changes can be stored and how large the WAL
    /// is. Not ready when one write has kept the writer busy for `stuck_after`.
    pub async fn state(&self, stuck_after: Duration) -> health::Report {
        let wal = wal_path(&self.path);
        let mut state = health::Report {
            readiness: health::Readiness::Ready,
            writable: false,
            wal_bytes: None,
        };
        if let health::Readiness::NotReady(reason) = self.health.readiness() {
            state.readiness = health::Readiness::NotReady(reason);
            return state;
        }
        match self.writer.progress() {
            writer::Progress::Gone => {
                state.readiness =
                    health::Readiness::NotReady("the database writer has stopped".into());
                return state;
            }
            writer::Progress::Busy(busy) if busy >= stuck_after => {
                state.readiness = health::Readiness::NotReady(format!(
                    "the database writer has been working on one batch of changes for {} s \
                     without finishing: changes are not being stored",
                    busy.as_secs()
                ));
                return state;
            }
            _ => {}
        }
        // The WAL's size is read on the reader thread too: no file system call on a worker.
        let answered = self
            .read(move |c| {
                c.query_row("SELECT count(*) FROM tenants", [], |r| r.get::<_, i64>(0))?;
                Ok(std::fs::metadata(&wal).map_or(0, |m| m.len()))
            })
            .await;
        match answered {
            Ok(wal_bytes) => {
                state.writable = true;
                state.wal_bytes = Some(wal_bytes);
                state
            }
            Err(e) => {
                // A storage fault has already been noted (and logged once) by `read`.
                if StorageFault::of(&e).is_none() {
                    tracing::error!("readiness check failed: {e}");
                }
                state.readiness = match self.health.readiness() {
                    health::Readiness::Ready => {
                        health::Readiness::NotReady("the database does not answer".into())
                    }
                    not_ready => not_ready,
                };
                state
            }
        }
    }

    pub fn health(&self) -> &Health {
        &self.health
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
        if let Some(refused) = self.health.refusal() {
            return Err(refused);
        }
        let pool = self.pool.clone();
        let Some(draft) = crate::audit::current() else {
            let out = self
                .readers
                .run(move || {
                    let conn = pool.get()?;
                    in_read_transaction(&conn, f)
                })
                .await;
            self.health.observe(&out);
            return out;
        };
        // An audited request: what the closure notes on the reader thread goes to its draft.
        let out = self
            .readers
            .run(move || {
                let conn = pool.get()?;
                crate::audit::open_ledger();
                let out = in_read_transaction(&conn, f);
                Ok((out, crate::audit::close_ledger()))
            })
            .await
            .and_then(|(out, notes)| {
                crate::audit::merge(&draft, notes);
                out
            });
        self.health.observe(&out);
        out
    }

    /// Records an audit entry that belongs to no write (a read, a refusal): queued for the
    /// writer, or, when the writer is far behind (or stopping), stored before this returns.
    pub async fn record(&self, entry: crate::audit::Entry) -> Result<()> {
        match self.audit.push(entry) {
            Ok(()) => Ok(()),
            Err(entry) => {
                let answer = self.writer.submit(move |c| audit::append(c, [*entry]))?;
                answer.await.map_err(|_| writer::stopped())?
            }
        }
    }

    /// `record` for a thread outside the async runtime (the backup schedule): queued, or
    /// stored before this returns.
    pub fn record_blocking(&self, entry: crate::audit::Entry) -> Result<()> {
        match self.audit.push(entry) {
            Ok(()) => Ok(()),
            Err(entry) => self.write_blocking(move |c| audit::append(c, [*entry])),
        }
    }

    /// A number that changes whenever this process commits a change to a user, token, API key
    /// or tenant (see `writer::DirectoryVersion`).
    pub fn directory_version(&self) -> u64 {
        self.writer.directory_version()
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
        if let Some(refused) = self.health.refusal() {
            return Err(refused);
        }
        let conn = self.pool.get()?;
        let out = in_read_transaction(&conn, f);
        self.health.observe(&out);
        out
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
        if let Some(refused) = self.health.refusal() {
            return Err(refused);
        }
        let boarding = idempotency::board();
        let draft = crate::audit::current();
        let entry = draft.as_ref().map(|d| crate::audit::lock(d).entry.clone());
        let actor = entry.as_ref().map(|e| events::Actor {
            kind: e.actor.kind(),
            id: e.actor.id(),
        });
        let f = move |c: &Connection| events::acting(actor, || f(c));
        let audited = audit::audited(entry, f);
        let result = match self.writer.submit(boarding.wrap(audited)) {
            Ok(answer) => answer.await.map_err(|_| writer::stopped()).and_then(|r| r),
            Err(e) => Err(e),
        };
        boarding.settle(result.is_ok());
        if let (Some(draft), Ok(_)) = (&draft, &result) {
            crate::audit::lock(draft).written = true;
        }
        result
    }

    /// `write` for callers that are not async. Must not be called from inside an async task.
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if let Some(refused) = self.health.refusal() {
            return Err(refused);
        }
        self.writer
            .submit(f)?
            .blocking_recv()
            .map_err(|_| writer::stopped())?
    }

    /// A watch of the highest event seq committed (see `store::events`).
    pub fn committed_events(&self) -> tokio::sync::watch::Receiver<i64> {
        self.writer.events()
    }

    /// Every batch of events committed from now on, as the writer publishes it.
    pub fn event_batches(&self) -> tokio::sync::broadcast::Receiver<events::Batch> {
        self.writer.event_batches()
    }

    /// Each restore of the database (`restore_from`), as the event log's subscribers see it.
    pub fn event_restarts(&self) -> tokio::sync::watch::Receiver<events::Restart> {
        self.writer.event_restarts()
    }

    /// A consistent copy of the whole database into the new file `dest` (the backup API), taken
    /// while others read and write. Blocking: call it off the async workers.
    pub fn copy_to(&self, dest: &Path) -> Result<()> {
        snapshot::copy(&self.path, self.key.as_ref(), dest)
    }

    /// Replaces the whole database with the copy at `src` (made by `copy_to`), on the writer
    /// thread after the writes queued before it: readers see the old state or the new one.
    pub async fn restore_from(&self, src: PathBuf) -> Result<()> {
        if let Some(refused) = self.health.refusal() {
            return Err(refused);
        }
        let key = self.key.clone();
        self.writer
            .replace(move |c| snapshot::restore_into(c, &src, key.as_ref()))?
            .await
            .map_err(|_| writer::stopped())?
    }

    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    /// A consistent copy of the whole database at `dest`, taken while others read and write.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        backup(&self.path, dest, self.key.as_ref())
    }

    /// The key the database is encrypted with, if it is.
    pub fn key(&self) -> Option<&Key> {
        self.key.as_ref()
    }
}

/// The WAL file SQLite keeps beside the database.
pub fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
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
         PRAGMA cache_size = -{WRITE_CACHE_KIB};
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 0;
         PRAGMA journal_size_limit = 67108864;",
        synchronous.pragma()
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Checkpoints the WAL from its own connection every half second in which the writer committed
/// nothing, so that commits never pay for a checkpoint while the server is idle or lightly
/// loaded (automatic checkpoints are off on the writer). While the writer keeps committing it
/// checkpoints between batches itself; a background pass at the same time would hold the
/// checkpoint lock, and on a busy machine its slow pass made the writer's attempts fail for so
/// long that the WAL grew past 60 MB in three seconds of writes.
struct Checkpointer {
    stop: Mutex<Option<(mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

impl Checkpointer {
    fn start(
        path: &Path,
        key: Option<&Key>,
        health: Health,
        mut writer: writer::Activity,
    ) -> Result<Checkpointer> {
        let conn = cipher::open(path, OpenFlags::default(), key)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("parlor-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_millis(500))
                {
                    // A damaged file is left as it is; a writer at work checkpoints itself.
                    if writer.committed_since_last_look() || health.is_damaged() {
                        continue;
                    }
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                        checkpoint_failed("background", e, &health);
                    }
                }
            })
            .map_err(Error::internal)?;
        Ok(Checkpointer {
            stop: Mutex::new(Some((stop, thread))),
        })
    }

    /// Stops the thread and waits for it, so that the writer's final checkpoint runs alone.
    fn stop(&self) {
        let taken = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((stop, thread)) = taken {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some((stop, _)) = self
            .stop
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = stop.send(());
        }
    }
}

/// A checkpoint that fails for lack of room or on a damaged file is one more sign of what
/// `Health` already tracks and logs once; anything else is worth a warning.
fn checkpoint_failed(who: &str, e: rusqlite::Error, health: &Health) {
    if StorageFault::of_sqlite(&e).is_some() {
        health.observe::<()>(&Err(Error::from(e)));
    } else {
        tracing::warn!("{who} wal checkpoint failed: {e}");
    }
}

/// Why the server will not serve a damaged file, and what to do about it.
fn refusal(path: &Path, problems: &[String], unreadable: bool) -> Error {
    let name = path.display();
    let mut text =
        format!("{name} is damaged, so Parlor will not serve it. The start-up check found:\n");
    for p in problems.iter().take(5) {
        text.push_str(&format!("  - {p}\n"));
    }
    if problems.len() > 5 {
        text.push_str(&format!("  - … and {} more\n", problems.len() - 5));
    }
    text.push_str(&format!(
        "What to do: keep the server stopped; move {name} (with its -wal and -shm files, if \
         any) aside, do not delete it; copy the latest backup that `parlor check` reports sound \
         in its place; then start again. See README, \"After a power cut or a disk error\"."
    ));
    if !unreadable {
        text.push_str(
            "\nTo read what the file still holds meanwhile, start with read_only_if_damaged = \
             true: reads are served, every change answers 503.",
        );
    }
    Error::unavailable(text, None)
}

/// Copies the database at `src` to `dest` with `VACUUM INTO`: one read transaction, so the copy
/// is a consistent snapshot even while a server writes. Refuses to overwrite `dest`. With a
/// key, SQLCipher attaches the copy with the source's key, so the copy is encrypted with the
/// same key; a copy that came out plain anyway is deleted rather than left on the disk.
pub fn backup(src: &Path, dest: &Path, key: Option<&Key>) -> Result<()> {
    if dest.exists() {
        return Err(Error::Conflict(format!(
            "{} already exists; choose a new file name",
            dest.display()
        )));
    }
    if !src.exists() {
        return Err(Error::NotFound("database file"));
    }
    cipher::fits(src, key)?;
    let conn = cipher::open(src, OpenFlags::SQLITE_OPEN_READ_WRITE, key)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    let dest_text = dest
        .to_str()
        .ok_or_else(|| Error::invalid("file", "the backup path must be valid UTF-8"))?;
    conn.execute("VACUUM INTO ?1", [dest_text])?;
    if key.is_some() && cipher::FileKind::of(dest)? != cipher::FileKind::Encrypted {
        let _ = std::fs::remove_file(dest);
        return Err(Error::internal(format!(
            "the copy of the encrypted {} came out unencrypted, so it was deleted",
            src.display()
        )));
    }
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

/// Page cache of each read connection, in KiB. Every connection keeps its own copy of the pages
/// it has read, so the pool holds up to `read_pool_size` times this; what misses is read from
/// the operating system's file cache, which every connection shares. A list reads a few dozen
/// pages, and Respondent's total reads only its index (`conversations_tenant_live`), so 2 MiB
/// (and at most 16 MiB for the pool) kept the pinned lists within a few percent of 32 MiB each,
/// while the server stays under 50 MB resident at a million messages.
const READ_CACHE_KIB: u32 = 2048;
/// Page cache of the write connection, in KiB: the pages sends touch again and again (the
/// B-trees' inner pages, the end of the messages table). Part of the same 50 MB budget: at
/// 12 MiB the pinned run peaked at 51 MB under sends at a million messages, at 8 MiB at 45 MB
/// with the same throughput.
const WRITE_CACHE_KIB: u32 = 8192;

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

/// The statements every list request runs, by name, for the test that checks their query
/// plans (`tests/api/query_plans.rs`): the caller's token and user, a user's page, the tenant's
/// page (admins), the members of a whole page with their users, and Respondent's total.
pub fn hot_reads() -> Vec<(&'static str, String)> {
    vec![
        ("tokens::find_by_hash", tokens::find_by_hash_sql().into()),
        ("users::get", users::get_sql().into()),
        (
            "participants::list_for_user",
            participants::list_for_user_sql(21),
        ),
        (
            "conversations::list_for_tenant",
            conversations::list_for_tenant_sql(21),
        ),
        (
            "participants::of_conversations",
            participants::of_conversations_sql().into(),
        ),
        ("users::by_ids", users::by_ids_sql().into()),
        ("search::search_for_user", search::search_for_user_sql(21)),
        (
            "message_search::conversations_of",
            message_search::conversations_of_sql().into(),
        ),
        (
            "message_search::window",
            message_search::window_sql().into(),
        ),
        ("message_search::page", message_search::page_sql().into()),
        (
            "conversations::count_by_metadata",
            conversations::count_by_metadata_sql(&[]),
        ),
    ]
}

/// How many ids a statement that reads "these rows" (`… IN (?, ?, …)`) takes at once: a fixed
/// number of parameters keeps it one cached statement whatever the number of ids (the unused
/// ones are NULL, which matches nothing).
pub(crate) const IN_CHUNK: usize = 32;

/// `?first, ?first+1, …`: the `IN_CHUNK` parameters of such a statement.
pub(crate) fn in_marks(first: usize) -> String {
    (first..first + IN_CHUNK)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values of one chunk of ids, padded with NULLs to `IN_CHUNK`.
pub(crate) fn padded<'a, T>(
    chunk: &'a [T],
    id: impl Fn(&T) -> i64 + 'a,
) -> impl Iterator<Item = Option<i64>> + 'a {
    (0..IN_CHUNK).map(move |i| chunk.get(i).map(&id))
}

/// Indexes for search the messages a tool other than Parlor's writer inserted (the benchmark's
/// seed, a repair with the sqlite3 shell): the writer indexes its own before each commit. A
/// failure leaves them noted for the writer's first commit.
fn index_noted_messages(conn: &Connection) {
    let indexed = conn
        .execute_batch("BEGIN IMMEDIATE")
        .and_then(|_| message_search::index_pending(conn))
        .and_then(|n| conn.execute_batch("COMMIT").map(|_| n));
    match indexed {
        Ok(0) => {}
        Ok(n) => tracing::info!("indexed {n} messages for search"),
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            tracing::warn!("indexing noted messages for search: {e}");
        }
    }
}

/// Runs `f` in one read transaction: its statements see one snapshot, and SQLite takes its WAL
/// read lock once instead of once per statement. BEGIN and its end go through the statement
/// cache (parsing them was 5% of a list request).
fn in_read_transaction<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    conn.exec("BEGIN", [])?;
    let out = f(conn);
    // A read changed nothing, so rolling back only lets go of the snapshot.
    if let Err(e) = conn.exec("ROLLBACK", []) {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if out.is_ok() {
            return Err(e.into());
        }
    }
    out
}

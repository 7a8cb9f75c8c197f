//! The single writer thread and its group commit.
//!
//! Every write in Parlor is a closure sent here. The thread takes the first queued closure plus
//! everything queued behind it (up to `max_batch`), runs them in one transaction, each inside
//! its own SAVEPOINT so one failure does not sink the others, commits once, and only then
//! answers each caller. Under load this turns N fsyncs into one.
//!
//! It also watches the storage (`Health`): a full disk fails each write with a 503 and is
//! probed until there is room again; on a damaged file every batch is rolled back, and only
//! commands that change nothing succeed. `stop` drains the queue, checkpoints and truncates the
//! WAL, and closes the connection.

use std::cell::Cell;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::health::Health;
use super::Cached;
use crate::error::{Error, Result, StorageFault};
use crate::telemetry::names;

/// Called once the transaction holding a command has committed (Ok) or failed (Err).
type Reply = Box<dyn FnOnce(Result<()>) + Send>;
/// Runs one command; says how it went and how to answer its caller.
type Job = Box<dyn FnOnce(&Connection) -> Ran + Send>;

struct Ran {
    ok: bool,
    /// The storage fault the command ran into, if any.
    fault: Option<StorageFault>,
    reply: Reply,
}

/// Replaces the whole database (`store::snapshot::restore_into`); needs the connection to itself.
type Replace = Box<dyn FnOnce(&mut Connection) -> Result<()> + Send>;

enum Command {
    Run(Job),
    /// Finish what is queued before this, checkpoint, close; then answer.
    Stop(oneshot::Sender<Result<()>>),
    /// Finish what is queued before this, then replace the database outside any transaction.
    Replace(Replace, oneshot::Sender<Result<()>>),
}

/// What ends a batch early: a command that must run after it, alone.
enum After {
    Stop(oneshot::Sender<Result<()>>),
    Replace(Replace, oneshot::Sender<Result<()>>),
}

impl After {
    fn of(command: Command) -> std::result::Result<Job, After> {
        match command {
            Command::Run(job) => Ok(job),
            Command::Stop(answer) => Err(After::Stop(answer)),
            Command::Replace(f, answer) => Err(After::Replace(f, answer)),
        }
    }
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Command>,
    stats: Arc<Counters>,
    directory: DirectoryVersion,
    /// The events committed, as the writer publishes them.
    events: super::events::Published,
}

/// The tables whose rows say who a caller is: a commit that touches any of them changes the
/// answer to "who presents this credential" (see `DirectoryVersion`).
const DIRECTORY_TABLES: [&str; 4] = ["tokens", "api_keys", "users", "tenants"];

/// A number that grows each time this process commits a change to a user, token, API key or
/// tenant. Answers about callers kept in memory (`service::memo`) are tagged with the number
/// read before they were looked up, and are good only while it stays the same. The writer
/// raises it after the commit and before answering the command that changed it, so once a
/// revocation is acknowledged no later request is served from an older answer.
#[derive(Clone, Default)]
pub struct DirectoryVersion(Arc<AtomicU64>);

impl DirectoryVersion {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// Set by the update hook when a statement of the running batch changed a directory table.
#[derive(Clone, Default)]
struct DirectoryTouched(Arc<std::sync::atomic::AtomicBool>);

impl DirectoryTouched {
    /// Raises `version` if the directory was touched since the last call.
    fn publish(&self, version: &DirectoryVersion) {
        if self.0.swap(false, Ordering::AcqRel) {
            version.advance();
        }
    }
}

#[derive(Default)]
struct Counters {
    commands: AtomicU64,
    transactions: AtomicU64,
    queued: AtomicU64,
    /// Since when (`since_start` + 1) the writer has been working on what it took; 0: waiting.
    working_since: AtomicU64,
    /// The thread has returned (stopped, or died): nothing submitted will ever be answered.
    gone: std::sync::atomic::AtomicBool,
    /// `checkpoints = "external"`: Litestream owns checkpoints, the writer makes none.
    external_checkpoints: std::sync::atomic::AtomicBool,
}

impl Counters {
    fn working(&self) {
        self.working_since
            .store(since_start().as_millis() as u64 + 1, Ordering::Release);
    }

    fn waiting(&self) {
        self.working_since.store(0, Ordering::Release);
    }
}

/// A monotonic instant as a number, so that the writer's state fits in an atomic.
fn since_start() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Marks the writer gone when its thread returns, whether it stopped or a panic unwound it.
struct Gone<'a>(&'a Counters);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.waiting();
        self.0.gone.store(true, Ordering::Release);
    }
}

/// What `/readyz` needs to know about the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for work, or working for less than the caller's threshold.
    Moving,
    /// Working on the same batch for this long.
    Busy(Duration),
    /// The thread has returned.
    Gone,
}

/// Whether the writer committed since the last look: the background checkpointer stays out of
/// the writer's way while it writes (see `checkpoint_if_large`).
pub struct Activity {
    counters: Arc<Counters>,
    seen: u64,
}

impl Activity {
    pub fn committed_since_last_look(&mut self) -> bool {
        let now = self.counters.transactions.load(Ordering::Relaxed);
        std::mem::replace(&mut self.seen, now) != now
    }
}

/// How much batching the writer has done: `commands / transactions` is the mean batch size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub commands: u64,
    pub transactions: u64,
    /// Commands submitted and not yet taken by the writer.
    pub queued: u64,
}

impl Writer {
    pub fn start(conn: Connection, max_batch: usize, health: Health) -> Result<Writer> {
        let (queue, commands) = mpsc::channel::<Command>();
        let stats = Arc::new(Counters::default());
        let counters = stats.clone();
        let directory = DirectoryVersion::default();
        let version = directory.clone();
        let touched = DirectoryTouched::default();
        let flag = touched.0.clone();
        // Without the hook the version would never move and callers would be kept in memory
        // past a revocation: no hook, no writer.
        conn.update_hook(Some(
            move |_: rusqlite::hooks::Action, _: &str, table: &str, _: i64| {
                if DIRECTORY_TABLES.contains(&table) {
                    flag.store(true, Ordering::Release);
                }
            },
        ))?;
        let (publisher, events) = super::events::Publisher::new(&conn)?;
        std::thread::Builder::new()
            .name("parlor-writer".into())
            .spawn(move || {
                let _gone = Gone(&counters);
                let directory = (touched, version);
                run(
                    conn, commands, max_batch, &counters, &health, &directory, &publisher,
                )
            })
            .map_err(Error::internal)?;
        Ok(Writer {
            queue,
            stats,
            directory,
            events,
        })
    }

    /// Asks the writer to finish every command queued so far, checkpoint the WAL into the
    /// database file and truncate it, and close its connection. The answer says whether the
    /// checkpoint completed. Commands submitted afterwards are refused.
    pub fn stop(&self) -> oneshot::Receiver<Result<()>> {
        let (answer, answered) = oneshot::channel();
        // Already stopped: the dropped sender answers with an error the caller can map.
        let _ = self.queue.send(Command::Stop(answer));
        answered
    }

    /// Replaces the database's whole content with `f` once the commands queued before have
    /// committed. Afterwards the directory version is raised (every caller kept in memory is
    /// looked up again) and the event log's subscribers are told the log restarted.
    pub fn replace(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<()> + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<()>>> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Command::Replace(Box::new(f), answer))
            .map_err(|_| stopped())?;
        Ok(answered)
    }

    pub fn submit<T, F>(&self, f: F) -> Result<oneshot::Receiver<Result<T>>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(Error::internal("a write command panicked")));
            let ok = outcome.is_ok();
            let fault = outcome.as_ref().err().and_then(StorageFault::of);
            let reply: Reply = Box::new(move |committed| {
                let _ = answer.send(committed.and(outcome));
            });
            Ran { ok, fault, reply }
        });
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        self.queue.send(Command::Run(job)).map_err(|_| {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            stopped()
        })?;
        Ok(answered)
    }

    /// How long the writer has been busy with what it last took from its queue.
    pub fn progress(&self) -> Progress {
        if self.stats.gone.load(Ordering::Acquire) {
            return Progress::Gone;
        }
        match self.stats.working_since.load(Ordering::Acquire) {
            0 => Progress::Moving,
            since => Progress::Busy(since_start().saturating_sub(Duration::from_millis(since - 1))),
        }
    }

    /// Litestream owns checkpoints from now on: the writer makes none, not even at its stop.
    pub fn hand_checkpoints_over(&self) {
        self.stats
            .external_checkpoints
            .store(true, Ordering::Release);
    }

    /// A handle that tells whether the writer has committed since it was last asked.
    pub fn activity(&self) -> Activity {
        Activity {
            counters: self.stats.clone(),
            seen: 0,
        }
    }

    /// The version of the directory (users, tokens, API keys, tenants) as this process wrote it.
    pub fn directory_version(&self) -> u64 {
        self.directory.current()
    }

    /// A watch of the highest event seq committed: it changes after each commit that appended
    /// events.
    pub fn events(&self) -> tokio::sync::watch::Receiver<i64> {
        self.events.seq.clone()
    }

    /// Each restore of the database, with the latest seq of the log it restored.
    pub fn event_restarts(&self) -> tokio::sync::watch::Receiver<super::events::Restart> {
        self.events.restarts.clone()
    }

    /// Every batch of events committed from now on.
    pub fn event_batches(&self) -> tokio::sync::broadcast::Receiver<super::events::Batch> {
        self.events.batches.subscribe()
    }

    pub fn stats(&self) -> WriterStats {
        WriterStats {
            commands: self.stats.commands.load(Ordering::Relaxed),
            transactions: self.stats.transactions.load(Ordering::Relaxed),
            queued: self.stats.queued.load(Ordering::Relaxed),
        }
    }
}

thread_local! {
    /// Frames in the WAL after the writer's last commit (set by `note_wal_size`).
    static WAL_FRAMES: Cell<i32> = const { Cell::new(0) };
}

/// The writer checkpoints itself once the WAL holds this many frames (about 16 MiB).
const CHECKPOINT_FRAMES: i32 = 4096;

fn note_wal_size(_: &rusqlite::hooks::Wal, frames: c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|f| f.set(frames));
    Ok(())
}

/// Under a steady stream of writes the background checkpointer never catches up: new frames
/// land while it copies, so the WAL never restarts and grows without bound (a gigabyte in ten
/// seconds of sends). Between batches, with its callers already answered, the writer copies the
/// WAL back itself; nothing is appended meanwhile, so the checkpoint completes and the next
/// transaction starts the WAL over from its beginning.
fn checkpoint_if_large(conn: &Connection, health: &Health) {
    if WAL_FRAMES.with(Cell::get) < CHECKPOINT_FRAMES {
        return;
    }
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
        // Busy: the background checkpointer held the checkpoint lock, so this one did nothing;
        // try again after the next batch rather than 4,096 frames later.
        Ok(1) => {}
        Ok(_) => WAL_FRAMES.with(|f| f.set(0)),
        Err(e) => super::checkpoint_failed("writer", e, health),
    }
}

/// The answer to a write that arrives after the writer has stopped (the server is shutting
/// down).
pub fn stopped() -> Error {
    Error::unavailable("the server is stopping; the change was not stored", Some(5))
}

/// At most this many yields to gather a batch (see `run`).
const GATHER_TURNS: usize = 16;

/// Moves what is queued into `batch`, up to `max_batch`, stopping at a `Stop` or `Replace`.
fn take_queued(
    commands: &mpsc::Receiver<Command>,
    batch: &mut Vec<Job>,
    stop: &mut Option<After>,
    max_batch: usize,
) {
    while stop.is_none() && !batch.is_empty() && batch.len() < max_batch {
        match commands.try_recv() {
            Ok(command) => match After::of(command) {
                Ok(job) => batch.push(job),
                Err(after) => *stop = Some(after),
            },
            Err(_) => break,
        }
    }
}

/// While the storage is full, how often the writer checks whether there is room again.
const PROBE_EVERY: Duration = Duration::from_secs(5);

fn run(
    mut conn: Connection,
    commands: mpsc::Receiver<Command>,
    max_batch: usize,
    stats: &Counters,
    health: &Health,
    (touched, directory): &(DirectoryTouched, DirectoryVersion),
    publisher: &super::events::Publisher,
) {
    conn.wal_hook(Some(note_wal_size));
    let mut last_probe = Instant::now();
    loop {
        // While full, wake up now and then to probe even when no write arrives: `/readyz`
        // turns green again on its own once space is freed.
        let first = if health.is_full() {
            match commands.recv_timeout(PROBE_EVERY) {
                Ok(c) => Some(c),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match commands.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        stats.working();
        let mut stop = None;
        let mut batch = Vec::new();
        match first.map(After::of) {
            Some(Ok(job)) => batch.push(job),
            Some(Err(after)) => stop = Some(after),
            None => {}
        }
        take_queued(&commands, &mut batch, &mut stop, max_batch);
        // Before running the batch, give the threads producing commands a turn (on a shared
        // core the HTTP worker, whose first command woke this thread, is mid-way through the
        // rest), for as long as each turn brings more: the commit's fsync and its WAL frames
        // are then shared by more commands (on one core: 27 sends per commit with no turn, 41 with up to 4, more with 16).
        // With nothing else runnable a yield returns at once, so a lone write waits no longer.
        let mut turns = 0;
        while stop.is_none() && !batch.is_empty() && batch.len() < max_batch && turns < GATHER_TURNS
        {
            turns += 1;
            let before = batch.len();
            std::thread::yield_now();
            take_queued(&commands, &mut batch, &mut stop, max_batch);
            if batch.len() == before {
                break;
            }
        }
        if !batch.is_empty() {
            stats
                .queued
                .fetch_sub(batch.len() as u64, Ordering::Relaxed);
            stats
                .commands
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            stats.transactions.fetch_add(1, Ordering::Relaxed);
            metrics::histogram!(names::WRITER_BATCH).record(batch.len() as f64);
            metrics::counter!(names::WRITER_COMMANDS).increment(batch.len() as u64);
            if health.is_damaged() {
                dry_run(&conn, batch);
            } else {
                run_batch(&conn, batch, health, &|| {
                    touched.publish(directory);
                    publisher.publish(&conn);
                });
                if !stats.external_checkpoints.load(Ordering::Acquire) {
                    checkpoint_if_large(&conn, health);
                }
            }
        }
        if health.is_full() && last_probe.elapsed() >= PROBE_EVERY {
            last_probe = Instant::now();
            if has_room(&conn) {
                health.room_again();
            }
        }
        match stop {
            Some(After::Stop(answer)) => {
                let external = stats.external_checkpoints.load(Ordering::Acquire);
                let _ = answer.send(close(conn, health, external));
                return;
            }
            Some(After::Replace(f, answer)) => {
                let out = if health.is_damaged() {
                    Err(StorageFault::Damaged.error())
                } else {
                    catch_unwind(AssertUnwindSafe(|| f(&mut conn)))
                        .unwrap_or_else(|_| Err(Error::internal("a restore panicked")))
                };
                // Even a failed restore may have changed pages: nothing kept about the old
                // content is trusted any more.
                directory.advance();
                publisher.restarted(&conn);
                health.observe(&out);
                let _ = answer.send(out);
            }
            None => {}
        }
        stats.waiting();
    }
}

/// The last act of a graceful stop. With every command done, the WAL is copied back into the
/// database file and truncated to nothing, so a stopped server leaves one self-contained file.
/// A damaged file is left exactly as it is, and so is the WAL Litestream owns (`external`): a
/// TRUNCATE checkpoint behind its back would force it into a fresh snapshot.
fn close(conn: Connection, health: &Health, external: bool) -> Result<()> {
    if health.is_damaged() || external {
        return conn.close().map_err(|(_, e)| Error::from(e));
    }
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    conn.close().map_err(|(_, e)| Error::from(e))?;
    if busy != 0 {
        return Err(Error::internal(
            "a reader kept the final checkpoint from completing; the WAL stays until next start",
        ));
    }
    Ok(())
}

/// Whether the database can take new pages again: a command that needs a few fresh pages,
/// undone in the same transaction, committed. A full disk fails it (at the insert, or at the
/// commit that appends to the WAL).
fn has_room(conn: &Connection) -> bool {
    let probe = conn.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT INTO server_settings (key, value) VALUES ('room_probe', hex(zeroblob(8192)));
         DELETE FROM server_settings WHERE key = 'room_probe';
         COMMIT;",
    );
    if probe.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    probe.is_ok()
}

/// A batch on a damaged file: each command runs, everything is rolled back, and a command that
/// changed anything is told it was not stored. Commands that only look (a start-up step that
/// finds its row already there) still succeed, so a server can be started read-only.
fn dry_run(conn: &Connection, batch: Vec<Job>) {
    let began = conn.exec("BEGIN IMMEDIATE", []);
    for job in batch {
        let before = conn.total_changes();
        let ran = job(conn);
        let changed = conn.total_changes() != before;
        (ran.reply)(if began.is_ok() && !changed {
            Ok(())
        } else {
            Err(StorageFault::Damaged.error())
        });
    }
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Runs `batch` in one transaction and answers each command. `settled` is called once the
/// transaction has ended (and, without a transaction, after each command), before any answer.
fn run_batch(conn: &Connection, batch: Vec<Job>, health: &Health, settled: &dyn Fn()) {
    if let Err(e) = conn.exec("BEGIN IMMEDIATE", []) {
        let e = Error::from(e);
        health.observe::<()>(&Err(copy(&e)));
        for job in batch {
            let ran = job(conn);
            settled();
            (ran.reply)(Err(copy(&e)));
        }
        return;
    }
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.exec("SAVEPOINT command", []) {
            tracing::error!("savepoint: {e}");
        }
        let Ran { ok, fault, reply } = job(conn);
        if let Some(fault) = fault {
            health.observe::<()>(&Err(fault.error()));
        }
        if conn.is_autocommit() {
            // The command's error rolled the whole transaction back (SQLite does this on some
            // errors, e.g. a full disk): everything before it is lost too.
            let cause = || match fault {
                Some(fault) => fault.error(),
                None => Error::internal("transaction aborted"),
            };
            if fault.is_none() {
                tracing::error!("a write command aborted its transaction");
            }
            for earlier in replies.drain(..) {
                earlier(Err(cause()));
            }
            reply(Err(cause()));
            if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                tracing::error!("begin after abort: {e}");
            }
            continue;
        }
        let rolled_back = if ok {
            Ok(0)
        } else {
            conn.exec("ROLLBACK TO command", [])
        };
        if let Err(e) = rolled_back.and_then(|_| conn.exec("RELEASE command", [])) {
            tracing::error!("ending savepoint: {e}");
        }
        replies.push(reply);
    }
    let committed = if conn.is_autocommit() {
        Ok(())
    } else if health.is_damaged() {
        // A command of this batch found the file damaged: nothing more goes into it.
        let _ = conn.execute_batch("ROLLBACK");
        Err(StorageFault::Damaged.error())
    } else {
        // The batch's new messages go into the search index together (schema.sql, step 13);
        // failing that, nothing of the batch is kept.
        let indexed = super::message_search::index_pending(conn);
        let started = Instant::now();
        let committed = indexed.and_then(|_| conn.exec("COMMIT", []));
        metrics::histogram!(names::WRITER_COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
        let outcome = if committed.is_ok() {
            "committed"
        } else {
            "failed"
        };
        metrics::counter!(names::WRITER_COMMITS, "outcome" => outcome).increment(1);
        committed.map(drop).map_err(|e| {
            let e = Error::from(e);
            if StorageFault::of(&e).is_none() {
                tracing::error!("commit failed: {e}");
            }
            let _ = conn.execute_batch("ROLLBACK");
            e
        })
    };
    health.observe(&committed);
    settled();
    for reply in replies {
        reply(match &committed {
            Ok(()) => Ok(()),
            Err(e) => Err(copy(e)),
        });
    }
}

/// One error for several callers: a storage fault as itself, anything else as an internal
/// error with the same text.
fn copy(e: &Error) -> Error {
    match StorageFault::of(e) {
        Some(fault) => fault.error(),
        None => Error::internal(e.to_string()),
    }
}

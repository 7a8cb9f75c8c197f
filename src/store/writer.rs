//! The single writer thread and its group commit.
//!
//! Every write in Parlor is a closure sent here. The thread takes the first queued closure plus
//! everything queued behind it (up to `max_batch`), runs them in one transaction, each inside
//! its own SAVEPOINT so one failure does not sink the others, commits once, and only then
//! answers each caller. Under load this turns N fsyncs into one.

use std::cell::Cell;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::Cached;
use crate::error::{Error, Result};

/// Called once the transaction holding a command has committed (Ok) or failed (Err).
type Reply = Box<dyn FnOnce(Result<()>) + Send>;
/// Runs one command; says whether it succeeded and how to answer its caller.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    stats: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    commands: AtomicU64,
    transactions: AtomicU64,
    queued: AtomicU64,
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
    pub fn start(conn: Connection, max_batch: usize) -> Result<Writer> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let stats = Arc::new(Counters::default());
        let counters = stats.clone();
        std::thread::Builder::new()
            .name("parlor-writer".into())
            .spawn(move || run(conn, jobs, max_batch, &counters))
            .map_err(Error::internal)?;
        Ok(Writer { queue, stats })
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
            let reply: Reply = Box::new(move |committed| {
                let _ = answer.send(committed.and(outcome));
            });
            (ok, reply)
        });
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        self.queue.send(job).map_err(|_| {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            Error::internal("writer thread stopped")
        })?;
        Ok(answered)
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
fn checkpoint_if_large(conn: &Connection) {
    if WAL_FRAMES.with(Cell::get) < CHECKPOINT_FRAMES {
        return;
    }
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => WAL_FRAMES.with(|f| f.set(0)),
        Err(e) => tracing::warn!("writer checkpoint failed: {e}"),
    }
}

fn run(conn: Connection, jobs: mpsc::Receiver<Job>, max_batch: usize, stats: &Counters) {
    conn.wal_hook(Some(note_wal_size));
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats
            .queued
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        stats
            .commands
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        run_batch(&conn, batch);
        checkpoint_if_large(&conn);
    }
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = conn.exec("BEGIN IMMEDIATE", []) {
        let e = Error::internal(format!("begin: {e}"));
        for job in batch {
            let (_, reply) = job(conn);
            reply(Err(Error::internal(e.to_string())));
        }
        return;
    }
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.exec("SAVEPOINT command", []) {
            tracing::error!("savepoint: {e}");
        }
        let (ok, reply) = job(conn);
        if conn.is_autocommit() {
            // The command's error rolled the whole transaction back (SQLite does this on some
            // errors, e.g. a full disk): everything before it is lost too.
            tracing::error!("a write command aborted its transaction");
            for earlier in replies.drain(..) {
                earlier(Err(Error::internal("transaction aborted")));
            }
            reply(Err(Error::internal("transaction aborted")));
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
    } else {
        conn.exec("COMMIT", []).map(drop).map_err(|e| {
            tracing::error!("commit failed: {e}");
            let _ = conn.execute_batch("ROLLBACK");
            Error::internal(format!("commit: {e}"))
        })
    };
    for reply in replies {
        reply(match &committed {
            Ok(()) => Ok(()),
            Err(e) => Err(Error::internal(e.to_string())),
        });
    }
}

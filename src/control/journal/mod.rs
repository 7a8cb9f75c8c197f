//! The request journal (issue 15, "Traffic"): every request to a face or the native API,
//! recorded for a test suite to query, count (`verify`), clear and export as HAR.
//!
//! Recording must cost the request next to nothing and hold no more memory than a bound: the
//! middleware (`record.rs`) keeps the request's headers and the first `BODY_CAP` bytes of each
//! body as they stream, and hands the finished entry to a bounded queue; when the queue is full
//! the entry is dropped and counted, never waited for. One thread (`store.rs`) owns the
//! journal's own SQLite file beside the database (not the clinic's file: a reset or a snapshot
//! restore leaves the journal alone), masks secrets, writes a batch per transaction, trims the
//! oldest rows past `journal_max_rows` / `journal_max_bytes`, and answers the routes' queries
//! in order, so a query sees every entry recorded before it was asked.

mod entry;
mod filter;
mod har;
mod mask;
pub mod near;
mod record;
mod routes;
mod store;
mod stored;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

pub use entry::{Captured, Entry};
pub use filter::Filter;
pub use record::record;
pub use routes::operations;

use crate::error::{Error, Result};
use store::{Answer, Command, Reply, Row};

/// Bytes kept of each request body and of each response body.
pub const BODY_CAP: usize = 64 * 1024;
/// Entries waiting for the journal's thread, at most.
const QUEUE_ENTRIES: usize = 4096;
/// Bytes of bodies waiting for the journal's thread, at most: the queue's memory bound.
const QUEUE_BYTES: usize = 32 * 1024 * 1024;

/// The journal's handle: what the middleware records into and the routes ask.
pub struct Journal {
    tx: SyncSender<Command>,
    /// Body bytes queued and not yet written.
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
    /// How prefixes of faces are mounted, for near misses.
    faces: Vec<(&'static str, String)>,
}

/// Where the journal lives for a database at `db`: `<db>.stand-in/journal.db`.
pub fn file_for(db: &Path) -> PathBuf {
    let mut dir = db.as_os_str().to_owned();
    dir.push(".stand-in");
    PathBuf::from(dir).join("journal.db")
}

/// The bounds on what the journal keeps.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_rows: u64,
    pub max_bytes: u64,
}

impl Journal {
    /// Starts the journal for a stand-in (`on`), else nothing: a clinic's server creates no
    /// file and runs no thread.
    pub fn start(on: bool, settings: &crate::config::Settings) -> Result<Option<Arc<Journal>>> {
        if !on {
            return Ok(None);
        }
        let bounds = Bounds {
            max_rows: settings.journal_max_rows,
            max_bytes: settings.journal_max_bytes,
        };
        let faces = crate::faces::FACES
            .iter()
            .filter(|f| settings.face(f.name).enabled)
            .map(|f| (f.name, crate::faces::prefix(settings, f)))
            .collect();
        Journal::open(&file_for(&settings.db), bounds, faces).map(|j| Some(Arc::new(j)))
    }

    fn open(path: &Path, bounds: Bounds, faces: Vec<(&'static str, String)>) -> Result<Journal> {
        let (tx, rx) = sync_channel(QUEUE_ENTRIES);
        let queued = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        store::spawn(path, bounds, rx, Arc::clone(&queued), Arc::clone(&dropped))?;
        Ok(Journal {
            tx,
            queued,
            dropped,
            faces,
        })
    }

    /// Queues a finished entry; drops it (and counts the drop) when the queue is full.
    pub fn submit(&self, entry: Entry) {
        let size = entry.weight();
        if self.queued.fetch_add(size, Ordering::Relaxed) + size > QUEUE_BYTES {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.tx.try_send(Command::Record(Box::new(entry)))
        {
            self.queued.fetch_sub(size, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries dropped since the start because the queue was full (or the thread failed).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The face mounted for `name`, with its prefix.
    fn prefix_of(&self, name: &str) -> Option<&str> {
        self.faces
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.as_str())
    }

    /// Asks the journal's thread, after everything queued before it.
    async fn ask(
        &self,
        make: impl FnOnce(tokio::sync::oneshot::Sender<Reply>) -> Command,
    ) -> Result<Answer> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        match self.tx.try_send(make(tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(Error::unavailable(
                    "the server is busy: the journal is writing a backlog; try again shortly",
                    Some(1),
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::internal("the journal's thread stopped"))
            }
        }
        rx.await
            .map_err(|_| Error::internal("the journal's thread stopped"))?
    }

    pub async fn page(&self, filter: Filter, limit: u32) -> Result<Vec<Row>> {
        match self
            .ask(|reply| Command::Page(filter, limit, reply))
            .await?
        {
            Answer::Rows(rows) => Ok(rows),
            _ => Err(Error::internal("the journal answered out of turn")),
        }
    }

    pub async fn get(&self, id: i64) -> Result<Option<Row>> {
        match self.ask(|reply| Command::Get(id, reply)).await? {
            Answer::Rows(mut rows) => Ok(rows.pop()),
            _ => Err(Error::internal("the journal answered out of turn")),
        }
    }

    pub async fn count(&self, filter: Filter) -> Result<u64> {
        match self.ask(|reply| Command::Count(filter, reply)).await? {
            Answer::Count(n) => Ok(n),
            _ => Err(Error::internal("the journal answered out of turn")),
        }
    }

    pub async fn clear(&self) -> Result<u64> {
        match self.ask(Command::Clear).await? {
            Answer::Count(n) => Ok(n),
            _ => Err(Error::internal("the journal answered out of turn")),
        }
    }
}

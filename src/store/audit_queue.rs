//! Audit entries of reads and refusals, on their way to the writer. A request leaves its entry
//! here and goes on; a thread hands what has gathered to the writer as one command every
//! `FLUSH_EVERY` (sooner once `FLUSH_AT` are waiting), so recording a read costs the writer a
//! share of one transaction instead of a commit of its own, and the read never waits for a
//! disk flush. `stop` hands over what is left before the writer stops.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::writer::Writer;
use crate::audit::Entry;

/// Entries wait at most this long before they are handed to the writer: with the writer's
/// commit, an entry is on disk within about a second of its request.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Hand over at once when this many are waiting.
const FLUSH_AT: usize = 1024;
/// Past this many waiting, a request records its entry itself and waits for it (the writer is
/// behind: memory stays bounded, and no entry is dropped).
pub const BACKLOG: usize = 50_000;

#[derive(Default)]
struct Pending {
    entries: Vec<Entry>,
    stopping: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

pub struct AuditQueue {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl AuditQueue {
    pub fn start(writer: Writer) -> std::io::Result<AuditQueue> {
        let shared = Arc::new(Shared::default());
        let mine = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("parlor-audit".into())
            .spawn(move || flush_loop(&mine, &writer))?;
        Ok(AuditQueue {
            shared,
            flusher: Mutex::new(Some(flusher)),
        })
    }

    /// Queues `entry`; gives it back when the backlog is full or the queue has stopped.
    pub fn push(&self, entry: Entry) -> Result<(), Box<Entry>> {
        let mut p = self.lock();
        if p.stopping || p.entries.len() >= BACKLOG {
            return Err(Box::new(entry));
        }
        p.entries.push(entry);
        if p.entries.len() >= FLUSH_AT {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Hands everything queued to the writer and waits for it to be stored; later entries are
    /// refused (the caller records them itself).
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.shared.wake.notify_one();
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

fn flush_loop(shared: &Shared, writer: &Writer) {
    loop {
        let (entries, stopping) = {
            let mut p = shared.pending.lock().unwrap_or_else(|p| p.into_inner());
            if !p.stopping && p.entries.len() < FLUSH_AT {
                p = shared
                    .wake
                    .wait_timeout(p, FLUSH_EVERY)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            (std::mem::take(&mut p.entries), p.stopping)
        };
        if !entries.is_empty() {
            let count = entries.len();
            let stored = writer
                .submit(move |c| super::audit::append(c, entries))
                .and_then(|answer| {
                    answer
                        .blocking_recv()
                        .map_err(|_| super::writer::stopped())?
                });
            if let Err(e) = stored {
                tracing::error!("{count} audit entries could not be stored: {e}");
            }
        }
        if stopping {
            return;
        }
    }
}

//! What the store knows about its own file: sound, out of room, or damaged.
//!
//! Every read and write result passes through `observe`, so the first SQLITE_FULL or
//! SQLITE_CORRUPT changes the state once, is logged once, and from then on requests get a 503
//! naming the cause instead of one 500 (and one log line) each.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, StorageFault};

#[derive(Clone)]
pub struct Health(Arc<Inner>);

struct Inner {
    path: PathBuf,
    /// `read_only_if_damaged`: a damaged file still serves reads.
    reads_when_damaged: bool,
    state: Mutex<State>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Sound,
    /// A write failed for lack of room; writes are still tried (one may find room again) and
    /// the writer probes for room until one succeeds.
    Full,
    /// Sticky until restart: a damaged file does not mend itself.
    Damaged,
}

/// What `/readyz` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not ready, with a reason an operator can act on.
    NotReady(String),
}

/// What `/readyz` reports about the database.
#[derive(Clone, Debug)]
pub struct Report {
    pub readiness: Readiness,
    /// Changes are being stored: not full, not damaged, the writer moving, the file answering.
    pub writable: bool,
    /// The WAL's size in bytes, when the file answered.
    pub wal_bytes: Option<u64>,
}

impl Health {
    pub fn new(path: &Path, reads_when_damaged: bool) -> Health {
        Health(Arc::new(Inner {
            path: path.to_owned(),
            reads_when_damaged,
            state: Mutex::new(State::Sound),
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding this lock leaves a valid state behind.
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a damaged file found before serving (the start-up check), when the settings
    /// allow serving it read-only.
    pub fn start_damaged(&self, cause: String) {
        tracing::error!(
            "serving {} READ-ONLY although it is damaged ({cause}); every change answers 503 \
             until the file is restored from a backup",
            self.0.path.display()
        );
        *self.state() = State::Damaged;
    }

    /// Notes what a read or write outcome says about the storage.
    pub fn observe<T>(&self, outcome: &Result<T, Error>) {
        if let Err(e) = outcome {
            match StorageFault::of(e) {
                Some(StorageFault::Damaged) => self.damaged(),
                Some(StorageFault::Full) => self.full(),
                None => {}
            }
        }
    }

    pub fn damaged(&self) {
        let mut state = self.state();
        if *state == State::Damaged {
            return;
        }
        tracing::error!(
            "the database file {} is damaged: SQLite found it malformed while serving. \
             Writes are stopped and {}; restore the latest verified backup (see README, \
             \"After a power cut or a disk error\")",
            self.0.path.display(),
            if self.0.reads_when_damaged {
                "reads continue (read_only_if_damaged)"
            } else {
                "every request that needs the database answers 503"
            }
        );
        *state = State::Damaged;
    }

    fn full(&self) {
        let mut state = self.state();
        if *state != State::Sound {
            return;
        }
        tracing::error!(
            "the storage of {} is full: changes are refused with 503 until space is freed \
             (nothing already acknowledged is lost); Parlor notices by itself when there is \
             room again",
            self.0.path.display()
        );
        *state = State::Full;
    }

    /// A write that needed new space succeeded.
    pub fn room_again(&self) {
        let mut state = self.state();
        if *state == State::Full {
            tracing::warn!(
                "the storage of {} has room again; changes are accepted",
                self.0.path.display()
            );
            *state = State::Sound;
        }
    }

    pub fn is_full(&self) -> bool {
        *self.state() == State::Full
    }

    pub fn is_damaged(&self) -> bool {
        *self.state() == State::Damaged
    }

    /// The 503 for any request that needs the database (read or write), when the file is
    /// damaged and reads are not to be served from it either.
    pub fn refusal(&self) -> Option<Error> {
        (self.is_damaged() && !self.0.reads_when_damaged).then(|| StorageFault::Damaged.error())
    }

    pub fn readiness(&self) -> Readiness {
        match &*self.state() {
            State::Sound => Readiness::Ready,
            State::Full => Readiness::NotReady(
                "the server's storage is full: new messages and changes cannot be stored".into(),
            ),
            State::Damaged if self.0.reads_when_damaged => Readiness::NotReady(
                "the database file is damaged: serving reads only (read_only_if_damaged); \
                 restore it from a backup"
                    .into(),
            ),
            State::Damaged => {
                Readiness::NotReady("the database file is damaged: restore it from a backup".into())
            }
        }
    }
}

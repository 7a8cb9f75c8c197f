//! How the scheduled backups are doing, for `/readyz` and the admin page: when the last verified
//! copy was taken, and the last failure. What it says is public (`/readyz` needs no credential),
//! so a failure is described in Parlor's words; its cause, which may name paths or carry SQLite's
//! text, goes to the log only.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::{Done, Failed, Plan};
use crate::domain::clock::Millis;
use crate::domain::time::rfc3339_seconds;

#[derive(Clone, Default)]
pub struct Status(Arc<Mutex<Option<Inner>>>);

struct Inner {
    every_seconds: u64,
    last_success: Option<Millis>,
    last_file: Option<String>,
    last_error: Option<(Millis, &'static str)>,
}

/// The backups part of `/readyz`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BackupsDto {
    pub every_seconds: u64,
    /// When the last verified copy was taken (RFC 3339), none yet since the server started.
    pub last_success: Option<String>,
    /// Seconds since then.
    pub age_seconds: Option<i64>,
    /// The last verified copy's file name (in `backup_dir`).
    pub last_file: Option<String>,
    /// The last failure, when it came after the last success.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

impl Status {
    fn lock(&self) -> MutexGuard<'_, Option<Inner>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn scheduled(&self, plan: &Plan) {
        let newest = plan.copies().pop();
        *self.lock() = Some(Inner {
            every_seconds: plan.every.as_secs(),
            // A copy kept from before a restart still counts as the last one.
            last_success: newest.as_ref().map(|(at, _)| *at),
            last_file: newest.and_then(|(_, p)| Some(p.file_name()?.to_string_lossy().into())),
            last_error: None,
        });
    }

    pub(super) fn succeeded(&self, at: Millis, done: &Done) {
        if let Some(inner) = self.lock().as_mut() {
            inner.last_success = Some(at);
            inner.last_file = done
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            inner.last_error = None;
        }
    }

    pub(super) fn failed(&self, at: Millis, failed: &Failed) {
        let said = match failed {
            Failed::Unsound(_) => {
                "the copy failed its verification and was deleted: check the database (see the \
                 server's log)"
            }
            Failed::NotMade(_) => {
                "the copy could not be made: check the backup directory (see the server's log)"
            }
        };
        if let Some(inner) = self.lock().as_mut() {
            inner.last_error = Some((at, said));
        }
    }

    /// What `/readyz` reports at `now`; none when backups are not scheduled.
    pub fn report(&self, now: Millis) -> Option<BackupsDto> {
        self.lock().as_ref().map(|inner| BackupsDto {
            every_seconds: inner.every_seconds,
            last_success: inner.last_success.map(rfc3339_seconds),
            age_seconds: inner.last_success.map(|at| (now - at).max(0) / 1000),
            last_file: inner.last_file.clone(),
            last_error: inner.last_error.map(|(_, said)| said.to_string()),
            last_error_at: inner.last_error.map(|(at, _)| rfc3339_seconds(at)),
        })
    }
}

//! Scheduled backups inside the server (`backup_every`), and `parlor restore`.
//!
//! Every `backup_every` a thread of its own (never an actix worker, never the writer's queue:
//! the copy only reads, on its own connection) copies the database with SQLite's backup API into
//! a temporary name in `backup_dir`, verifies the copy as `parlor check` would (the file's
//! structure, the links between records, every unread badge recounted), and only then renames
//! it into place. Only after a verified copy are older copies thinned (`thinning.rs`). The
//! outcome goes to `Status` (`/readyz`, the admin page) and to the metrics.
//!
//! A copy's name carries the time it was taken (`parlor-20261130T092400Z.db` for `parlor.db`),
//! read back for thinning and for the next due time, so a restart keeps the schedule.

pub mod restore;
pub mod status;
pub mod thinning;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Settings;
use crate::domain::clock::Millis;
use crate::domain::Clock;
use crate::error::{Error, Result};
use crate::store::cipher::{self, Key};
use crate::store::integrity::{self, Depth};
use crate::store::snapshot;
use crate::store::Store;
pub use status::Status;
pub use thinning::Keep;

/// `backup_every` as a duration: none when unset, else at least a second and at most 30 days.
pub fn every(settings: &Settings) -> Result<Option<Duration>> {
    let Some(text) = settings.backup_every.as_deref() else {
        return Ok(None);
    };
    let bad = || {
        Error::invalid(
            "backup_every",
            format!(
                "{text:?} is not a duration: give a number with a unit (s, m, h, d), e.g. \"1h\" \
                 or \"30m\", from 1s to 30d"
            ),
        )
    };
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n: u64 = text[..digits].parse().map_err(|_| bad())?;
    let unit = match &text[digits..] {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit) {
        Some(secs) if (1..=30 * 86_400).contains(&secs) => Ok(Some(Duration::from_secs(secs))),
        _ => Err(bad()),
    }
}

/// What the schedule does: where from, where to, how often, what to keep.
#[derive(Clone)]
pub struct Plan {
    pub every: Duration,
    pub dir: PathBuf,
    pub keep: Keep,
    db: PathBuf,
    key: Option<Key>,
}

impl Plan {
    /// The schedule of `settings`, if backups are scheduled; `key` opens the database.
    pub fn of(settings: &Settings, key: Option<&Key>) -> Result<Option<Plan>> {
        let Some(every) = every(settings)? else {
            return Ok(None);
        };
        let dir = match &settings.backup_dir {
            Some(dir) => dir.clone(),
            None => settings
                .db
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
                .join("backups"),
        };
        Ok(Some(Plan {
            every,
            dir,
            keep: Keep {
                last: settings.backup_keep_last,
                hourly_for_hours: settings.backup_keep_hourly_for_hours,
                daily_for_days: settings.backup_keep_daily_for_days,
            },
            db: settings.db.clone(),
            key: key.cloned(),
        }))
    }

    fn stem(&self) -> String {
        self.db
            .file_stem()
            .map_or_else(|| "parlor".into(), |s| s.to_string_lossy().into_owned())
    }

    fn name_at(&self, at: Millis) -> String {
        format!(
            "{}-{}.db",
            self.stem(),
            crate::domain::time::utc(at).format(STAMP)
        )
    }

    /// The copies in the directory, with the time each was taken. Files that do not carry
    /// this database's copy names are not the schedule's and are never touched.
    pub fn copies(&self) -> Vec<(Millis, PathBuf)> {
        let prefix = format!("{}-", self.stem());
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut copies: Vec<(Millis, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stamp = name.strip_prefix(&prefix)?.strip_suffix(".db")?;
                let at = chrono::NaiveDateTime::parse_from_str(stamp, STAMP).ok()?;
                Some((at.and_utc().timestamp_millis(), e.path()))
            })
            .collect();
        copies.sort();
        copies
    }
}

/// A copy's time in its name: `20261130T092400Z`, whole seconds, UTC.
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// Why no copy was put in place. The two are told apart in `/readyz`: a copy that fails its
/// verification points at the database, one that cannot be made at the backup directory.
#[derive(Debug)]
pub enum Failed {
    /// The copy was made and did not verify: what the check found.
    Unsound(Vec<String>),
    /// The copy could not be made, flushed or renamed.
    NotMade(Error),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Unsound(problems) => write!(
                f,
                "the copy failed its verification, so it was deleted: {}",
                if problems.is_empty() {
                    "the check could not finish".to_string()
                } else {
                    problems.join("; ")
                }
            ),
            Failed::NotMade(e) => write!(f, "the copy could not be made: {e}"),
        }
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Failed::NotMade(e)
    }
}

/// One verified copy, and what thinning removed after it.
#[derive(Debug)]
pub struct Done {
    pub file: PathBuf,
    pub bytes: u64,
    pub pruned: Vec<PathBuf>,
}

/// Takes one copy now (at `now` by Parlor's clock), verifies it, puts it in place and thins the
/// older ones. Blocking: the scheduler's thread, or a command line. A copy that fails its
/// verification is deleted and nothing is pruned.
pub fn run_once(plan: &Plan, now: Millis) -> std::result::Result<Done, Failed> {
    create_private_dir(&plan.dir)?;
    let name = plan.name_at(now);
    let file = plan.dir.join(&name);
    if file.exists() {
        return Err(Failed::NotMade(Error::Conflict(format!(
            "{} already exists (two copies within one second)",
            file.display()
        ))));
    }
    let partial = plan.dir.join(format!(".{name}.partial"));
    remove_partials(plan);
    let made = copy_and_verify(plan, &partial).and_then(|()| {
        sync_file(&partial)?;
        std::fs::rename(&partial, &file).map_err(|e| io("putting the copy in place", e))?;
        Ok(sync_file(&plan.dir)?)
    });
    if let Err(e) = made {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
    let copies = plan.copies();
    let taken: Vec<Millis> = copies.iter().map(|(at, _)| *at).collect();
    let prune = thinning::to_prune(&taken, now, plan.keep);
    let mut pruned = Vec::new();
    for (at, path) in copies {
        if prune.contains(&at) && path != file {
            match std::fs::remove_file(&path) {
                Ok(()) => pruned.push(path),
                Err(e) => tracing::warn!("could not remove the old backup {}: {e}", path.display()),
            }
        }
    }
    Ok(Done {
        file,
        bytes,
        pruned,
    })
}

fn copy_and_verify(plan: &Plan, partial: &Path) -> std::result::Result<(), Failed> {
    snapshot::copy(&plan.db, plan.key.as_ref(), partial)?;
    if plan.key.is_some() && cipher::FileKind::of(partial)? != cipher::FileKind::Encrypted {
        return Err(Failed::Unsound(vec![
            "the copy of the encrypted database came out unencrypted".into(),
        ]));
    }
    let report = integrity::verify(partial, Depth::Full, plan.key.as_ref())?;
    if !report.is_sound() {
        return Err(Failed::Unsound(report.problems()));
    }
    Ok(())
}

/// A copy interrupted by a crash leaves a `.partial` file; it is never a backup.
fn remove_partials(plan: &Plan) {
    let prefix = format!(".{}-", plan.stem());
    if let Ok(entries) = std::fs::read_dir(&plan.dir) {
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".partial") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Backups hold every message: the directory is made readable by its owner only.
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| io(&format!("creating {}", dir.display()), e))
}

/// Flushes a file (or a directory's entries) to the disk.
pub(crate) fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&format!("flushing {}", path.display()), e))
}

fn io(doing: &str, e: std::io::Error) -> Error {
    Error::internal(format!("{doing}: {e}"))
}

/// After a failed copy the next try comes sooner than a whole period later.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(600);

/// Starts the schedule on a thread of its own. It stops when `closing` turns true (the server
/// stops) or the database file is gone. With `audit`, each run is an entry of the audit trail.
pub fn start(
    plan: Plan,
    clock: Clock,
    status: Status,
    closing: tokio::sync::watch::Receiver<bool>,
    audit: Option<Store>,
) -> Result<()> {
    status.scheduled(&plan);
    if let Some((at, _)) = plan.copies().pop() {
        metrics::gauge!("parlor_backup_last_success_timestamp_seconds").set(at as f64 / 1000.0);
    }
    tracing::info!(
        "scheduled backups every {} s into {}",
        plan.every.as_secs(),
        plan.dir.display()
    );
    std::thread::Builder::new()
        .name("parlor-backup".into())
        .spawn(move || schedule(&plan, &clock, &status, &closing, audit.as_ref()))
        .map(drop)
        .map_err(Error::internal)
}

/// A run in the audit trail, like `parlor backup`'s but by the server (`system`): a copy of
/// every record leaves the database. Where it went and its size, or why it failed; never
/// content.
fn audit_entry(at: Millis, outcome: &std::result::Result<Done, Failed>) -> crate::audit::Entry {
    let (result, detail) = match outcome {
        Ok(done) => (
            "ok",
            serde_json::json!({
                "file": done.file.display().to_string(),
                "bytes": done.bytes,
                "removed_older_copies": done.pruned.len(),
            }),
        ),
        Err(e) => ("failed", serde_json::json!({ "error": e.to_string() })),
    };
    crate::audit::Entry {
        at,
        actor: crate::audit::Actor::System,
        surface: "system".into(),
        action: "backup".into(),
        outcome: result.into(),
        detail: Some(detail.to_string()),
        ..crate::audit::Entry::default()
    }
}

fn schedule(
    plan: &Plan,
    clock: &Clock,
    status: &Status,
    closing: &tokio::sync::watch::Receiver<bool>,
    audit: Option<&Store>,
) {
    let every_ms = plan.every.as_millis() as Millis;
    let mut retry_at: Option<Millis> = None;
    loop {
        let newest = plan.copies().last().map(|(at, _)| *at);
        let due = match (newest, retry_at) {
            (Some(at), Some(retry)) => (at + every_ms).min(retry),
            (Some(at), None) => at + every_ms,
            (None, Some(retry)) => retry,
            (None, None) => clock.now_ms(),
        };
        // A copy stamped in the future (the clock was set back) does not hold the schedule up.
        let due = due.min(clock.now_ms() + every_ms);
        // Short naps: a stop, or a clock moved by the stand-in's control plane, is noticed soon.
        while clock.now_ms() < due {
            if *closing.borrow() || !plan.db.exists() {
                return;
            }
            let left = (due - clock.now_ms()).clamp(1, 1_000) as u64;
            std::thread::sleep(Duration::from_millis(left));
        }
        if *closing.borrow() || !plan.db.exists() {
            return;
        }
        let started = Instant::now();
        let now = clock.now_ms();
        let outcome = run_once(plan, now);
        let took = started.elapsed();
        metrics::histogram!("parlor_backup_duration_seconds").record(took.as_secs_f64());
        if let Some(store) = audit {
            if let Err(e) = store.record_blocking(audit_entry(now, &outcome)) {
                tracing::error!("the scheduled backup's audit entry was not stored: {e}");
            }
        }
        match outcome {
            Ok(done) => {
                metrics::counter!("parlor_backups_total", "outcome" => "ok").increment(1);
                metrics::gauge!("parlor_backup_last_success_timestamp_seconds")
                    .set(now as f64 / 1000.0);
                tracing::info!(
                    "backed up to {} ({} bytes, verified, in {} ms){}",
                    done.file.display(),
                    done.bytes,
                    took.as_millis(),
                    if done.pruned.is_empty() {
                        String::new()
                    } else {
                        format!("; removed {} older copies", done.pruned.len())
                    }
                );
                status.succeeded(now, &done);
                retry_at = None;
            }
            Err(e) => {
                metrics::counter!("parlor_backups_total", "outcome" => "failed").increment(1);
                tracing::error!("the scheduled backup failed: {e}");
                status.failed(now, &e);
                retry_at = Some(now + every_ms.min(RETRY_AFTER_FAILURE.as_millis() as Millis));
            }
        }
    }
}

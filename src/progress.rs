//! Progress of long command-line work (`parlor load` of a large fixture, `parlor check` of a
//! large file, `parlor backup` and `parlor restore`): a bar on standard error when it is a terminal
//! (indicatif), otherwise plain lines, one when a phase starts, one every `LINE_EVERY` while it
//! runs and one at the end, so that a log of a cron job or a CI run shows where the time went
//! without a terminal's redrawing.
//!
//! A `Progress` is cheap to clone and may be moved to the thread doing the work (the writer,
//! a reader): `inc` is an atomic add there, the drawing or the line happens elsewhere.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line tells how far a phase has got.
const LINE_EVERY: Duration = Duration::from_secs(10);
/// How often a bar is redrawn while nothing else moves it (its elapsed time, its spinner).
const TICK_EVERY: Duration = Duration::from_millis(200);

/// Progress of one command, phase after phase. Clones share it.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

struct Inner {
    /// What the command is, e.g. "load": the start of every plain line.
    command: &'static str,
    shown: Shown,
    phase: Mutex<Phase>,
    done: AtomicU64,
    finished: AtomicBool,
    /// Wakes the plain lines' thread at `finish`.
    wake: Condvar,
}

enum Shown {
    Bar(ProgressBar),
    Lines,
    Hidden,
}

#[derive(Clone)]
struct Phase {
    name: String,
    total: Option<u64>,
    unit: &'static str,
    started: Instant,
}

impl Progress {
    /// Progress of `command` on standard error: a bar on a terminal, plain lines otherwise.
    pub fn on_stderr(command: &'static str) -> Progress {
        let shown = if std::io::stderr().is_terminal() {
            Shown::Bar(
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_prefix(command),
            )
        } else {
            Shown::Lines
        };
        Progress::new(command, shown)
    }

    /// Progress nobody sees: for the same work run by the server or a test.
    pub fn hidden() -> Progress {
        Progress::new("", Shown::Hidden)
    }

    /// Plain lines whatever stderr is (a test of what a log shows).
    pub fn lines(command: &'static str) -> Progress {
        Progress::new(command, Shown::Lines)
    }

    fn new(command: &'static str, shown: Shown) -> Progress {
        let lines = matches!(shown, Shown::Lines);
        let progress = Progress(Arc::new(Inner {
            command,
            shown,
            phase: Mutex::new(Phase {
                name: String::new(),
                total: None,
                unit: "",
                started: Instant::now(),
            }),
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            wake: Condvar::new(),
        }));
        if lines {
            let inner = Arc::downgrade(&progress.0);
            // The line every LINE_EVERY: from a thread of its own, since the work itself may
            // sit in one long SQLite statement. It ends with the last clone or at `finish`.
            let _ = std::thread::Builder::new()
                .name("parlor-progress".into())
                .spawn(move || loop {
                    let Some(inner) = inner.upgrade() else { return };
                    let phase = inner.lock();
                    let (phase, _) = inner
                        .wake
                        .wait_timeout(phase, LINE_EVERY)
                        .unwrap_or_else(|e| e.into_inner());
                    if inner.finished.load(Ordering::Acquire) {
                        return;
                    }
                    let phase = phase.clone();
                    inner.line(&phase, false);
                });
        }
        progress
    }

    /// Starts a phase: `name` ("checking users"), how many `unit`s it has when known.
    pub fn phase(&self, name: impl Into<String>, total: Option<u64>, unit: &'static str) {
        let phase = Phase {
            name: name.into(),
            total,
            unit,
            started: Instant::now(),
        };
        match &self.0.shown {
            Shown::Bar(bar) => {
                let style = match total {
                    Some(_) => ProgressStyle::with_template(
                        "{spinner} {prefix} {msg} [{bar:30}] {human_pos}/{human_len} {per_sec} \
                         {elapsed}, {eta} left",
                    ),
                    None => ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}"),
                };
                if let Ok(style) = style {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(phase.name.clone());
                bar.reset();
                match total {
                    Some(total) => bar.set_length(total),
                    None => bar.unset_length(),
                }
                // Redrawn while nothing moves it too (one long SQLite statement): its spinner
                // and elapsed time show it is alive. From the first phase on, not before.
                bar.enable_steady_tick(TICK_EVERY);
            }
            Shown::Lines => {
                // The phase that ends says how far it got and how long it took.
                let ended = self.0.lock().clone();
                self.0.line(&ended, true);
                self.0.done.store(0, Ordering::Release);
                self.0.line(&phase, false);
            }
            Shown::Hidden => {}
        }
        self.0.done.store(0, Ordering::Release);
        *self.0.lock() = phase;
    }

    /// `n` more units of the phase done.
    pub fn inc(&self, n: u64) {
        self.0.done.fetch_add(n, Ordering::AcqRel);
        if let Shown::Bar(bar) = &self.0.shown {
            bar.inc(n);
        }
    }

    /// The work is over: the bar is cleared, the plain lines end with one saying how long the
    /// last phase took.
    pub fn finish(&self) {
        if self.0.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        match &self.0.shown {
            Shown::Bar(bar) => bar.finish_and_clear(),
            Shown::Lines => {
                let phase = self.0.lock().clone();
                self.0.line(&phase, true);
                self.0.wake.notify_all();
            }
            Shown::Hidden => {}
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Shown::Bar(bar) = &self.shown {
            bar.finish_and_clear();
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn line(&self, phase: &Phase, last: bool) {
        if phase.name.is_empty() {
            return;
        }
        let done = self.done.load(Ordering::Acquire);
        let text = line_text(self.command, phase, done, phase.started.elapsed(), last);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }
}

/// "load: writing messages, 420000/1000000 messages (42%), 31 s".
fn line_text(command: &str, phase: &Phase, done: u64, elapsed: Duration, last: bool) -> String {
    let count = match phase.total {
        Some(total) if total > 0 => format!(
            ", {done}/{total} {} ({}%)",
            phase.unit,
            done.saturating_mul(100) / total
        ),
        Some(_) => String::new(),
        None if done > 0 => format!(", {done} {}", phase.unit),
        None => String::new(),
    };
    let when = if last {
        format!(", done in {:.1} s", elapsed.as_secs_f64())
    } else {
        format!(", {} s", elapsed.as_secs())
    };
    format!("{command}: {}{count}{when}", phase.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_says_the_phase_how_far_and_how_long() {
        let phase = Phase {
            name: "writing messages".into(),
            total: Some(1_000_000),
            unit: "messages",
            started: Instant::now(),
        };
        assert_eq!(
            line_text(
                "load",
                &phase,
                420_000,
                Duration::from_millis(31_400),
                false
            ),
            "load: writing messages, 420000/1000000 messages (42%), 31 s"
        );
        assert_eq!(
            line_text(
                "load",
                &phase,
                1_000_000,
                Duration::from_millis(75_250),
                true
            ),
            "load: writing messages, 1000000/1000000 messages (100%), done in 75.2 s"
        );
        let open = Phase {
            total: None,
            name: "file structure".into(),
            unit: "",
            started: Instant::now(),
        };
        assert_eq!(
            line_text("check", &open, 0, Duration::from_secs(12), false),
            "check: file structure, 12 s"
        );
    }
}

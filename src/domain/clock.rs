//! The one source of "now". Tests and stand-in users can freeze it, set it, and move it.
//!
//! A clock is either frozen at one instant or running: the system clock plus an offset (zero
//! unless someone set or advanced it). Clones share their state, so the server's clock, every
//! sandbox's service and the control plane's `/__parlor/clock` all read and move the same one.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// `State::frozen` when the clock is running.
const RUNNING: Millis = i64::MIN;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    /// The frozen instant, or `RUNNING`.
    frozen: AtomicI64,
    /// Added to the system clock while running.
    offset: AtomicI64,
    /// Changes take it so that two of them never interleave (reads never take it: `now_ms` is
    /// on every write's path).
    changing: Mutex<()>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            frozen: AtomicI64::new(RUNNING),
            offset: AtomicI64::new(0),
            changing: Mutex::new(()),
        }
    }
}

/// What the clock reads and how it moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub now: Millis,
    pub frozen: bool,
    /// How far a running clock is from the system clock (0 when frozen).
    pub offset: Millis,
}

fn system_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn frozen_at(ms: Millis) -> Self {
        let clock = Self::default();
        clock.freeze(ms);
        clock
    }

    pub fn now_ms(&self) -> Millis {
        match self.state.frozen.load(Ordering::Acquire) {
            RUNNING => system_ms().saturating_add(self.state.offset.load(Ordering::Acquire)),
            ms => ms,
        }
    }

    pub fn reading(&self) -> Reading {
        let _change = self.change();
        let frozen = self.state.frozen.load(Ordering::Acquire) != RUNNING;
        Reading {
            now: self.now_ms(),
            frozen,
            offset: if frozen {
                0
            } else {
                self.state.offset.load(Ordering::Acquire)
            },
        }
    }

    fn change(&self) -> std::sync::MutexGuard<'_, ()> {
        // Nothing panics while holding it; a poisoned lock guards nothing broken.
        self.state
            .changing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Freezes the clock at `ms`; every later `now_ms` returns it until changed.
    pub fn freeze(&self, ms: Millis) {
        let _change = self.change();
        self.state.offset.store(0, Ordering::Release);
        self.state
            .frozen
            .store(ms.max(RUNNING + 1), Ordering::Release);
    }

    /// Freezes the clock at what it reads now.
    pub fn freeze_now(&self) {
        let _change = self.change();
        let now = self.now_ms();
        self.state.offset.store(0, Ordering::Release);
        self.state.frozen.store(now, Ordering::Release);
    }

    /// Lets the clock run from `ms` on (the system clock plus the difference).
    pub fn run_from(&self, ms: Millis) {
        let _change = self.change();
        self.state
            .offset
            .store(ms.saturating_sub(system_ms()), Ordering::Release);
        self.state.frozen.store(RUNNING, Ordering::Release);
    }

    /// Lets a frozen clock run again from the instant it was frozen at; a running clock is left
    /// alone.
    pub fn resume(&self) {
        let _change = self.change();
        let frozen = self.state.frozen.load(Ordering::Acquire);
        if frozen != RUNNING {
            self.state
                .offset
                .store(frozen.saturating_sub(system_ms()), Ordering::Release);
            self.state.frozen.store(RUNNING, Ordering::Release);
        }
    }

    /// Moves the clock by `by` milliseconds: a frozen one stays frozen at the later instant, a
    /// running one keeps running that far ahead.
    pub fn advance(&self, by: Millis) {
        let _change = self.change();
        let frozen = self.state.frozen.load(Ordering::Acquire);
        if frozen == RUNNING {
            let offset = self.state.offset.load(Ordering::Acquire);
            self.state
                .offset
                .store(offset.saturating_add(by), Ordering::Release);
        } else {
            self.state.frozen.store(
                frozen.saturating_add(by).max(RUNNING + 1),
                Ordering::Release,
            );
        }
    }

    /// Back to the system clock, unfrozen and without an offset.
    pub fn unfreeze(&self) {
        let _change = self.change();
        self.state.frozen.store(RUNNING, Ordering::Release);
        self.state.offset.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = 1_762_300_800_000;

    #[test]
    fn frozen_clocks_move_only_when_told_and_clones_share_them() {
        let clock = Clock::frozen_at(T);
        let sandbox = clock.clone();
        assert_eq!(sandbox.now_ms(), T);
        clock.advance(90_000);
        assert_eq!(sandbox.now_ms(), T + 90_000);
        assert!(sandbox.reading().frozen);
        sandbox.freeze(T - 1);
        assert_eq!(clock.now_ms(), T - 1);
    }

    #[test]
    fn a_running_clock_keeps_its_offset_until_unfrozen() {
        let clock = Clock::system();
        clock.run_from(T);
        let read = clock.reading();
        assert!(!read.frozen);
        assert!(read.now >= T && read.now < T + 60_000, "{read:?}");
        clock.advance(3_600_000);
        assert!(clock.now_ms() >= T + 3_600_000);
        clock.freeze_now();
        let frozen = clock.now_ms();
        assert!(frozen >= T + 3_600_000 && clock.reading().frozen);
        clock.resume();
        assert!(clock.now_ms() >= frozen && !clock.reading().frozen);
        clock.unfreeze();
        assert_eq!(clock.reading().offset, 0);
        assert!(!clock.reading().frozen);
    }
}

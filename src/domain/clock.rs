//! The one source of "now". Tests and stand-in users can freeze or set it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// 0 means "follow the system clock"; anything else is the frozen time.
    frozen: Arc<AtomicI64>,
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
        match self.frozen.load(Ordering::Relaxed) {
            0 => chrono::Utc::now().timestamp_millis(),
            ms => ms,
        }
    }

    /// Freeze the clock at `ms`; every later `now_ms` returns it until changed.
    pub fn freeze(&self, ms: Millis) {
        self.frozen.store(ms.max(1), Ordering::Relaxed);
    }

    pub fn unfreeze(&self) {
        self.frozen.store(0, Ordering::Relaxed);
    }
}

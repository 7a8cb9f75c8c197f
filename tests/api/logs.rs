//! What the servers in this test process log, so that a test can count the lines about its
//! own database (each test's database path is unique).

use std::io::Write;
use std::sync::{Mutex, Once};

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing warnings and errors (once per process; later calls do nothing).
pub fn capture() {
    INSTALL.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
}

/// How many captured lines contain every one of `parts`.
pub fn count(parts: &[&str]) -> usize {
    let text =
        String::from_utf8_lossy(&LINES.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .count()
}

//! Seeing the server run, on the real binary: its metrics (`metrics.rs`), its request log lines
//! (`request_logs.rs`), and how it is packaged (`packaging.rs`: `--version`, the systemd unit,
//! the Containerfile and its health check).
//!
//! Metrics and logs belong to a process (one recorder, one log), so these tests start
//! `parlor serve` as a process of its own rather than a server inside the test binary, where
//! every other test's requests would count too.

mod metrics;
mod packaging;
mod progress;
mod request_logs;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

/// `parlor serve --demo` in a process of its own.
pub struct Process {
    child: Child,
    pub base: String,
    /// Where `/metrics` is, when `metrics_bind` is set.
    pub metrics: Option<String>,
    stderr: std::thread::JoinHandle<String>,
    _dir: tempfile::TempDir,
}

impl Process {
    /// The demo on a fresh database, with `env` (settings, `RUST_LOG`), its banner on stdout
    /// read until it says where it listens.
    pub fn demo(env: &[(&str, &str)]) -> Process {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_parlor"));
        command
            .arg("--db")
            .arg(dir.path().join("parlor.db"))
            .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
            .env_remove("PARLOR_DB")
            // The binary's own default filter unless a test names one.
            .env_remove("RUST_LOG")
            .envs(env.iter().copied());
        let (child, stdout, stderr) = crate::shutdown::spawn(&mut command);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut base, mut metrics) = (None, None);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let after = |marker: &str| {
                    line.find(marker).map(|at| {
                        line[at + marker.len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_string()
                    })
                };
                base = base.or(after("listening on "));
                metrics = metrics.or(after("Metrics: "));
                // The banner's last line: everything it says is known.
                if line.starts_with("Press Ctrl-C") {
                    let _ = tx.send((base.take(), metrics.take()));
                }
            }
        });
        let (base, metrics) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server starts");
        let base = base.expect("the server says where it listens");
        assert_eq!(get(&format!("{base}/healthz")).0, 200);
        Process {
            child,
            base,
            metrics,
            stderr,
            _dir: dir,
        }
    }

    /// SIGTERM; everything the process wrote to standard error.
    pub fn stop(mut self) -> String {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let status = self.child.wait().expect("the server ends");
        let stderr = self.stderr.join().unwrap_or_default();
        assert!(status.success(), "{status:?}: {stderr}");
        stderr
    }
}

/// GET `url`: status and body.
pub fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// The repository's root (for deploy/).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

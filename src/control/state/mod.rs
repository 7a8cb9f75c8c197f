//! The stand-in's state (issue 15, "State"): the start state a reset returns to, named snapshots,
//! and sandboxes (a database per `X-Parlor-Sandbox` name).
//!
//! Every copy lives in a control directory beside the database, `<db>.stand-in/`, made afresh
//! at each start: `start.db` (the database as it was once the demo or fixture was loaded),
//! `snapshots/<name>.db`, `sandboxes/<name>.<n>.db`. Copies are taken with SQLite's backup API
//! (`store::snapshot`) and keep the database's encryption key.
//!
//! A reset or restore replaces the database under a running server. Each request to the faces or
//! the native API holds its app's `Gate` shared for its whole life, body included (`admit.rs`);
//! a restore takes it whole, so requests in flight finish first and none sees a half-restored
//! store. The copy itself runs on the writer thread, the one thing that writes.

mod admit;
mod gate;
pub mod sandboxes;
pub mod snapshots;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web;

use crate::app::App;
use crate::error::{Error, Result};
use crate::store::cipher::Key;
pub use admit::{Admission, InSandbox, SANDBOX_HEADER};
pub use gate::Gate;

/// The files of the control directory.
pub struct Files {
    dir: PathBuf,
}

impl Files {
    fn beside(db: &Path) -> Files {
        let mut dir = db.as_os_str().to_owned();
        dir.push(".stand-in");
        Files {
            dir: PathBuf::from(dir),
        }
    }

    pub fn start(&self) -> PathBuf {
        self.dir.join("start.db")
    }

    fn snapshots(&self) -> PathBuf {
        self.dir.join("snapshots")
    }

    pub fn snapshot(&self, name: &Name) -> PathBuf {
        self.snapshots().join(format!("{}.db", name.0))
    }

    fn sandboxes(&self) -> PathBuf {
        self.dir.join("sandboxes")
    }

    /// Made empty: what a previous run left is another run's state.
    fn make(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&self.dir, e)),
        }
        for dir in [self.snapshots(), self.sandboxes()] {
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        Ok(())
    }
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("{}: {e}", path.display()))
}

/// A snapshot's or a sandbox's name: 1 to 64 of `A-Z a-z 0-9 . _ -`, so that it is a file name
/// and fits in a header.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &str, text: &str) -> Result<Name> {
        let fits = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && text != "."
            && text != "..";
        if fits {
            Ok(Name(text.to_owned()))
        } else {
            Err(Error::invalid(
                field,
                "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The control plane's state part, shared by its routes and the admission middleware.
pub struct State {
    pub files: Files,
    key: Option<Key>,
    /// The server's own app (no sandbox).
    pub main: web::Data<App>,
    pub snapshots: snapshots::Catalog,
    pub sandboxes: sandboxes::Sandboxes,
}

impl State {
    /// Makes the control directory and copies the database as it is now to the start state.
    /// Called once the demo or fixture is loaded, before the server serves.
    pub async fn start(main: web::Data<App>) -> Result<Arc<State>> {
        let files = Files::beside(main.service.store.path());
        let store = main.service.store.clone();
        let start = files.start();
        let files = blocking(move || {
            files.make()?;
            store.copy_to(&start)?;
            Ok(files)
        })
        .await?;
        let cap = main.settings.stand_in_sandboxes;
        Ok(Arc::new(State {
            files,
            key: main.service.store.key().cloned(),
            main,
            snapshots: snapshots::Catalog::default(),
            sandboxes: sandboxes::Sandboxes::new(cap),
        }))
    }
}

/// File work off the actix workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("a file task failed: {e}")))?
}

/// Replaces `app`'s whole database with the copy at `src`: once every request holding the gate
/// has finished, and before any other is let in.
pub async fn restore(app: &App, src: PathBuf) -> Result<()> {
    let _alone = app.gate.close().await;
    app.service.store.restore_from(src).await
}

/// The state routes, inside the control plane's scope.
/// Reset, the snapshots and the sandboxes, for the control plane's table.
pub fn operations() -> Vec<crate::openapi::Op> {
    let mut ops = snapshots::operations();
    ops.extend(sandboxes::operations());
    ops
}

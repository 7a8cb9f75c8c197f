//! The gate between requests and a restore: requests share it, a restore holds it alone.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::Bytes;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// Held shared by every request to an app's store, and whole by a reset or restore of it.
/// tokio's lock is fair: once a restore waits, requests that arrive after it wait behind it,
/// so a steady stream of requests cannot keep it out.
#[derive(Clone, Default)]
pub struct Gate(Arc<RwLock<()>>);

/// A request's share of the gate.
pub type Pass = OwnedRwLockReadGuard<()>;

impl Gate {
    pub async fn enter(&self) -> Pass {
        self.0.clone().read_owned().await
    }

    /// Waits for every request inside to finish; none enters until the guard is dropped.
    pub async fn close(&self) -> OwnedRwLockWriteGuard<()> {
        self.0.clone().write_owned().await
    }
}

/// A response body that keeps its request's pass until the last byte is taken: a body produced
/// while it is sent (a patient's export) reads the store until then.
pub struct Held {
    pub body: BoxBody,
    pub _pass: Pass,
}

impl MessageBody for Held {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

//! One request as the middleware saw it, before masking: what the journal's thread stores.

use actix_web::http::header::HeaderMap;

use crate::domain::clock::Millis;

/// The first bytes of a body, and how long the whole body was.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    pub head: Vec<u8>,
    /// Every byte that passed, kept or not.
    pub size: u64,
}

impl Captured {
    /// Keeps what fits under `cap` of `chunk` and counts all of it.
    pub fn take(&mut self, chunk: &[u8], cap: usize) {
        self.size += chunk.len() as u64;
        let room = cap.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
    }

    pub fn truncated(&self) -> bool {
        self.size > self.head.len() as u64
    }
}

/// A route of a face near the path a request asked for, which no route matched.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct NearMiss {
    pub method: String,
    pub route: String,
    pub distance: f64,
}

#[derive(Debug, Default)]
pub struct Entry {
    pub at: Millis,
    /// The face's name, or "native".
    pub face: &'static str,
    pub tenant: Option<i64>,
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub path: String,
    pub query: String,
    pub version: &'static str,
    /// The route template that answered, when one matched.
    pub route: Option<String>,
    /// Kept as they came (values are shared, not copied); made text on the journal's thread.
    pub request_headers: HeaderMap,
    pub request_body: Captured,
    pub status: u16,
    pub response_headers: HeaderMap,
    pub response_body: Captured,
    pub duration_us: u64,
    pub sandbox: Option<String>,
    pub near_misses: Vec<NearMiss>,
}

impl Entry {
    /// Roughly the memory the entry holds while queued.
    pub fn weight(&self) -> usize {
        let headers: usize = self
            .request_headers
            .iter()
            .chain(&self.response_headers)
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        256 + self.path.len()
            + self.query.len()
            + headers
            + self.request_body.head.len()
            + self.response_body.head.len()
    }
}

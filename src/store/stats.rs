//! The store's state at one moment, for the metrics' gauges (`telemetry::exporter`).

use super::Store;

/// What the store is holding and waiting on now.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// Bytes in the `-wal` file (0 when there is none).
    pub wal_bytes: u64,
    /// Read connections open, and how many of them are idle.
    pub pool_connections: u32,
    pub pool_idle: u32,
    /// Reads waiting for a reader thread.
    pub reads_waiting: usize,
    /// Write commands submitted and not yet taken by the writer.
    pub writes_queued: u64,
}

impl Store {
    /// A stat of the WAL file, hence blocking: call it off the async workers.
    pub fn sample(&self) -> Sample {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let pool = self.pool.state();
        Sample {
            wal_bytes: std::fs::metadata(&wal).map_or(0, |m| m.len()),
            pool_connections: pool.connections,
            pool_idle: pool.idle_connections,
            reads_waiting: self.reads_waiting(),
            writes_queued: self.writer_stats().queued,
        }
    }
}

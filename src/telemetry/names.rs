//! Every metric Parlor exports: its name, what it means (the `# HELP` line) and, for a
//! histogram, its buckets. README "Monitoring" lists them for operators.

use metrics::Unit;

/// Requests answered, by `surface`, `route` (the route template, never the path), `method`
/// and `status` (the class: "2xx", "4xx", …).
pub const REQUESTS: &str = "parlor_http_requests_total";
/// Time from a request reaching the routes to its answer's head, same labels.
pub const REQUEST_SECONDS: &str = "parlor_http_request_duration_seconds";

/// Write commands per transaction of the writer (group commit).
pub const WRITER_BATCH: &str = "parlor_writer_batch_size";
/// Write commands run by the writer.
pub const WRITER_COMMANDS: &str = "parlor_writer_commands_total";
/// Transactions the writer ended, by `outcome` ("committed", "failed").
pub const WRITER_COMMITS: &str = "parlor_writer_commits_total";
/// How long each COMMIT took: writing the WAL frames and the fsync.
pub const WRITER_COMMIT_SECONDS: &str = "parlor_writer_commit_seconds";
/// Write commands submitted and not yet taken by the writer (at the scrape).
pub const WRITER_QUEUE: &str = "parlor_writer_queue_depth";
/// Size of the database's write-ahead log file, in bytes (at the scrape).
pub const WAL_BYTES: &str = "parlor_wal_bytes";
/// The read pool's connections, by `state` ("in_use", "idle") (at the scrape).
pub const READ_POOL: &str = "parlor_read_pool_connections";
/// Reads waiting for a reader thread (at the scrape); past `read_queue_depth` they get 503.
pub const READ_QUEUE: &str = "parlor_read_queue_depth";
/// Event streams (`GET /parlor/v1/events`) open now.
pub const EVENT_STREAMS: &str = "parlor_event_streams_open";
/// Webhook delivery attempts by `outcome`: "delivered" (2xx), "retrying" (failed, another
/// attempt is scheduled), "failed" (failed, retries used up), "gone" (410: the endpoint is
/// disabled), "captured" (a capture endpoint: recorded, not sent).
pub const WEBHOOK_ATTEMPTS: &str = "parlor_webhook_attempts_total";
/// Always 1, labelled with the `version` and `commit` running.
pub const BUILD_INFO: &str = "parlor_build_info";
/// Recorded by the scheduled backups (`backup` module); only their buckets are set here.
pub const BACKUP_SECONDS: &str = "parlor_backup_duration_seconds";

/// Request latencies: 0.5 ms (a list served from the page cache) to 10 s.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Commit times: 50 µs (no fsync) to a second (a disk in trouble).
pub const COMMIT_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Commands per commit, up to `max_batch`'s default and beyond.
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// Backups: a second to an hour.
pub const BACKUP_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// The `# HELP` lines (and units) of the metrics above.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        REQUESTS,
        "Requests answered, by surface, route template, method and status class"
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Time to answer a request (to the answer's head), by surface, route template, method and status class"
    );
    describe_histogram!(
        WRITER_BATCH,
        Unit::Count,
        "Write commands per writer transaction (group commit)"
    );
    describe_counter!(WRITER_COMMANDS, "Write commands run by the writer");
    describe_counter!(WRITER_COMMITS, "Writer transactions ended, by outcome");
    describe_histogram!(
        WRITER_COMMIT_SECONDS,
        Unit::Seconds,
        "Time of each COMMIT of the writer (WAL write and fsync)"
    );
    describe_gauge!(WRITER_QUEUE, "Write commands waiting for the writer");
    describe_gauge!(WAL_BYTES, Unit::Bytes, "Size of the write-ahead log file");
    describe_gauge!(READ_POOL, "Read connections, by state (in_use, idle)");
    describe_gauge!(READ_QUEUE, "Reads waiting for a reader thread");
    describe_gauge!(EVENT_STREAMS, "Event streams open");
    describe_counter!(WEBHOOK_ATTEMPTS, "Webhook delivery attempts, by outcome");
    describe_gauge!(BUILD_INFO, "The version and commit running (always 1)");
}

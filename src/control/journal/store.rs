//! The journal's own SQLite file and the one thread that owns it.
//!
//! The file is not the clinic's database: it is a scratch file beside it, started afresh with
//! each run of the server (a run's journal is what that run was sent), written with
//! `synchronous = OFF` and an in-memory rollback journal. SQL lives here rather than in
//! `src/store/` because nothing of the store's (its writer, its pool, its invariants about the
//! main file) applies to it. Its size is held by `max_page_count`: SQLite refuses to grow the
//! file past `journal_max_bytes`, and the oldest rows are removed before that happens.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OptionalExtension};
use tokio::sync::oneshot;

use super::entry::Entry;
use super::filter::{Filter, PathMatch, StatusMatch};
use super::stored::{Doc, Stored};
use super::Bounds;
use crate::error::{Error, Result};

/// Commands taken from the queue before a batch is written.
const BATCH: usize = 512;
/// Large pages: a recorded body spans fewer overflow pages, written with fewer system calls.
const PAGE_SIZE: u64 = 16 * 1024;
/// How long the thread leaves the queue alone after writing a batch.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

pub enum Command {
    Record(Box<Entry>),
    Page(Filter, u32, oneshot::Sender<Reply>),
    Get(i64, oneshot::Sender<Reply>),
    Count(Filter, oneshot::Sender<Reply>),
    Clear(oneshot::Sender<Reply>),
}

pub type Reply = Result<Answer>;

pub enum Answer {
    Rows(Vec<Row>),
    Count(u64),
}

/// One stored entry.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: i64,
    pub at: i64,
    pub face: String,
    pub tenant: Option<i64>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub sandbox: Option<String>,
    pub duration_us: i64,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub doc: Doc,
}

const SCHEMA: &str = "
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    face TEXT NOT NULL,
    tenant INTEGER,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    status INTEGER NOT NULL,
    sandbox TEXT,
    duration_us INTEGER NOT NULL,
    request_body TEXT,
    response_body TEXT,
    doc TEXT NOT NULL
);";

const COLUMNS: &str = "id, at, face, tenant, method, path, query, status, sandbox, duration_us, \
                       request_body, response_body, doc";

/// Opens a fresh journal file at `path` and starts its thread on `rx`.
pub fn spawn(
    path: &Path,
    bounds: Bounds,
    rx: Receiver<Command>,
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
) -> Result<()> {
    let conn = open(path, bounds)?;
    let mut writer = Writer {
        conn,
        bounds,
        rows: 0,
        unchecked: 0,
        queued,
        dropped,
    };
    std::thread::Builder::new()
        .name("journal".into())
        .spawn(move || writer.run(rx))
        .map_err(|e| Error::internal(format!("cannot start the journal's thread: {e}")))?;
    Ok(())
}

fn open(path: &Path, bounds: Bounds) -> Result<Connection> {
    let failed = |e: &dyn std::fmt::Display| {
        Error::internal(format!(
            "the journal {} cannot be opened: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
    }
    for stale in [path.to_path_buf(), path.with_extension("db-journal")] {
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(&e)),
        }
    }
    let conn = Connection::open(path).map_err(|e| failed(&e))?;
    conn.execute_batch(&format!(
        "PRAGMA page_size = {PAGE_SIZE};
         PRAGMA journal_mode = MEMORY;
         PRAGMA synchronous = OFF;
         PRAGMA max_page_count = {};
         {SCHEMA}",
        (bounds.max_bytes / PAGE_SIZE).max(1)
    ))
    .map_err(|e| failed(&e))?;
    Ok(conn)
}

struct Writer {
    conn: Connection,
    bounds: Bounds,
    /// Rows in the table, kept here rather than counted.
    rows: u64,
    /// Bytes inserted since the file's size was last read.
    unchecked: u64,
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicU64>,
}

/// A database error as the routes report it: no SQLite text reaches a client.
fn failed(e: rusqlite::Error) -> Error {
    tracing::error!("journal: {e}");
    Error::internal("the journal could not be read or written")
}

impl Writer {
    fn run(&mut self, rx: Receiver<Command>) {
        let mut batch = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut commands = vec![first];
            while commands.len() < BATCH {
                match rx.try_recv() {
                    Ok(c) => commands.push(c),
                    Err(_) => break,
                }
            }
            for command in commands {
                match command {
                    Command::Record(entry) => batch.push(*entry),
                    // A question sees every entry queued before it.
                    other => {
                        self.write(&mut batch);
                        self.answer(other);
                    }
                }
            }
            self.write(&mut batch);
            // Not waiting on the queue for a moment lets requests queue their entries without
            // waking this thread each time (a wake-up is a system call on the request's
            // worker); a question waits at most this long more.
            std::thread::sleep(LINGER);
        }
    }

    fn answer(&mut self, command: Command) {
        match command {
            Command::Record(_) => {}
            Command::Page(filter, limit, reply) => {
                let _ = reply.send(self.page(&filter, limit).map(Answer::Rows));
            }
            Command::Get(id, reply) => {
                let _ = reply.send(self.get(id).map(|r| Answer::Rows(r.into_iter().collect())));
            }
            Command::Count(filter, reply) => {
                let _ = reply.send(self.count(&filter).map(Answer::Count));
            }
            Command::Clear(reply) => {
                let _ = reply.send(self.clear().map(Answer::Count));
            }
        }
    }

    /// Writes `batch` in one transaction, trimming as it goes; empties it.
    fn write(&mut self, batch: &mut Vec<Entry>) {
        if batch.is_empty() {
            return;
        }
        let weight: usize = batch.iter().map(|e| e.weight()).sum();
        let entries = std::mem::take(batch);
        let written = self.insert_all(entries);
        self.queued.fetch_sub(weight, Ordering::Relaxed);
        if let Err(e) = written {
            tracing::error!("journal: a batch could not be written: {e}");
        }
    }

    fn insert_all(&mut self, entries: Vec<Entry>) -> rusqlite::Result<()> {
        let rows_before = self.rows;
        self.conn.prepare_cached("BEGIN")?.execute([])?;
        let outcome = (|| {
            let mut in_transaction = 0u64;
            for entry in entries {
                let stored = Stored::from(entry);
                match self.insert(&stored) {
                    Err(e) if e.sqlite_error_code() == Some(ErrorCode::DiskFull) => {
                        // Past max_page_count, between two checks of the file's size. SQLite
                        // may have rolled the whole transaction back: then what it held is
                        // lost (counted as dropped) and a new one starts.
                        self.resume(&mut in_transaction)?;
                        // Room by half the rows, and one more try.
                        self.remove_oldest(self.rows.div_ceil(2))?;
                        if self.insert(&stored).is_err() {
                            self.dropped.fetch_add(1, Ordering::Relaxed);
                            self.resume(&mut in_transaction)?;
                            continue;
                        }
                    }
                    other => other?,
                }
                in_transaction += 1;
                self.trim_rows()?;
                self.unchecked += stored.size();
                // The file's pages are read once per 1/32 of the bound, not at every insert.
                if self.unchecked > self.bounds.max_bytes / 32 {
                    self.trim_bytes()?;
                }
            }
            self.trim_bytes()
        })();
        match outcome {
            Ok(()) => self.conn.prepare_cached("COMMIT")?.execute([]).map(|_| ()),
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.rows = rows_before;
                Err(e)
            }
        }
    }

    /// After a failed insert: when SQLite rolled the whole transaction back, its entries are
    /// counted as dropped, the rows counted again, and a new transaction begun.
    fn resume(&mut self, in_transaction: &mut u64) -> rusqlite::Result<()> {
        if !self.conn.is_autocommit() {
            return Ok(());
        }
        self.dropped.fetch_add(*in_transaction, Ordering::Relaxed);
        *in_transaction = 0;
        self.rows = self
            .conn
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))?
            .max(0) as u64;
        self.conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(())
    }

    fn insert(&mut self, s: &Stored) -> rusqlite::Result<()> {
        let doc = serde_json::to_string(&s.doc).unwrap_or_else(|_| "{}".into());
        self.conn
            .prepare_cached(
                "INSERT INTO entries (at, face, tenant, method, path, query, status, sandbox, \
                 duration_us, request_body, response_body, doc) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                s.at,
                s.face,
                s.tenant,
                s.method,
                s.path,
                s.query,
                s.status,
                s.sandbox,
                s.duration_us,
                s.request_body,
                s.response_body,
                doc
            ])?;
        self.rows += 1;
        Ok(())
    }

    /// Keeps the rows under `journal_max_rows`.
    fn trim_rows(&mut self) -> rusqlite::Result<()> {
        if self.rows > self.bounds.max_rows {
            self.remove_oldest(self.rows - self.bounds.max_rows)?;
        }
        Ok(())
    }

    /// Keeps the pages in use under seven eighths of `journal_max_bytes` (down to three
    /// quarters once past it, so that trimming happens in steps rather than at every insert).
    /// `max_page_count` is the hard stop between two checks.
    fn trim_bytes(&mut self) -> rusqlite::Result<()> {
        self.unchecked = 0;
        let used = self.used_bytes()?;
        let high = self.bounds.max_bytes / 8 * 7;
        if used > high && self.rows > 0 {
            let low = self.bounds.max_bytes / 4 * 3;
            let share = (used - low) as f64 / used as f64;
            let k = ((self.rows as f64 * share).ceil() as u64).clamp(1, self.rows);
            self.remove_oldest(k)?;
        }
        Ok(())
    }

    fn remove_oldest(&mut self, k: u64) -> rusqlite::Result<()> {
        if k == 0 || self.rows == 0 {
            return Ok(());
        }
        let removed = self
            .conn
            .prepare_cached(
                "DELETE FROM entries WHERE id <= \
                 (SELECT id FROM entries ORDER BY id LIMIT 1 OFFSET ?1)",
            )?
            .execute([k.min(self.rows) as i64 - 1])?;
        self.rows = self.rows.saturating_sub(removed as u64);
        Ok(())
    }

    /// The bytes of the file's pages that hold data.
    fn used_bytes(&self) -> rusqlite::Result<u64> {
        let pages = self
            .conn
            .prepare_cached("PRAGMA page_count")?
            .query_row([], |r| r.get::<_, i64>(0))?
            .max(0) as u64;
        let free = self
            .conn
            .prepare_cached("PRAGMA freelist_count")?
            .query_row([], |r| r.get::<_, i64>(0))?
            .max(0) as u64;
        Ok(pages.saturating_sub(free) * PAGE_SIZE)
    }

    fn page(&self, filter: &Filter, limit: u32) -> Result<Vec<Row>> {
        let (clause, args) = where_clause(filter);
        let order = if filter.after.is_some() {
            "ASC"
        } else {
            "DESC"
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM entries {clause} ORDER BY id {order} LIMIT {}",
            u64::from(limit) + 1
        );
        let mut stmt = self.conn.prepare(&sql).map_err(failed)?;
        let rows = stmt
            .query_map(params_from_iter(args), row)
            .map_err(failed)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)?;
        Ok(rows)
    }

    fn get(&self, id: i64) -> Result<Option<Row>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM entries WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(failed)
    }

    fn count(&self, filter: &Filter) -> Result<u64> {
        let (clause, args) = where_clause(filter);
        self.conn
            .query_row(
                &format!("SELECT COUNT(*) FROM entries {clause}"),
                params_from_iter(args),
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(failed)
    }

    fn clear(&mut self) -> Result<u64> {
        let removed = self
            .conn
            .execute("DELETE FROM entries", [])
            .map_err(failed)?;
        self.rows = 0;
        Ok(removed as u64)
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let doc: String = r.get(12)?;
    Ok(Row {
        id: r.get(0)?,
        at: r.get(1)?,
        face: r.get(2)?,
        tenant: r.get(3)?,
        method: r.get(4)?,
        path: r.get(5)?,
        query: r.get(6)?,
        status: r.get(7)?,
        sandbox: r.get(8)?,
        duration_us: r.get(9)?,
        request_body: r.get(10)?,
        response_body: r.get(11)?,
        doc: serde_json::from_str(&doc).unwrap_or_default(),
    })
}

fn where_clause(f: &Filter) -> (String, Vec<Value>) {
    let mut terms: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut term = |sql: &str, values: Vec<Value>| {
        let mut numbered = String::new();
        let mut values = values.into_iter();
        for (i, part) in sql.split('?').enumerate() {
            if i > 0 {
                if let Some(v) = values.next() {
                    args.push(v);
                }
                numbered.push_str(&format!("?{}", args.len()));
            }
            numbered.push_str(part);
        }
        terms.push(numbered);
    };
    if let Some(face) = &f.face {
        term("face = ?", vec![Value::Text(face.clone())]);
    }
    if let Some(tenant) = f.tenant {
        term("tenant = ?", vec![Value::Integer(tenant)]);
    }
    if let Some(method) = &f.method {
        term("method = ?", vec![Value::Text(method.clone())]);
    }
    match &f.path {
        Some(PathMatch::Exact(p)) => term("path = ?", vec![Value::Text(p.clone())]),
        Some(PathMatch::Glob(p)) => term("path GLOB ?", vec![Value::Text(p.clone())]),
        None => {}
    }
    match f.status {
        Some(StatusMatch::Is(s)) => term("status = ?", vec![Value::Integer(s.into())]),
        Some(StatusMatch::Class(c)) => term(
            "status BETWEEN ? AND ?",
            vec![
                Value::Integer(i64::from(c) * 100),
                Value::Integer(i64::from(c) * 100 + 99),
            ],
        ),
        None => {}
    }
    if let Some(since) = f.since {
        term("at >= ?", vec![Value::Integer(since)]);
    }
    if let Some(until) = f.until {
        term("at < ?", vec![Value::Integer(until)]);
    }
    if let Some(sandbox) = &f.sandbox {
        term("sandbox = ?", vec![Value::Text(sandbox.clone())]);
    }
    if let Some(body) = &f.body {
        term(
            "(instr(request_body, ?) > 0 OR instr(response_body, ?) > 0)",
            vec![Value::Text(body.clone()), Value::Text(body.clone())],
        );
    }
    if let Some(before) = f.before {
        term("id < ?", vec![Value::Integer(before)]);
    }
    if let Some(after) = f.after {
        term("id > ?", vec![Value::Integer(after)]);
    }
    if terms.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", terms.join(" AND ")), args)
    }
}

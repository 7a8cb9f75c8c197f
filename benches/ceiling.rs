//! The storage ceiling of the benchmark's operations: the SQL each one needs, run straight
//! through rusqlite on one connection of the seeded file, with no HTTP, no async runtime, no
//! pool and no JSON. What the server does per request beyond this is its own overhead, so
//! `benches/run.sh` (pinned mode) divides the server's rate by this one, measured on the same
//! core in the same run.
//!
//!   ceiling --db COPY.db list --token TOKEN [--limit 20]
//!   ceiling --db COPY.db send [--batch 64] [--senders 2000]
//!
//! `list` is the least a page of a user's conversations needs: in one read transaction, the
//! page (the server's own page query, off the `participants_user_activity` index), everyone in
//! the page's conversations in one statement, and the users not read before in another. The
//! caller's token and the members' users are read once, as the server keeps them in memory
//! (src/service/memo.rs).
//! `send` is group commit as the writer does it, without its per-command savepoints: BEGIN
//! IMMEDIATE, `batch` sends, the batch's messages into the search index, COMMIT under
//! `synchronous=FULL`, each send with the statements
//! `service::messages::send_in` runs (conversation, membership, next seq, insert, the
//! conversation's last message, everyone's read state and sort key). It writes: give it a copy.
//!
//! Each repetition runs `warmup` unmeasured operations, then a fixed number of measured ones;
//! the median repetition is reported on stdout as one `CEILING ...` line for pinned.sh to parse:
//! operations per second and µs per operation by the wall clock, and the thread's CPU µs per
//! operation (which other work on a loaded machine does not inflate).

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use rand::RngCore;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OpenFlags, OptionalExtension, Row};
use sha2::{Digest, Sha256};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(about = "Storage ceiling of the benchmark's list and send operations (no HTTP)")]
struct Args {
    /// The seeded database. `send` writes to it: give it a copy.
    #[arg(long)]
    db: PathBuf,
    /// Measured repetitions; the median one is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    #[command(subcommand)]
    op: Op,
}

#[derive(Subcommand)]
enum Op {
    /// One page of a user's conversations with all their members, as the bearer of `token`.
    List {
        /// The user's bearer token (seed.sh writes typical.token and big.token).
        #[arg(long)]
        token: String,
        /// Conversations per page (the native API's default is 20).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Measured pages per repetition.
        #[arg(long, default_value_t = 20_000)]
        iterations: usize,
        /// Unmeasured pages before each repetition.
        #[arg(long, default_value_t = 2_000)]
        warmup: usize,
    },
    /// Group-committed sends by the seeded senders in their conversations.
    Send {
        /// Sends per transaction.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Measured transactions per repetition.
        #[arg(long, default_value_t = 200)]
        commits: usize,
        /// Unmeasured transactions before each repetition.
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Senders are users 2..=senders+1 (seed.sh's SENDERS), as in send.lua's pairs.
        #[arg(long, default_value_t = 2_000)]
        senders: i64,
        /// The tenant whose conversations take the sends.
        #[arg(long, default_value_t = 1)]
        tenant: i64,
    },
}

// The pragmas and statement cache of the server's connections (src/store/mod.rs): the ceiling
// must read and write the file the way the server does, or the ratio means nothing.
const STATEMENT_CACHE: usize = 128;
const READER_PRAGMAS: &str =
    "PRAGMA query_only = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -2048;";
const WRITER_PRAGMAS: &str = "PRAGMA synchronous = FULL;
     PRAGMA foreign_keys = ON;
     PRAGMA busy_timeout = 5000;
     PRAGMA cache_size = -8192;
     PRAGMA temp_store = MEMORY;
     PRAGMA wal_autocheckpoint = 0;
     PRAGMA journal_size_limit = 67108864;";
/// The writer checkpoints between batches once the WAL holds this many frames (writer.rs).
const CHECKPOINT_FRAMES: i32 = 4096;

const USER_COLUMNS: &str = "u.id, u.uuid, u.oid, u.tenant_id, u.role, u.first_name, u.last_name, \
     u.display_name, u.prefix, u.gender, u.email, u.phone, u.avatar_url, u.specialty, \
     u.external_id, u.birthdate, u.username, u.password_hash IS NOT NULL, u.created_at, u.updated_at";
const USER_COLUMN_COUNT: usize = 20;
const CONVERSATION_COLUMNS: &str = "c.id, c.uuid, c.oid, c.tenant_id, c.name, c.status, \
     c.archived_at, c.locked, c.deleted, c.tag_type, c.tag_id, c.tag_info, c.metadata, c.flow_id, \
     c.agent_id, c.customer_id, c.created_by, c.last_seq, c.last_message_id, c.last_message_text, \
     c.last_message_at, c.last_sender_id, c.message_count, c.created_at, c.updated_at";
const CONVERSATION_COLUMN_COUNT: usize = 25;
const PARTICIPANT_COLUMNS: &str = "p.conversation_id, p.user_id, p.joined_at, p.unread_count, \
     p.last_read_at, p.last_read_seq, p.muted";
const PARTICIPANT_COLUMN_COUNT: usize = 7;

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("ceiling: {e}");
        std::process::exit(2);
    }
}

fn run(args: Args) -> Res<()> {
    if args.reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    if !args.db.exists() {
        return Err(format!("{} does not exist", args.db.display()).into());
    }
    let mut rates = Vec::with_capacity(args.reps);
    let (name, detail) = match args.op {
        Op::List {
            token,
            limit,
            iterations,
            warmup,
        } => {
            if limit == 0 || iterations == 0 {
                return Err("--limit and --iterations must be at least 1".into());
            }
            let conn = reader(&args.db)?;
            // The server resolves a caller from memory while nothing in the directory changes
            // (src/service/memo.rs): the token costs one statement per token, not per request.
            let (user, tenant) = caller(&conn, &token)?;
            // So are the users of a page's members (service::memo::People): each is read once.
            let mut known = std::collections::HashSet::new();
            let mut shape = (0, 0);
            for rep in 1..=args.reps {
                for _ in 0..warmup {
                    list_once(&conn, user, tenant, limit, &mut known)?;
                }
                let start = Start::now();
                for _ in 0..iterations {
                    shape = list_once(&conn, user, tenant, limit, &mut known)?;
                }
                rates.push(report(rep, iterations, start));
            }
            ("list", format!("page={} members={}", shape.0, shape.1))
        }
        Op::Send {
            batch,
            commits,
            warmup,
            senders,
            tenant,
        } => {
            if batch == 0 || commits == 0 {
                return Err("--batch and --commits must be at least 1".into());
            }
            let conn = writer(&args.db)?;
            let pairs = send_pairs(&conn, tenant, senders)?;
            let mut next = 0usize;
            for rep in 1..=args.reps {
                for _ in 0..warmup {
                    commit_batch(&conn, tenant, &pairs, &mut next, batch)?;
                }
                let start = Start::now();
                for _ in 0..commits {
                    commit_batch(&conn, tenant, &pairs, &mut next, batch)?;
                }
                rates.push(report(rep, commits * batch, start));
            }
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            ("send", format!("batch={batch} synchronous=full"))
        }
    };
    let runs: Vec<String> = rates.iter().map(|r| format!("{:.1}", r.per_s)).collect();
    rates.sort_by(|a, b| a.per_s.total_cmp(&b.per_s));
    let median = &rates[rates.len() / 2];
    println!(
        "CEILING op={name} ops_per_s={:.1} us_per_op={:.2} cpu_us_per_op={} reps={} runs={} {detail}",
        median.per_s,
        1e6 / median.per_s,
        median.cpu_us.map_or("-".to_string(), |c| format!("{c:.2}")),
        rates.len(),
        runs.join(",")
    );
    Ok(())
}

/// When a repetition started: the wall clock and this thread's CPU time.
struct Start {
    wall: Instant,
    cpu_ns: Option<u64>,
}

impl Start {
    fn now() -> Start {
        Start {
            wall: Instant::now(),
            cpu_ns: thread_cpu_ns(),
        }
    }
}

/// This thread's CPU time in nanoseconds (the first field of its schedstat), where Linux
/// tells it. On a machine others load too, the wall-clock rate drops but this does not.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One repetition's result: operations per second (wall clock) and CPU microseconds per
/// operation (None where schedstat is missing).
struct Rate {
    per_s: f64,
    cpu_us: Option<f64>,
}

/// Prints one repetition's rate to stderr and returns it.
fn report(rep: usize, ops: usize, start: Start) -> Rate {
    let secs = start.wall.elapsed().as_secs_f64();
    let per_s = ops as f64 / secs;
    let cpu_us = match (start.cpu_ns, thread_cpu_ns()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e3 / ops as f64),
        _ => None,
    };
    eprintln!(
        "rep {rep}: {ops} ops in {secs:.3} s: {per_s:.1} ops/s, {:.2} us/op, cpu {} us/op",
        1e6 / per_s,
        cpu_us.map_or("?".to_string(), |c| format!("{c:.2}"))
    );
    Rate { per_s, cpu_us }
}

fn reader(path: &std::path::Path) -> Res<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(READER_PRAGMAS)?;
    Ok(conn)
}

fn writer(path: &std::path::Path) -> Res<Connection> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("cannot switch to WAL (got {mode})").into());
    }
    conn.execute_batch(WRITER_PRAGMAS)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.wal_hook(Some(note_wal_size));
    Ok(conn)
}

/// Every column of `row` from `from` on, owned: the server turns each row into owned structs,
/// so the ceiling pays for the copies too.
fn owned(row: &Row, from: usize, count: usize) -> rusqlite::Result<Vec<Value>> {
    (from..from + count)
        .map(|i| row.get::<_, Value>(i))
        .collect()
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(n) => Some(*n),
        _ => None,
    }
}

/// The user and tenant of `token`, which must be live.
fn caller(conn: &Connection, token: &str) -> Res<(i64, i64)> {
    let digest = Sha256::digest(token.as_bytes());
    let caller = conn
        .prepare_cached(&format!(
            "SELECT t.token_hash, t.revoked_at, t.expires_at, t.abilities, t.label, {USER_COLUMNS}
             FROM tokens t JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
             WHERE t.token_hash = ?1"
        ))?
        .query_row([&digest[..]], |r| owned(r, 0, 5 + USER_COLUMN_COUNT))
        .optional()?
        .ok_or("the token is not in the database")?;
    let now = now_ms();
    let live = caller[0] == Value::Blob(digest.to_vec())
        && caller[1] == Value::Null
        && int(&caller[2]).is_none_or(|at| at > now);
    if !live {
        return Err("the token is revoked or expired".into());
    }
    match (int(&caller[5]), int(&caller[8])) {
        (Some(u), Some(t)) => Ok((u, t)),
        _ => Err("the token's user row is malformed".into()),
    }
}

/// The `?first, …` parameters of an `IN` list of the server's fixed size (store::IN_CHUNK).
const IN_CHUNK: usize = 32;

fn in_marks(first: usize) -> String {
    (first..first + IN_CHUNK)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One page as `user`: returns (conversations on the page, member rows). Users in `known`
/// are not read again.
fn list_once(
    conn: &Connection,
    user: i64,
    tenant: i64,
    limit: u32,
    known: &mut std::collections::HashSet<i64>,
) -> Res<(usize, usize)> {
    // One read transaction, as `Store::read` opens around a request's statements.
    conn.prepare_cached("BEGIN")?.execute([])?;

    // The server's page query (participants::list_for_user), one row more to know if there is
    // a next page.
    let page: Vec<Vec<Value>> = conn
        .prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS}, {PARTICIPANT_COLUMNS}
             FROM participants p JOIN conversations c ON c.id = p.conversation_id
             WHERE p.user_id = ?1 AND (p.sort_at, p.conversation_id) < (?2, ?3) AND c.deleted = 0
             ORDER BY p.sort_at DESC, p.conversation_id DESC LIMIT {}",
            limit + 1
        ))?
        .query_map(params![user, i64::MAX, i64::MAX], |r| {
            owned(r, 0, CONVERSATION_COLUMN_COUNT + PARTICIPANT_COLUMN_COUNT)
        })?
        .collect::<rusqlite::Result<_>>()?;
    let ids: Vec<i64> = page
        .iter()
        .take(limit as usize)
        .filter_map(|row| int(&row[0]))
        .collect();
    if ids.is_empty() {
        conn.prepare_cached("ROLLBACK")?.execute([])?;
        return Ok((0, 0));
    }

    // Everyone in the page's conversations (participants::of_conversations), then each of
    // their users once (users::by_ids), IN_CHUNK ids per statement as the server binds them.
    let mut members: Vec<Vec<Value>> = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let bound = (0..IN_CHUNK).map(|i| chunk.get(i).copied());
        members.extend(
            conn.prepare_cached(&format!(
                "SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.conversation_id IN ({})",
                in_marks(1)
            ))?
            .query_map(params_from_iter(bound), |r| {
                owned(r, 0, PARTICIPANT_COLUMN_COUNT)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
    }
    let mut people: Vec<i64> = members.iter().filter_map(|m| int(&m[1])).collect();
    people.sort_unstable();
    people.dedup();
    people.retain(|id| !known.contains(id));
    let mut users: Vec<Vec<Value>> = Vec::new();
    for chunk in people.chunks(IN_CHUNK) {
        let bound =
            std::iter::once(Some(tenant)).chain((0..IN_CHUNK).map(|i| chunk.get(i).copied()));
        users.extend(
            conn.prepare_cached(&format!(
                "SELECT {} FROM users WHERE id IN ({}) AND +tenant_id = ?1",
                USER_COLUMNS.replace("u.", ""),
                in_marks(2)
            ))?
            .query_map(params_from_iter(bound), |r| owned(r, 0, USER_COLUMN_COUNT))?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        );
    }
    conn.prepare_cached("ROLLBACK")?.execute([])?;
    if users.len() != people.len() {
        return Err("a member's user is missing".into());
    }
    known.extend(people);
    Ok((ids.len(), members.len()))
}

/// Every (conversation, sender) pair a seeded sender may post to, spread like send.lua's.
fn send_pairs(conn: &Connection, tenant: i64, senders: i64) -> Res<Vec<(i64, i64)>> {
    let pairs: Vec<(i64, i64)> = conn
        .prepare(
            "SELECT p.conversation_id, p.user_id FROM participants p
             JOIN conversations c ON c.id = p.conversation_id
             WHERE c.tenant_id = ?1 AND c.deleted = 0 AND c.locked = 0
               AND p.user_id BETWEEN 2 AND ?2 + 1
             ORDER BY (p.conversation_id * 7919) % 100003, p.conversation_id",
        )?
        .query_map(params![tenant, senders], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if pairs.is_empty() {
        return Err(format!(
            "no conversation of tenant {tenant} has a sender 2..={}",
            senders + 1
        )
        .into());
    }
    Ok(pairs)
}

static WAL_FRAMES: AtomicI32 = AtomicI32::new(0);

fn note_wal_size(_: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.store(frames, Ordering::Relaxed);
    Ok(())
}

/// One group commit of `batch` sends, then the writer's checkpoint when the WAL is large.
fn commit_batch(
    conn: &Connection,
    tenant: i64,
    pairs: &[(i64, i64)],
    next: &mut usize,
    batch: usize,
) -> Res<()> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    for _ in 0..batch {
        let (conv, sender) = pairs[*next % pairs.len()];
        *next += 1;
        send_once(conn, tenant, conv, sender)?;
    }
    // As the writer: the batch's messages, which the insert trigger noted, into the search index.
    parlor::store::message_search::index_pending(conn)?;
    conn.prepare_cached("COMMIT")?.execute([])?;
    if WAL_FRAMES.load(Ordering::Relaxed) >= CHECKPOINT_FRAMES {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0))?;
        WAL_FRAMES.store(0, Ordering::Relaxed);
    }
    Ok(())
}

/// The statements of one send (service::messages::send_in and read_state::on_sent).
fn send_once(conn: &Connection, tenant: i64, conv: i64, sender: i64) -> Res<()> {
    let now = now_ms();
    let conversation = conn
        .prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations c
             WHERE c.id = ?1 AND c.tenant_id = ?2 AND c.deleted = 0"
        ))?
        .query_row(params![conv, tenant], |r| {
            owned(r, 0, CONVERSATION_COLUMN_COUNT)
        })
        .optional()?
        .ok_or("a send pair's conversation is gone")?;
    if conversation[7] != Value::Integer(0) {
        return Err("a send pair's conversation is locked".into());
    }
    conn.prepare_cached(&format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM participants p WHERE p.conversation_id = ?1 AND p.user_id = ?2"
    ))?
    .query_row(params![conv, sender], |r| owned(r, 0, PARTICIPANT_COLUMN_COUNT))
    .optional()?
    .ok_or("a send pair's sender is not a participant")?;
    let seq: i64 = conn
        .prepare_cached(
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
        )?
        .query_row([conv], |r| r.get(0))?;
    let body = "bench: running ten minutes late, sorry!";
    conn.prepare_cached(
        "INSERT INTO messages (id, uuid, oid, tenant_id, conversation_id, seq, sender_id,
             recipient_id, body, kind, subject, reply_to_id, status, metadata, attachments, device,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?
    .execute(params![
        None::<i64>,
        uuid::Uuid::now_v7().to_string(),
        new_oid(now),
        tenant,
        conv,
        seq,
        sender,
        None::<i64>,
        body,
        "text",
        None::<String>,
        None::<i64>,
        None::<String>,
        "{}",
        "[]",
        None::<String>,
        now,
        now
    ])?;
    let message = conn.last_insert_rowid();
    conn.prepare_cached(
        "UPDATE conversations SET last_message_id = ?2, last_message_text = ?3, last_message_at = ?4,
             last_sender_id = ?5, message_count = message_count + 1, updated_at = MAX(updated_at, ?4)
         WHERE id = ?1",
    )?
    .execute(params![conv, message, body, now, sender])?;
    conn.prepare_cached(
        "UPDATE participants SET
             unread_count = CASE WHEN user_id = ?2 THEN 0 ELSE unread_count + 1 END,
             last_read_seq = CASE WHEN user_id = ?2 THEN MAX(last_read_seq, ?3) ELSE last_read_seq END,
             last_read_at = CASE WHEN user_id = ?2 THEN ?4 ELSE last_read_at END,
             sort_at = ?4
         WHERE conversation_id = ?1",
    )?
    .execute(params![conv, sender, seq, now])?;
    conn.prepare_cached(
        "DELETE FROM message_reads WHERE conversation_id = ?1 AND user_id = ?2 AND seq <= ?3",
    )?
    .execute(params![conv, sender, seq])?;
    Ok(())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// An ObjectId-like key as Parlor makes them: 4 bytes of Unix seconds, 8 random bytes, in hex.
fn new_oid(now_ms: i64) -> String {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&((now_ms / 1000) as u32).to_be_bytes());
    rand::thread_rng().fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

//! Is the database sound? The verifications `parlor check` runs (the file's structure, the
//! links between records, then the unread badges), and the time-bounded quick check the server
//! runs before it serves.
//!
//! Each verification is one `Step`. A capability that keeps data of its own that can go wrong
//! (a search index, an audit chain) adds its step to `STEPS`; `parlor check` runs and reports
//! them all.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::cipher::{self, Key};
use super::message_search;
use super::participants::{self, Drift};
use crate::error::{Error, Result, StorageFault};

/// How thoroughly the file's structure is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// `PRAGMA integrity_check`: every page, every index entry against its row.
    Full,
    /// `PRAGMA quick_check`: every page, without matching indexes to rows. For very large
    /// files, where the full check takes too long.
    Quick,
}

/// One verification: a name a clinic can read, and what it finds (empty: nothing wrong).
/// `derived`: it checks data kept from other data (badges, the search index), which `parlor
/// check --fix` recomputes; what it finds is no damage to the file, and later steps still run.
struct Step {
    name: &'static str,
    run: fn(&Connection, Depth) -> Found,
    derived: bool,
}

/// What a step found, or why it could not look.
type Found = std::result::Result<Vec<String>, Failure>;

enum Failure {
    Sqlite(rusqlite::Error),
    Parlor(Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sqlite(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Parlor(e)
    }
}

pub const UNREAD_COUNTS: &str = "unread counts";
pub const SEARCH_INDEX: &str = "search index";

const STEPS: &[Step] = &[
    Step {
        name: "file structure",
        run: structure,
        derived: false,
    },
    Step {
        name: "links between records",
        run: links,
        derived: false,
    },
    // Before the badges: damaged content is damage (restore a backup), a drifted badge is
    // fixable, and a step after one that found problems is not run.
    Step {
        name: ATTACHMENTS,
        run: attachment_content,
        derived: false,
    },
    Step {
        name: UNREAD_COUNTS,
        run: unread_counts,
        derived: true,
    },
    Step {
        name: SEARCH_INDEX,
        run: search_index,
        derived: true,
    },
];

pub const ATTACHMENTS: &str = "attachment content";

/// The problem reported for a file SQLite does not recognise at all.
pub const NOT_A_DATABASE: &str =
    "the file is not a SQLite database, or its first page (the header) is damaged";

/// What one step found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sound,
    Problems(Vec<String>),
    /// Stopped at the time limit before it could finish.
    Unfinished,
    /// Not run: an earlier step found the file damaged, and what this one would report on a
    /// damaged file means nothing.
    NotRun,
}

#[derive(Clone, Debug)]
pub struct StepReport {
    pub name: &'static str,
    pub outcome: Outcome,
    /// What it checks is derived from other data (see `Step`): its problems are no damage.
    pub derived: bool,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub steps: Vec<StepReport>,
}

impl Report {
    pub fn is_sound(&self) -> bool {
        self.steps.iter().all(|s| s.outcome == Outcome::Sound)
    }

    /// Every problem found, each prefixed with the step that found it.
    pub fn problems(&self) -> Vec<String> {
        self.steps
            .iter()
            .flat_map(|s| match &s.outcome {
                Outcome::Problems(p) => p.iter().map(|p| format!("{}: {p}", s.name)).collect(),
                _ => Vec::new(),
            })
            .collect()
    }
}

/// Runs every step on the file at `path` (which must exist), in order; once one finds the
/// file damaged the rest are not run. An encrypted file is read with `key`.
pub fn verify(path: &Path, depth: Depth, key: Option<&Key>) -> Result<Report> {
    verify_telling(path, depth, key, &|_| {})
}

/// `verify`, calling `starting` with each step's name as it starts (for a progress display).
pub fn verify_telling(
    path: &Path,
    depth: Depth,
    key: Option<&Key>,
    starting: &dyn Fn(&'static str),
) -> Result<Report> {
    cipher::fits(path, key)?;
    let conn = open(path, key)?;
    let mut steps = Vec::new();
    let mut damaged = false;
    for step in STEPS {
        let outcome = if damaged {
            Outcome::NotRun
        } else {
            starting(step.name);
            outcome((step.run)(&conn, depth))?
        };
        damaged |= !step.derived && matches!(outcome, Outcome::Problems(_));
        steps.push(StepReport {
            name: step.name,
            outcome,
            derived: step.derived,
        });
    }
    Ok(Report { steps })
}

/// The start-up check: the file's structure, quick, given at most `budget`. A large file may
/// not finish in time; the answer then says so and the caller decides.
pub fn quick_check_within(path: &Path, budget: Duration, key: Option<&Key>) -> Result<Outcome> {
    let conn = open(path, key)?;
    let deadline = Instant::now() + budget;
    conn.progress_handler(1_000, Some(move || Instant::now() >= deadline))?;
    let outcome = outcome(pragma_check(&conn, "quick_check").map_err(Failure::from))?;
    conn.progress_handler(0, None::<fn() -> bool>)?;
    Ok(outcome)
}

/// A connection for checking only. Read-write (with `query_only`), not read-only: a read-only
/// connection leaves `-wal` and `-shm` files behind, and a check must leave the directory as
/// it found it; when it is the file's last connection, closing it removes them.
fn open(path: &Path, key: Option<&Key>) -> Result<Connection> {
    let conn = cipher::open(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        key,
    )
    .map_err(|e| Error::internal(format!("cannot open {}: {e}", path.display())))?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

/// A step's result as an outcome: SQLite refusing the file is a finding, not a failure of the
/// check; running out of time is `Unfinished`; anything else (a locked file) is an error.
fn outcome(found: Found) -> Result<Outcome> {
    match found {
        Ok(problems) if problems.is_empty() => Ok(Outcome::Sound),
        Ok(problems) => Ok(Outcome::Problems(problems)),
        Err(Failure::Parlor(e)) if StorageFault::of(&e) == Some(StorageFault::Damaged) => {
            Ok(Outcome::Problems(vec![
                "part of the file cannot be read, so the check stopped there".into(),
            ]))
        }
        Err(Failure::Parlor(e)) => Err(e),
        Err(Failure::Sqlite(e)) => match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::OperationInterrupted) => Ok(Outcome::Unfinished),
            Some(rusqlite::ErrorCode::NotADatabase) => {
                Ok(Outcome::Problems(vec![NOT_A_DATABASE.into()]))
            }
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => Ok(Outcome::Problems(vec![format!(
                "part of the file cannot be read, so the check stopped there (SQLite: {e})"
            )])),
            _ => Err(Error::internal(format!("checking the file: {e}"))),
        },
    }
}

/// The most problems one step lists; a damaged file can have thousands, and the first few say
/// enough.
const MAX_PROBLEMS: usize = 20;

fn structure(conn: &Connection, depth: Depth) -> Found {
    if depth == Depth::Quick {
        return Ok(pragma_check(conn, "quick_check")?);
    }
    match pragma_check(conn, "integrity_check") {
        // The full check gives up at the first page it cannot parse, where the quick one,
        // which reads less, often still lists what is wrong: more for the report.
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            match pragma_check(conn, "quick_check") {
                Ok(problems) if !problems.is_empty() => Ok(problems),
                _ => Err(e.into()),
            }
        }
        found => Ok(found?),
    }
}

fn pragma_check(conn: &Connection, pragma: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA {pragma}({MAX_PROBLEMS})"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // One row may hold several lines, and a heading that says nothing here.
    Ok(rows
        .iter()
        .flat_map(|row| row.lines())
        .filter(|l| *l != "ok" && !l.starts_with("*** in database"))
        .map(str::to_string)
        .collect())
}

/// Rows that point at a row that does not exist (a message of a missing conversation, …),
/// one line per kind of broken link.
fn links(conn: &Connection, _: Depth) -> Found {
    let mut stmt = conn.prepare(
        "SELECT \"table\", parent, count(*), group_concat(rowid, ', ')
         FROM (SELECT * FROM pragma_foreign_key_check() LIMIT 100000)
         GROUP BY \"table\", parent ORDER BY \"table\", parent",
    )?;
    let found = stmt
        .query_map([], |r| {
            let (table, parent): (String, String) = (r.get(0)?, r.get(1)?);
            let (count, rowids): (i64, Option<String>) = (r.get(2)?, r.get(3)?);
            let mut rowids: Vec<&str> = rowids.as_deref().unwrap_or("").split(", ").collect();
            let more = rowids.len() > 5;
            rowids.truncate(5);
            Ok(format!(
                "{count} row(s) of {table} refer to {parent} that do not exist (rowid {}{})",
                rowids.join(", "),
                if more { ", …" } else { "" }
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

/// Every badge recounted from the messages (the read-state invariant), one line per pivot row
/// that disagrees, in the words `parlor check` has always used.
fn unread_counts(conn: &Connection, _: Depth) -> Found {
    let tx = conn.unchecked_transaction()?;
    // A file Parlor has not set up yet (empty) has no badges to recount.
    let set_up: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'participants')",
        [],
        |r| r.get(0),
    )?;
    if !set_up {
        return Ok(Vec::new());
    }
    let drift = participants::find_drift(&tx)?;
    Ok(drift.iter().map(describe_drift).collect())
}

/// The search index against the messages a search may find: row by row (none missing, none
/// left over), then, in a full check, FTS5's own check that every word of every message is
/// indexed as the message now reads.
fn search_index(conn: &Connection, depth: Depth) -> Found {
    if !message_search::exists(conn)? {
        return Ok(Vec::new());
    }
    let tx = conn.unchecked_transaction()?;
    let found = message_search::membership(&tx)?;
    drop(tx);
    let mut problems = Vec::new();
    let ids = |ids: &[i64]| {
        let shown: Vec<String> = ids.iter().map(i64::to_string).collect();
        shown.join(", ")
    };
    if found.missing.0 > 0 {
        problems.push(format!(
            "{} message(s) are missing from it (message {}{})",
            found.missing.0,
            ids(&found.missing.1),
            if found.missing.0 > 5 { ", …" } else { "" }
        ));
    }
    if found.stale.0 > 0 {
        problems.push(format!(
            "it still holds {} message(s) deleted or gone (message {}{})",
            found.stale.0,
            ids(&found.stale.1),
            if found.stale.0 > 5 { ", …" } else { "" }
        ));
    }
    if problems.is_empty() && depth == Depth::Full && !message_search::words_match(conn)? {
        problems.push("the words it holds do not match the messages' text".into());
    }
    Ok(problems)
}

fn describe_drift(d: &Drift) -> String {
    format!(
        "conversation {} user {}: stored {} unread, messages say {}",
        d.conversation_id.0, d.user_id.0, d.stored, d.actual
    )
}

/// Every finished file's content read back and checked, chunk by chunk and whole, against the
/// digests recorded at upload: one line per file that fails.
fn attachment_content(conn: &Connection, _: Depth) -> Found {
    let tx = conn.unchecked_transaction()?;
    let set_up: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'attachment_chunks')",
        [],
        |r| r.get(0),
    )?;
    if !set_up {
        return Ok(Vec::new());
    }
    let mut problems = Vec::new();
    let mut after = 0;
    loop {
        let page = super::attachments::ready_after(&tx, after, 100)?;
        let Some(last) = page.last() else {
            return Ok(problems);
        };
        after = last.0;
        for (id, uuid, sha) in page {
            if let Some(problem) = super::attachments::verify(&tx, id, &sha)? {
                problems.push(format!("file {uuid}: {problem}"));
                if problems.len() >= MAX_PROBLEMS {
                    return Ok(problems);
                }
            }
        }
    }
}

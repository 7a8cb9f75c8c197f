//! The audit trail's rows: appended with a hash chained to the previous row, read back in
//! pages, verified from the first row (or the anchor left by pruning) to the last.

use rusqlite::{params, Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};

use super::Cached;
use crate::audit::{Actor, Entry, Recorded};
use crate::domain::clock::Millis;
use crate::domain::TenantId;
use crate::error::Result;

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The roles whose users are the people a clinic's records are about (as against its
/// workforce): patients, and what the vendor faces call them (Trillet's customers, Respondent's
/// participants).
pub const PATIENT_ROLES: &str = "('patient', 'customer', 'participant')";

/// The last row of the chain (or the anchor, or the genesis): where the next row links.
pub fn head(conn: &Connection) -> Result<(i64, String)> {
    let last = conn
        .row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match last {
        Some(last) => Ok(last),
        None => anchor(conn),
    }
}

/// Where the chain starts: after the last pruned row, else at the genesis.
fn anchor(conn: &Connection) -> Result<(i64, String)> {
    Ok(conn
        .row("SELECT seq, hash FROM audit_anchor WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .unwrap_or((0, GENESIS.to_string())))
}

/// The columns of a row as they are stored, in the order the hash covers them.
struct Columns {
    seq: i64,
    at: Millis,
    tenant_id: Option<i64>,
    actor_kind: String,
    actor_id: Option<i64>,
    credential: Option<String>,
    surface: String,
    action: String,
    route: Option<String>,
    objects: String,
    patients: String,
    outcome: String,
    status: Option<i64>,
    client: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

impl Columns {
    fn of(seq: i64, e: &Entry) -> Columns {
        Columns {
            seq,
            at: e.at,
            tenant_id: e.tenant.map(|t| t.0),
            actor_kind: e.actor.kind().to_string(),
            actor_id: e.actor.id(),
            credential: e.credential.clone(),
            surface: e.surface.clone(),
            action: e.action.clone(),
            route: e.route.clone(),
            objects: serde_json::to_string(&e.objects).unwrap_or_else(|_| "[]".into()),
            patients: serde_json::to_string(&e.patients).unwrap_or_else(|_| "[]".into()),
            outcome: e.outcome.clone(),
            status: e.status.map(i64::from),
            client: e.client.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            detail: e.detail.clone(),
        }
    }

    fn read(r: &Row) -> rusqlite::Result<(Columns, String)> {
        Ok((
            Columns {
                seq: r.get(0)?,
                at: r.get(1)?,
                tenant_id: r.get(2)?,
                actor_kind: r.get(3)?,
                actor_id: r.get(4)?,
                credential: r.get(5)?,
                surface: r.get(6)?,
                action: r.get(7)?,
                route: r.get(8)?,
                objects: r.get(9)?,
                patients: r.get(10)?,
                outcome: r.get(11)?,
                status: r.get(12)?,
                client: r.get(13)?,
                user_agent: r.get(14)?,
                request_id: r.get(15)?,
                detail: r.get(16)?,
            },
            r.get(17)?,
        ))
    }

    /// The bytes the hash covers: every column, as a JSON array (an unambiguous encoding, with
    /// the JSON columns taken as the text they are stored as). Written straight from the
    /// columns: building a `serde_json::Value` first was most of an entry's cost.
    fn canonical(&self) -> String {
        let c = self;
        let fields = Canonical(
            c.seq,
            c.at,
            c.tenant_id,
            &c.actor_kind,
            c.actor_id,
            c.credential.as_deref(),
            &c.surface,
            &c.action,
            c.route.as_deref(),
            &c.objects,
            &c.patients,
            &c.outcome,
            c.status,
            c.client.as_deref(),
            c.user_agent.as_deref(),
            c.request_id.as_deref(),
            c.detail.as_deref(),
        );
        serde_json::to_string(&fields).unwrap_or_default()
    }

    fn entry(&self) -> Entry {
        Entry {
            at: self.at,
            tenant: self.tenant_id.map(TenantId),
            actor: Actor::from_parts(&self.actor_kind, self.actor_id),
            credential: self.credential.clone(),
            surface: self.surface.clone(),
            action: self.action.clone(),
            route: self.route.clone(),
            objects: serde_json::from_str(&self.objects).unwrap_or_default(),
            patients: serde_json::from_str(&self.patients).unwrap_or_default(),
            outcome: self.outcome.clone(),
            status: self.status.and_then(|s| u16::try_from(s).ok()),
            client: self.client.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            detail: self.detail.clone(),
            ..Entry::default()
        }
    }
}

/// A row's columns in hash order; a tuple struct is written as a JSON array.
#[derive(serde::Serialize)]
struct Canonical<'a>(
    i64,
    i64,
    Option<i64>,
    &'a str,
    Option<i64>,
    Option<&'a str>,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    &'a str,
    &'a str,
    Option<i64>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn link(previous: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

const COLUMNS: &str = "seq, at, tenant_id, actor_kind, actor_id, credential, surface, action, \
     route, objects, patients, outcome, status, client, user_agent, request_id, detail, hash";

/// Appends `entries` in order, each linked to the one before. Runs on the writer, inside the
/// transaction of the batch (or of the audited write) it belongs to.
pub fn append(conn: &Connection, entries: impl IntoIterator<Item = Entry>) -> Result<()> {
    let (mut seq, mut previous) = head(conn)?;
    for mut entry in entries {
        resolve_patients(conn, &mut entry)?;
        if entry.unlisted > 0 && entry.detail.is_none() {
            entry.detail =
                Some(serde_json::json!({ "records_not_listed": entry.unlisted }).to_string());
        }
        seq += 1;
        let columns = Columns::of(seq, &entry);
        let hash = link(&previous, &columns.canonical());
        let c = &columns;
        conn.exec(
            "INSERT INTO audit (seq, at, tenant_id, actor_kind, actor_id, credential, surface,
                action, route, objects, patients, outcome, status, client, user_agent,
                request_id, detail, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                c.seq,
                c.at,
                c.tenant_id,
                c.actor_kind,
                c.actor_id,
                c.credential,
                c.surface,
                c.action,
                c.route,
                c.objects,
                c.patients,
                c.outcome,
                c.status,
                c.client,
                c.user_agent,
                c.request_id,
                c.detail,
                hash
            ],
        )?;
        // One statement for all of them: a list names up to a page of patients.
        if !entry.patients.is_empty() {
            conn.exec(
                "INSERT OR IGNORE INTO audit_patients (patient_id, seq)
                 SELECT value, ?2 FROM json_each(?1)",
                params![c.patients, seq],
            )?;
        }
        previous = hash;
    }
    Ok(())
}

/// The patients among the members of the conversations an entry named without their members.
fn resolve_patients(conn: &Connection, entry: &mut Entry) -> Result<()> {
    for conversation in std::mem::take(&mut entry.unresolved) {
        // The roles of `PATIENT_ROLES`, written out: a fixed string is looked up in the
        // statement cache without building it first.
        let mut stmt = conn.prepare_cached(
            "SELECT p.user_id FROM participants p JOIN users u ON u.id = p.user_id
             WHERE p.conversation_id = ?1 AND u.role IN ('patient', 'customer', 'participant')",
        )?;
        let ids = stmt.query_map([conversation], |r| r.get::<_, i64>(0))?;
        for id in ids {
            entry.patients.insert(id?);
        }
    }
    Ok(())
}

/// Which entries to read.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub tenant: Option<TenantId>,
    pub actor: Option<Actor>,
    pub patient: Option<i64>,
    pub action: Option<String>,
    pub surface: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    /// Only entries before this sequence number (paging newest first).
    pub before: Option<i64>,
    /// Only entries after this sequence number (paging oldest first).
    pub after: Option<i64>,
}

/// Entries matching `filter`, newest first (or oldest first with `ascending`), at most `limit`.
pub fn page(
    conn: &Connection,
    filter: &Filter,
    ascending: bool,
    limit: usize,
) -> Result<Vec<Recorded>> {
    let mut sql = format!("SELECT {} FROM audit a WHERE 1 = 1", prefixed());
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(t) = filter.tenant {
        arg(&mut sql, " AND a.tenant_id = ?", t.0.into());
    }
    if let Some(actor) = &filter.actor {
        arg(
            &mut sql,
            " AND a.actor_kind = ?",
            actor.kind().to_string().into(),
        );
        if let Some(id) = actor.id() {
            arg(&mut sql, " AND a.actor_id = ?", id.into());
        }
    }
    if let Some(p) = filter.patient {
        arg(
            &mut sql,
            " AND a.seq IN (SELECT seq FROM audit_patients WHERE patient_id = ?)",
            p.into(),
        );
    }
    if let Some(action) = &filter.action {
        arg(&mut sql, " AND a.action = ?", action.clone().into());
    }
    if let Some(surface) = &filter.surface {
        arg(&mut sql, " AND a.surface = ?", surface.clone().into());
    }
    if let Some(outcome) = &filter.outcome {
        arg(&mut sql, " AND a.outcome = ?", outcome.clone().into());
    }
    if let Some(since) = filter.since {
        arg(&mut sql, " AND a.at >= ?", since.into());
    }
    if let Some(until) = filter.until {
        arg(&mut sql, " AND a.at < ?", until.into());
    }
    if let Some(before) = filter.before {
        arg(&mut sql, " AND a.seq < ?", before.into());
    }
    if let Some(after) = filter.after {
        arg(&mut sql, " AND a.seq > ?", after.into());
    }
    sql.push_str(if ascending {
        " ORDER BY a.seq ASC"
    } else {
        " ORDER BY a.seq DESC"
    });
    arg(&mut sql, " LIMIT ?", (limit as i64).into());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
        let (columns, hash) = Columns::read(r)?;
        Ok(Recorded {
            seq: columns.seq,
            entry: columns.entry(),
            hash,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn prefixed() -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("a.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every row links to the one before. `head` is the last row's sequence number and hash
    /// (the anchor's when the trail is empty).
    Intact { rows: u64, head: (i64, String) },
    /// The first row that does not link: its sequence number and what is wrong with it.
    Broken { seq: i64, problem: String },
}

/// Walks the chain from its anchor to its last row.
pub fn verify(conn: &Connection) -> Result<Verdict> {
    let (mut expected_seq, mut previous) = anchor(conn)?;
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY seq ASC"))?;
    let mut rows = stmt.query([])?;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        let (columns, hash) = Columns::read(row)?;
        expected_seq += 1;
        if columns.seq != expected_seq {
            let problem = if columns.seq == expected_seq + 1 {
                format!("entry {expected_seq} before it is missing (removed)")
            } else if columns.seq > expected_seq {
                format!(
                    "entries {expected_seq} to {} before it are missing (removed)",
                    columns.seq - 1
                )
            } else {
                "out of order".to_string()
            };
            return Ok(Verdict::Broken {
                seq: columns.seq,
                problem,
            });
        }
        if link(&previous, &columns.canonical()) != hash {
            return Ok(Verdict::Broken {
                seq: columns.seq,
                problem: "its contents do not match its hash (changed, or inserted in place of \
                          another entry)"
                    .into(),
            });
        }
        previous = hash;
        count += 1;
    }
    Ok(Verdict::Intact {
        rows: count,
        head: (expected_seq, previous),
    })
}

/// Removes up to `limit` of the oldest entries recorded before `before` (the trail's own
/// retention), leaving the last removed row as the anchor the chain resumes from. Returns how
/// many were removed: fewer than `limit` when none are left to remove.
pub fn prune(conn: &Connection, before: Millis, limit: u32) -> Result<u64> {
    let last: Option<(i64, String)> = conn
        .row(
            "SELECT seq, hash FROM audit
             WHERE seq <= (SELECT MAX(seq) FROM audit WHERE at < ?1)
             ORDER BY seq ASC LIMIT 1 OFFSET ?2 - 1",
            params![before, limit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let last = match last {
        Some(last) => Some(last),
        // Fewer than `limit` left: up to the last of them.
        None => conn
            .row(
                "SELECT seq, hash FROM audit
                 WHERE seq <= (SELECT MAX(seq) FROM audit WHERE at < ?1)
                 ORDER BY seq DESC LIMIT 1",
                [before],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
    };
    let Some((seq, hash)) = last else {
        return Ok(0);
    };
    conn.exec("DELETE FROM audit_patients WHERE seq <= ?1", [seq])?;
    let removed = conn.exec("DELETE FROM audit WHERE seq <= ?1", [seq])?;
    conn.exec(
        "INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        params![seq, hash],
    )?;
    Ok(removed as u64)
}

/// `f`, and when `entry` is given (an audited request's draft), the entry in the same
/// savepoint, with the records `f` noted on the writer thread: the entry commits with the write
/// or not at all, and a failing entry undoes the write.
pub(super) fn audited<T, F>(
    entry: Option<Entry>,
    f: F,
) -> impl FnOnce(&Connection) -> Result<T> + Send + 'static
where
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    move |c| {
        let Some(mut entry) = entry else {
            return f(c);
        };
        crate::audit::open_ledger();
        let out = f(c);
        let notes = crate::audit::close_ledger();
        let out = out?;
        crate::audit::apply(&mut entry, notes);
        entry.outcome = "ok".into();
        append(c, [entry])?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(n: i64) -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::schema::apply(&mut c).unwrap();
        let entries = (1..=n).map(|at| Entry {
            at,
            surface: "native".into(),
            action: "read".into(),
            outcome: "ok".into(),
            patients: [7].into(),
            ..Entry::default()
        });
        append(&c, entries).unwrap();
        c
    }

    fn rows(c: &Connection) -> u64 {
        match verify(c).unwrap() {
            Verdict::Intact { rows, .. } => rows,
            broken => panic!("{broken:?}"),
        }
    }

    #[test]
    fn pruning_in_batches_leaves_a_chain_that_verifies() {
        let c = trail(5);
        assert_eq!(rows(&c), 5);
        assert_eq!(prune(&c, 4, 2).unwrap(), 2);
        assert_eq!(rows(&c), 3);
        assert_eq!(prune(&c, 4, 2).unwrap(), 1);
        assert_eq!(rows(&c), 2);
        assert_eq!(prune(&c, 4, 2).unwrap(), 0);
        let patients: i64 = c
            .query_row("SELECT count(*) FROM audit_patients", [], |r| r.get(0))
            .unwrap();
        assert_eq!(patients, 2);
        // Appending after a prune links to the last row, as before.
        append(&c, [Entry::default()]).unwrap();
        assert_eq!(rows(&c), 3);
    }

    /// The encoding the hash covers is fixed: a change to it would make every stored trail
    /// fail `verify`.
    #[test]
    fn the_hashed_encoding_is_a_json_array_of_the_columns() {
        let e = Entry {
            at: 5,
            tenant: Some(TenantId(2)),
            actor: Actor::User(7),
            credential: Some("token:1".into()),
            surface: "native".into(),
            action: "read".into(),
            route: Some("GET /x \"y\"".into()),
            objects: vec![("conversation".into(), "9".into())],
            patients: [7].into(),
            outcome: "ok".into(),
            status: Some(200),
            ..Entry::default()
        };
        assert_eq!(
            Columns::of(3, &e).canonical(),
            r#"[3,5,2,"user",7,"token:1","native","read","GET /x \"y\"","[[\"conversation\",\"9\"]]","[7]","ok",200,null,null,null,null]"#
        );
    }

    #[test]
    fn verify_names_the_first_changed_or_missing_entry() {
        let c = trail(4);
        c.execute("UPDATE audit SET patients = '[8]' WHERE seq = 3", [])
            .unwrap();
        assert!(matches!(
            verify(&c).unwrap(),
            Verdict::Broken { seq: 3, .. }
        ));
        let c = trail(4);
        c.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
        match verify(&c).unwrap() {
            Verdict::Broken { seq, problem } => {
                assert_eq!(seq, 3);
                assert!(
                    problem.contains("entry 2 before it is missing"),
                    "{problem}"
                );
            }
            intact => panic!("{intact:?}"),
        }
    }
}

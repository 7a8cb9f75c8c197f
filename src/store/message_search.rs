//! Full-text search of message bodies: the FTS5 index `message_search` (schema.sql, the step
//! that creates it), which triggers keep in the transaction of every change to a message.
//! Queries are spelled here from a parsed `TextQuery`: words of letters and digits in double
//! quotes, operators Parlor chose, so no client text is ever FTS5 syntax.
//!
//! A search reads in one snapshot: where the newest `WINDOW` matches start (one pass in rowid
//! order, which needs no ranking), then a page of the matches from there by bm25, with a
//! snippet each. Ranking every match of a common word costs time in proportion to all of them
//! (about 1 µs a match at a million messages); a search that matches more says so
//! (`truncated`) and ranks the newest.

use rusqlite::{params, Connection};

use crate::audit;
use crate::domain::search::{Term, TextQuery};
use crate::domain::{ConversationId, MessageId, TenantId, UserId};
use crate::error::Result;

/// The most matches a search ranks: the newest this many (messages are numbered in the order
/// they were sent).
pub const WINDOW: i64 = 10_000;

/// How many words of the body a snippet shows around its matches.
const SNIPPET_WORDS: i64 = 16;

/// Where a search looks, besides the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Within {
    /// The whole tenant.
    Tenant,
    /// These conversations (a user's, when they are few enough to name in the query).
    Conversations(Vec<ConversationId>),
}

/// One message found, with its snippet: as `snippet()` wrote it (`open` and `close` around
/// each match), or as the service took it apart (`Hit::map_snippet`).
#[derive(Clone, Debug, PartialEq)]
pub struct Hit<S = String> {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender_id: UserId,
    pub sender_name: Option<String>,
    pub conversation_name: Option<String>,
    pub created_at: i64,
    pub snippet: S,
}

impl<S> Hit<S> {
    /// The same hit with its snippet in another form.
    pub fn map_snippet<T>(self, f: impl FnOnce(S) -> T) -> Hit<T> {
        Hit {
            message_id: self.message_id,
            conversation_id: self.conversation_id,
            seq: self.seq,
            sender_id: self.sender_id,
            sender_name: self.sender_name,
            conversation_name: self.conversation_name,
            created_at: self.created_at,
            snippet: f(self.snippet),
        }
    }
}

/// A page of hits, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// The search matched more than `WINDOW` messages: only the newest were ranked.
    pub truncated: bool,
}

/// The markers `snippet()` puts around each match, and the text it puts where it cut the body.
pub struct Marks<'a> {
    pub open: &'a str,
    pub close: &'a str,
    pub ellipsis: &'a str,
}

/// A word of the query in FTS5's syntax: a string in double quotes (a doubled quote inside),
/// `*` after it for a prefix.
fn quoted(words: &[String], prefix: bool) -> String {
    let mut out = String::with_capacity(words.iter().map(|w| w.len() + 1).sum::<usize>() + 3);
    out.push('"');
    out.push_str(&words.join(" ").replace('"', "\"\""));
    out.push('"');
    if prefix {
        out.push('*');
    }
    out
}

fn term(t: &Term) -> String {
    quoted(&t.words, t.prefix)
}

/// The private-use character that starts every scope word (schema.sql), which no query of
/// Parlor's makes from a client's text: `TextQuery` words hold letters and digits only.
const SCOPE_MARK: char = '\u{E000}';

fn scope_word(kind: char, id: i64) -> String {
    quoted(&[format!("{SCOPE_MARK}{kind}{id}")], false)
}

/// The FTS5 query for `q` within `tenant` and `within`: the body must match `q`, the scope
/// names the tenant or one of the conversations.
pub fn match_expression(q: &TextQuery, tenant: TenantId, within: &Within) -> String {
    format!(
        "{} AND {}",
        body_expression(q),
        scope_expression(tenant, within)
    )
}

/// The query that ranks a page. The tenant's scope word is left out: bm25 reads the whole
/// list of every word of its query to weigh it (for its IDF), and the tenant's lists every
/// message of the tenant (50 ms at a million messages, for nothing a join on the page's rows
/// does not check). A few conversations' words have short lists, and keep FTS5 to them.
fn ranking_expression(q: &TextQuery, tenant: TenantId, within: &Within) -> String {
    match within {
        Within::Tenant => body_expression(q),
        Within::Conversations(_) => match_expression(q, tenant, within),
    }
}

/// `q` as a query of the `body` column.
fn body_expression(q: &TextQuery) -> String {
    let all: Vec<String> = q
        .all
        .iter()
        .map(|group| {
            let either: Vec<String> = group.iter().map(term).collect();
            format!("({})", either.join(" OR "))
        })
        .collect();
    let mut body = all.join(" AND ");
    if !q.none.is_empty() {
        let none: Vec<String> = q.none.iter().map(term).collect();
        body = format!("({body}) NOT ({})", none.join(" OR "));
    }
    format!("{{body}} : ({body})")
}

/// The `scope` column's words for the tenant, or for each conversation, one of which must match.
fn scope_expression(tenant: TenantId, within: &Within) -> String {
    let scope = match within {
        Within::Tenant => scope_word('t', tenant.0),
        Within::Conversations(ids) => ids
            .iter()
            .map(|c| scope_word('c', c.0))
            .collect::<Vec<_>>()
            .join(" OR "),
    };
    format!("{{scope}} : ({scope})")
}

/// Up to `limit` of `user`'s live conversations in the tenant, for `Within::Conversations`.
pub fn conversations_of(
    conn: &Connection,
    tenant: TenantId,
    user: UserId,
    limit: u32,
) -> Result<Vec<ConversationId>> {
    let mut stmt = conn.prepare_cached(conversations_of_sql())?;
    let rows = stmt.query_map(params![user.0, tenant.0, limit], |r| {
        Ok(ConversationId(r.get(0)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Off the user's own memberships (CROSS JOIN fixes the order): left to itself, the planner
/// walked every live conversation of the tenant to find the user's ten.
pub(crate) fn conversations_of_sql() -> &'static str {
    "SELECT p.conversation_id FROM participants p CROSS JOIN conversations c ON c.id = p.conversation_id
     WHERE p.user_id = ?1 AND c.tenant_id = ?2 AND c.deleted = 0 LIMIT ?3"
}

/// The oldest message the ranking covers (the `window`-th newest match), and whether older
/// matches were left out; `(0, false)` when every match is ranked.
fn window_floor(conn: &Connection, expression: &str, window: i64) -> Result<(i64, bool)> {
    let mut stmt = conn.prepare_cached(window_sql())?;
    let rows: Vec<i64> = stmt
        .query_map(params![expression, window.max(1) - 1], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match rows.as_slice() {
        [floor, ..] => (*floor, rows.len() > 1),
        [] => (0, false),
    })
}

pub(crate) fn window_sql() -> &'static str {
    "SELECT rowid FROM message_search WHERE message_search MATCH ?1
     ORDER BY rowid DESC LIMIT 2 OFFSET ?2"
}

/// The page of a search: FTS5 orders by rank (it ranks within the window and keeps each match's
/// positions, so only the page's rows get a snippet); the joins read the page's rows by primary
/// key and keep to the tenant, live rows and, with `?6`, the conversations `?6` belongs to.
pub(crate) fn page_sql() -> &'static str {
    "SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.created_at,
            snippet(message_search, 0, ?4, ?5, ?9, ?10), u.display_name, c.name
     FROM message_search
     CROSS JOIN messages m ON m.id = message_search.rowid
     CROSS JOIN conversations c ON c.id = m.conversation_id
     LEFT JOIN users u ON u.id = m.sender_id
     WHERE message_search MATCH ?1 AND message_search.rowid >= ?2
       AND m.tenant_id = ?3 AND m.deleted_at IS NULL AND c.tenant_id = ?3 AND c.deleted = 0
       AND (?6 IS NULL OR EXISTS (SELECT 1 FROM participants p
                                  WHERE p.conversation_id = m.conversation_id AND p.user_id = ?6))
     ORDER BY message_search.rank
     LIMIT ?7 OFFSET ?8"
}

/// Up to `limit` hits of `q`, best first, after the first `offset`: messages of `tenant`
/// within `within`, and with `member`, only of conversations they take part in; ranked among
/// the newest `window` matches (`WINDOW`). Each hit is noted for the audit trail.
#[allow(clippy::too_many_arguments)]
pub fn search(
    conn: &Connection,
    tenant: TenantId,
    q: &TextQuery,
    within: &Within,
    member: Option<UserId>,
    marks: &Marks,
    window: i64,
    offset: i64,
    limit: u32,
) -> Result<Found> {
    if matches!(within, Within::Conversations(ids) if ids.is_empty()) {
        return Ok(Found {
            hits: Vec::new(),
            truncated: false,
        });
    }
    let (floor, truncated) = window_floor(conn, &match_expression(q, tenant, within), window)?;
    let mut stmt = conn.prepare_cached(page_sql())?;
    let rows = stmt.query_map(
        params![
            ranking_expression(q, tenant, within),
            floor,
            tenant.0,
            marks.open,
            marks.close,
            member.map(|u| u.0),
            limit,
            offset,
            marks.ellipsis,
            SNIPPET_WORDS
        ],
        |r| {
            Ok(Hit {
                message_id: MessageId(r.get(0)?),
                conversation_id: ConversationId(r.get(1)?),
                seq: r.get(2)?,
                sender_id: UserId(r.get(3)?),
                created_at: r.get(4)?,
                snippet: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                sender_name: r.get(6)?,
                conversation_name: r.get(7)?,
            })
        },
    )?;
    let hits: Vec<Hit> = rows.collect::<rusqlite::Result<_>>()?;
    for hit in &hits {
        audit::message(hit.message_id.0, hit.conversation_id.0);
    }
    Ok(Found { hits, truncated })
}

/// Indexes the messages noted since the last time (schema.sql, step 13: the insert trigger
/// notes each new message in `message_search_pending`), as a search may find them now: one
/// statement, so their words go into the index as one segment. The writer runs it just before
/// each commit, and the store once when it opens (rows a tool wrote with the sqlite3 shell).
/// Returns how many were noted.
pub fn index_pending(conn: &Connection) -> rusqlite::Result<usize> {
    let mut noted = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM message_search_pending)")?;
    if !noted.query_row([], |r| r.get::<_, bool>(0))? {
        return Ok(0);
    }
    conn.prepare_cached(
        "INSERT INTO message_search (rowid, body, scope)
         SELECT s.id, s.body, s.scope
         FROM message_search_pending p CROSS JOIN message_search_source s ON s.id = p.id
         ORDER BY p.id",
    )?
    .execute([])?;
    conn.prepare_cached("DELETE FROM message_search_pending")?
        .execute([])
}

/// Builds the index again from the messages (`parlor check --rebuild-search`); returns how many
/// messages it holds. Runs inside a write.
pub fn rebuild(conn: &Connection) -> Result<i64> {
    conn.execute_batch(
        "INSERT INTO message_search (message_search) VALUES ('rebuild');
         DELETE FROM message_search_pending;",
    )?;
    Ok(
        conn.query_row("SELECT count(*) FROM message_search_docsize", [], |r| {
            r.get(0)
        })?,
    )
}

/// Messages a search should find that the index lacks, and indexed messages it should not find
/// (deleted, or gone): how many of each, with a few ids.
pub struct Membership {
    pub missing: (i64, Vec<i64>),
    pub stale: (i64, Vec<i64>),
}

/// Compares the index's messages with those a search may find, row by row.
pub fn membership(conn: &Connection) -> rusqlite::Result<Membership> {
    let count_and_some = |sql: &str| -> rusqlite::Result<(i64, Vec<i64>)> {
        conn.query_row(sql, [], |r| {
            let ids: Option<String> = r.get(1)?;
            Ok((
                r.get(0)?,
                ids.unwrap_or_default()
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect(),
            ))
        })
    };
    Ok(Membership {
        missing: count_and_some(
            "SELECT count(*), (SELECT group_concat(id) FROM (
                 SELECT s.id FROM message_search_source s WHERE NOT EXISTS
                     (SELECT 1 FROM message_search_docsize d WHERE d.id = s.id) LIMIT 5))
             FROM message_search_source s
             WHERE NOT EXISTS (SELECT 1 FROM message_search_docsize d WHERE d.id = s.id)",
        )?,
        stale: count_and_some(
            "SELECT count(*), (SELECT group_concat(id) FROM (
                 SELECT d.id FROM message_search_docsize d WHERE NOT EXISTS
                     (SELECT 1 FROM message_search_source s WHERE s.id = d.id) LIMIT 5))
             FROM message_search_docsize d
             WHERE NOT EXISTS (SELECT 1 FROM message_search_source s WHERE s.id = d.id)",
        )?,
    })
}

/// FTS5's own check, including that every word of every message is indexed as it is now
/// (`integrity-check` with a rank of 1 compares with the content). It is an INSERT that writes
/// nothing, so it runs in a transaction it rolls back, with `query_only` lifted for it alone.
/// `Ok(false)`: the index does not match.
pub fn words_match(conn: &Connection) -> rusqlite::Result<bool> {
    let query_only: i64 = conn.query_row("PRAGMA query_only", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA query_only = OFF; BEGIN;")?;
    let checked = conn.execute(
        "INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)",
        [],
    );
    conn.execute_batch(&format!("ROLLBACK; PRAGMA query_only = {query_only};"))?;
    match checked {
        Ok(_) => Ok(true),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the file has the index (a file Parlor has not set up yet has none).
pub fn exists(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'message_search')",
        [],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Whatever a client types, what Parlor hands FTS5 is a query it accepts.
    #[test]
    fn every_query_parlor_makes_is_one_fts5_accepts() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE message_search USING fts5(body, scope,
                 tokenize = 'unicode61 remove_diacritics 2');
             INSERT INTO message_search (rowid, body, scope)
                 VALUES (1, 'knee \"pain\" OR NEAR', char(57344) || 't1 ' || char(57344) || 'c1');",
        )
        .unwrap();
        let piece = prop_oneof![
            Just("\"".to_string()),
            Just("OR".to_string()),
            Just("AND".to_string()),
            Just("NOT".to_string()),
            Just("NEAR(".to_string()),
            Just("-".to_string()),
            Just("*".to_string()),
            Just("^".to_string()),
            Just(":".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("{".to_string()),
            Just("\u{0}".to_string()),
            Just(" ".to_string()),
            Just("\u{E000}".to_string()),
            "[a-zé0-9]{1,5}",
            any::<char>().prop_map(|c| c.to_string()),
        ];
        let text = proptest::collection::vec(piece, 0..20).prop_map(|v| v.concat());
        let conversations = proptest::collection::vec(1i64..1000, 0..5);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 1000,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        runner
            .run(&(text, conversations), |(text, conversations)| {
                let Ok(q) = TextQuery::parse(&text) else {
                    return Ok(());
                };
                let within = if conversations.is_empty() {
                    Within::Tenant
                } else {
                    Within::Conversations(conversations.into_iter().map(ConversationId).collect())
                };
                let expression = match_expression(&q, TenantId(1), &within);
                let run = conn.query_row(
                    "SELECT count(*) FROM message_search WHERE message_search MATCH ?1",
                    [&expression],
                    |r| r.get::<_, i64>(0),
                );
                prop_assert!(run.is_ok(), "{text:?} -> {expression:?}: {run:?}");
                Ok(())
            })
            .unwrap();
    }

    /// A file at the latest schema with one tenant, a user and conversations 1 and 2, and
    /// message 1 ("old knee") in conversation 1, indexed.
    fn indexed_store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::apply(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants (id, uuid, name, created_at) VALUES (1, 't', 'T', 0);
             INSERT INTO users (id, uuid, oid, tenant_id, role, display_name, created_at, updated_at)
                 VALUES (1, 'u', 'o', 1, 'staff', 'U', 0, 0);
             INSERT INTO conversations (id, uuid, oid, tenant_id, created_at, updated_at)
                 VALUES (1, 'a', 'a', 1, 0, 0), (2, 'b', 'b', 1, 0, 0);",
        )
        .unwrap();
        send(&conn, 1, 1, "old knee");
        index_pending(&conn).unwrap();
        conn
    }

    fn send(conn: &Connection, id: i64, conversation: i64, body: &str) {
        conn.execute(
            "INSERT INTO messages (id, uuid, oid, tenant_id, conversation_id, seq, sender_id, body,
                                   created_at, updated_at)
             VALUES (?1, 'm' || ?1, 'm' || ?1, 1, ?2, ?1, 1, ?3, 0, 0)",
            params![id, conversation, body],
        )
        .unwrap();
    }

    fn found(conn: &Connection, word: &str) -> Vec<i64> {
        conn.prepare(
            "SELECT rowid FROM message_search WHERE message_search MATCH ?1 ORDER BY rowid",
        )
        .unwrap()
        .query_map([word], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// How many leaf pages FTS5 has written to the index: the write counter of its structure
    /// record (row 10 of `message_search_data`: a 4-byte cookie, with secure-delete a 4-byte
    /// version mark, then the number of levels, of segments and the counter, as SQLite varints).
    fn leaves_written(conn: &Connection) -> u64 {
        let record: Vec<u8> = conn
            .query_row(
                "SELECT block FROM message_search_data WHERE id = 10",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut at = if record[4..8] == [0xff, 0, 0, 1] {
            8
        } else {
            4
        };
        let mut varint = || {
            let mut value = 0u64;
            for i in 0..9 {
                let byte = record[at];
                at += 1;
                if i == 8 {
                    return (value << 8) | u64::from(byte);
                }
                value = (value << 7) | u64::from(byte & 0x7f);
                if byte & 0x80 == 0 {
                    break;
                }
            }
            value
        };
        let (_levels, _segments) = (varint(), varint());
        varint()
    }

    /// The writer's batch: each command in its own savepoint, then one commit. FTS5 writes out
    /// what it holds whenever a savepoint opens, so messages indexed by their own commands each
    /// wrote at least a leaf page of their own (and the merging that many small segments call
    /// for); indexed together before the commit, 64 short messages fill one or two.
    #[test]
    fn a_batch_of_sends_writes_its_words_to_the_index_once() {
        let conn = indexed_store();
        let before = leaves_written(&conn);
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        for id in 2..66 {
            conn.execute_batch("SAVEPOINT command").unwrap();
            send(&conn, id, 1, &format!("knee visit number{id}"));
            conn.execute_batch("RELEASE command").unwrap();
        }
        index_pending(&conn).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        let written = leaves_written(&conn) - before;
        assert!(written <= 2, "{written} leaf pages for one batch");
        assert_eq!(found(&conn, "knee").len(), 65);
        assert_eq!(found(&conn, "number40"), [40]);
    }

    /// Messages sent, edited and deleted in one batch, and conversations deleted and brought
    /// back in it: the index holds exactly what a search may find once it commits.
    #[test]
    fn changes_in_the_batch_of_a_send_leave_the_index_exact() {
        let conn = indexed_store();
        send(&conn, 9, 2, "elbow in the second conversation");
        index_pending(&conn).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        send(&conn, 2, 1, "knee draft");
        conn.execute("UPDATE messages SET body = 'knee final' WHERE id = 2", [])
            .unwrap();
        send(&conn, 3, 1, "knee withdrawn");
        conn.execute("UPDATE messages SET deleted_at = 1 WHERE id = 3", [])
            .unwrap();
        send(&conn, 4, 1, "knee erased");
        conn.execute("DELETE FROM messages WHERE id = 4", [])
            .unwrap();
        send(&conn, 5, 2, "knee in a conversation deleted and restored");
        send(&conn, 6, 1, "knee kept");
        conn.execute_batch(
            "UPDATE conversations SET deleted = 1 WHERE id = 2;
             UPDATE conversations SET deleted = 0 WHERE id = 2;
             UPDATE messages SET body = 'shoulder now' WHERE id = 1;",
        )
        .unwrap();
        index_pending(&conn).unwrap();
        conn.execute_batch("COMMIT").unwrap();

        assert_eq!(found(&conn, "knee"), [2, 5, 6]);
        assert_eq!(found(&conn, "draft"), Vec::<i64>::new());
        assert_eq!(found(&conn, "shoulder"), [1]);
        assert_eq!(found(&conn, "elbow"), [9]);
        assert!(words_match(&conn).unwrap());
        let membership = membership(&conn).unwrap();
        assert_eq!((membership.missing.0, membership.stale.0), (0, 0));
        let noted: i64 = conn
            .query_row("SELECT count(*) FROM message_search_pending", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(noted, 0);
    }

    #[test]
    fn the_expression_quotes_every_word_and_keeps_to_the_scope() {
        let q = TextQuery::parse(r#"mri OR "dolor de" -x-ray rx*"#).unwrap();
        assert_eq!(
            match_expression(&q, TenantId(3), &Within::Tenant),
            "{body} : (((\"mri\"* OR \"dolor de\") AND (\"rx\"*)) NOT (\"x ray\"*)) \
             AND {scope} : (\"\u{E000}t3\")"
        );
        let q = TextQuery::parse("knee").unwrap();
        assert_eq!(
            match_expression(
                &q,
                TenantId(1),
                &Within::Conversations(vec![ConversationId(4), ConversationId(9)])
            ),
            "{body} : ((\"knee\"*)) AND {scope} : (\"\u{E000}c4\" OR \"\u{E000}c9\")"
        );
    }
}

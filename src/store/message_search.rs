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

/// One message found, with its snippet as `snippet()` wrote it: `open` and `close` around
/// each match.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender_id: UserId,
    pub sender_name: Option<String>,
    pub conversation_name: Option<String>,
    pub created_at: i64,
    pub snippet: String,
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

/// Builds the index again from the messages (`parlor check --rebuild-search`); returns how many
/// messages it holds. Runs inside a write.
pub fn rebuild(conn: &Connection) -> Result<i64> {
    conn.execute(
        "INSERT INTO message_search (message_search) VALUES ('rebuild')",
        [],
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

//! Applies `schema.sql` and records the version in `PRAGMA user_version`. The file is the whole
//! schema in numbered steps (`-- step N:` starts step N; step 1 is what precedes step 2), so it
//! stays the one place to read the schema while older databases upgrade step by step. Shipped
//! steps never change.

use rusqlite::Connection;

use crate::error::{Error, Result};

const SCHEMA: &str = include_str!("../../schema.sql");

/// What starts a step after the first, followed by its number and a colon.
const MARKER: &str = "-- step ";

/// The steps of `schema.sql`: element N-1 brings the database from version N-1 to N.
fn steps() -> Result<Vec<&'static str>> {
    let mut steps = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in SCHEMA.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(MARKER) {
            let number = rest.split(':').next().unwrap_or_default().trim();
            if number.parse::<usize>().ok() != Some(steps.len() + 2) {
                return Err(Error::internal(format!(
                    "schema.sql: step {number} follows step {}",
                    steps.len() + 1
                )));
            }
            steps.push(&SCHEMA[start..offset]);
            start = offset;
        }
        offset += line.len();
    }
    steps.push(&SCHEMA[start..]);
    Ok(steps)
}

pub fn apply(conn: &mut Connection) -> Result<()> {
    let steps = steps()?;
    let latest = steps.len() as i64;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > latest {
        return Err(Error::internal(format!(
            "the database is at schema version {current}, newer than this parlor ({latest}); \
             upgrade parlor"
        )));
    }
    for (index, step) in steps.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::participants::NEVER_MESSAGED;

    #[test]
    fn steps_are_numbered_in_order_and_cover_the_whole_file() {
        let steps = steps().unwrap();
        assert!(steps.len() >= 2);
        assert_eq!(steps.concat(), SCHEMA);
        for (i, step) in steps.iter().enumerate().skip(1) {
            assert!(step.starts_with(&format!("{MARKER}{}:", i + 1)), "{step}");
        }
    }

    #[test]
    fn an_older_database_gets_only_the_steps_it_lacks() {
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = steps().unwrap();
        conn.execute_batch(steps[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        apply(&mut conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, steps.len() as i64);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'idempotency_keys'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 1);
        // Applying again changes nothing.
        apply(&mut conn).unwrap();
    }

    #[test]
    fn the_search_step_indexes_the_live_messages_already_there() -> Result<()> {
        let steps = steps()?;
        let search = steps
            .iter()
            .position(|s| s.contains("CREATE VIRTUAL TABLE message_search"))
            .expect("a step creates the search index");
        let mut conn = Connection::open_in_memory()?;
        for step in &steps[..search] {
            conn.execute_batch(step)?;
        }
        conn.pragma_update(None, "user_version", search as i64)?;
        conn.execute_batch(
            "INSERT INTO tenants (id, uuid, name, created_at) VALUES (1, 't', 'T', 0);
             INSERT INTO users (id, uuid, oid, tenant_id, role, display_name, created_at, updated_at)
                 VALUES (1, 'u', 'o', 1, 'staff', 'U', 0, 0);
             INSERT INTO conversations (id, uuid, oid, tenant_id, deleted, created_at, updated_at)
                 VALUES (1, 'a', 'a', 1, 0, 0, 0), (2, 'b', 'b', 1, 1, 0, 0);
             INSERT INTO messages (id, uuid, oid, tenant_id, conversation_id, seq, sender_id, body,
                                   created_at, updated_at, deleted_at)
                 VALUES (1, 'm1', 'm1', 1, 1, 1, 1, 'knee pain', 0, 0, NULL),
                        (2, 'm2', 'm2', 1, 1, 2, 1, 'knee deleted', 0, 0, 5),
                        (3, 'm3', 'm3', 1, 2, 1, 1, 'knee in a deleted conversation', 0, 0, NULL);",
        )?;
        apply(&mut conn)?;
        let found: Vec<i64> = conn
            .prepare("SELECT rowid FROM message_search WHERE message_search MATCH 'knee'")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(found, [1]);
        // Ranked on the body alone; a deleted message's words gone at once.
        let config: Vec<(String, String)> = conn
            .prepare(
                "SELECT k, CAST(v AS TEXT) FROM message_search_config WHERE k <> 'version'
                 ORDER BY k",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            config,
            [
                ("rank".to_string(), "bm25(1.0, 0.0)".to_string()),
                ("secure-delete".into(), "1".into()),
            ]
        );
        Ok(())
    }

    #[test]
    fn the_bundled_sqlite_has_fts5_with_its_unicode_tokenizer() -> Result<()> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2');
             INSERT INTO t VALUES ('Resonancia magnética');",
        )?;
        let n: i64 = conn.query_row(
            "SELECT count(*) FROM t WHERE t MATCH 'MAGNETICA'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(n, 1);
        Ok(())
    }

    #[test]
    fn step_three_moves_never_messaged_rows_by_the_same_amount_as_the_code() {
        assert!(SCHEMA.contains(&format!("c.created_at + {NEVER_MESSAGED}")));
    }

    #[test]
    fn a_version_one_database_gets_never_messaged_sort_keys_from_creation() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch(steps()?[0])?;
        conn.pragma_update(None, "user_version", 1)?;
        conn.execute_batch(
            "INSERT INTO tenants (id, uuid, name, created_at) VALUES (1, 't', 'T', 0);
             INSERT INTO users (id, uuid, oid, tenant_id, role, display_name, created_at, updated_at)
                 VALUES (1, 'u', 'o', 1, 'staff', 'U', 0, 0);
             INSERT INTO conversations (id, uuid, oid, tenant_id, created_at, updated_at)
                 VALUES (1, 'a', 'a', 1, 5000, 5000), (2, 'b', 'b', 1, 100, 100);
             UPDATE conversations SET last_message_at = 9000 WHERE id = 2;
             INSERT INTO participants (conversation_id, user_id, joined_at, sort_at)
                 VALUES (1, 1, 0, 0), (2, 1, 0, 9000);",
        )?;
        apply(&mut conn)?;
        let keys: Vec<i64> = conn
            .prepare("SELECT sort_at FROM participants ORDER BY conversation_id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(keys, [NEVER_MESSAGED + 5000, 9000]);
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(version, steps()?.len() as i64);
        Ok(())
    }
}

//! Applies `schema.sql` to a new database and records the version in `PRAGMA user_version`.
//! Later changes are appended to `STEPS` as numbered additive steps; shipped steps never change.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Step N (1-based) brings the database from version N-1 to N.
const STEPS: &[&str] = &[include_str!("../../schema.sql"), ACTIVITY_ORDER];

/// Step 2. Never-messaged conversations sort by creation, newest first: on their members' rows
/// after every messaged one (`participants::NEVER_MESSAGED` below every message time), and
/// across a tenant by `COALESCE(last message, creation)` (Respondent: starting a conversation
/// is activity), each off an index.
const ACTIVITY_ORDER: &str = "
UPDATE participants SET sort_at = (
    SELECT c.created_at + -4611686018427387904 FROM conversations c
    WHERE c.id = participants.conversation_id)
WHERE conversation_id IN (SELECT id FROM conversations WHERE last_message_at IS NULL);
CREATE INDEX conversations_tenant_recent
    ON conversations(tenant_id, COALESCE(last_message_at, created_at) DESC, id DESC);
";

pub const VERSION: i64 = STEPS.len() as i64;

pub fn apply(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(Error::internal(format!(
            "the database is at schema version {current}, newer than this parlor ({VERSION}); \
             upgrade parlor"
        )));
    }
    for (index, step) in STEPS.iter().enumerate().skip(current as usize) {
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
    fn step_two_moves_never_messaged_rows_by_the_same_amount_as_the_code() {
        assert!(ACTIVITY_ORDER.contains(&format!("c.created_at + {NEVER_MESSAGED}")));
    }

    #[test]
    fn a_version_one_database_gets_never_messaged_sort_keys_from_creation() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch(STEPS[0])?;
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
        assert_eq!(version, VERSION);
        Ok(())
    }
}

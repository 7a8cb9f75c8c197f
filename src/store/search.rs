//! The admin page's inbox search: a tenant's conversations with a participant whose name
//! matches, in the order and with the cursor of `conversations::list_for_tenant`.

use rusqlite::{params, Connection};

use super::conversations::{from_row, COLUMNS};
use crate::domain::{Conversation, TenantId};
use crate::error::Result;

/// A page of the tenant's live conversations by last activity, strictly after the
/// `(activity, id)` cursor, that have a participant whose display, first, last or user name
/// contains `text` (case-insensitively for ASCII; `%` and `_` match themselves).
pub fn search_for_tenant(
    conn: &Connection,
    tenant: TenantId,
    text: &str,
    before: Option<(i64, i64)>,
    limit: u32,
) -> Result<Vec<Conversation>> {
    let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
    let pattern = format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM conversations c
         WHERE c.tenant_id = ?1 AND c.deleted = 0
           AND (COALESCE(c.last_message_at, 0), c.id) < (?2, ?3)
           AND EXISTS (
               SELECT 1 FROM participants p JOIN users u ON u.id = p.user_id
               WHERE p.conversation_id = c.id
                 AND (u.display_name LIKE ?4 ESCAPE '\\' OR u.first_name LIKE ?4 ESCAPE '\\'
                      OR u.last_name LIKE ?4 ESCAPE '\\' OR u.username LIKE ?4 ESCAPE '\\'))
         ORDER BY COALESCE(c.last_message_at, 0) DESC, c.id DESC LIMIT {limit}"
    ))?;
    let rows = stmt.query_map(params![tenant.0, at, id, pattern], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

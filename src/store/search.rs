//! The inbox searches: conversations with a participant whose name matches. The admin page's
//! searches a tenant's, in the order and with the cursor of `conversations::list_for_tenant`;
//! the clinic's app searches a user's own, in the order and with the cursor of
//! `participants::list_for_user`.

use rusqlite::{params, Connection};

use super::conversations::{from_row, COLUMNS};
use super::participants;
use crate::domain::{Conversation, ConversationView, TenantId, UserId};
use crate::error::Result;

/// `text` as a LIKE pattern for "contains": `%` and `_` match themselves.
fn contains(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// The names of a user (aliased `u`) that the searches look at.
const NAMED_LIKE: &str = "(u.display_name LIKE ?4 ESCAPE '\\' OR u.first_name LIKE ?4 ESCAPE '\\'
      OR u.last_name LIKE ?4 ESCAPE '\\' OR u.username LIKE ?4 ESCAPE '\\')";

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
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM conversations c
         WHERE c.tenant_id = ?1 AND c.deleted = 0
           AND (COALESCE(c.last_message_at, 0), c.id) < (?2, ?3)
           AND EXISTS (
               SELECT 1 FROM participants p JOIN users u ON u.id = p.user_id
               WHERE p.conversation_id = c.id AND {NAMED_LIKE})
         ORDER BY COALESCE(c.last_message_at, 0) DESC, c.id DESC LIMIT {limit}"
    ))?;
    let rows = stmt.query_map(params![tenant.0, at, id, contains(text)], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A page of `user`'s live conversations, as `participants::list_for_user` lists them, that
/// have another participant whose display, first, last or user name contains `text`. It walks
/// the user's own activity index, so it reads the user's conversations and no one else's.
pub fn search_for_user(
    conn: &Connection,
    tenant: TenantId,
    user: UserId,
    text: &str,
    before: Option<(i64, i64)>,
    limit: u32,
) -> Result<Vec<ConversationView>> {
    let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
    let mut stmt = conn.prepare_cached(&search_for_user_sql(limit))?;
    let rows = stmt.query_map(params![user.0, at, id, contains(text), tenant.0], |r| {
        Ok(ConversationView {
            conversation: from_row(r)?,
            me: participants::from_row_at(r, super::conversations::COLUMN_COUNT)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The statement of `search_for_user` (its plan is checked with the hot reads').
pub(crate) fn search_for_user_sql(limit: u32) -> String {
    use super::conversations::COLUMNS as CONV;
    format!(
        "SELECT {CONV}, {MINE} FROM participants p JOIN conversations c ON c.id = p.conversation_id
         WHERE p.user_id = ?1 AND (p.sort_at, p.conversation_id) < (?2, ?3) AND c.deleted = 0
           AND c.tenant_id = ?5
           AND EXISTS (
               SELECT 1 FROM participants o JOIN users u ON u.id = o.user_id
               WHERE o.conversation_id = c.id AND o.user_id <> ?1 AND {NAMED_LIKE})
         ORDER BY p.sort_at DESC, p.conversation_id DESC LIMIT {limit}",
        MINE = participants::COLUMNS
    )
}

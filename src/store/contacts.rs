//! The people a user may find and start a conversation with (`GET /contacts`), by the rule of
//! `service/contacts.rs`: for a patient, the clinic's people (providers, staff, admins) they
//! share a conversation with or that the clinic listed as theirs (`contacts`, as MDLIVE reads
//! it); for anyone else, every other person of the tenant. Machine users (the assistant,
//! system users) are nobody's contact.

use rusqlite::{params, Connection};

use super::users::{self, prefixed};
use crate::domain::{TenantId, User, UserId};
use crate::error::Result;

/// Which contacts to read: a page of them, newest user first, optionally matching a name, or
/// only the one user `only` (to check a single id).
pub struct Query<'a> {
    pub me: UserId,
    pub patient: bool,
    pub name: Option<&'a str>,
    pub before: Option<i64>,
    pub only: Option<UserId>,
    pub limit: u32,
}

const PEOPLE: &str = "u.role NOT IN ('system', 'assistant')";
const CLINIC: &str = "u.role IN ('provider', 'staff', 'admin')";

fn sql(patient: bool) -> String {
    let cols = prefixed("u");
    let common = format!(
        "u.tenant_id = ?1 AND u.id <> ?2 AND u.id < ?3 AND {PEOPLE}
         AND (?4 IS NULL OR u.display_name LIKE ?4 ESCAPE '\\'
              OR u.first_name LIKE ?4 ESCAPE '\\' OR u.last_name LIKE ?4 ESCAPE '\\')
         AND (?5 IS NULL OR u.id = ?5)"
    );
    if patient {
        // Driven from the patient's own memberships, not the tenant's users.
        format!(
            "SELECT {cols} FROM users u WHERE u.id IN (
                 SELECT b.user_id FROM participants a
                 JOIN participants b ON b.conversation_id = a.conversation_id
                 WHERE a.user_id = ?2
                 UNION SELECT k.contact_id FROM contacts k WHERE k.user_id = ?2)
             AND {CLINIC} AND {common}
             ORDER BY u.id DESC LIMIT ?6"
        )
    } else {
        format!("SELECT {cols} FROM users u WHERE {common} ORDER BY u.id DESC LIMIT ?6")
    }
}

/// `%text%` for LIKE, with the pattern's own characters escaped.
fn pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub fn list(conn: &Connection, tenant: TenantId, q: &Query) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&sql(q.patient))?;
    let rows = stmt.query_map(
        params![
            tenant.0,
            q.me.0,
            q.before.unwrap_or(i64::MAX),
            q.name.map(pattern),
            q.only.map(|u| u.0),
            q.limit
        ],
        |r| users::from_row_at(r, 0),
    )?;
    let found: Vec<User> = rows.collect::<rusqlite::Result<_>>()?;
    for u in &found {
        crate::audit::user(u.id.0, u.role);
    }
    Ok(found)
}

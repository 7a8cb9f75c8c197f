use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;

use crate::domain::{TenantId, Token, UserId};
use crate::error::{Error, Result};

const COLUMNS: &str =
    "id, tenant_id, user_id, abilities, label, created_at, expires_at, revoked_at";

fn from_row(r: &Row) -> rusqlite::Result<Token> {
    let abilities: String = r.get(3)?;
    Ok(Token {
        id: r.get(0)?,
        tenant_id: r.get::<_, Option<i64>>(1)?.map(TenantId),
        user_id: r.get::<_, Option<i64>>(2)?.map(UserId),
        abilities: serde_json::from_str(&abilities).unwrap_or_default(),
        label: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

pub struct NewToken<'a> {
    pub hash: &'a [u8],
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub abilities: &'a [String],
    pub label: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

pub fn insert(conn: &Connection, t: &NewToken) -> Result<i64> {
    let abilities = serde_json::to_string(t.abilities).map_err(Error::internal)?;
    conn.exec(
        "INSERT INTO tokens (token_hash, tenant_id, user_id, abilities, label, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            t.hash,
            t.tenant_id.map(|t| t.0),
            t.user_id.map(|u| u.0),
            abilities,
            t.label,
            t.created_at,
            t.expires_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The token whose secret hashes to `hash`, revoked or not; the caller checks validity.
pub fn find_by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<(Token, Vec<u8>)>> {
    Ok(conn
        .row(find_by_hash_sql(), [hash], |r| {
            Ok((from_row(r)?, r.get(8)?))
        })
        .optional()?)
}

/// The statement of `find_by_hash`, which every authenticated request runs: cached, and its
/// text built once.
pub(crate) fn find_by_hash_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("SELECT {COLUMNS}, token_hash FROM tokens WHERE token_hash = ?1"))
}

pub fn list_for_user(conn: &Connection, user: UserId) -> Result<Vec<Token>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM tokens WHERE user_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([user.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Token> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("token"))
}

pub fn revoke(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.exec(
        "UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn count_server_admin(conn: &Connection) -> Result<i64> {
    Ok(conn.row(
        "SELECT count(*) FROM tokens WHERE user_id IS NULL AND tenant_id IS NULL AND revoked_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}

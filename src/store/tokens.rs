use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{users, Cached};

use crate::domain::{TenantId, Token, User, UserId};
use crate::error::{Error, Result};

const COLUMNS: &str =
    "id, tenant_id, user_id, abilities, label, created_at, expires_at, revoked_at";

fn from_row(r: &Row) -> rusqlite::Result<Token> {
    from_row_at(r, 0)
}

fn from_row_at(r: &Row, at: usize) -> rusqlite::Result<Token> {
    let abilities: String = r.get(at + 3)?;
    Ok(Token {
        id: r.get(at)?,
        tenant_id: r.get::<_, Option<i64>>(at + 1)?.map(TenantId),
        user_id: r.get::<_, Option<i64>>(at + 2)?.map(UserId),
        abilities: serde_json::from_str(&abilities).unwrap_or_default(),
        label: r.get(at + 4)?,
        created_at: r.get(at + 5)?,
        expires_at: r.get(at + 6)?,
        revoked_at: r.get(at + 7)?,
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

/// A token found by its hash: the token, the stored hash, and its user.
pub type Found = (Token, Vec<u8>, Option<User>);

/// The token whose secret hashes to `hash`, revoked or not, with its stored hash and its user
/// (None for a server-admin token, or when the user is not in the token's tenant); the caller
/// checks validity. One statement: every authenticated request runs it.
pub fn find_by_hash(conn: &Connection, hash: &[u8]) -> Result<Option<Found>> {
    Ok(conn
        .row(find_by_hash_sql(), [hash], |r| {
            let user = match r.get::<_, Option<i64>>(0)? {
                Some(_) => Some(users::from_row_at(r, 0)?),
                None => None,
            };
            let token = from_row_at(r, users::USER_COLUMN_COUNT)?;
            Ok((token, r.get(users::USER_COLUMN_COUNT + 8)?, user))
        })
        .optional()?)
}

/// The statement of `find_by_hash`, cached and its text built once.
pub(crate) fn find_by_hash_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let token = COLUMNS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT {}, {token}, t.token_hash FROM tokens t
             LEFT JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
             WHERE t.token_hash = ?1",
            users::prefixed("u")
        )
    })
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

/// Revokes every live token of the user (a password reset: whatever was signed in with the
/// old password ends).
pub fn revoke_all_of_user(conn: &Connection, user: UserId, now: i64) -> Result<usize> {
    Ok(conn.exec(
        "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user.0, now],
    )?)
}

use crate::audit;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;

use crate::domain::{IdRef, Profile, ProfilePatch, Role, TenantId, User, UserId};
use crate::error::{Error, Result};

const COLUMNS: &str =
    "id, uuid, oid, tenant_id, role, first_name, last_name, display_name, prefix, \
     gender, email, phone, avatar_url, specialty, external_id, birthdate, username, \
     password_hash IS NOT NULL, created_at, updated_at, language";

fn from_row(r: &Row) -> rusqlite::Result<User> {
    from_row_at(r, 0)
}

/// A user from the `COLUMNS` that start at column `at` (for statements that join users).
pub(crate) fn from_row_at(r: &Row, at: usize) -> rusqlite::Result<User> {
    let role: String = r.get(at + 4)?;
    Ok(User {
        id: UserId(r.get(at)?),
        uuid: r.get(at + 1)?,
        oid: r.get(at + 2)?,
        tenant_id: TenantId(r.get(at + 3)?),
        role: Role::parse(&role).unwrap_or(Role::Participant),
        display_name: r.get(at + 7)?,
        profile: Profile {
            first_name: r.get(at + 5)?,
            last_name: r.get(at + 6)?,
            prefix: r.get(at + 8)?,
            gender: r.get(at + 9)?,
            email: r.get(at + 10)?,
            phone: r.get(at + 11)?,
            avatar_url: r.get(at + 12)?,
            specialty: r.get(at + 13)?,
            birthdate: r.get(at + 15)?,
        },
        external_id: r.get(at + 14)?,
        username: r.get(at + 16)?,
        has_password: r.get(at + 17)?,
        created_at: r.get(at + 18)?,
        updated_at: r.get(at + 19)?,
        language: r.get(at + 20)?,
    })
}

/// Everything needed to insert a user row; `id` None lets SQLite choose.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub id: Option<i64>,
    pub uuid: String,
    pub oid: String,
    pub tenant_id: i64,
    pub role: String,
    pub display_name: String,
    pub profile: Profile,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: i64,
}

pub fn insert(conn: &Connection, u: &NewUser) -> Result<UserId> {
    let p = &u.profile;
    conn.exec(
        "INSERT INTO users (id, uuid, oid, tenant_id, role, first_name, last_name, display_name,
             prefix, gender, email, phone, avatar_url, specialty, external_id, birthdate, username,
             password_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)",
        params![
            u.id, u.uuid, u.oid, u.tenant_id, u.role, p.first_name, p.last_name, u.display_name,
            p.prefix, p.gender, p.email, p.phone, p.avatar_url, p.specialty, u.external_id,
            p.birthdate, u.username, u.password_hash, u.created_at
        ],
    )?;
    let id = UserId(conn.last_insert_rowid());
    if let Some(role) = Role::parse(&u.role) {
        audit::user(id.0, role);
    }
    Ok(id)
}

/// The statement of `get`, which every authenticated request runs.
pub(crate) fn get_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("SELECT {COLUMNS} FROM users WHERE id = ?1 AND tenant_id = ?2"))
}

pub fn get(conn: &Connection, tenant: TenantId, id: UserId) -> Result<User> {
    conn.row(get_sql(), params![id.0, tenant.0], from_row)
        .optional()?
        .ok_or(Error::NotFound("user"))
        .inspect(|u| audit::user(u.id.0, u.role))
}

/// By integer id, uuid or oid, within the tenant.
pub fn find(conn: &Connection, tenant: TenantId, id: &IdRef) -> Result<User> {
    get(
        conn,
        tenant,
        UserId(super::row_id(conn, tenant, super::Keyed::Users, id)?),
    )
}

/// The tenant's users who are participants of `conv`, found from the pivot (CROSS JOIN keeps
/// SQLite from scanning every user of the tenant instead).
pub fn members_of(
    conn: &Connection,
    tenant: TenantId,
    conv: crate::domain::ConversationId,
) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM participants p CROSS JOIN users u ON u.id = p.user_id
         WHERE p.conversation_id = ?2 AND u.tenant_id = ?1",
        prefixed("u")
    ))?;
    let rows = stmt.query_map(params![tenant.0, conv.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The users of the tenant among `ids` (each id once), in one statement per `IN_CHUNK` ids.
/// Unordered. A page of conversations names the same few users again and again (a patient's
/// ten conversations are all with them and their provider), so the page reads each once.
pub fn by_ids(conn: &Connection, tenant: TenantId, ids: &[UserId]) -> Result<Vec<User>> {
    let mut out = Vec::with_capacity(ids.len());
    let mut stmt = conn.prepare_cached(by_ids_sql())?;
    for chunk in ids.chunks(super::IN_CHUNK) {
        let bound = std::iter::once(Some(tenant.0)).chain(super::padded(chunk, |u| u.0));
        let mut rows = stmt.query(rusqlite::params_from_iter(bound))?;
        while let Some(r) = rows.next()? {
            out.push(from_row(r)?);
        }
    }
    Ok(out)
}

/// The statement of `by_ids`.
pub(crate) fn by_ids_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            // `+tenant_id`: the tenant is a check on each row found by id, not a way in. Given
            // the choice, SQLite would read the tenant's whole `users_tenant_role` index.
            "SELECT {COLUMNS} FROM users WHERE id IN ({}) AND +tenant_id = ?1",
            super::in_marks(2)
        )
    })
}

/// How many columns `COLUMNS` has.
pub(crate) const USER_COLUMN_COUNT: usize = 21;

/// A page of the tenant's users by id, optionally of one role.
pub fn list(
    conn: &Connection,
    tenant: TenantId,
    role: Option<Role>,
    after: i64,
    limit: u32,
) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users
         WHERE tenant_id = ?1 AND (?2 IS NULL OR role = ?2) AND id > ?3
         ORDER BY id LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![tenant.0, role.map(Role::as_str), after, limit],
        from_row,
    )?;
    let users: Vec<User> = rows.collect::<rusqlite::Result<_>>()?;
    for u in &users {
        audit::user(u.id.0, u.role);
    }
    Ok(users)
}

/// The user and their password hash, for sign-in.
pub fn find_login(
    conn: &Connection,
    tenant: TenantId,
    username: &str,
) -> Result<Option<(User, Option<String>)>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS}, password_hash FROM users WHERE tenant_id = ?1 AND username = ?2"
            ),
            params![tenant.0, username],
            |r| Ok((from_row(r)?, r.get(USER_COLUMN_COUNT)?)),
        )
        .optional()?)
}

/// Every user with this username (and role, when given), in any tenant, with their password
/// hashes (a sign-in that names no tenant, as Tati's does).
pub fn find_logins_anywhere(
    conn: &Connection,
    username: &str,
    role: Option<Role>,
) -> Result<Vec<(User, Option<String>)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, password_hash FROM users
         WHERE username = ?1 AND (?2 IS NULL OR role = ?2) ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![username, role.map(Role::as_str)], |r| {
        Ok((from_row(r)?, r.get(USER_COLUMN_COUNT)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn set_password(
    conn: &Connection,
    tenant: TenantId,
    id: UserId,
    hash: &str,
    now: i64,
) -> Result<()> {
    let changed = conn.exec(
        "UPDATE users SET password_hash = ?3, updated_at = ?4 WHERE id = ?1 AND tenant_id = ?2",
        params![id.0, tenant.0, hash, now],
    )?;
    if changed == 0 {
        return Err(Error::NotFound("user"));
    }
    Ok(())
}

/// What a caller may change about a user besides their password; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub username: Option<Option<String>>,
    pub profile: ProfilePatch,
    /// One of `LANGUAGES`, or `Some(None)` to forget the choice.
    pub language: Option<Option<String>>,
}

pub fn update_profile(
    conn: &Connection,
    tenant: TenantId,
    id: UserId,
    change: &ProfileChange,
    now: i64,
) -> Result<()> {
    let u = get(conn, tenant, id)?;
    let p = u.profile.patched(change.profile.clone());
    conn.exec(
        "UPDATE users SET first_name = ?2, last_name = ?3, display_name = ?4, prefix = ?5,
             gender = ?6, email = ?7, phone = ?8, avatar_url = ?9, specialty = ?10,
             birthdate = ?11, username = ?12, updated_at = ?13, language = ?14
         WHERE id = ?1",
        params![
            id.0,
            p.first_name,
            p.last_name,
            change.display_name.clone().unwrap_or(u.display_name),
            p.prefix,
            p.gender,
            p.email,
            p.phone,
            p.avatar_url,
            p.specialty,
            p.birthdate,
            change.username.clone().unwrap_or(u.username),
            now,
            change.language.clone().unwrap_or(u.language),
        ],
    )?;
    Ok(())
}

pub fn add_contact(conn: &Connection, user: UserId, contact: UserId) -> Result<()> {
    conn.exec(
        "INSERT OR IGNORE INTO contacts (user_id, contact_id) VALUES (?1, ?2)",
        params![user.0, contact.0],
    )?;
    Ok(())
}

/// The users `user` keeps as contacts (MDLIVE: the providers a patient may write to), by id.
pub fn contacts_of(conn: &Connection, tenant: TenantId, user: UserId) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM contacts k CROSS JOIN users u ON u.id = k.contact_id
         WHERE k.user_id = ?2 AND u.tenant_id = ?1 ORDER BY u.id",
        prefixed("u")
    ))?;
    let rows = stmt.query_map(params![tenant.0, user.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What a user can be looked up by when signing in from outside (single sign-on, a phone
/// number a flow texts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    ExternalId,
    /// Compared without regard to case.
    Email,
    Phone,
}

/// The tenant's user (of `role`, when given) whose `by` is `value` (the lowest id if several).
pub fn find_by(
    conn: &Connection,
    tenant: TenantId,
    role: Option<Role>,
    by: Lookup,
    value: &str,
) -> Result<Option<User>> {
    let condition = match by {
        Lookup::ExternalId => "external_id = ?2",
        Lookup::Email => "email = ?2 COLLATE NOCASE",
        Lookup::Phone => "phone = ?2",
    };
    Ok(conn
        .row(
            &format!(
                "SELECT {COLUMNS} FROM users
                 WHERE tenant_id = ?1 AND {condition} AND (?3 IS NULL OR role = ?3)
                 ORDER BY id LIMIT 1"
            ),
            params![tenant.0, value, role.map(Role::as_str)],
            from_row,
        )
        .optional()?)
}

pub(crate) fn prefixed(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

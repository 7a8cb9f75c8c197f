use crate::audit;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;
use serde_json::Value;

use super::json_column;
use crate::domain::{
    Conversation, ConversationId, ConversationStatus, IdRef, LastMessage, MessageId, Tag, TenantId,
    UserId,
};
use crate::error::{Error, Result};

pub(crate) const COLUMNS: &str =
    "c.id, c.uuid, c.oid, c.tenant_id, c.name, c.status, c.archived_at, \
     c.locked, c.deleted, c.tag_type, c.tag_id, c.tag_info, c.metadata, c.flow_id, c.agent_id, \
     c.customer_id, c.created_by, c.last_seq, c.last_message_id, c.last_message_text, \
     c.last_message_at, c.last_sender_id, c.message_count, c.created_at, c.updated_at";
/// How many columns `COLUMNS` has, for callers that select more after it.
pub(crate) const COLUMN_COUNT: usize = 25;

pub(crate) fn from_row(r: &Row) -> rusqlite::Result<Conversation> {
    let status: String = r.get(5)?;
    let tag_type: Option<String> = r.get(9)?;
    let last_message = match (r.get::<_, Option<i64>>(18)?, r.get::<_, Option<i64>>(20)?) {
        (Some(id), Some(at)) => Some(LastMessage {
            id: MessageId(id),
            text: r.get::<_, Option<String>>(19)?.unwrap_or_default(),
            at,
            sender_id: UserId(r.get::<_, Option<i64>>(21)?.unwrap_or_default()),
        }),
        _ => None,
    };
    Ok(Conversation {
        id: ConversationId(r.get(0)?),
        uuid: r.get(1)?,
        oid: r.get(2)?,
        tenant_id: TenantId(r.get(3)?),
        name: r.get(4)?,
        status: ConversationStatus::parse(&status).unwrap_or(ConversationStatus::Active),
        archived_at: r.get(6)?,
        locked: r.get(7)?,
        deleted: r.get(8)?,
        tag: match tag_type {
            Some(kind) => Some(Tag {
                kind,
                id: r
                    .get::<_, Option<String>>(10)?
                    .map(|t| json_column(Some(t))),
                info: r
                    .get::<_, Option<String>>(11)?
                    .map(|t| json_column(Some(t))),
            }),
            None => None,
        },
        metadata: json_column(r.get(12)?),
        flow_id: r.get(13)?,
        agent_id: r.get::<_, Option<i64>>(14)?.map(UserId),
        customer_id: r.get::<_, Option<i64>>(15)?.map(UserId),
        created_by: r.get::<_, Option<i64>>(16)?.map(UserId),
        last_seq: r.get(17)?,
        last_message,
        message_count: r.get(22)?,
        created_at: r.get(23)?,
        updated_at: r.get(24)?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct NewConversation {
    pub id: Option<i64>,
    pub uuid: String,
    pub oid: String,
    pub tenant_id: i64,
    pub name: Option<String>,
    pub status: String,
    pub archived_at: Option<i64>,
    pub locked: bool,
    pub deleted: bool,
    pub tag: Option<Tag>,
    pub metadata: Value,
    pub flow_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn insert(conn: &Connection, c: &NewConversation) -> Result<ConversationId> {
    let (tag_type, tag_id, tag_info) = match &c.tag {
        Some(t) => (
            Some(t.kind.clone()),
            t.id.as_ref().map(Value::to_string),
            t.info.as_ref().map(Value::to_string),
        ),
        None => (None, None, None),
    };
    conn.exec(
        "INSERT INTO conversations (id, uuid, oid, tenant_id, name, status, archived_at, locked,
             deleted, tag_type, tag_id, tag_info, metadata, flow_id, agent_id, customer_id,
             created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        params![
            c.id, c.uuid, c.oid, c.tenant_id, c.name, c.status, c.archived_at, c.locked, c.deleted,
            tag_type, tag_id, tag_info, c.metadata.to_string(), c.flow_id, c.agent_id,
            c.customer_id, c.created_by, c.created_at, c.updated_at
        ],
    )?;
    let id = ConversationId(conn.last_insert_rowid());
    audit::conversation(id.0);
    Ok(id)
}

/// A live (not deleted) conversation of the tenant.
pub fn get(conn: &Connection, tenant: TenantId, id: ConversationId) -> Result<Conversation> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM conversations c WHERE c.id = ?1 AND c.tenant_id = ?2 AND c.deleted = 0"),
        params![id.0, tenant.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("conversation"))
    .inspect(|c| audit::conversation(c.id.0))
}

/// By integer id, uuid or oid, within the tenant; deleted conversations are not found.
pub fn find(conn: &Connection, tenant: TenantId, id: &IdRef) -> Result<Conversation> {
    get(
        conn,
        tenant,
        ConversationId(super::row_id(
            conn,
            tenant,
            super::Keyed::Conversations,
            id,
        )?),
    )
}

/// Records a newly sent message, `seq`, as the conversation's last one (and `seq` as handed
/// out: `messages::insert_sent` takes it from `last_seq`).
pub fn record_sent(
    conn: &Connection,
    id: ConversationId,
    message: MessageId,
    seq: i64,
    text: &str,
    at: i64,
    sender: UserId,
) -> Result<()> {
    conn.exec(
        "UPDATE conversations SET last_message_id = ?2, last_message_text = ?3, last_message_at = ?4,
             last_sender_id = ?5, message_count = message_count + 1, updated_at = MAX(updated_at, ?4),
             last_seq = MAX(last_seq, ?6)
         WHERE id = ?1",
        params![id.0, message.0, text, at, sender.0, seq],
    )?;
    Ok(())
}

/// Recomputes the last-message fields and the count from the live messages (after a delete or
/// an edit, or after a fixture load). Returns the new last-message time (0 when none).
pub fn refresh_last_message(conn: &Connection, id: ConversationId) -> Result<i64> {
    conn.exec(
        "UPDATE conversations SET
             last_message_id = m.id, last_message_text = m.body, last_message_at = m.created_at,
             last_sender_id = m.sender_id
         FROM (SELECT NULL) LEFT JOIN (
             SELECT id, body, created_at, sender_id FROM messages
             WHERE conversation_id = ?1 AND deleted_at IS NULL ORDER BY seq DESC LIMIT 1) m
         WHERE conversations.id = ?1",
        [id.0],
    )?;
    conn.exec(
        "UPDATE conversations SET
             message_count = (SELECT count(*) FROM messages WHERE conversation_id = ?1 AND deleted_at IS NULL),
             last_seq = MAX(last_seq, (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?1))
         WHERE id = ?1",
        [id.0],
    )?;
    Ok(conn.row(
        "SELECT COALESCE(last_message_at, 0) FROM conversations WHERE id = ?1",
        [id.0],
        |r| r.get(0),
    )?)
}

#[derive(Clone, Debug, Default)]
pub struct Change {
    pub name: Option<Option<String>>,
    pub status: Option<(ConversationStatus, Option<i64>)>,
    pub locked: Option<bool>,
}

pub fn update(conn: &Connection, id: ConversationId, change: &Change, now: i64) -> Result<()> {
    audit::conversation(id.0);
    if let Some(name) = &change.name {
        conn.exec(
            "UPDATE conversations SET name = ?2 WHERE id = ?1",
            params![id.0, name],
        )?;
    }
    if let Some((status, archived_at)) = &change.status {
        conn.exec(
            "UPDATE conversations SET status = ?2, archived_at = ?3 WHERE id = ?1",
            params![id.0, status.as_str(), archived_at],
        )?;
    }
    if let Some(locked) = change.locked {
        conn.exec(
            "UPDATE conversations SET locked = ?2 WHERE id = ?1",
            params![id.0, locked],
        )?;
    }
    conn.exec(
        "UPDATE conversations SET updated_at = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    Ok(())
}

pub fn mark_deleted(conn: &Connection, id: ConversationId, now: i64) -> Result<()> {
    audit::conversation(id.0);
    conn.exec(
        "UPDATE conversations SET deleted = 1, updated_at = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    Ok(())
}

/// A page of the tenant's live conversations by last activity (never-messaged ones last),
/// strictly after the `(activity, id)` cursor.
pub fn list_for_tenant(
    conn: &Connection,
    tenant: TenantId,
    before: Option<(i64, i64)>,
    limit: u32,
) -> Result<Vec<Conversation>> {
    let (at, id) = before.unwrap_or((i64::MAX, i64::MAX));
    let mut stmt = conn.prepare_cached(&list_for_tenant_sql(limit))?;
    let rows = stmt.query_map(params![tenant.0, at, id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The statement of `list_for_tenant`, its limit in the text (a bound LIMIT makes SQLite
/// re-prepare the statement at every bind).
pub(crate) fn list_for_tenant_sql(limit: u32) -> String {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let head = SQL.get_or_init(|| {
        format!(
            "SELECT {COLUMNS} FROM conversations c
             WHERE c.tenant_id = ?1 AND c.deleted = 0
               AND (COALESCE(c.last_message_at, 0), c.id) < (?2, ?3)
             ORDER BY COALESCE(c.last_message_at, 0) DESC, c.id DESC LIMIT "
        )
    });
    format!("{head}{limit}")
}

/// The tenant's live conversations, most recently updated first; only those of `flow` when
/// given.
pub fn of_tenant_by_update(
    conn: &Connection,
    tenant: TenantId,
    flow: Option<i64>,
) -> Result<Vec<Conversation>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM conversations c
         WHERE c.tenant_id = ?1 AND c.deleted = 0 AND (?2 IS NULL OR c.flow_id = ?2)
         ORDER BY c.updated_at DESC, c.id DESC"
    ))?;
    let rows = stmt.query_map(params![tenant.0, flow], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The live conversation of `flow` with `customer`, the newest if there are several.
pub fn find_for_flow_customer(
    conn: &Connection,
    tenant: TenantId,
    flow: i64,
    customer: UserId,
) -> Result<Option<Conversation>> {
    Ok(conn
        .row(
            &format!(
                "SELECT {COLUMNS} FROM conversations c
                 WHERE c.tenant_id = ?1 AND c.flow_id = ?2 AND c.customer_id = ?3 AND c.deleted = 0
                 ORDER BY c.id DESC LIMIT 1"
            ),
            params![tenant.0, flow, customer.0],
            from_row,
        )
        .optional()?)
}

/// A conversation of the tenant by integer id, uuid or oid, deleted or not.
pub fn find_including_deleted(
    conn: &Connection,
    tenant: TenantId,
    id: &IdRef,
) -> Result<Conversation> {
    let id = super::row_id(conn, tenant, super::Keyed::Conversations, id)?;
    conn.row(
        &format!("SELECT {COLUMNS} FROM conversations c WHERE c.id = ?1 AND c.tenant_id = ?2"),
        params![id, tenant.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("conversation"))
}

/// `AND` conditions on the metadata JSON of conversations aliased `c`: one per `(key, value)`,
/// each requiring the text `value` under `key`. Parameters are numbered from `first`, key then
/// value.
fn metadata_conditions(filters: &[(String, String)], first: usize) -> String {
    (0..filters.len())
        .map(|i| {
            let k = first + 2 * i;
            format!(" AND json_extract(c.metadata, ?{k}) = ?{}", k + 1)
        })
        .collect()
}

/// The JSON path of a top-level metadata key (quoted, so any key text is safe).
fn metadata_path(key: &str) -> String {
    format!("$.\"{}\"", key.replace('"', "\\\""))
}

fn metadata_params(filters: &[(String, String)]) -> Vec<String> {
    filters
        .iter()
        .flat_map(|(k, v)| [metadata_path(k), v.clone()])
        .collect()
}

/// One offset page of the tenant's live conversations whose metadata holds every
/// `(key, value)` of `filters`, by last activity, where starting a conversation counts as
/// activity: its last message's time, else its creation time, newest first. Read off the
/// `conversations_tenant_recent` index.
pub fn list_by_metadata(
    conn: &Connection,
    tenant: TenantId,
    filters: &[(String, String)],
    offset: i64,
    limit: u32,
) -> Result<Vec<Conversation>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM conversations c
         WHERE c.tenant_id = ?1 AND c.deleted = 0{}
         ORDER BY COALESCE(c.last_message_at, c.created_at) DESC, c.id DESC LIMIT ?2 OFFSET ?3",
        metadata_conditions(filters, 4)
    ))?;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&tenant.0, &limit, &offset];
    let extra = metadata_params(filters);
    values.extend(extra.iter().map(|v| v as &dyn rusqlite::ToSql));
    let rows = stmt.query_map(values.as_slice(), from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many live conversations of the tenant `list_by_metadata` would page through.
pub fn count_by_metadata(
    conn: &Connection,
    tenant: TenantId,
    filters: &[(String, String)],
) -> Result<i64> {
    let mut stmt = conn.prepare_cached(&count_by_metadata_sql(filters))?;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&tenant.0];
    let extra = metadata_params(filters);
    values.extend(extra.iter().map(|v| v as &dyn rusqlite::ToSql));
    Ok(stmt.query_row(values.as_slice(), |r| r.get(0))?)
}

/// The statement of `count_by_metadata`. Without filters it reads only the
/// `conversations_tenant_live` index.
pub(crate) fn count_by_metadata_sql(filters: &[(String, String)]) -> String {
    format!(
        "SELECT count(*) FROM conversations c WHERE c.tenant_id = ?1 AND c.deleted = 0{}",
        metadata_conditions(filters, 2)
    )
}

/// The `WHERE` text selecting the ids of the tenant's live conversations that match a
/// conversation oid (parameter `?2`, NULL for any) and metadata `filters` (from `?first`), for
/// use in `conversation_id IN (...)`.
pub(crate) fn matching_ids_sql(filters: &[(String, String)], first: usize) -> String {
    format!(
        "SELECT c.id FROM conversations c WHERE c.tenant_id = ?1 AND c.deleted = 0
           AND (?2 IS NULL OR c.oid = ?2){}",
        metadata_conditions(filters, first)
    )
}

pub(crate) fn matching_ids_params(filters: &[(String, String)]) -> Vec<String> {
    metadata_params(filters)
}

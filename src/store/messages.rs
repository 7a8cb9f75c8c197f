use crate::audit;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Cached;
use serde_json::Value;

use super::json_column;
use crate::domain::{
    ConversationId, FileRef, IdRef, Message, MessageId, MessageKind, MessageRead, MessageStatus,
    TenantId, UserId,
};
use crate::error::{Error, Result};

pub(crate) const COLUMNS: &str =
    "id, uuid, oid, tenant_id, conversation_id, seq, sender_id, recipient_id, body, \
     kind, subject, reply_to_id, status, metadata, attachments, device, created_at, updated_at, files";

pub(crate) fn from_row(r: &Row) -> rusqlite::Result<Message> {
    let kind: String = r.get(9)?;
    let status: Option<String> = r.get(12)?;
    Ok(Message {
        id: MessageId(r.get(0)?),
        uuid: r.get(1)?,
        oid: r.get(2)?,
        tenant_id: TenantId(r.get(3)?),
        conversation_id: ConversationId(r.get(4)?),
        seq: r.get(5)?,
        sender_id: UserId(r.get(6)?),
        recipient_id: r.get::<_, Option<i64>>(7)?.map(UserId),
        body: r.get(8)?,
        kind: MessageKind::parse(&kind).unwrap_or(MessageKind::Text),
        subject: r.get(10)?,
        reply_to: r.get::<_, Option<i64>>(11)?.map(MessageId),
        status: status.as_deref().and_then(MessageStatus::parse),
        metadata: json_column(r.get(13)?),
        attachments: json_column(r.get(14)?),
        device: r
            .get::<_, Option<String>>(15)?
            .map(|t| json_column(Some(t))),
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
        files: super::attachments::files_from(r.get(18)?),
    })
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub id: Option<i64>,
    pub uuid: String,
    pub oid: String,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender_id: UserId,
    pub recipient_id: Option<UserId>,
    pub body: String,
    pub kind: MessageKind,
    pub subject: Option<String>,
    pub reply_to: Option<MessageId>,
    pub status: Option<MessageStatus>,
    pub metadata: Value,
    pub attachments: Value,
    pub files: Vec<FileRef>,
    pub device: Option<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl NewMessage {
    /// The message as `get` would read it back once inserted under `id`.
    pub fn into_stored(self, id: MessageId) -> Message {
        Message {
            id,
            uuid: self.uuid,
            oid: self.oid,
            tenant_id: self.tenant_id,
            conversation_id: self.conversation_id,
            seq: self.seq,
            sender_id: self.sender_id,
            recipient_id: self.recipient_id,
            body: self.body,
            kind: self.kind,
            subject: self.subject,
            reply_to: self.reply_to,
            status: self.status,
            metadata: self.metadata,
            attachments: self.attachments,
            files: self.files,
            device: self.device,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub fn insert(conn: &Connection, m: &NewMessage) -> Result<MessageId> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO messages (id, uuid, oid, tenant_id, conversation_id, seq, sender_id,
             recipient_id, body, kind, subject, reply_to_id, status, metadata, attachments, device,
             created_at, updated_at, files)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19)",
    )?;
    stmt.execute(params![
        m.id,
        m.uuid,
        m.oid,
        m.tenant_id.0,
        m.conversation_id.0,
        m.seq,
        m.sender_id.0,
        m.recipient_id.map(|u| u.0),
        m.body,
        m.kind.as_str(),
        m.subject,
        m.reply_to.map(|r| r.0),
        m.status.map(MessageStatus::as_str),
        m.metadata.to_string(),
        m.attachments.to_string(),
        m.device.as_ref().map(Value::to_string),
        m.created_at,
        m.updated_at,
        super::attachments::files_json(&m.files)
    ])?;
    let id = MessageId(conn.last_insert_rowid());
    audit::message(id.0, m.conversation_id.0);
    Ok(id)
}

/// Inserts a newly sent message as its conversation's next: its `seq` is handed out by the same
/// statement (one past the conversation's `last_seq`, which the caller then records with
/// `conversations::record_sent`), so `m.seq` is ignored. Returns the id and the seq.
pub fn insert_sent(conn: &Connection, m: &NewMessage) -> Result<(MessageId, i64)> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO messages (uuid, oid, tenant_id, conversation_id, seq, sender_id,
             recipient_id, body, kind, subject, reply_to_id, status, metadata, attachments, device,
             created_at, updated_at, files)
         VALUES (?1, ?2, ?3, ?4, (SELECT last_seq + 1 FROM conversations WHERE id = ?4), ?5, ?6,
             ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         RETURNING id, seq",
    )?;
    Ok(stmt
        .query_row(
            params![
                m.uuid,
                m.oid,
                m.tenant_id.0,
                m.conversation_id.0,
                m.sender_id.0,
                m.recipient_id.map(|u| u.0),
                m.body,
                m.kind.as_str(),
                m.subject,
                m.reply_to.map(|r| r.0),
                m.status.map(MessageStatus::as_str),
                m.metadata.to_string(),
                m.attachments.to_string(),
                m.device.as_ref().map(Value::to_string),
                m.created_at,
                m.updated_at,
                super::attachments::files_json(&m.files)
            ],
            |r| Ok((MessageId(r.get(0)?), r.get(1)?)),
        )
        .inspect(|(id, _)| audit::message(id.0, m.conversation_id.0))?)
}

/// A live (not deleted) message of the tenant in a live conversation.
pub fn get(conn: &Connection, tenant: TenantId, id: MessageId) -> Result<Message> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL
           AND EXISTS (SELECT 1 FROM conversations c WHERE c.id = messages.conversation_id AND c.deleted = 0)"
    ))?;
    stmt.query_row(params![id.0, tenant.0], from_row)
        .optional()?
        .ok_or(Error::NotFound("message"))
        .inspect(|m| audit::message(m.id.0, m.conversation_id.0))
}

/// By integer id, uuid or oid, within the tenant.
pub fn find(conn: &Connection, tenant: TenantId, id: &IdRef) -> Result<Message> {
    get(
        conn,
        tenant,
        MessageId(super::row_id(conn, tenant, super::Keyed::Messages, id)?),
    )
}

/// Which page of a conversation's live messages to read, by `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The newest `limit` messages with seq below `before` (all when None), returned oldest first.
    Before(Option<i64>),
    /// The oldest `limit` messages with seq above `after`, oldest first.
    After(i64),
}

pub fn list(
    conn: &Connection,
    conv: ConversationId,
    page: Page,
    limit: u32,
) -> Result<Vec<Message>> {
    audit::conversation(conv.0);
    let mut messages = match page {
        Page::Before(before) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages
                 WHERE conversation_id = ?1 AND deleted_at IS NULL AND seq < ?2
                 ORDER BY seq DESC LIMIT {limit}"
            ))?;
            let rows = stmt.query_map(params![conv.0, before.unwrap_or(i64::MAX)], from_row)?;
            let mut v: Vec<Message> = rows.collect::<rusqlite::Result<_>>()?;
            v.reverse();
            v
        }
        Page::After(after) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages
                 WHERE conversation_id = ?1 AND deleted_at IS NULL AND seq > ?2
                 ORDER BY seq ASC LIMIT {limit}"
            ))?;
            let rows = stmt.query_map(params![conv.0, after], from_row)?;
            rows.collect::<rusqlite::Result<_>>()?
        }
    };
    messages.shrink_to_fit();
    Ok(messages)
}

/// Every live message of `conv`, oldest first (the faces whose vendors return whole threads).
pub fn all_of(conn: &Connection, conv: ConversationId) -> Result<Vec<Message>> {
    audit::conversation(conv.0);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND deleted_at IS NULL
         ORDER BY seq"
    ))?;
    let rows = stmt.query_map([conv.0], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Live messages newest first, skipping the newest `offset` (page-numbered lists).
pub fn newest(
    conn: &Connection,
    conv: ConversationId,
    offset: i64,
    limit: u32,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND deleted_at IS NULL
         ORDER BY seq DESC LIMIT {limit} OFFSET ?2"
    ))?;
    let rows = stmt.query_map(params![conv.0, offset], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Moves a message through review (Trillet's pending → approved or rejected).
pub fn set_status(conn: &Connection, id: MessageId, status: MessageStatus, now: i64) -> Result<()> {
    conn.exec(
        "UPDATE messages SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, status.as_str(), now],
    )?;
    Ok(())
}

pub fn update_body(conn: &Connection, id: MessageId, body: &str, now: i64) -> Result<()> {
    conn.exec(
        "UPDATE messages SET body = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, body, now],
    )?;
    Ok(())
}

/// Soft delete: the row stays (replies keep their target) but no read ever returns it.
pub fn mark_deleted(conn: &Connection, id: MessageId, now: i64) -> Result<()> {
    conn.exec(
        "UPDATE messages SET deleted_at = ?2, updated_at = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    conn.exec("DELETE FROM message_reads WHERE message_id = ?1", [id.0])?;
    Ok(())
}

/// Whether `user` has a single-message read of `seq` in `conv`.
pub fn has_single_read(
    conn: &Connection,
    conv: ConversationId,
    user: UserId,
    seq: i64,
) -> Result<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM message_reads WHERE conversation_id = ?1 AND user_id = ?2 AND seq = ?3",
    )?;
    Ok(stmt.exists(params![conv.0, user.0, seq])?)
}

pub fn insert_single_read(
    conn: &Connection,
    message: &Message,
    user: UserId,
    at: i64,
) -> Result<()> {
    conn.exec(
        "INSERT OR IGNORE INTO message_reads (conversation_id, user_id, seq, message_id, read_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            message.conversation_id.0,
            user.0,
            message.seq,
            message.id.0,
            at
        ],
    )?;
    Ok(())
}

/// Single-message reads in a conversation, for showing who has read what.
pub fn single_reads(conn: &Connection, conv: ConversationId) -> Result<Vec<MessageRead>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, seq, read_at FROM message_reads WHERE conversation_id = ?1 ORDER BY seq, user_id",
    )?;
    let rows = stmt.query_map([conv.0], read_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A `message_reads` row selected as `user_id, seq, read_at`.
pub(crate) fn read_from_row(r: &rusqlite::Row) -> rusqlite::Result<MessageRead> {
    Ok(MessageRead {
        user_id: UserId(r.get(0)?),
        seq: r.get(1)?,
        read_at: r.get(2)?,
    })
}

/// The seq of the last live message created at or before `at` (0 when none).
pub fn last_seq_at_or_before(conn: &Connection, conv: ConversationId, at: i64) -> Result<i64> {
    Ok(conn.row(
        "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?1 AND created_at <= ?2",
        params![conv.0, at],
        |r| r.get(0),
    )?)
}

pub fn add_reaction(
    conn: &Connection,
    message: MessageId,
    user: UserId,
    emoji: &str,
    at: i64,
) -> Result<bool> {
    let n = conn.exec(
        "INSERT OR IGNORE INTO reactions (message_id, user_id, emoji, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![message.0, user.0, emoji, at],
    )?;
    Ok(n > 0)
}

/// A message by id whatever its state (fixture loading, before its conversation is complete).
pub fn get_any(conn: &Connection, id: MessageId) -> Result<Message> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM messages WHERE id = ?1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("message"))
    .inspect(|m| audit::message(m.id.0, m.conversation_id.0))
}

pub fn set_reply_to(conn: &Connection, id: MessageId, target: MessageId) -> Result<()> {
    conn.exec(
        "UPDATE messages SET reply_to_id = ?2 WHERE id = ?1",
        params![id.0, target.0],
    )?;
    Ok(())
}

/// Which of a tenant's live messages to list: those of the conversation with this oid (any
/// when None), of conversations whose metadata holds every `(key, value)`, created within
/// `since..=until` (either end open when None).
#[derive(Clone, Debug, Default)]
pub struct TenantFilter {
    pub conversation_oid: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// The `FROM ... WHERE` of a `TenantFilter` query: `?1` tenant, `?2` conversation oid, `?3`
/// since, `?4` until, then the metadata pairs from `?first`.
fn tenant_filter_sql(f: &TenantFilter, first: usize) -> String {
    format!(
        "FROM messages WHERE tenant_id = ?1 AND deleted_at IS NULL
           AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at <= ?4)
           AND conversation_id IN ({})",
        super::conversations::matching_ids_sql(&f.metadata, first)
    )
}

/// Runs `run` with the parameters of a `TenantFilter` query, `paging` between the fixed four
/// and the metadata pairs.
fn with_tenant_filter<T>(
    tenant: TenantId,
    f: &TenantFilter,
    paging: &[i64],
    run: impl FnOnce(&[&dyn rusqlite::ToSql]) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let extra = super::conversations::matching_ids_params(&f.metadata);
    let mut values: Vec<&dyn rusqlite::ToSql> =
        vec![&tenant.0, &f.conversation_oid, &f.since, &f.until];
    values.extend(paging.iter().map(|v| v as &dyn rusqlite::ToSql));
    values.extend(extra.iter().map(|v| v as &dyn rusqlite::ToSql));
    run(&values)
}

/// One offset page of the tenant's live messages matching `f`, newest first.
pub fn list_for_tenant(
    conn: &Connection,
    tenant: TenantId,
    f: &TenantFilter,
    offset: i64,
    limit: u32,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} {} ORDER BY created_at DESC, id DESC LIMIT ?5 OFFSET ?6",
        tenant_filter_sql(f, 7)
    ))?;
    Ok(with_tenant_filter(
        tenant,
        f,
        &[i64::from(limit), offset],
        |values| stmt.query_map(values, from_row)?.collect(),
    )?)
}

/// How many messages `list_for_tenant` would page through.
pub fn count_for_tenant(conn: &Connection, tenant: TenantId, f: &TenantFilter) -> Result<i64> {
    let mut stmt = conn.prepare_cached(&format!("SELECT count(*) {}", tenant_filter_sql(f, 5)))?;
    Ok(with_tenant_filter(tenant, f, &[], |values| {
        stmt.query_row(values, |r| r.get(0))
    })?)
}

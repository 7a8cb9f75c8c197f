//! Attachments (issue 16): the file rows and their content, in chunks of at most `CHUNK`
//! bytes, each written and read with SQLite's incremental blob I/O so that no file is ever
//! held whole in memory. See schema step "Attachments".

use rusqlite::blob::Blob;
use rusqlite::{params, Connection, OptionalExtension, Row, MAIN_DB};
use serde_json::{Map, Value};

use super::Cached;
use crate::audit;
use crate::domain::{Attachment, Chunk, ConversationId, FileRef, MessageId, TenantId, UserId};
use crate::error::{Error, Result};

/// The most bytes one chunk row holds: one writer command writes one chunk, so this bounds
/// how long an upload holds the writer at a time (and what a download holds in memory).
pub const CHUNK: usize = 1024 * 1024;

/// How much of a chunk one blob call moves.
const SLICE: usize = 64 * 1024;

const COLUMNS: &str = "id, uuid, tenant_id, conversation_id, uploader_id, message_id, filename, \
                       content_type, size, sha256, created_at";

fn from_row(r: &Row) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: r.get(0)?,
        uuid: r.get(1)?,
        tenant_id: TenantId(r.get(2)?),
        conversation_id: ConversationId(r.get(3)?),
        uploader_id: UserId(r.get(4)?),
        message_id: r.get::<_, Option<i64>>(5)?.map(MessageId),
        filename: r.get(6)?,
        content_type: r.get(7)?,
        size: r.get(8)?,
        sha256: r.get(9)?,
        created_at: r.get(10)?,
    })
}

/// A new upload's row, before any byte of it is stored.
pub struct NewUpload<'a> {
    pub uuid: &'a str,
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub uploader: UserId,
    pub filename: &'a str,
    pub now: i64,
}

/// Starts an upload: its row, in state `uploading`, without content. Returns its id.
pub fn begin(conn: &Connection, u: &NewUpload) -> Result<i64> {
    conn.exec(
        "INSERT INTO attachments (uuid, tenant_id, conversation_id, uploader_id, filename,
             content_type, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'application/octet-stream', 'uploading', ?6)",
        params![
            u.uuid,
            u.tenant.0,
            u.conversation.0,
            u.uploader.0,
            u.filename,
            u.now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Stores chunk `n` of upload `id`: the row is made with a zero-filled blob of the chunk's
/// length, which is then written in slices through blob I/O (no second copy of the chunk
/// inside SQLite, as binding it would make).
pub fn append_chunk(conn: &Connection, id: i64, n: i64, data: &[u8], sha256: &[u8]) -> Result<()> {
    let uploading: Option<String> = conn
        .row("SELECT state FROM attachments WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    if uploading.as_deref() != Some("uploading") {
        return Err(Error::NotFound("attachment"));
    }
    conn.exec(
        "INSERT INTO attachment_chunks (attachment_id, n, sha256, data)
         VALUES (?1, ?2, ?3, zeroblob(?4))",
        params![id, n, sha256, data.len() as i64],
    )?;
    let row = conn.last_insert_rowid();
    let mut blob = open_blob(conn, row, false)?;
    for (i, slice) in data.chunks(SLICE).enumerate() {
        blob.write_at(slice, i * SLICE)?;
    }
    blob.close()?;
    Ok(())
}

fn open_blob(conn: &Connection, row: i64, read_only: bool) -> rusqlite::Result<Blob<'_>> {
    conn.blob_open(MAIN_DB, c"attachment_chunks", c"data", row, read_only)
}

/// Completes upload `id`: its size, digest and detected type; it is now `ready`.
pub fn finish(
    conn: &Connection,
    id: i64,
    size: i64,
    sha256: &str,
    content_type: &str,
) -> Result<Attachment> {
    let done = conn.exec(
        "UPDATE attachments SET size = ?2, sha256 = ?3, content_type = ?4, state = 'ready'
         WHERE id = ?1 AND state = 'uploading'",
        params![id, size, sha256, content_type],
    )?;
    if done == 0 {
        return Err(Error::NotFound("attachment"));
    }
    by_id(conn, id)
}

fn by_id(conn: &Connection, id: i64) -> Result<Attachment> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM attachments WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .ok_or(Error::NotFound("attachment"))
}

/// The bytes the tenant's files take, finished or not (an upload in progress counts what it
/// has stored so far only once finished; the service bounds it meanwhile).
pub fn usage(conn: &Connection, tenant: TenantId) -> Result<i64> {
    Ok(conn.row(
        "SELECT COALESCE(SUM(size), 0) FROM attachments WHERE tenant_id = ?1",
        [tenant.0],
        |r| r.get(0),
    )?)
}

/// Removes a file and its content.
pub fn remove(conn: &Connection, id: i64) -> Result<()> {
    conn.exec(
        "DELETE FROM attachment_chunks WHERE attachment_id = ?1",
        [id],
    )?;
    conn.exec("DELETE FROM attachments WHERE id = ?1", [id])?;
    Ok(())
}

/// Removes the files message `message` carries (explicitly, not left to the cascade, so
/// nothing depends on `foreign_keys`). Returns how many.
pub fn remove_of_message(conn: &Connection, message: i64) -> Result<usize> {
    conn.exec(
        "DELETE FROM attachment_chunks WHERE attachment_id IN
             (SELECT id FROM attachments WHERE message_id = ?1)",
        [message],
    )?;
    Ok(conn.exec("DELETE FROM attachments WHERE message_id = ?1", [message])?)
}

/// The tenant's file `uuid`, finished or not.
pub fn find(conn: &Connection, tenant: TenantId, uuid: &str) -> Result<Attachment> {
    let a = conn
        .row(
            &format!("SELECT {COLUMNS} FROM attachments WHERE uuid = ?1 AND tenant_id = ?2"),
            params![uuid, tenant.0],
            from_row,
        )
        .optional()?
        .ok_or(Error::NotFound("attachment"))?;
    match a.message_id {
        Some(m) => audit::message(m.0, a.conversation_id.0),
        None => audit::conversation(a.conversation_id.0),
    }
    audit::touch(audit::object::ATTACHMENT, &a.uuid);
    Ok(a)
}

/// Attaches file `id` to `message`.
pub fn link(conn: &Connection, id: i64, message: MessageId) -> Result<()> {
    conn.exec(
        "UPDATE attachments SET message_id = ?2 WHERE id = ?1 AND message_id IS NULL",
        params![id, message.0],
    )?;
    Ok(())
}

/// The files that messages of `conv` carry, by id after `after`, at most `limit` (for the
/// patient export).
pub fn sent_in(
    conn: &Connection,
    conv: ConversationId,
    after: i64,
    limit: u32,
) -> Result<Vec<Attachment>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM attachments
         WHERE conversation_id = ?1 AND message_id IS NOT NULL AND id > ?2
         ORDER BY id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![conv.0, after, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The chunks of file `id`, in order: where each is and how to check it.
pub fn chunks(conn: &Connection, id: i64) -> Result<Vec<Chunk>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, n, length(data), sha256 FROM attachment_chunks
         WHERE attachment_id = ?1 ORDER BY n",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(Chunk {
            row: r.get(0)?,
            n: r.get(1)?,
            len: r.get(2)?,
            sha256: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The content of one chunk, read through blob I/O in slices.
pub fn read_chunk(conn: &Connection, chunk: &Chunk) -> Result<Vec<u8>> {
    let blob = open_blob(conn, chunk.row, true)?;
    let len = blob.len();
    let mut out = vec![0u8; len];
    for (i, slice) in out.chunks_mut(SLICE).enumerate() {
        blob.read_at_exact(slice, i * SLICE)?;
    }
    Ok(out)
}

/// Unsent files created before `before` (abandoned uploads, files never sent): at most
/// `limit` ids.
pub fn unsent_before(conn: &Connection, before: i64, limit: u32) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM attachments WHERE message_id IS NULL AND created_at < ?1
         ORDER BY created_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![before, limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every finished file's id after `after`, `limit` at a time, with its recorded digest (for
/// `parlor check`).
pub fn ready_after(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, uuid, sha256 FROM attachments WHERE id > ?1 AND sha256 IS NOT NULL
         ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Reads file `id` back and checks it against its digests: what is wrong, if anything.
pub fn verify(conn: &Connection, id: i64, sha256: &str) -> Result<Option<String>> {
    use sha2::{Digest, Sha256};
    let mut whole = Sha256::new();
    for (i, chunk) in chunks(conn, id)?.iter().enumerate() {
        if chunk.n != i as i64 {
            return Ok(Some(format!("chunk {i} is missing")));
        }
        let data = read_chunk(conn, chunk)?;
        if Sha256::digest(&data).as_slice() != chunk.sha256.as_slice() {
            return Ok(Some(format!(
                "chunk {i} does not match its checksum (the content is damaged)"
            )));
        }
        whole.update(&data);
    }
    if hex::encode(whole.finalize()) != sha256 {
        return Ok(Some(
            "the content does not match its checksum (the content is damaged)".into(),
        ));
    }
    Ok(None)
}

/// Clears what a message says it carries (its files were removed).
pub fn clear_files(conn: &Connection, message: MessageId) -> Result<()> {
    conn.exec(
        "UPDATE messages SET files = NULL WHERE id = ?1",
        [message.0],
    )?;
    Ok(())
}

/// A message's `files` column as stored: a JSON array, NULL for none.
pub(crate) fn files_json(files: &[FileRef]) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let list: Vec<Value> = files
        .iter()
        .map(|f| {
            let mut o = Map::new();
            o.insert("uuid".into(), Value::from(f.uuid.as_str()));
            o.insert("filename".into(), Value::from(f.filename.as_str()));
            o.insert("content_type".into(), Value::from(f.content_type.as_str()));
            o.insert("size".into(), Value::from(f.size));
            Value::Object(o)
        })
        .collect();
    Some(Value::Array(list).to_string())
}

pub(crate) fn files_from(text: Option<String>) -> Vec<FileRef> {
    let Some(Value::Array(list)) = text.and_then(|t| serde_json::from_str(&t).ok()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|v| {
            Some(FileRef {
                uuid: v.get("uuid")?.as_str()?.to_owned(),
                filename: v.get("filename")?.as_str()?.to_owned(),
                content_type: v.get("content_type")?.as_str()?.to_owned(),
                size: v.get("size")?.as_i64()?,
            })
        })
        .collect()
}

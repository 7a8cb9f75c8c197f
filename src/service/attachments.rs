//! Attachments (issue 16): uploading a file into a conversation, who may read it, reading it
//! back chunk by chunk with every chunk checked against its digest, and removing files nobody
//! sent.
//!
//! An upload is streamed: the body is cut into chunks of `store::attachments::CHUNK` bytes and
//! each is stored by its own writer command as soon as it is complete, so memory holds at most
//! one chunk per upload and other writers wait at most for one chunk's write, never for a whole
//! file. The file's row exists from the first byte (state `uploading`); a failed or abandoned
//! upload is removed at once, or by the cleaner if the process died meanwhile.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use sha2::{Digest, Sha256};

use super::Service;
use crate::domain::{Attachment, Chunk, FileRef, IdRef, MessageId, TenantId, UserId};
use crate::error::{Error, Result};
use crate::store::attachments::{self as store, NewUpload, CHUNK};
use crate::store::{conversations, messages, participants};

/// The most files one message carries.
pub const MAX_PER_MESSAGE: usize = 10;

/// The longest file name kept, in bytes.
const MAX_NAME: usize = 200;

/// How big a file and a tenant's files may be (`attachment_max_bytes`,
/// `attachment_quota_bytes`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file: u64,
    /// 0: no quota.
    pub tenant_quota: u64,
}

impl Limits {
    pub fn of(settings: &crate::config::Settings) -> Limits {
        Limits {
            max_file: settings.attachment_max_bytes,
            tenant_quota: settings.attachment_quota_bytes,
        }
    }
}

/// The types a browser may show in its own window: pictures and PDFs, which run nothing in the
/// site's origin. Everything else (SVG, HTML, XML, scripts, archives…) is only ever a download.
const INLINE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
];

/// Whether a file of this (detected) type may be shown inline.
pub fn is_inline(content_type: &str) -> bool {
    INLINE.contains(&content_type)
}

/// The type a download is served as: the detected one, except for types a browser would run
/// (markup, scripts, anything textual), which go out as opaque bytes.
pub fn served_type(content_type: &str) -> &str {
    let active = content_type.starts_with("text/")
        || ["xml", "html", "javascript", "svg", "ecmascript"]
            .iter()
            .any(|w| content_type.contains(w));
    if active {
        "application/octet-stream"
    } else {
        content_type
    }
}

/// The content type of a file from its first bytes; never the client's claim.
pub fn detect(first: &[u8]) -> String {
    infer::get(first)
        .map(|t| t.mime_type().to_owned())
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// A client's file name made safe to store and to send back: its last path component, without
/// control characters or characters that break headers and file systems, trimmed of dots and
/// spaces at the ends, at most `MAX_NAME` bytes; "file" when nothing is left.
pub fn sanitise(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | '<' | '>' | ':' | '|' | '?' | '*' | ';' => '_',
            c => c,
        })
        .collect();
    let mut out = cleaned
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    if out.len() > MAX_NAME {
        let mut cut = MAX_NAME;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    if out.is_empty() {
        "file".to_owned()
    } else {
        out
    }
}

fn too_large(limits: &Limits) -> Error {
    Error::TooLarge(format!(
        "the file is larger than attachment_max_bytes ({} bytes)",
        limits.max_file
    ))
}

fn over_quota(limits: &Limits) -> Error {
    Error::TooLarge(format!(
        "the tenant's files would exceed attachment_quota_bytes ({} bytes)",
        limits.tenant_quota
    ))
}

/// What reading a file needs: its row and where its chunks are.
#[derive(Clone, Debug)]
pub struct Download {
    pub attachment: Attachment,
    pub chunks: Vec<Chunk>,
}

/// The clear error for content that no longer matches its digest.
fn corrupt(uuid: &str) -> Error {
    tracing::error!("attachment {uuid}: stored content fails its SHA-256 check");
    Error::unavailable(
        "the file's stored content fails its checksum (damaged storage); an administrator \
         must restore it from a backup (`parlor check` lists such files)",
        None,
    )
}

/// Whether `reader` (None: an admin) may see file `a`: its uploader before it is sent, the
/// participants of its conversation once a live message carries it.
fn may_read(c: &rusqlite::Connection, a: &Attachment, reader: Option<UserId>) -> Result<bool> {
    let Some(reader) = reader else {
        return Ok(true);
    };
    match a.message_id {
        None => Ok(a.uploader_id == reader),
        Some(m) => {
            let live = messages::get(c, a.tenant_id, m).is_ok();
            Ok(live && participants::get(c, a.conversation_id, reader)?.is_some())
        }
    }
}

/// The files a send names, checked: each the sender's own finished upload into this
/// conversation, not sent yet, named once.
pub(crate) fn for_send(
    c: &rusqlite::Connection,
    tenant: TenantId,
    conv: crate::domain::ConversationId,
    sender: UserId,
    ids: &[String],
) -> Result<Vec<Attachment>> {
    const FIELD: &str = "attachment_ids";
    if ids.len() > MAX_PER_MESSAGE {
        return Err(Error::invalid(
            FIELD,
            format!("a message carries at most {MAX_PER_MESSAGE} files"),
        ));
    }
    let mut out: Vec<Attachment> = Vec::with_capacity(ids.len());
    for id in ids {
        let a = store::find(c, tenant, id)
            .ok()
            .filter(|a| a.uploader_id == sender && a.conversation_id == conv && a.is_ready())
            .ok_or_else(|| {
                Error::invalid(
                    FIELD,
                    format!("{id} is not a file the sender uploaded into this conversation"),
                )
            })?;
        if a.message_id.is_some() || out.iter().any(|o| o.id == a.id) {
            return Err(Error::invalid(
                FIELD,
                format!("{id} is already attached to a message"),
            ));
        }
        out.push(a);
    }
    Ok(out)
}

/// Attaches the checked files to the message just inserted.
pub(crate) fn attach(
    c: &rusqlite::Connection,
    files: &[Attachment],
    message: MessageId,
) -> Result<()> {
    for a in files {
        store::link(c, a.id, message)?;
    }
    Ok(())
}

pub(crate) fn refs(files: &[Attachment]) -> Vec<FileRef> {
    files.iter().map(Attachment::as_file).collect()
}

/// On a message's deletion: its files go too, unless a legal hold covers the message.
pub(crate) fn on_message_deleted(c: &rusqlite::Connection, message: MessageId) -> Result<()> {
    if crate::store::retention::is_held(c, message.0)? {
        return Ok(());
    }
    if store::remove_of_message(c, message.0)? > 0 {
        store::clear_files(c, message)?;
    }
    Ok(())
}

/// An upload under way: the chunk being filled and what is known of the file so far.
struct Upload {
    id: i64,
    buffer: Vec<u8>,
    next: i64,
    size: u64,
    whole: Sha256,
    content_type: Option<String>,
}

impl Service {
    /// Stores `body` as a new file of conversation `conv`, uploaded by `uploader` (a
    /// participant), named `filename`. Refused past `limits` (413), in a locked or unknown
    /// conversation, or when empty.
    pub async fn upload<S, B, E>(
        &self,
        tenant: TenantId,
        conv: IdRef,
        uploader: UserId,
        filename: &str,
        limits: Limits,
        mut body: S,
    ) -> Result<Attachment>
    where
        S: Stream<Item = std::result::Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: Into<Error>,
    {
        crate::audit::action("attachment.upload");
        let now = self.now();
        let uuid = self.ids().uuid(now);
        let name = sanitise(filename);
        let (id, used) = {
            let uuid = uuid.clone();
            self.store
                .write(move |c| {
                    let conv = conversations::find(c, tenant, &conv)?;
                    participants::get(c, conv.id, uploader)?
                        .ok_or(Error::NotFound("conversation"))?;
                    if conv.locked {
                        return Err(Error::forbidden("the conversation is locked"));
                    }
                    let used = store::usage(c, tenant)?;
                    if limits.tenant_quota > 0 && used as u64 >= limits.tenant_quota {
                        return Err(over_quota(&limits));
                    }
                    let id = store::begin(
                        c,
                        &NewUpload {
                            uuid: &uuid,
                            tenant,
                            conversation: conv.id,
                            uploader,
                            filename: &name,
                            now,
                        },
                    )?;
                    Ok((id, used as u64))
                })
                .await?
        };
        let mut up = Upload {
            id,
            buffer: Vec::with_capacity(CHUNK),
            next: 0,
            size: 0,
            whole: Sha256::new(),
            content_type: None,
        };
        let outcome = self.receive(&mut up, used, limits, &mut body).await;
        match outcome {
            Ok(a) => Ok(a),
            Err(e) => {
                // The request failed; its partial file must not stay (the cleaner removes it
                // later if this write cannot run now).
                let _ = self.store.write(move |c| store::remove(c, id)).await;
                Err(e)
            }
        }
    }

    async fn receive<S, B, E>(
        &self,
        up: &mut Upload,
        used: u64,
        limits: Limits,
        body: &mut S,
    ) -> Result<Attachment>
    where
        S: Stream<Item = std::result::Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: Into<Error>,
    {
        while let Some(piece) = poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).await {
            let piece = piece.map_err(Into::into)?;
            let mut bytes = piece.as_ref();
            up.size += bytes.len() as u64;
            if up.size > limits.max_file {
                return Err(too_large(&limits));
            }
            if limits.tenant_quota > 0 && used + up.size > limits.tenant_quota {
                return Err(over_quota(&limits));
            }
            while !bytes.is_empty() {
                let room = CHUNK - up.buffer.len();
                let (now, later) = bytes.split_at(room.min(bytes.len()));
                up.buffer.extend_from_slice(now);
                bytes = later;
                if up.buffer.len() == CHUNK {
                    self.flush(up).await?;
                }
            }
        }
        if up.size == 0 {
            return Err(Error::invalid("file", "must not be empty"));
        }
        if !up.buffer.is_empty() {
            self.flush(up).await?;
        }
        let id = up.id;
        let size = up.size as i64;
        let sha = hex::encode(std::mem::take(&mut up.whole).finalize());
        let content_type = up.content_type.clone().unwrap_or_else(|| detect(&[]));
        self.store
            .write(move |c| {
                // Others may have finished uploads meanwhile: the quota holds for the sum.
                let a = store::finish(c, id, size, &sha, &content_type)?;
                if limits.tenant_quota > 0
                    && store::usage(c, a.tenant_id)? as u64 > limits.tenant_quota
                {
                    return Err(over_quota(&limits));
                }
                Ok(a)
            })
            .await
    }

    /// Stores the chunk in `up.buffer` and starts the next. The buffer travels to the writer
    /// and back, so one allocation serves the whole upload: a fresh megabyte per chunk, freed
    /// on the writer's thread, made the allocator's peak grow with the file.
    async fn flush(&self, up: &mut Upload) -> Result<()> {
        let data = std::mem::take(&mut up.buffer);
        if up.content_type.is_none() {
            up.content_type = Some(detect(&data));
        }
        up.whole.update(&data);
        let digest = Sha256::digest(&data).to_vec();
        let (id, n) = (up.id, up.next);
        up.next += 1;
        let mut data = self
            .store
            .write(move |c| {
                store::append_chunk(c, id, n, &data, &digest)?;
                Ok(data)
            })
            .await?;
        data.clear();
        up.buffer = data;
        Ok(())
    }

    /// File `uuid` of the tenant, if `reader` (None: an admin) may see it; otherwise not found,
    /// as if it did not exist.
    pub async fn attachment(
        &self,
        tenant: TenantId,
        uuid: String,
        reader: Option<UserId>,
    ) -> Result<Attachment> {
        self.store
            .read(move |c| {
                let a = store::find(c, tenant, &uuid)?;
                if !a.is_ready() || !may_read(c, &a, reader)? {
                    return Err(Error::NotFound("attachment"));
                }
                Ok(a)
            })
            .await
    }

    /// What a download of file `uuid` needs, under the rules of `attachment`.
    pub async fn download(
        &self,
        tenant: TenantId,
        uuid: String,
        reader: Option<UserId>,
    ) -> Result<Download> {
        crate::audit::action("attachment.download");
        self.store
            .read(move |c| {
                let a = store::find(c, tenant, &uuid)?;
                if !a.is_ready() || !may_read(c, &a, reader)? {
                    return Err(Error::NotFound("attachment"));
                }
                let chunks = store::chunks(c, a.id)?;
                Ok(Download {
                    attachment: a,
                    chunks,
                })
            })
            .await
    }

    /// The content of one chunk of file `uuid`, checked against its digest.
    pub async fn chunk(&self, uuid: String, chunk: Chunk) -> Result<Vec<u8>> {
        self.store
            .read(move |c| {
                let data = store::read_chunk(c, &chunk)?;
                if Sha256::digest(&data).as_slice() != chunk.sha256.as_slice() {
                    return Err(corrupt(&uuid));
                }
                Ok(data)
            })
            .await
    }

    /// Removes files that were uploaded before `before` and never sent (and uploads that never
    /// finished), a page at a time. Returns how many.
    pub async fn remove_unsent(&self, before: i64) -> Result<usize> {
        let mut removed = 0;
        loop {
            let ids = self
                .store
                .read(move |c| store::unsent_before(c, before, 100))
                .await?;
            if ids.is_empty() {
                return Ok(removed);
            }
            for id in ids {
                // One file per command: a file may be tens of megabytes of pages to free.
                self.store
                    .write(move |c| crate::store::retention::securely(c, || store::remove(c, id)))
                    .await?;
                removed += 1;
            }
        }
    }
}

/// Removes unsent files older than `hours`, every ten minutes (the first pass at start).
pub fn spawn_cleaner(service: Service, hours: u32) {
    actix_web::rt::spawn(async move {
        loop {
            let before = service.now() - i64::from(hours) * 3_600_000;
            match service.remove_unsent(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} unsent attachment(s) older than {hours} h"),
                Err(e) => tracing::warn!("removing unsent attachments (tried again later): {e}"),
            }
            actix_web::rt::time::sleep(Duration::from_secs(600)).await;
        }
    });
}

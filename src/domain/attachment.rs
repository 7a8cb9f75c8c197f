//! Files uploaded into a conversation (issue 16).

use super::{ConversationId, MessageId, TenantId, UserId};

/// An uploaded file as stored: who put it where, what it is, and whether a message carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: i64,
    pub uuid: String,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub uploader_id: UserId,
    /// None until a send attaches it.
    pub message_id: Option<MessageId>,
    /// The client's name for it, sanitised (`service::attachments::sanitise`).
    pub filename: String,
    /// Detected from its bytes, never taken from the client.
    pub content_type: String,
    pub size: i64,
    /// Lowercase hex SHA-256 of the whole content; None while it is still being uploaded.
    pub sha256: Option<String>,
    pub created_at: i64,
}

impl Attachment {
    pub fn is_ready(&self) -> bool {
        self.sha256.is_some()
    }

    pub fn as_file(&self) -> FileRef {
        FileRef {
            uuid: self.uuid.clone(),
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
        }
    }
}

/// A file as a message carries it: enough to list it and to link to its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub uuid: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
}

/// One stored piece of a file's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The chunk row's rowid, which blob I/O opens it by.
    pub row: i64,
    pub n: i64,
    pub len: i64,
    pub sha256: Vec<u8>,
}

//! Attachments: an uploaded file's metadata, and a file as a message lists it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::time::rfc3339_ms;
use crate::domain::{Attachment, FileRef};

/// Where a file's content is downloaded, relative to the server's root.
pub fn content_url(uuid: &str) -> String {
    format!("{}/attachments/{uuid}/content", crate::native::BASE)
}

/// A file a message carries.
#[derive(Serialize, JsonSchema)]
pub struct FileDto {
    pub id: String,
    pub filename: String,
    /// Detected from the bytes at upload.
    pub content_type: String,
    pub size: i64,
    /// The download, for the same credential (a path on this server).
    pub url: String,
}

impl From<&FileRef> for FileDto {
    fn from(f: &FileRef) -> Self {
        Self {
            id: f.uuid.clone(),
            filename: f.filename.clone(),
            content_type: f.content_type.clone(),
            size: f.size,
            url: content_url(&f.uuid),
        }
    }
}

/// An uploaded file.
#[derive(Serialize, JsonSchema)]
pub struct AttachmentDto {
    pub id: String,
    pub conversation_id: i64,
    /// The message that carries it; null until it is sent.
    pub message_id: Option<i64>,
    pub uploader_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    /// Lowercase hex SHA-256 of the content (also the download's ETag).
    pub sha256: String,
    pub url: String,
    pub created_at: String,
}

impl From<Attachment> for AttachmentDto {
    fn from(a: Attachment) -> Self {
        Self {
            url: content_url(&a.uuid),
            id: a.uuid,
            conversation_id: a.conversation_id.0,
            message_id: a.message_id.map(|m| m.0),
            uploader_id: a.uploader_id.0,
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            sha256: a.sha256.unwrap_or_default(),
            created_at: rfc3339_ms(a.created_at),
        }
    }
}

/// An upload's query: the file's name (for a raw body) and who uploads it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name for a raw body (or the `X-Parlor-Filename` header); a multipart
    /// upload's part names its own.
    pub filename: Option<String>,
    #[serde(rename = "as")]
    pub as_user: Option<String>,
}

/// Reading a file: as whom (admins may name a user).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentQuery {
    #[serde(rename = "as")]
    pub as_user: Option<String>,
}

//! A patient's records as a document (right of access, 45 CFR 164.524): the values the export
//! use case (`service::export`) gathers, and the two renderings of them, JSON (`json.rs`) and a
//! printable HTML page (`html.rs`). A renderer is fed piece by piece, so a long history is
//! written out as it is read instead of being held whole.

pub mod cli;
mod html;
mod json;

use crate::domain::clock::Millis;
use crate::domain::{Conversation, Participant, Tenant, User, UserId};
use crate::error::{Error, Result};
use crate::store::export::{Reaction, StoredMessage};

/// The `format` field of the JSON document; a change to its shape gets a new number.
pub const FORMAT: &str = "parlor-patient-export/2";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

impl Format {
    pub fn parse(field: &str, text: &str) -> Result<Format> {
        match text {
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            _ => Err(Error::invalid(field, "must be \"json\" or \"html\"")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Html => "html",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Html => "text/html; charset=utf-8",
        }
    }

    /// A file name for the download: the patient's oid (never their name, which would put
    /// the patient's identity in logs and download folders' listings) and the date.
    pub fn file_name(self, patient: &User, at: Millis) -> String {
        let date = crate::domain::time::utc(at).format("%Y-%m-%d");
        let safe: String = patient
            .oid
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        format!("patient-{safe}-records-{date}.{}", self.as_str())
    }

    pub(crate) fn renderer(self) -> Box<dyn Render + Send> {
        match self {
            Format::Json => Box::new(json::Json::default()),
            Format::Html => Box::new(html::Html::default()),
        }
    }
}

/// Who asked for an export (the audit trail's actor, when it records the export).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    ServerAdmin,
    User(UserId),
    /// `parlor export patient` on the server's machine.
    Cli,
}

/// What an export covered: the value the audit entry of an export is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub tenant: crate::domain::TenantId,
    pub patient: UserId,
    pub conversations: u64,
    pub messages: u64,
    pub format: Format,
    pub requested_by: Requester,
}

impl Summary {
    /// What the audit trail keeps of an export: counts and the format, never content.
    pub fn audit_detail(&self) -> String {
        serde_json::json!({
            "conversations": self.conversations,
            "messages": self.messages,
            "format": self.format.as_str(),
        })
        .to_string()
    }

    /// The audit entry of an export made from the command line.
    pub fn cli_entry(&self, at: crate::domain::clock::Millis) -> crate::audit::Entry {
        let mut entry = crate::audit::cli::entry(at, "patient.export");
        entry.tenant = Some(self.tenant);
        entry.touch(crate::audit::object::USER, self.patient.0);
        entry.patients.insert(self.patient.0);
        entry.outcome = "ok".into();
        entry.detail = Some(self.audit_detail());
        entry
    }
}

/// The top of the document.
pub struct Header<'a> {
    pub clinic: &'a Tenant,
    pub patient: &'a User,
    pub generated_at: Millis,
}

/// Someone a conversation names: a participant (`member`), or someone who no longer is one
/// but whose messages are still in it (a removed participant's row is gone, with their read
/// state; their messages stay).
pub struct Person {
    pub user: User,
    pub member: Option<Participant>,
}

/// A conversation, before its messages.
pub struct Thread<'a> {
    pub conversation: &'a Conversation,
    /// Members first, in the order they joined, then former members.
    pub people: &'a [Person],
}

/// How a read receipt is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadBasis {
    /// This message was read on its own, at `at`.
    Message,
    /// The reader marked the conversation read up to this message or past it; `at` is when
    /// they last did so, so the message was read at that time or before.
    Horizon,
}

impl ReadBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadBasis::Message => "message",
            ReadBasis::Horizon => "horizon",
        }
    }
}

pub struct Receipt {
    pub user: UserId,
    pub at: Option<Millis>,
    pub basis: ReadBasis,
}

/// One message with who read it and how they reacted.
pub struct Entry {
    pub stored: StoredMessage,
    pub read_by: Vec<Receipt>,
    pub reactions: Vec<Reaction>,
}

/// A file a message of the conversation carried, before its content.
pub struct FileHead<'a> {
    pub file: &'a crate::domain::Attachment,
}

/// Base64 of content fed in pieces of any length: what does not fill a group of three bytes
/// waits for the next piece.
#[derive(Default)]
pub(crate) struct Base64 {
    carry: Vec<u8>,
}

impl Base64 {
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        use base64::Engine;
        self.carry.extend_from_slice(bytes);
        let whole = self.carry.len() / 3 * 3;
        let text = base64::engine::general_purpose::STANDARD.encode(&self.carry[..whole]);
        out.extend_from_slice(text.as_bytes());
        self.carry.drain(..whole);
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(&self.carry);
        out.extend_from_slice(text.as_bytes());
        self.carry.clear();
    }
}

/// Counts for the end of the document.
pub struct Totals {
    pub conversations: u64,
    pub messages: u64,
}

/// A rendering, fed in document order: `begin`, then for each conversation `thread`, its
/// messages in pages (`entries`), the files its messages carry (`file`, the content in pieces
/// through `file_content`, `file_end`) and `end_thread`, then `end`. Each call appends to
/// `out`.
pub(crate) trait Render {
    fn begin(&mut self, header: &Header, out: &mut Vec<u8>);
    fn thread(&mut self, thread: &Thread, out: &mut Vec<u8>);
    fn entries(&mut self, entries: &[Entry], out: &mut Vec<u8>);
    fn file(&mut self, head: &FileHead, out: &mut Vec<u8>);
    fn file_content(&mut self, bytes: &[u8], out: &mut Vec<u8>);
    fn file_end(&mut self, out: &mut Vec<u8>);
    fn end_thread(&mut self, out: &mut Vec<u8>);
    fn end(&mut self, totals: &Totals, out: &mut Vec<u8>);
}

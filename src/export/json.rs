//! The JSON rendering, `parlor-patient-export/2` (its shape is in README.md, "Answering a
//! patient's request for their records"). Written piece by piece: each conversation's head and
//! each message are serialized on their own, and the brackets between them are written here.

use serde::Serialize;
use serde_json::Value;

use super::{Base64, Entry, FileHead, Header, Render, Thread, Totals, FORMAT};
use crate::domain::clock::Millis;
use crate::domain::time::rfc3339_ms;

#[derive(Default)]
pub(super) struct Json {
    /// Conversations written, and messages written in the current one: every item but an
    /// array's first is preceded by a comma.
    conversations: usize,
    messages_in_thread: usize,
    /// Files written in the current conversation (its `files` array is opened by the first).
    files_in_thread: usize,
    content: Base64,
}

fn stamp(ms: Option<Millis>) -> Option<String> {
    ms.map(rfc3339_ms)
}

#[derive(Serialize)]
struct Top<'a> {
    format: &'static str,
    generated_at: String,
    clinic: Clinic<'a>,
    patient: Patient<'a>,
}

#[derive(Serialize)]
struct Clinic<'a> {
    id: i64,
    uuid: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Patient<'a> {
    id: i64,
    uuid: &'a str,
    oid: &'a str,
    role: &'static str,
    display_name: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    prefix: Option<&'a str>,
    gender: Option<&'a str>,
    birthdate: Option<&'a str>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    external_id: Option<&'a str>,
    username: Option<&'a str>,
    created_at: String,
}

#[derive(Serialize)]
struct ConversationHead<'a> {
    id: i64,
    uuid: &'a str,
    oid: &'a str,
    name: Option<&'a str>,
    status: &'static str,
    archived_at: Option<String>,
    locked: bool,
    deleted: bool,
    metadata: &'a Value,
    created_at: String,
    participants: Vec<PersonDto<'a>>,
}

#[derive(Serialize)]
struct PersonDto<'a> {
    id: i64,
    uuid: &'a str,
    display_name: &'a str,
    role: &'static str,
    /// False for someone whose messages are in the conversation but who is no longer in it.
    current: bool,
    joined_at: Option<String>,
    last_read_seq: Option<i64>,
    last_read_at: Option<String>,
}

#[derive(Serialize)]
struct MessageDto<'a> {
    id: i64,
    uuid: &'a str,
    oid: &'a str,
    seq: i64,
    sender: i64,
    recipient: Option<i64>,
    kind: &'static str,
    subject: Option<&'a str>,
    text: &'a str,
    attachments: &'a Value,
    /// Uploaded files (their content is in the conversation's `files`).
    files: Vec<FileRefDto<'a>>,
    status: Option<&'static str>,
    reply_to: Option<i64>,
    metadata: &'a Value,
    created_at: String,
    updated_at: String,
    deleted_at: Option<String>,
    read_by: Vec<ReceiptDto>,
    reactions: Vec<ReactionDto<'a>>,
}

#[derive(Serialize)]
struct FileRefDto<'a> {
    id: &'a str,
    filename: &'a str,
    content_type: &'a str,
    size: i64,
}

/// A file and its content: the content is written after this head, as base64.
#[derive(Serialize)]
struct FileDto<'a> {
    id: &'a str,
    message: Option<i64>,
    filename: &'a str,
    content_type: &'a str,
    size: i64,
    sha256: Option<&'a str>,
    created_at: String,
}

#[derive(Serialize)]
struct ReceiptDto {
    user: i64,
    at: Option<String>,
    basis: &'static str,
}

#[derive(Serialize)]
struct ReactionDto<'a> {
    user: i64,
    emoji: &'a str,
    at: String,
}

/// `value` serialized as an object left open, so that more members can follow.
fn open_object(value: &impl Serialize, out: &mut Vec<u8>) {
    let start = out.len();
    // Serializing these plain structs into memory cannot fail.
    if serde_json::to_writer(&mut *out, value).is_ok() && out.last() == Some(&b'}') {
        out.pop();
    } else {
        out.truncate(start);
        out.push(b'{');
    }
}

impl Render for Json {
    fn begin(&mut self, h: &Header, out: &mut Vec<u8>) {
        let p = h.patient;
        let profile = &p.profile;
        let top = Top {
            format: FORMAT,
            generated_at: rfc3339_ms(h.generated_at),
            clinic: Clinic {
                id: h.clinic.id.0,
                uuid: &h.clinic.uuid,
                name: &h.clinic.name,
            },
            patient: Patient {
                id: p.id.0,
                uuid: &p.uuid,
                oid: &p.oid,
                role: p.role.as_str(),
                display_name: &p.display_name,
                first_name: profile.first_name.as_deref(),
                last_name: profile.last_name.as_deref(),
                prefix: profile.prefix.as_deref(),
                gender: profile.gender.as_deref(),
                birthdate: profile.birthdate.as_deref(),
                email: profile.email.as_deref(),
                phone: profile.phone.as_deref(),
                external_id: p.external_id.as_deref(),
                username: p.username.as_deref(),
                created_at: rfc3339_ms(p.created_at),
            },
        };
        open_object(&top, out);
        out.extend_from_slice(b",\"conversations\":[");
    }

    fn thread(&mut self, t: &Thread, out: &mut Vec<u8>) {
        let c = t.conversation;
        let head = ConversationHead {
            id: c.id.0,
            uuid: &c.uuid,
            oid: &c.oid,
            name: c.name.as_deref(),
            status: c.status.as_str(),
            archived_at: stamp(c.archived_at),
            locked: c.locked,
            deleted: c.deleted,
            metadata: &c.metadata,
            created_at: rfc3339_ms(c.created_at),
            participants: t
                .people
                .iter()
                .map(|p| PersonDto {
                    id: p.user.id.0,
                    uuid: &p.user.uuid,
                    display_name: &p.user.display_name,
                    role: p.user.role.as_str(),
                    current: p.member.is_some(),
                    joined_at: stamp(p.member.as_ref().map(|m| m.joined_at)),
                    last_read_seq: p.member.as_ref().map(|m| m.last_read_seq),
                    last_read_at: stamp(p.member.as_ref().and_then(|m| m.last_read_at)),
                })
                .collect(),
        };
        if self.conversations > 0 {
            out.push(b',');
        }
        self.conversations += 1;
        self.messages_in_thread = 0;
        open_object(&head, out);
        out.extend_from_slice(b",\"messages\":[");
    }

    fn entries(&mut self, entries: &[Entry], out: &mut Vec<u8>) {
        for e in entries {
            let m = &e.stored.message;
            let dto = MessageDto {
                id: m.id.0,
                uuid: &m.uuid,
                oid: &m.oid,
                seq: m.seq,
                sender: m.sender_id.0,
                recipient: m.recipient_id.map(|u| u.0),
                kind: m.kind.as_str(),
                subject: m.subject.as_deref(),
                text: &m.body,
                attachments: &m.attachments,
                files: m
                    .files
                    .iter()
                    .map(|f| FileRefDto {
                        id: &f.uuid,
                        filename: &f.filename,
                        content_type: &f.content_type,
                        size: f.size,
                    })
                    .collect(),
                status: m.status.map(|s| s.as_str()),
                reply_to: m.reply_to.map(|r| r.0),
                metadata: &m.metadata,
                created_at: rfc3339_ms(m.created_at),
                updated_at: rfc3339_ms(m.updated_at),
                deleted_at: stamp(e.stored.deleted_at),
                read_by: e
                    .read_by
                    .iter()
                    .map(|r| ReceiptDto {
                        user: r.user.0,
                        at: stamp(r.at),
                        basis: r.basis.as_str(),
                    })
                    .collect(),
                reactions: e
                    .reactions
                    .iter()
                    .map(|r| ReactionDto {
                        user: r.user_id.0,
                        emoji: &r.emoji,
                        at: rfc3339_ms(r.created_at),
                    })
                    .collect(),
            };
            if self.messages_in_thread > 0 {
                out.push(b',');
            }
            self.messages_in_thread += 1;
            if serde_json::to_writer(&mut *out, &dto).is_err() {
                out.extend_from_slice(b"null");
            }
        }
    }

    fn file(&mut self, head: &FileHead, out: &mut Vec<u8>) {
        let f = head.file;
        out.extend_from_slice(if self.files_in_thread == 0 {
            b"],\"files\":["
        } else {
            b","
        });
        self.files_in_thread += 1;
        open_object(
            &FileDto {
                id: &f.uuid,
                message: f.message_id.map(|m| m.0),
                filename: &f.filename,
                content_type: &f.content_type,
                size: f.size,
                sha256: f.sha256.as_deref(),
                created_at: rfc3339_ms(f.created_at),
            },
            out,
        );
        out.extend_from_slice(b",\"content_base64\":\"");
    }

    fn file_content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.content.feed(bytes, out);
    }

    fn file_end(&mut self, out: &mut Vec<u8>) {
        self.content.finish(out);
        out.extend_from_slice(b"\"}");
    }

    fn end_thread(&mut self, out: &mut Vec<u8>) {
        if self.files_in_thread == 0 {
            out.extend_from_slice(b"],\"files\":[");
        }
        self.files_in_thread = 0;
        out.extend_from_slice(b"]}");
    }

    fn end(&mut self, totals: &Totals, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!(
                "],\"totals\":{{\"conversations\":{},\"messages\":{}}}}}\n",
                totals.conversations, totals.messages
            )
            .as_bytes(),
        );
    }
}

//! The printable rendering: one self-contained HTML page (inline CSS, no script, no link; its
//! Content-Security-Policy forbids loading anything but the `data:` pictures it carries), in
//! the clinic's local time. Files sent with messages are in it: pictures shown, every file a
//! `data:` link that saves it.
//! Every piece of stored text goes through `escape`, attachments' addresses included: they are
//! shown as text, never fetched.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{FixedOffset, TimeZone};

use super::{Base64, Entry, FileHead, Header, ReadBasis, Render, Thread, Totals};
use crate::domain::clock::Millis;
use crate::domain::time::format_utc_offset;
use crate::domain::UserId;

#[derive(Default)]
pub(super) struct Html {
    /// The clinic's UTC offset, in minutes: times are shown as the clinic reads its clock.
    offset: i32,
    /// Names of the people of the current conversation.
    names: HashMap<UserId, String>,
    /// Files written in the current conversation (the first opens their list).
    files_in_thread: usize,
    content: Base64,
    /// The current file is a picture shown in the page (else only its link).
    picture: bool,
}

/// `text` with the five characters that matter in HTML text and attribute values replaced.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:11pt/1.4 Georgia,'Times New Roman',serif;color:#111;margin:2em auto;max-width:60em;padding:0 1em}
h1{font-size:1.6em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.6em 0 .2em;border-bottom:1px solid #999}
dl.about{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:.5em 0 1em}
dl.about dt{font-weight:bold}dl.about dd{margin:0}
p.note,p.meta{color:#444;font-size:.9em;margin:.2em 0 .6em}
table{border-collapse:collapse;width:100%;margin:.4em 0 1em;font-size:.92em}
th,td{border:1px solid #bbb;padding:.25em .4em;text-align:left;vertical-align:top}
th{background:#eee}
td.text{white-space:pre-wrap;overflow-wrap:anywhere}
td.num{text-align:right;white-space:nowrap}td.when{white-space:nowrap}
tr.deleted td{color:#666;background:#f6f6f6}
.tag{font-size:.85em;color:#555}
ul.reads{list-style:none;margin:0;padding:0}
footer{margin-top:2em;border-top:1px solid #999;padding-top:.5em;font-size:.9em}
@media print{
 body{margin:0;max-width:none;font-size:10pt}
 section.conversation{break-before:page}
 section.conversation:first-of-type{break-before:auto}
 h2{break-after:avoid}
 thead{display:table-header-group}
 tr{break-inside:avoid}
 th{background:none}
 tr.deleted td{background:none}
}
";

impl Html {
    fn when(&self, ms: Millis) -> String {
        let shown = FixedOffset::east_opt(self.offset * 60)
            .and_then(|offset| offset.timestamp_millis_opt(ms).single());
        match shown {
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => ms.to_string(),
        }
    }

    fn name(&self, user: UserId) -> String {
        match self.names.get(&user) {
            Some(name) => escape(name),
            None => format!("user {}", user.0),
        }
    }
}

impl Render for Html {
    fn begin(&mut self, h: &Header, out: &mut Vec<u8>) {
        self.offset = h.clinic.utc_offset_minutes;
        let p = h.patient;
        let clinic = escape(&h.clinic.name);
        let patient = escape(&p.display_name);
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
             <meta name=\"robots\" content=\"noindex\">\
             <title>Messaging records of {patient}, {clinic}</title><style>{STYLE}</style></head><body>\n\
             <header><h1>Messaging records</h1><dl class=\"about\">\
             <dt>Clinic</dt><dd>{clinic}</dd>\
             <dt>Patient</dt><dd>{patient} <span class=\"tag\">({role}, id {id}, {uuid})</span></dd>",
            role = escape(p.role.as_str()),
            id = p.id.0,
            uuid = escape(&p.uuid),
        );
        let profile = &p.profile;
        let full_name = [
            profile.prefix.as_deref(),
            profile.first_name.as_deref(),
            profile.last_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        for (label, value) in [
            (
                "Name on file",
                (!full_name.is_empty()).then_some(full_name.as_str()),
            ),
            ("Date of birth", profile.birthdate.as_deref()),
            ("Email", profile.email.as_deref()),
            ("Phone", profile.phone.as_deref()),
            ("External id", p.external_id.as_deref()),
        ] {
            if let Some(value) = value {
                let _ = write!(s, "<dt>{label}</dt><dd>{}</dd>", escape(value));
            }
        }
        let _ = writeln!(
            s,
            "<dt>Generated</dt><dd>{}</dd><dt>Times shown in</dt><dd>UTC{}</dd></dl>\
             <p class=\"note\">Every conversation this person is or was part of, archived and \
             deleted ones included, with every message the clinic's messaging system holds \
             (deleted messages are marked). \u{201c}Read by\u{201d} lists who read each \
             message: at a time for a message read on its own, or \u{201c}by\u{201d} a time \
             when the reader marked the conversation read up to that point.</p></header>",
            self.when(h.generated_at),
            escape(&format_utc_offset(self.offset)),
        );
        out.extend_from_slice(s.as_bytes());
    }

    fn thread(&mut self, t: &Thread, out: &mut Vec<u8>) {
        let c = t.conversation;
        self.names = t
            .people
            .iter()
            .map(|p| (p.user.id, p.user.display_name.clone()))
            .collect();
        let title = match &c.name {
            Some(name) if !name.trim().is_empty() => escape(name),
            _ => format!("Conversation {}", escape(&c.oid)),
        };
        let mut state = vec![format!("created {}", self.when(c.created_at))];
        if let Some(at) = c.archived_at {
            state.push(format!("archived {}", self.when(at)));
        } else if c.status.as_str() == "archived" {
            state.push("archived".into());
        }
        if c.locked {
            state.push("locked".into());
        }
        if c.deleted {
            state.push("deleted".into());
        }
        let mut s = String::new();
        let _ = write!(
            s,
            "<section class=\"conversation\"><h2>{title}</h2><p class=\"meta\">{} \
             <span class=\"tag\">(id {}, {})</span></p>\
             <table class=\"people\"><thead><tr><th>Participant</th><th>Role</th><th>Joined</th>\
             <th>Read up to</th></tr></thead><tbody>",
            state.join(", "),
            c.id.0,
            escape(&c.uuid),
        );
        for p in t.people {
            let (joined, read) = match &p.member {
                Some(m) => (
                    self.when(m.joined_at),
                    match m.last_read_at {
                        Some(at) => format!("message {} (by {})", m.last_read_seq, self.when(at)),
                        None if m.last_read_seq > 0 => format!("message {}", m.last_read_seq),
                        None => String::new(),
                    },
                ),
                None => ("no longer a participant".into(), String::new()),
            };
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"when\">{joined}</td><td>{read}</td></tr>",
                escape(&p.user.display_name),
                escape(p.user.role.as_str()),
            );
        }
        s.push_str(
            "</tbody></table><table class=\"messages\"><thead><tr><th>#</th><th>Sent</th>\
             <th>From</th><th>Message</th><th>Read by</th></tr></thead><tbody>\n",
        );
        out.extend_from_slice(s.as_bytes());
    }

    fn entries(&mut self, entries: &[Entry], out: &mut Vec<u8>) {
        let mut s = String::new();
        for e in entries {
            let m = &e.stored.message;
            let mut when = self.when(m.created_at);
            if m.updated_at != m.created_at && e.stored.deleted_at != Some(m.updated_at) {
                let _ = write!(
                    when,
                    "<br><span class=\"tag\">changed {}</span>",
                    self.when(m.updated_at)
                );
            }
            let mut text = String::new();
            if let Some(at) = e.stored.deleted_at {
                let _ = writeln!(
                    text,
                    "<span class=\"tag\">[deleted {}]</span>",
                    self.when(at)
                );
            }
            if let Some(subject) = m.subject.as_deref().filter(|s| !s.is_empty()) {
                let _ = writeln!(text, "<strong>{}</strong>", escape(subject));
            }
            if m.kind.as_str() != "text" {
                let _ = write!(text, "<span class=\"tag\">[{}]</span> ", m.kind.as_str());
            }
            text.push_str(&escape(&m.body));
            if let Some(files) = m.attachments.as_array().filter(|a| !a.is_empty()) {
                for f in files {
                    let shown = match f {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let _ = write!(
                        text,
                        "\n<span class=\"tag\">attachment: {}</span>",
                        escape(&shown)
                    );
                }
            }
            for f in &m.files {
                let _ = write!(
                    text,
                    "\n<span class=\"tag\">file: <a href=\"#file-{}\">{}</a> ({}, {} bytes)</span>",
                    escape(&f.uuid),
                    escape(&f.filename),
                    escape(&f.content_type),
                    f.size
                );
            }
            for r in &e.reactions {
                let _ = write!(
                    text,
                    "\n<span class=\"tag\">{} reacted {} at {}</span>",
                    self.name(r.user_id),
                    escape(&r.emoji),
                    self.when(r.created_at)
                );
            }
            let mut reads = String::new();
            for r in &e.read_by {
                let at = match (r.basis, r.at) {
                    (ReadBasis::Message, Some(at)) => self.when(at),
                    (ReadBasis::Horizon, Some(at)) => format!("by {}", self.when(at)),
                    (_, None) => "time not recorded".into(),
                };
                let _ = write!(
                    reads,
                    "<li>{} <span class=\"tag\">{at}</span></li>",
                    self.name(r.user)
                );
            }
            let _ = writeln!(
                s,
                "<tr{}><td class=\"num\">{}</td><td class=\"when\">{when}</td><td>{}</td>\
                 <td class=\"text\">{text}</td><td><ul class=\"reads\">{reads}</ul></td></tr>",
                if e.stored.deleted_at.is_some() {
                    " class=\"deleted\""
                } else {
                    ""
                },
                m.seq,
                self.name(m.sender_id),
            );
        }
        out.extend_from_slice(s.as_bytes());
    }

    fn file(&mut self, head: &FileHead, out: &mut Vec<u8>) {
        let f = head.file;
        if self.files_in_thread == 0 {
            out.extend_from_slice(b"</tbody></table><h3>Files</h3><ul class=\"files\">\n");
        }
        self.files_in_thread += 1;
        self.picture = crate::service::attachments::is_inline(&f.content_type)
            && f.content_type.starts_with("image/");
        let mut s = format!(
            "<li id=\"file-{}\"><p>{} <span class=\"tag\">({}, {} bytes, SHA-256 {})</span></p>",
            escape(&f.uuid),
            escape(&f.filename),
            escape(&f.content_type),
            f.size,
            escape(f.sha256.as_deref().unwrap_or_default()),
        );
        if self.picture {
            let _ = write!(
                s,
                "<img alt=\"{}\" style=\"max-width:100%\" src=\"data:{};base64,",
                escape(&f.filename),
                escape(&f.content_type)
            );
        } else {
            // Anything a browser could run is saved as bytes, never opened as what it is.
            let _ = write!(
                s,
                "<a download=\"{}\" href=\"data:{};base64,",
                escape(&f.filename),
                escape(crate::service::attachments::served_type(&f.content_type))
            );
        }
        out.extend_from_slice(s.as_bytes());
        self.content = Base64::default();
    }

    fn file_content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.content.feed(bytes, out);
    }

    fn file_end(&mut self, out: &mut Vec<u8>) {
        self.content.finish(out);
        out.extend_from_slice(if self.picture {
            b"\"></li>\n"
        } else {
            b"\">save the file</a></li>\n"
        });
    }

    fn end_thread(&mut self, out: &mut Vec<u8>) {
        if self.files_in_thread > 0 {
            out.extend_from_slice(b"</ul></section>\n");
        } else {
            out.extend_from_slice(b"</tbody></table></section>\n");
        }
        self.files_in_thread = 0;
    }

    fn end(&mut self, totals: &Totals, out: &mut Vec<u8>) {
        let s = format!(
            "<footer>{} conversation{}, {} message{}. End of records.</footer></body></html>\n",
            totals.conversations,
            if totals.conversations == 1 { "" } else { "s" },
            totals.messages,
            if totals.messages == 1 { "" } else { "s" },
        );
        out.extend_from_slice(s.as_bytes());
    }
}

//! Right of access (45 CFR 164.524): every conversation of one patient, with its people, every
//! message and who read it, rendered as JSON or a printable page (`crate::export`).
//!
//! What is exported is what the file holds: archived and deleted conversations, and deleted
//! messages with their text, marked deleted. Parlor deletes softly, so that text is still part
//! of the record the clinic keeps about the patient; what retention has purged is gone and is
//! not in the export.
//!
//! Nothing is held whole: messages are read `PAGE` at a time, each page in its own read
//! transaction, rendered, and handed to the `Out` once `FLUSH_AT` bytes have gathered. The
//! server streams those pieces to the client; a long history costs a page, not the history.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use super::Service;
use crate::domain::{IdRef, Participant, Tenant, TenantId, User, UserId};
use crate::error::{Error, Result};
use crate::export::{
    Entry, FileHead, Format, Header, Person, ReadBasis, Receipt, Render, Requester, Summary,
    Thread, Totals,
};
use crate::store::{export, participants, users};

/// Messages read per read transaction.
const PAGE: u32 = 500;
/// Rendered bytes gathered before they are handed on.
const FLUSH_AT: usize = 64 * 1024;

/// Where an export's bytes go, in order. An error stops the export (a client that hung up).
pub trait Out {
    fn put(&mut self, bytes: Vec<u8>) -> impl Future<Output = Result<()>>;
}

/// The clinic and patient of an export, resolved before anything is written, so that a wrong
/// id is an answer of its own and never a broken download.
#[derive(Clone, Debug)]
pub struct Subject {
    pub clinic: Tenant,
    pub patient: User,
}

impl Service {
    /// The tenant's user `who` (an id, uuid or oid) as the subject of an export.
    pub async fn export_subject(&self, tenant: TenantId, who: IdRef) -> Result<Subject> {
        let clinic = self.tenant(tenant).await?;
        let patient = self.user(tenant, who).await?;
        Ok(Subject { clinic, patient })
    }

    /// Like `export_subject`, for a person typing at the command line: `who` is an id, uuid
    /// or oid of the tenant's user, else a username.
    pub async fn export_subject_named(&self, tenant: TenantId, who: &str) -> Result<Subject> {
        if let Some(r) = IdRef::parse(who) {
            match self.export_subject(tenant, r).await {
                Err(Error::NotFound("user")) => {}
                found => return found,
            }
        }
        let clinic = self.tenant(tenant).await?;
        let name = who.to_string();
        let patient = self
            .store
            .read(move |c| users::find_login(c, tenant, &name))
            .await?
            .map(|(user, _)| user)
            .ok_or(Error::NotFound("user"))?;
        Ok(Subject { clinic, patient })
    }

    /// Writes the export of `subject` to `out` and says what it covered (the audit entry of an
    /// export is made from the summary).
    pub async fn export_patient<O: Out>(
        &self,
        subject: &Subject,
        format: Format,
        requested_by: Requester,
        out: &mut O,
    ) -> Result<Summary> {
        let tenant = subject.clinic.id;
        let patient = subject.patient.id;
        let mut render = format.renderer();
        let mut buf = Vec::with_capacity(FLUSH_AT * 2);
        render.begin(
            &Header {
                clinic: &subject.clinic,
                patient: &subject.patient,
                generated_at: self.now(),
            },
            &mut buf,
        );

        let ids = self
            .store
            .read(move |c| export::conversation_ids_of(c, tenant, patient))
            .await?;
        let mut totals = Totals {
            conversations: 0,
            messages: 0,
        };
        for id in ids {
            let (conversation, people) = self
                .store
                .read(move |c| {
                    let conversation = export::conversation(c, tenant, id)?;
                    let members = participants::list(c, id)?;
                    let mut named: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
                    let known: HashSet<UserId> = named.iter().copied().collect();
                    let mut former: Vec<UserId> = export::people_named(c, id)?
                        .into_iter()
                        .filter(|u| !known.contains(u))
                        .collect();
                    former.sort();
                    named.extend(&former);
                    let mut found: HashMap<UserId, User> = users::by_ids(c, tenant, &named)?
                        .into_iter()
                        .map(|u| (u.id, u))
                        .collect();
                    let mut people = Vec::with_capacity(named.len());
                    for m in members {
                        if let Some(user) = found.remove(&m.user_id) {
                            people.push(Person {
                                user,
                                member: Some(m),
                            });
                        }
                    }
                    for u in former {
                        if let Some(user) = found.remove(&u) {
                            people.push(Person { user, member: None });
                        }
                    }
                    Ok((conversation, people))
                })
                .await?;
            render.thread(
                &Thread {
                    conversation: &conversation,
                    people: &people,
                },
                &mut buf,
            );
            totals.conversations += 1;
            let members: Vec<Participant> = people.into_iter().filter_map(|p| p.member).collect();
            totals.messages += self
                .export_messages(id, &members, &mut *render, &mut buf, out)
                .await?;
            self.export_files(id, &mut *render, &mut buf, out).await?;
            render.end_thread(&mut buf);
        }
        render.end(&totals, &mut buf);
        out.put(buf).await?;
        Ok(Summary {
            tenant,
            patient,
            conversations: totals.conversations,
            messages: totals.messages,
            format,
            requested_by,
        })
    }

    /// Renders the files the messages of `conv` carry (deleted ones kept for a hold included),
    /// their content a chunk at a time, each chunk checked as it is read.
    async fn export_files<O: Out>(
        &self,
        conv: crate::domain::ConversationId,
        render: &mut (dyn Render + Send),
        buf: &mut Vec<u8>,
        out: &mut O,
    ) -> Result<()> {
        let mut after = 0;
        loop {
            let page = self
                .store
                .read(move |c| crate::store::attachments::sent_in(c, conv, after, 20))
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.id;
            for file in page {
                let chunks = self
                    .store
                    .read({
                        let id = file.id;
                        move |c| crate::store::attachments::chunks(c, id)
                    })
                    .await?;
                render.file(&FileHead { file: &file }, buf);
                for chunk in chunks {
                    let data = self.chunk(file.uuid.clone(), chunk).await?;
                    render.file_content(&data, buf);
                    if buf.len() >= FLUSH_AT {
                        out.put(std::mem::replace(buf, Vec::with_capacity(FLUSH_AT * 2)))
                            .await?;
                    }
                }
                render.file_end(buf);
            }
        }
    }

    /// Renders every message of `conv`, a page at a time; returns how many there were.
    async fn export_messages<O: Out>(
        &self,
        conv: crate::domain::ConversationId,
        members: &[Participant],
        render: &mut (dyn Render + Send),
        buf: &mut Vec<u8>,
        out: &mut O,
    ) -> Result<u64> {
        let readers: Vec<UserId> = members.iter().map(|m| m.user_id).collect();
        let mut after = 0;
        let mut count = 0;
        loop {
            let readers = readers.clone();
            let (page, singles, reactions) = self
                .store
                .read(move |c| {
                    let page = export::messages_after(c, conv, after, PAGE)?;
                    let (Some(first), Some(last)) = (page.first(), page.last()) else {
                        return Ok((page, Vec::new(), Vec::new()));
                    };
                    let (first, last) = (first.message.seq, last.message.seq);
                    let mut singles = Vec::new();
                    for user in readers {
                        singles.extend(export::single_reads(c, conv, user, first, last)?);
                    }
                    let ids: Vec<_> = page.iter().map(|m| m.message.id).collect();
                    let reactions = export::reactions_to(c, &ids)?;
                    Ok((page, singles, reactions))
                })
                .await?;
            let full = page.len() == PAGE as usize;
            let Some(last) = page.last() else { break };
            after = last.message.seq;
            count += page.len() as u64;

            let mut single_at: HashMap<(UserId, i64), i64> = singles
                .into_iter()
                .map(|r| ((r.user_id, r.seq), r.read_at))
                .collect();
            let mut reactions_of: HashMap<_, Vec<_>> = HashMap::new();
            for r in reactions {
                reactions_of.entry(r.message_id).or_default().push(r);
            }
            let entries: Vec<Entry> = page
                .into_iter()
                .map(|stored| {
                    let read_by = receipts(&stored, members, &mut single_at);
                    let reactions = reactions_of.remove(&stored.message.id).unwrap_or_default();
                    Entry {
                        stored,
                        read_by,
                        reactions,
                    }
                })
                .collect();
            render.entries(&entries, buf);
            if buf.len() >= FLUSH_AT {
                out.put(std::mem::replace(buf, Vec::with_capacity(FLUSH_AT * 2)))
                    .await?;
            }
            if !full {
                break;
            }
        }
        Ok(count)
    }
}

/// Who read `stored`, as far as the read state tells: each member other than its sender whose
/// horizon covers it (read by the time they last moved it), or who read it on its own. A
/// deleted message counts as read through a horizon only if that horizon was set before the
/// deletion: a horizon set afterwards passed over a message nobody could see any more.
fn receipts(
    stored: &export::StoredMessage,
    members: &[Participant],
    single_at: &mut HashMap<(UserId, i64), i64>,
) -> Vec<Receipt> {
    let m = &stored.message;
    let mut out = Vec::new();
    for p in members.iter().filter(|p| p.user_id != m.sender_id) {
        if m.seq <= p.last_read_seq {
            let before_deletion = match (stored.deleted_at, p.last_read_at) {
                (None, _) => true,
                (Some(deleted), Some(read)) => read < deleted,
                (Some(_), None) => false,
            };
            if before_deletion {
                out.push(Receipt {
                    user: p.user_id,
                    at: p.last_read_at,
                    basis: ReadBasis::Horizon,
                });
            }
        } else if let Some(at) = single_at.remove(&(p.user_id, m.seq)) {
            out.push(Receipt {
                user: p.user_id,
                at: Some(at),
                basis: ReadBasis::Message,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, Message, MessageId, MessageKind, TenantId};
    use crate::store::export::StoredMessage;

    fn message(seq: i64, sender: i64, deleted_at: Option<i64>) -> StoredMessage {
        StoredMessage {
            message: Message {
                id: MessageId(seq),
                uuid: String::new(),
                oid: String::new(),
                tenant_id: TenantId(1),
                conversation_id: ConversationId(1),
                seq,
                sender_id: UserId(sender),
                recipient_id: None,
                body: "text".into(),
                kind: MessageKind::Text,
                subject: None,
                reply_to: None,
                status: None,
                metadata: serde_json::json!({}),
                attachments: serde_json::json!([]),
                files: Vec::new(),
                device: None,
                created_at: 100,
                updated_at: 100,
            },
            deleted_at,
        }
    }

    fn member(user: i64, last_read_seq: i64, last_read_at: Option<i64>) -> Participant {
        Participant {
            conversation_id: ConversationId(1),
            user_id: UserId(user),
            joined_at: 0,
            unread_count: 0,
            last_read_at,
            last_read_seq,
            muted: false,
        }
    }

    fn who(receipts: &[Receipt]) -> Vec<(i64, ReadBasis, Option<i64>)> {
        receipts.iter().map(|r| (r.user.0, r.basis, r.at)).collect()
    }

    #[test]
    fn receipts_follow_horizons_and_single_reads_never_the_sender() {
        let members = [
            member(1, 5, Some(500)),
            member(2, 2, Some(200)),
            member(3, 0, None),
        ];
        let mut singles = HashMap::from([((UserId(3), 4), 450), ((UserId(2), 4), 460)]);
        let got = receipts(&message(4, 1, None), &members, &mut singles);
        assert_eq!(
            who(&got),
            vec![
                (2, ReadBasis::Message, Some(460)),
                (3, ReadBasis::Message, Some(450))
            ]
        );
        let got = receipts(&message(2, 3, None), &members, &mut singles);
        assert_eq!(
            who(&got),
            vec![
                (1, ReadBasis::Horizon, Some(500)),
                (2, ReadBasis::Horizon, Some(200))
            ]
        );
    }

    #[test]
    fn a_horizon_set_after_a_deletion_did_not_read_the_deleted_message() {
        let members = [member(1, 5, Some(500)), member(2, 5, Some(300))];
        let got = receipts(&message(3, 9, Some(400)), &members, &mut HashMap::new());
        assert_eq!(who(&got), vec![(2, ReadBasis::Horizon, Some(300))]);
    }
}

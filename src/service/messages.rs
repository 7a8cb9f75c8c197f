//! Sending, editing, deleting, listing and reading messages.

use serde_json::Value;

use super::events::{self, Kind};
use super::{read_state, Service};
use crate::domain::Ids;
use crate::domain::{
    Conversation, ConversationId, IdRef, Message, MessageKind, MessageRead, MessageStatus,
    Participant, TenantId, UserId,
};
use crate::error::{Error, Result};
use crate::store::{conversations, messages, participants, users};

/// The longest message body accepted, in characters.
pub const MAX_BODY: usize = 20_000;

#[derive(Clone, Debug, Default)]
pub struct NewMessage {
    pub body: String,
    pub kind: Option<MessageKind>,
    pub recipient: Option<IdRef>,
    pub subject: Option<String>,
    pub reply_to: Option<IdRef>,
    pub status: Option<MessageStatus>,
    pub metadata: Option<Value>,
    pub attachments: Option<Value>,
    /// Uploaded files (their uuids) the message carries; each the sender's own upload into
    /// the conversation, not sent yet (`service::attachments`).
    pub attachment_ids: Vec<String>,
    pub device: Option<Value>,
}

/// A body must have some text and not be huge.
pub fn check_body(field: &str, body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if body.chars().count() > MAX_BODY {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_BODY} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_new(m: &NewMessage) -> Result<()> {
    // A file may go without words.
    if m.attachment_ids.is_empty() || m.body.chars().count() > MAX_BODY {
        check_body("body", &m.body)?;
    }
    if matches!(&m.metadata, Some(v) if !v.is_object()) {
        return Err(Error::invalid("metadata", "must be a JSON object"));
    }
    if matches!(&m.attachments, Some(v) if !v.is_array()) {
        return Err(Error::invalid("attachments", "must be a JSON array"));
    }
    if matches!(&m.device, Some(v) if !v.is_object()) {
        return Err(Error::invalid("device", "must be a JSON object"));
    }
    Ok(())
}

/// A page of a conversation's messages with what is needed to tell who has read each one.
#[derive(Clone, Debug, PartialEq)]
pub struct Thread {
    pub conversation_id: ConversationId,
    pub messages: Vec<Message>,
    /// The seq to continue from in the same direction, when there is more.
    pub next: Option<i64>,
    pub horizons: Vec<Participant>,
    pub single_reads: Vec<MessageRead>,
}

impl Thread {
    /// The participants (other than its sender) who have read `m`.
    pub fn read_by(&self, m: &Message) -> Vec<UserId> {
        self.horizons
            .iter()
            .filter(|p| p.user_id != m.sender_id)
            .filter(|p| {
                m.seq <= p.last_read_seq
                    || self
                        .single_reads
                        .iter()
                        .any(|r| r.user_id == p.user_id && r.seq == m.seq)
            })
            .map(|p| p.user_id)
            .collect()
    }
}

/// Sends `new` from `sender`, who must be a participant, in `conv`, which must not be locked.
/// The recipient, if named, must be another participant. Runs inside a write.
pub(crate) fn send_in(
    c: &rusqlite::Connection,
    tenant: TenantId,
    conv: &Conversation,
    sender: UserId,
    new: NewMessage,
    now: i64,
    ids: &Ids,
) -> Result<Message> {
    let check = participants::send_check(c, tenant, &IdRef::Id(conv.id.0), sender)?
        .ok_or(Error::NotFound("conversation"))?;
    send_checked(c, tenant, check, sender, new, now, ids)
}

/// `send_in` once the conversation and the sender's place in it are known (`check`).
fn send_checked(
    c: &rusqlite::Connection,
    tenant: TenantId,
    check: participants::SendCheck,
    sender: UserId,
    new: NewMessage,
    now: i64,
    ids: &Ids,
) -> Result<Message> {
    let conv = check.conversation;
    if !check.member {
        return Err(Error::forbidden(
            "the sender is not a participant of this conversation",
        ));
    }
    if check.locked {
        return Err(Error::forbidden("the conversation is locked"));
    }
    let recipient = match &new.recipient {
        Some(r) => {
            let user = users::find(c, tenant, r)
                .map_err(|_| Error::invalid("recipient", "no such user"))?;
            if user.id == sender || participants::get(c, conv, user.id)?.is_none() {
                return Err(Error::invalid(
                    "recipient",
                    "must be another participant of the conversation",
                ));
            }
            Some(user.id)
        }
        None => None,
    };
    let reply_to = match &new.reply_to {
        Some(r) => {
            let target = messages::find(c, tenant, r)
                .map_err(|_| Error::invalid("reply_to", "no such message"))?;
            if target.conversation_id != conv {
                return Err(Error::invalid(
                    "reply_to",
                    "is not a message of this conversation",
                ));
            }
            Some(target.id)
        }
        None => None,
    };
    let files = super::attachments::for_send(c, tenant, conv, sender, &new.attachment_ids)?;
    let mut new = messages::NewMessage {
        files: super::attachments::refs(&files),
        id: None,
        uuid: ids.uuid(now),
        oid: ids.oid(now),
        tenant_id: tenant,
        conversation_id: conv,
        // Handed out by the insert.
        seq: 0,
        sender_id: sender,
        recipient_id: recipient,
        body: new.body,
        kind: new.kind.unwrap_or(MessageKind::Text),
        subject: new.subject,
        reply_to,
        status: new.status,
        metadata: new
            .metadata
            .unwrap_or_else(|| Value::Object(Default::default())),
        attachments: new.attachments.unwrap_or_else(|| Value::Array(vec![])),
        device: new.device,
        created_at: now,
        updated_at: now,
    };
    let (id, seq) = messages::insert_sent(c, &new)?;
    super::attachments::attach(c, &files, id)?;
    new.seq = seq;
    let message = new.into_stored(id);
    read_state::on_sent(c, &message, check.sender_reads)?;
    Ok(message)
}

impl Service {
    /// Sends a message from `sender`, who must be a participant of a live, unlocked
    /// conversation. The recipient, if named, must be another participant.
    pub async fn send_message(
        &self,
        tenant: TenantId,
        conv: IdRef,
        sender: UserId,
        new: NewMessage,
    ) -> Result<Message> {
        check_new(&new)?;
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                let check = participants::send_check(c, tenant, &conv, sender)?
                    .filter(|k| !k.deleted)
                    .ok_or(Error::NotFound("conversation"))?;
                send_checked(c, tenant, check, sender, new, now, &ids)
            })
            .await
    }

    pub async fn message(&self, tenant: TenantId, id: IdRef) -> Result<Message> {
        self.store
            .read(move |c| messages::find(c, tenant, &id))
            .await
    }

    /// Changes a message's body. `editor` None is an admin's edit; otherwise only the sender
    /// may edit.
    pub async fn edit_message(
        &self,
        tenant: TenantId,
        id: IdRef,
        editor: Option<UserId>,
        body: String,
    ) -> Result<Message> {
        check_body("body", &body)?;
        let now = self.now();
        self.store
            .write(move |c| {
                let m = messages::find(c, tenant, &id)?;
                if let Some(e) = editor {
                    // Someone who left the conversation no longer sees its messages.
                    participants::get(c, m.conversation_id, e)?
                        .ok_or(Error::NotFound("message"))?;
                }
                if editor.is_some_and(|e| e != m.sender_id) {
                    return Err(Error::forbidden("only the sender may edit a message"));
                }
                messages::update_body(c, m.id, &body, now)?;
                conversations::refresh_last_message(c, m.conversation_id)?;
                events::record(
                    c,
                    tenant,
                    Kind::MessageUpdated,
                    now,
                    m.conversation_id,
                    Some(m.id),
                    None,
                )?;
                messages::get(c, tenant, m.id)
            })
            .await
    }

    /// Soft-deletes a message. `by` None is an admin's delete; otherwise only the sender may.
    pub async fn delete_message(
        &self,
        tenant: TenantId,
        id: IdRef,
        by: Option<UserId>,
    ) -> Result<Message> {
        let now = self.now();
        self.store
            .write(move |c| {
                let m = messages::find(c, tenant, &id)?;
                if let Some(u) = by {
                    participants::get(c, m.conversation_id, u)?
                        .ok_or(Error::NotFound("message"))?;
                }
                if by.is_some_and(|u| u != m.sender_id) {
                    return Err(Error::forbidden("only the sender may delete a message"));
                }
                read_state::on_delete(c, &m, now)?;
                super::attachments::on_message_deleted(c, m.id)?;
                Ok(m)
            })
            .await
    }

    /// A page of live messages, oldest first. `reader` None is an admin's read; otherwise the
    /// reader must be a participant.
    pub async fn messages(
        &self,
        tenant: TenantId,
        conv: IdRef,
        reader: Option<UserId>,
        page: messages::Page,
        limit: u32,
    ) -> Result<Thread> {
        self.store
            .read(move |c| {
                let conv = conversations::find(c, tenant, &conv)?;
                let horizons = participants::list(c, conv.id)?;
                if let Some(r) = reader {
                    if !horizons.iter().any(|p| p.user_id == r) {
                        return Err(Error::NotFound("conversation"));
                    }
                }
                let mut messages = messages::list(c, conv.id, page, limit + 1)?;
                let more = messages.len() > limit as usize;
                if more {
                    match page {
                        // Newest-below pages drop their oldest extra; oldest-above pages their newest.
                        messages::Page::Before(_) => {
                            messages.remove(0);
                        }
                        messages::Page::After(_) => {
                            messages.pop();
                        }
                    }
                }
                let next = more
                    .then(|| match page {
                        messages::Page::Before(_) => messages.first(),
                        messages::Page::After(_) => messages.last(),
                    })
                    .flatten()
                    .map(|m| m.seq);
                Ok(Thread {
                    conversation_id: conv.id,
                    messages,
                    next,
                    horizons,
                    single_reads: crate::store::messages::single_reads(c, conv.id)?,
                })
            })
            .await
    }

    /// Every live message of a conversation, oldest first, for one of its participants (not
    /// found for anyone else).
    pub async fn all_messages(
        &self,
        tenant: TenantId,
        conv: IdRef,
        reader: UserId,
    ) -> Result<Vec<Message>> {
        self.store
            .read(move |c| {
                let conv = conversations::find(c, tenant, &conv)?;
                participants::get(c, conv.id, reader)?.ok_or(Error::NotFound("conversation"))?;
                messages::all_of(c, conv.id)
            })
            .await
    }

    /// Marks the conversation read by `user` up to `up_to` (default: the latest message).
    pub async fn mark_read(
        &self,
        tenant: TenantId,
        conv: IdRef,
        user: UserId,
        up_to: Option<IdRef>,
    ) -> Result<Participant> {
        let now = self.now();
        self.store
            .write(move |c| {
                let conv = conversations::find(c, tenant, &conv)?;
                participants::get(c, conv.id, user)?.ok_or(Error::NotFound("conversation"))?;
                let seq = match &up_to {
                    Some(m) => {
                        let m = messages::find(c, tenant, m)
                            .map_err(|_| Error::invalid("up_to", "no such message"))?;
                        if m.conversation_id != conv.id {
                            return Err(Error::invalid(
                                "up_to",
                                "is not a message of this conversation",
                            ));
                        }
                        m.seq
                    }
                    None => conv.last_seq,
                };
                read_state::mark_up_to(c, &conv, user, seq, now)?;
                participants::get(c, conv.id, user)?.ok_or(Error::NotFound("participant"))
            })
            .await
    }

    /// Marks a single message read by `user`, a participant. Returns whether anything changed.
    pub async fn mark_message_read(
        &self,
        tenant: TenantId,
        id: IdRef,
        user: UserId,
    ) -> Result<(Message, bool)> {
        let now = self.now();
        self.store
            .write(move |c| {
                let m = messages::find(c, tenant, &id)?;
                let me = participants::get(c, m.conversation_id, user)?
                    .ok_or(Error::NotFound("message"))?;
                let changed = read_state::mark_one(c, &m, user, me.last_read_seq, now)?;
                Ok((m, changed))
            })
            .await
    }
}

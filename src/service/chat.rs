//! Person-to-person chat, as Pigeons serves it: every message has a sender and a receiver, only
//! the receiver marks it read, messages are shown with their reactions and read receipt, and two
//! users share at most one conversation per tag.

use std::collections::HashMap;

use rusqlite::Connection;
use serde_json::Value;

use super::conversations::{insert_conversation, listings, Listing, NewConversation};
use super::messages::NewMessage;
use super::{read_state, Service};
use crate::domain::clock::Millis;
use crate::domain::{
    Conversation, IdRef, Message, MessageRead, Participant, Tag, TenantId, User, UserId,
};
use crate::error::{Error, Result};
use crate::store::reactions::{self, Reaction};
use crate::store::{chats, conversations, messages, participants, users};

/// A message with the people on both ends, its reactions and whether its receiver has read it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    pub message: Message,
    pub conversation_uuid: String,
    pub sender: User,
    /// None when the message names no recipient and the conversation has several others.
    pub receiver: Option<User>,
    pub reactions: Vec<Reaction>,
    /// When the receiver read it; None while unread.
    pub read_at: Option<Millis>,
}

/// A conversation and all its live messages, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatThread {
    pub conversation: Conversation,
    pub messages: Vec<ChatMessage>,
}

/// The receiver of `m`: its recipient, else the only other participant.
fn receiver_of(m: &Message, members: &[Participant]) -> Option<UserId> {
    m.recipient_id.or_else(|| {
        let mut others = members.iter().filter(|p| p.user_id != m.sender_id);
        match (others.next(), others.next()) {
            (Some(one), None) => Some(one.user_id),
            _ => None,
        }
    })
}

/// When `reader` read `m`, by the read-state rule (a single read, or the horizon).
fn read_at(m: &Message, reader: &Participant, single: &[MessageRead]) -> Option<Millis> {
    if let Some(r) = single
        .iter()
        .find(|r| r.user_id == reader.user_id && r.seq == m.seq)
    {
        return Some(r.read_at);
    }
    // The horizon records when it last moved, not when each message below it was read; a read
    // is never earlier than the message itself.
    (m.seq <= reader.last_read_seq).then(|| {
        reader
            .last_read_at
            .unwrap_or(reader.joined_at)
            .max(m.created_at)
    })
}

/// Dresses messages of one conversation with their people, reactions and read receipts.
fn assemble(
    c: &Connection,
    tenant: TenantId,
    conversation: &Conversation,
    list: Vec<Message>,
) -> Result<Vec<ChatMessage>> {
    let conv = conversation.id;
    let members = participants::list(c, conv)?;
    let single = messages::single_reads(c, conv)?;
    let all_reactions = match list.as_slice() {
        [one] => reactions::for_message(c, one.id)?,
        _ => reactions::for_conversation(c, conv)?,
    };
    let mut people: HashMap<UserId, User> = users::members_of(c, tenant, conv)?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut person = |id: UserId| -> Result<User> {
        if let Some(u) = people.get(&id) {
            return Ok(u.clone());
        }
        // Someone who has since left the conversation.
        let u = users::get(c, tenant, id)?;
        people.insert(id, u.clone());
        Ok(u)
    };
    let mut out = Vec::with_capacity(list.len());
    for message in list {
        let sender = person(message.sender_id)?;
        let receiver_id = receiver_of(&message, &members);
        let receiver = receiver_id.map(&mut person).transpose()?;
        let read = receiver_id
            .and_then(|r| members.iter().find(|p| p.user_id == r))
            .and_then(|p| read_at(&message, p, &single));
        let reactions = all_reactions
            .iter()
            .filter(|r| r.message_id == message.id)
            .cloned()
            .collect();
        out.push(ChatMessage {
            message,
            conversation_uuid: conversation.uuid.clone(),
            sender,
            receiver,
            reactions,
            read_at: read,
        });
    }
    Ok(out)
}

fn listing(c: &Connection, tenant: TenantId, conv: Conversation, me: UserId) -> Result<Listing> {
    // Also runs inside writes, which may have just changed a user: no users from memory.
    let mut one = listings(c, tenant, vec![(conv, None)], Some(me), None)?;
    Ok(one.remove(0))
}

impl Service {
    /// The conversation `me` shares with `other` under `tag`, created (both starting with
    /// nothing unread) when there is none. True when it was created.
    pub async fn open_chat(
        &self,
        tenant: TenantId,
        me: UserId,
        other: IdRef,
        tag: Option<Tag>,
    ) -> Result<(Listing, bool)> {
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                let other = users::find(c, tenant, &other)
                    .map_err(|_| Error::invalid("participant", "no such user"))?;
                if other.id == me {
                    return Err(Error::invalid("participant", "must be another user"));
                }
                let tag_type = tag.as_ref().map(|t| t.kind.clone());
                let tag_id = tag
                    .as_ref()
                    .and_then(|t| t.id.as_ref())
                    .map(Value::to_string);
                let shared = chats::find_shared(
                    c,
                    tenant,
                    me,
                    other.id,
                    tag_type.as_deref(),
                    tag_id.as_deref(),
                )?;
                if let Some(id) = shared {
                    let conv = conversations::get(c, tenant, id)?;
                    return Ok((listing(c, tenant, conv, me)?, false));
                }
                let start = NewConversation {
                    participants: vec![IdRef::Id(me.0), IdRef::Id(other.id.0)],
                    created_by: Some(me),
                    tag,
                    ..Default::default()
                };
                let conv = insert_conversation(c, tenant, &start, now, &ids)?;
                Ok((listing(c, tenant, conv, me)?, true))
            })
            .await
    }

    /// Every live message of a conversation, oldest first, for one of its participants
    /// (anyone else is forbidden; an unknown conversation is not found).
    pub async fn chat_thread(
        &self,
        tenant: TenantId,
        conv: IdRef,
        viewer: UserId,
    ) -> Result<ChatThread> {
        self.store
            .read(move |c| {
                let conversation = conversations::find(c, tenant, &conv)?;
                if participants::get(c, conversation.id, viewer)?.is_none() {
                    return Err(Error::forbidden(
                        "only a participant may read this conversation",
                    ));
                }
                let list = messages::all_of(c, conversation.id)?;
                let messages = assemble(c, tenant, &conversation, list)?;
                Ok(ChatThread {
                    conversation,
                    messages,
                })
            })
            .await
    }

    /// Sends from `sender` to `receiver`, another participant of the conversation.
    pub async fn send_chat_message(
        &self,
        tenant: TenantId,
        conv: IdRef,
        sender: UserId,
        receiver: IdRef,
        new: NewMessage,
    ) -> Result<ChatMessage> {
        let new = NewMessage {
            recipient: Some(receiver),
            ..new
        };
        let sent = self.send_message(tenant, conv, sender, new).await?;
        self.store
            .read(move |c| {
                let conversation = conversations::get(c, tenant, sent.conversation_id)?;
                assemble(c, tenant, &conversation, vec![sent])?
                    .pop()
                    .ok_or(Error::NotFound("message"))
            })
            .await
    }

    /// Marks a message read by its receiver, who alone may. False when it already was read.
    pub async fn mark_received_read(
        &self,
        tenant: TenantId,
        id: IdRef,
        user: UserId,
    ) -> Result<bool> {
        let now = self.now();
        self.store
            .write(move |c| {
                let m = messages::find(c, tenant, &id)?;
                let members = participants::list(c, m.conversation_id)?;
                let me = members
                    .iter()
                    .find(|p| p.user_id == user)
                    .filter(|_| receiver_of(&m, &members) == Some(user))
                    .ok_or_else(|| Error::forbidden("only its receiver may mark a message read"))?;
                read_state::mark_one(c, &m, user, me.last_read_seq, now)
            })
            .await
    }

    /// `user`, a participant, reacts to a message with `emoji`; the same user's same emoji is
    /// kept once. False when it was already there.
    pub async fn react(
        &self,
        tenant: TenantId,
        id: IdRef,
        user: UserId,
        emoji: String,
    ) -> Result<bool> {
        if emoji.trim().is_empty() {
            return Err(Error::invalid("emoji", "must not be empty"));
        }
        let now = self.now();
        self.store
            .write(move |c| {
                let m = messages::find(c, tenant, &id)?;
                if participants::get(c, m.conversation_id, user)?.is_none() {
                    return Err(Error::forbidden(
                        "only a participant may react to a message",
                    ));
                }
                messages::add_reaction(c, m.id, user, &emoji, now)
            })
            .await
    }

    /// How many messages of `user`'s conversations were sent from each device type (None for
    /// messages that name none), most first.
    pub async fn messages_per_device_type(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Vec<(Option<String>, i64)>> {
        self.store
            .read(move |c| {
                users::get(c, tenant, user)?;
                chats::messages_per_device_type(c, user)
            })
            .await
    }
}

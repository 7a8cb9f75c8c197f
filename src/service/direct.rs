//! One-to-one conversations: a patient and a provider, a patient and the system user. MDLIVE's
//! messaging is built on these: each pair of users has one thread, found rather than named, and
//! read a numbered page at a time.

use super::conversations::{
    apply_change, insert_conversation, ConversationChange, NewConversation,
};
use super::messages::{check_new, send_in, NewMessage, Thread};
use super::Service;
use crate::domain::{Conversation, IdRef, Message, Participant, Role, TenantId, User, UserId};
use crate::error::{Error, Result};
use crate::store::direct::{pairs_of, Pair};
use crate::store::{conversations, messages, participants, users};

/// One of a user's one-to-one conversations, with the other participant.
#[derive(Clone, Debug, PartialEq)]
pub struct Direct {
    pub conversation: Conversation,
    pub me: Participant,
    pub other: User,
}

/// A page of a one-to-one thread, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct DirectPage {
    pub other: User,
    /// The caller's read state; None when the two have no conversation yet.
    pub me: Option<Participant>,
    /// None when the two have no conversation yet.
    pub thread: Option<Thread>,
}

/// The conversation of `user` with `other` when there are several: the latest active one.
fn pair_with(c: &rusqlite::Connection, user: UserId, other: UserId) -> Result<Option<Pair>> {
    Ok(pairs_of(c, user)?.into_iter().rfind(|p| p.other == other))
}

fn page_of(
    c: &rusqlite::Connection,
    pair: Pair,
    other: User,
    page: u32,
    per: u32,
) -> Result<DirectPage> {
    let conv = pair.conversation.id;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per);
    Ok(DirectPage {
        other,
        me: Some(pair.me),
        thread: Some(Thread {
            conversation_id: conv,
            messages: messages::newest(c, conv, offset, per)?,
            next: None,
            horizons: participants::list(c, conv)?,
            single_reads: messages::single_reads(c, conv)?,
        }),
    })
}

impl Service {
    /// `user`'s one-to-one conversations with users of `role`, one per other user (the latest
    /// active when there are several), oldest activity first. Conversations without a message
    /// are left out: they have nothing to summarise.
    pub async fn direct_conversations(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
    ) -> Result<Vec<Direct>> {
        self.store
            .read(move |c| {
                users::get(c, tenant, user)?;
                let pairs = pairs_of(c, user)?;
                let mut out: Vec<Direct> = Vec::new();
                for (i, pair) in pairs.iter().enumerate() {
                    let superseded = pairs[i + 1..].iter().any(|p| p.other == pair.other);
                    if superseded || pair.conversation.last_message.is_none() {
                        continue;
                    }
                    let other = users::get(c, tenant, pair.other)?;
                    if other.role == role {
                        out.push(Direct {
                            conversation: pair.conversation.clone(),
                            me: pair.me.clone(),
                            other,
                        });
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Page `page` (from 1) of `per` messages of `user`'s conversation with `other`, who must
    /// be a user of `role` (else not found). An empty page when the two have not talked yet.
    pub async fn direct_page(
        &self,
        tenant: TenantId,
        user: UserId,
        other: UserId,
        role: Role,
        page: u32,
        per: u32,
    ) -> Result<DirectPage> {
        self.store
            .read(move |c| {
                users::get(c, tenant, user)?;
                let other = users::get(c, tenant, other)?;
                if other.role != role {
                    return Err(Error::NotFound("user"));
                }
                match pair_with(c, user, other.id)? {
                    Some(pair) => page_of(c, pair, other, page, per),
                    None => Ok(DirectPage {
                        other,
                        me: None,
                        thread: None,
                    }),
                }
            })
            .await
    }

    /// Like `direct_page`, with whichever user of `role` `user` last talked with one to one
    /// (MDLIVE's system messages: the conversation with the tenant's system user). None when
    /// there is no such conversation.
    pub async fn direct_page_with_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
        page: u32,
        per: u32,
    ) -> Result<Option<DirectPage>> {
        self.store
            .read(move |c| {
                users::get(c, tenant, user)?;
                for pair in pairs_of(c, user)?.into_iter().rev() {
                    let other = users::get(c, tenant, pair.other)?;
                    if other.role == role {
                        return page_of(c, pair, other, page, per).map(Some);
                    }
                }
                Ok(None)
            })
            .await
    }

    /// The users `user` keeps as contacts, by id.
    pub async fn contacts(&self, tenant: TenantId, user: UserId) -> Result<Vec<User>> {
        self.store
            .read(move |c| {
                users::get(c, tenant, user)?;
                users::contacts_of(c, tenant, user)
            })
            .await
    }

    /// Sends from `from` to `to` in their one-to-one conversation, starting it when there is
    /// none, all in one write. `to` must be a user of `role` and either one of `from`'s
    /// contacts or someone `from` already has a conversation with. Returns the message and
    /// its recipient.
    pub async fn send_to_contact(
        &self,
        tenant: TenantId,
        from: UserId,
        to: UserId,
        role: Role,
        mut new: NewMessage,
    ) -> Result<(Message, User)> {
        check_new(&new)?;
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                users::get(c, tenant, from)?;
                let recipient = users::get(c, tenant, to)?;
                if recipient.role != role {
                    return Err(Error::NotFound("user"));
                }
                let conv = match pair_with(c, from, to)? {
                    Some(pair) => pair.conversation,
                    None => {
                        if !users::contacts_of(c, tenant, from)?
                            .iter()
                            .any(|u| u.id == to)
                        {
                            return Err(Error::Unprocessable(format!(
                                "{} is not one of your contacts",
                                recipient.display_name
                            )));
                        }
                        let start = NewConversation {
                            participants: vec![IdRef::Id(from.0), IdRef::Id(to.0)],
                            created_by: Some(from),
                            ..Default::default()
                        };
                        insert_conversation(c, tenant, &start, now, &ids)?
                    }
                };
                new.recipient = Some(IdRef::Id(to.0));
                Ok((send_in(c, tenant, &conv, from, new, now, &ids)?, recipient))
            })
            .await
    }

    /// Every live one-to-one conversation of `user` and `other`, oldest first (Tati: a patient's
    /// conversations with the tenant's assistant).
    pub async fn conversations_between(
        &self,
        tenant: TenantId,
        user: UserId,
        other: UserId,
    ) -> Result<Vec<Conversation>> {
        self.store
            .read(move |c| {
                users::get(c, tenant, user)?;
                let mut between: Vec<Conversation> = pairs_of(c, user)?
                    .into_iter()
                    .filter(|p| p.other == other)
                    .map(|p| p.conversation)
                    .collect();
                between.sort_by_key(|conv| (conv.created_at, conv.id.0));
                Ok(between)
            })
            .await
    }

    /// `conv`, when it is a live one-to-one conversation of `user` and `other`; not found
    /// otherwise, whoever else it belongs to.
    pub async fn conversation_between(
        &self,
        tenant: TenantId,
        user: UserId,
        other: UserId,
        conv: IdRef,
    ) -> Result<Conversation> {
        self.store
            .read(move |c| {
                let conv = conversations::find(c, tenant, &conv)?;
                let members = participants::list(c, conv.id)?;
                let ids: Vec<UserId> = members.iter().map(|p| p.user_id).collect();
                if ids.len() == 2 && ids.contains(&user) && ids.contains(&other) {
                    Ok(conv)
                } else {
                    Err(Error::NotFound("conversation"))
                }
            })
            .await
    }

    /// A new one-to-one conversation of `user` and `other`, archived from the start when
    /// `archived`, in one write.
    pub async fn start_conversation_between(
        &self,
        tenant: TenantId,
        user: UserId,
        other: UserId,
        archived: bool,
    ) -> Result<Conversation> {
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                let start = NewConversation {
                    participants: vec![IdRef::Id(user.0), IdRef::Id(other.0)],
                    created_by: Some(user),
                    ..Default::default()
                };
                let conv = insert_conversation(c, tenant, &start, now, &ids)?;
                if !archived {
                    return Ok(conv);
                }
                let change = ConversationChange {
                    archived: Some(true),
                    ..Default::default()
                };
                apply_change(c, tenant, &conv, &change, now)
            })
            .await
    }
}

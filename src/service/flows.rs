//! Flows (Trillet's "pathways") and their conversations: an agent reaching customers on one
//! channel. Outbound messages may wait for review (pending → approved or rejected) before they
//! count as sent; the customer's replies are inbound.

use std::collections::HashMap;

use serde_json::Value;

use super::conversations::{insert_conversation, NewConversation};
use super::events::{self, Kind};
use super::messages::{check_body, send_in, NewMessage};
use super::{read_state, Service};
use crate::domain::{
    Conversation, Flow, FlowChannel, IdRef, Message, MessageStatus, Profile, Role, TenantId, User,
    UserId,
};
use crate::error::{Error, Result};
use crate::store::{conversations, flows, messages, tenants, users};

/// A conversation with everything a flow's view of it shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Outreach {
    pub conversation: Conversation,
    pub flow: Option<Flow>,
    pub agent: Option<User>,
    pub customer: Option<User>,
    /// The workspace owner (Trillet's `userId`).
    pub owner: Option<User>,
    /// Live messages, oldest first.
    pub messages: Vec<Message>,
}

/// What a reviewer does with a pending outbound message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Review {
    Approve,
    /// Replace the text; it stays pending.
    Edit(String),
    Reject,
}

/// Whether `m` came from the conversation's customer.
pub fn is_inbound(conv: &Conversation, m: &Message) -> bool {
    conv.customer_id == Some(m.sender_id)
}

/// The review state of `m`: inbound messages are received; an outbound message that never
/// went through review (sent through the native API, say) counts as approved.
pub fn status_of(conv: &Conversation, m: &Message) -> MessageStatus {
    if is_inbound(conv, m) {
        MessageStatus::Received
    } else {
        match m.status {
            Some(MessageStatus::Received) | None => MessageStatus::Approved,
            Some(s) => s,
        }
    }
}

/// Assembles the views of `convs`, reading each user and flow once.
fn assemble(
    c: &rusqlite::Connection,
    tenant: TenantId,
    convs: Vec<Conversation>,
    mut messages: Vec<Message>,
) -> Result<Vec<Outreach>> {
    let owner = match tenants::get(c, tenant)?.owner_id {
        Some(id) => Some(users::get(c, tenant, id)?),
        None => None,
    };
    let mut people: HashMap<UserId, User> = HashMap::new();
    let mut person = |id: Option<UserId>| -> Result<Option<User>> {
        let Some(id) = id else { return Ok(None) };
        if let Some(u) = people.get(&id) {
            return Ok(Some(u.clone()));
        }
        let u = users::get(c, tenant, id)?;
        people.insert(id, u.clone());
        Ok(Some(u))
    };
    let mut flow_cache: HashMap<i64, Flow> = HashMap::new();
    let mut by_conv: HashMap<i64, Vec<Message>> = HashMap::new();
    for m in messages.drain(..) {
        by_conv.entry(m.conversation_id.0).or_default().push(m);
    }
    let mut out = Vec::with_capacity(convs.len());
    for conv in convs {
        let flow = match conv.flow_id {
            Some(id) => match flow_cache.get(&id) {
                Some(f) => Some(f.clone()),
                None => {
                    let f = flows::get(c, tenant, id)?;
                    flow_cache.insert(id, f.clone());
                    Some(f)
                }
            },
            None => None,
        };
        out.push(Outreach {
            agent: person(conv.agent_id)?,
            customer: person(conv.customer_id)?,
            owner: owner.clone(),
            messages: by_conv.remove(&conv.id.0).unwrap_or_default(),
            flow,
            conversation: conv,
        });
    }
    Ok(out)
}

fn outreach_of(c: &rusqlite::Connection, tenant: TenantId, conv: Conversation) -> Result<Outreach> {
    let messages = messages::all_of(c, conv.id)?;
    assemble(c, tenant, vec![conv], messages)?
        .pop()
        .ok_or(Error::NotFound("conversation"))
}

/// Message `message` of conversation `conv`; not found when it is another conversation's.
fn message_of(
    c: &rusqlite::Connection,
    tenant: TenantId,
    conv: &IdRef,
    message: &IdRef,
) -> Result<(Conversation, Message)> {
    let conv = conversations::find(c, tenant, conv)?;
    let m = messages::find(c, tenant, message)?;
    if m.conversation_id != conv.id {
        return Err(Error::NotFound("message"));
    }
    Ok((conv, m))
}

/// Whether `to` looks like a phone number: an optional "+", then 6 to 15 digits, with spaces,
/// dashes, dots or parentheses between them.
fn is_phone(to: &str) -> bool {
    let digits = to.chars().filter(char::is_ascii_digit).count();
    let allowed = to
        .char_indices()
        .all(|(i, ch)| ch.is_ascii_digit() || " -.()".contains(ch) || (ch == '+' && i == 0));
    allowed && (6..=15).contains(&digits)
}

fn is_email(to: &str) -> bool {
    matches!(to.split_once('@'), Some((local, domain))
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
            && !domain.ends_with('.') && !to.contains(char::is_whitespace))
}

impl Service {
    /// Every live conversation of the tenant, most recently updated first; only those of
    /// `flow` when given (not found when the flow is not the tenant's).
    pub async fn outreach_list(
        &self,
        tenant: TenantId,
        flow: Option<String>,
    ) -> Result<Vec<Outreach>> {
        self.store
            .read(move |c| {
                let flow = match &flow {
                    Some(oid) => Some(flows::find_by_oid(c, tenant, oid)?.id),
                    None => None,
                };
                let convs = conversations::of_tenant_by_update(c, tenant, flow)?;
                // Each conversation's messages off its own index: selecting the tenant's
                // messages read every message in the file (340 ms a list at 1M messages).
                let mut messages = Vec::new();
                for conv in &convs {
                    messages.extend(messages::all_of(c, conv.id)?);
                }
                assemble(c, tenant, convs, messages)
            })
            .await
    }

    pub async fn outreach(&self, tenant: TenantId, conv: IdRef) -> Result<Outreach> {
        self.store
            .read(move |c| {
                let conv = conversations::find(c, tenant, &conv)?;
                outreach_of(c, tenant, conv)
            })
            .await
    }

    /// Deletes (softly) message `message` of conversation `conv`.
    pub async fn delete_message_of(
        &self,
        tenant: TenantId,
        conv: IdRef,
        message: IdRef,
    ) -> Result<()> {
        let now = self.now();
        self.store
            .write(move |c| {
                let (_, m) = message_of(c, tenant, &conv, &message)?;
                read_state::on_delete(c, &m, now)
            })
            .await
    }

    /// Approves, edits or rejects a pending outbound message of `conv`. Returns the message as
    /// it now stands, with its conversation's view.
    pub async fn review_message(
        &self,
        tenant: TenantId,
        conv: IdRef,
        message: IdRef,
        review: Review,
    ) -> Result<(Message, Outreach)> {
        if let Review::Edit(text) = &review {
            check_body("editedMessage", text)?;
        }
        let now = self.now();
        self.store
            .write(move |c| {
                let (conv, m) = message_of(c, tenant, &conv, &message)?;
                if is_inbound(&conv, &m) || status_of(&conv, &m) != MessageStatus::Pending {
                    return Err(Error::Unprocessable(format!(
                        "Message {} is not a pending outbound message.",
                        m.oid
                    )));
                }
                match &review {
                    Review::Approve => messages::set_status(c, m.id, MessageStatus::Approved, now)?,
                    Review::Reject => messages::set_status(c, m.id, MessageStatus::Rejected, now)?,
                    Review::Edit(text) => {
                        messages::update_body(c, m.id, text, now)?;
                        conversations::refresh_last_message(c, conv.id)?;
                    }
                }
                events::record(
                    c,
                    tenant,
                    Kind::MessageUpdated,
                    now,
                    conv.id,
                    Some(m.id),
                    None,
                )?;
                let updated = messages::get(c, tenant, m.id)?;
                let conv = conversations::get(c, tenant, conv.id)?;
                Ok((updated, outreach_of(c, tenant, conv)?))
            })
            .await
    }

    /// Opens (or continues) `flow`'s conversation with the customer reached at `to` (a phone
    /// number for SMS flows, an email address for email flows), creating the customer and
    /// the conversation when absent, and appends the flow's opening message from its agent:
    /// approved (sent) with `autopilot`, else pending review. All in one write.
    pub async fn start_outreach(
        &self,
        tenant: TenantId,
        flow: String,
        to: String,
        autopilot: bool,
        metadata: Option<Value>,
    ) -> Result<(Conversation, Message)> {
        if matches!(&metadata, Some(m) if !m.is_object()) {
            return Err(Error::invalid("metadata", "must be a JSON object"));
        }
        let now = self.now();
        let ids = self.ids.clone();
        self.store
            .write(move |c| {
                let flow = flows::find_by_oid(c, tenant, &flow)?;
                let to = to.trim().to_string();
                let fits = match flow.channel {
                    FlowChannel::Sms => is_phone(&to),
                    FlowChannel::Email => is_email(&to),
                };
                if !fits {
                    let wanted = match flow.channel {
                        FlowChannel::Sms => "a phone number",
                        FlowChannel::Email => "an email address",
                    };
                    return Err(Error::invalid(
                        "to",
                        format!("must be {wanted} for this {} flow", flow.channel.as_str()),
                    ));
                }
                let agent = flow
                    .agent_id
                    .ok_or_else(|| Error::Unprocessable("The flow has no agent.".into()))?;
                let by = match flow.channel {
                    FlowChannel::Sms => users::Lookup::Phone,
                    FlowChannel::Email => users::Lookup::Email,
                };
                let existing = users::find_by(c, tenant, Some(Role::Customer), by, &to)?;
                let customer = match existing {
                    Some(u) => u.id,
                    None => users::insert(
                        c,
                        &users::NewUser {
                            id: None,
                            uuid: ids.uuid(now),
                            oid: ids.oid(now),
                            tenant_id: tenant.0,
                            role: Role::Customer.as_str().into(),
                            display_name: to.clone(),
                            profile: Profile {
                                email: (flow.channel == FlowChannel::Email).then(|| to.clone()),
                                phone: (flow.channel == FlowChannel::Sms).then(|| to.clone()),
                                ..Profile::default()
                            },
                            external_id: None,
                            username: None,
                            password_hash: None,
                            created_at: now,
                        },
                    )?,
                };
                let conv =
                    match conversations::find_for_flow_customer(c, tenant, flow.id, customer)? {
                        Some(conv) => conv,
                        None => {
                            let start = NewConversation {
                                participants: vec![IdRef::Id(agent.0), IdRef::Id(customer.0)],
                                created_by: Some(agent),
                                flow_id: Some(flow.id),
                                agent_id: Some(agent),
                                customer_id: Some(customer),
                                ..Default::default()
                            };
                            insert_conversation(c, tenant, &start, now, &ids)?
                        }
                    };
                let message = send_in(
                    c,
                    tenant,
                    &conv,
                    agent,
                    NewMessage {
                        body: flow.initiation_message.clone(),
                        recipient: Some(IdRef::Id(customer.0)),
                        status: Some(if autopilot {
                            MessageStatus::Approved
                        } else {
                            MessageStatus::Pending
                        }),
                        metadata,
                        ..Default::default()
                    },
                    now,
                    &ids,
                )?;
                Ok((conversations::get(c, tenant, conv.id)?, message))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_a_phone_or_an_email() {
        for ok in ["+123456789", "+1 (555) 010-2030", "5550102030"] {
            assert!(is_phone(ok), "{ok}");
        }
        for bad in ["12345", "+1-555-CALL", "a@b.co", "1+2345678", ""] {
            assert!(!is_phone(bad), "{bad}");
        }
        for ok in ["customer@example.com", "a.b+c@mail.example.org"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "customer@example",
            "@example.com",
            "a b@example.com",
            "+123456789",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}

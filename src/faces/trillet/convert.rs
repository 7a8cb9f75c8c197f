//! Domain values into Trillet's shapes.

use super::dto::{ActedMessageDto, ConversationDto, CustomerDto, MessageDto};
use crate::domain::clock::Millis;
use crate::domain::time::rfc3339_seconds;
use crate::domain::{FlowChannel, Message, MessageStatus, User};
use crate::service::flows::{is_inbound, status_of, Outreach};

/// Trillet's timestamps: whole seconds, UTC, "Z" ("2024-12-01T08:45:00Z").
pub fn timestamp(ms: Millis) -> String {
    rfc3339_seconds(ms)
}

fn customer(u: Option<&User>) -> CustomerDto {
    CustomerDto {
        name: u.map(|u| u.display_name.clone()),
        email: u.and_then(|u| u.profile.email.clone()),
        phone: u.and_then(|u| u.profile.phone.clone()),
    }
}

/// Inbound messages were received, so they count as sent; outbound ones are sent once
/// approved.
fn sent(status: MessageStatus) -> bool {
    matches!(status, MessageStatus::Approved | MessageStatus::Received)
}

pub fn message(o: &Outreach, m: &Message) -> MessageDto {
    let status = status_of(&o.conversation, m);
    MessageDto {
        direction: if is_inbound(&o.conversation, m) {
            "inbound"
        } else {
            "outbound"
        },
        sent: sent(status),
        message: m.body.clone(),
        status: status.as_str(),
        id: m.oid.clone(),
        created_at: timestamp(m.created_at),
        updated_at: timestamp(m.updated_at),
    }
}

pub fn conversation(o: &Outreach) -> ConversationDto {
    let c = &o.conversation;
    ConversationDto {
        id: c.oid.clone(),
        user_id: o.owner.as_ref().map(|u| u.oid.clone()),
        pathway_id: o.flow.as_ref().map(|f| f.oid.clone()),
        agent_id: o.agent.as_ref().map(|u| u.oid.clone()),
        customer: customer(o.customer.as_ref()),
        messages: o.messages.iter().map(|m| message(o, m)).collect(),
        created_at: timestamp(c.created_at),
        updated_at: timestamp(c.updated_at),
    }
}

/// `to` is where the customer is reached: the phone of an SMS flow, the email of an email
/// flow (either, phone first, without a flow).
pub fn acted(o: &Outreach, m: &Message) -> ActedMessageDto {
    let to = o
        .customer
        .as_ref()
        .and_then(|u| match o.flow.as_ref().map(|f| f.channel) {
            Some(FlowChannel::Email) => u.profile.email.clone(),
            Some(FlowChannel::Sms) => u.profile.phone.clone(),
            None => u.profile.phone.clone().or_else(|| u.profile.email.clone()),
        });
    let status = status_of(&o.conversation, m);
    ActedMessageDto {
        id: m.oid.clone(),
        message: m.body.clone(),
        to,
        sent: sent(status),
        status: status.as_str(),
        timestamp: timestamp(m.updated_at),
    }
}

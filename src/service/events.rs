//! The event log's use cases: what a change appends (`record`, called inside the change's own
//! write), what a stream may read (`Audience`), and the retention window (`prune_events`).

use std::time::Duration;

use serde::Serialize;

use super::Service;
use crate::domain::{ConversationId, MessageId, TenantId, UserId};
use crate::error::Result;
use crate::store::events::{self, Event, NewEvent};

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    MessageCreated,
    MessageUpdated,
    MessageDeleted,
    MessageRead,
    ConversationRead,
    ConversationCreated,
    ConversationUpdated,
    ConversationArchived,
    ConversationDeleted,
    ParticipantAdded,
    ParticipantRemoved,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MessageCreated => "message.created",
            Kind::MessageUpdated => "message.updated",
            Kind::MessageDeleted => "message.deleted",
            Kind::MessageRead => "message.read",
            Kind::ConversationRead => "conversation.read",
            Kind::ConversationCreated => "conversation.created",
            Kind::ConversationUpdated => "conversation.updated",
            Kind::ConversationArchived => "conversation.archived",
            Kind::ConversationDeleted => "conversation.deleted",
            Kind::ParticipantAdded => "participant.added",
            Kind::ParticipantRemoved => "participant.removed",
        }
    }
}

/// The stored payload: ids and counts, never a message's text.
#[derive(Serialize)]
struct Payload {
    conversation_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<i64>,
    unread: Vec<Unread>,
}

#[derive(Serialize)]
struct Unread {
    user_id: i64,
    unread_count: i64,
}

/// Appends the event of a change to `conv`, with every participant's unread count as it
/// stands now. Runs inside the write that made the change, after it, so both commit or
/// neither. `subject`: the user a participant or read event is about.
pub fn record(
    c: &rusqlite::Connection,
    tenant: TenantId,
    kind: Kind,
    at: i64,
    conv: ConversationId,
    message: Option<MessageId>,
    subject: Option<UserId>,
) -> Result<()> {
    let unread = events::unread_counts(c, conv)?
        .into_iter()
        .map(|(user_id, unread_count)| Unread {
            user_id,
            unread_count,
        })
        .collect();
    let payload = serde_json::to_string(&Payload {
        conversation_id: conv.0,
        message_id: message.map(|m| m.0),
        user_id: subject.map(|u| u.0),
        unread,
    })
    .map_err(crate::error::Error::internal)?;
    events::append(
        c,
        &NewEvent {
            tenant,
            kind: kind.as_str(),
            at,
            conversation: Some(conv),
            message: message.map(|m| m.0),
            subject,
            payload: &payload,
        },
    )?;
    Ok(())
}

/// Whose events a stream carries: a user's own conversations', or the whole tenant's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Audience {
    pub tenant: TenantId,
    /// None: every event of the tenant (a tenant admin, the server admin).
    pub user: Option<UserId>,
}

impl Audience {
    /// Whether an event of `tenant`, about `subject`, in a conversation whose participants
    /// were `members` when it happened, is for this audience. A user hears of the
    /// conversations they were in at the time, and of what concerns them (their removal).
    pub fn wants(&self, tenant: TenantId, subject: Option<i64>, members: &[i64]) -> bool {
        tenant == self.tenant
            && match self.user {
                None => true,
                Some(u) => subject == Some(u.0) || members.contains(&u.0),
            }
    }
}

/// Where a stream starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Everything after this seq (a reconnect).
    After(i64),
    /// The client asked to resume from a seq no longer in the window: it must re-read, and the
    /// stream goes on from `latest`.
    Reset { latest: i64 },
}

/// The most events one read hands a stream.
pub const PAGE: u32 = 500;

/// How often the pruner looks for events past the window.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The most events one writer command removes, so a large backlog never holds the writer
/// for long; the pruner issues commands until none is left.
const PRUNE_BATCH: u32 = 1_000;

impl Service {
    /// Where a stream that last saw `last_seen` (None: a new client) starts.
    pub async fn event_start(&self, last_seen: Option<i64>) -> Result<Start> {
        let (oldest, latest) = self.store.read(events::window).await?;
        Ok(match last_seen {
            None => Start::After(latest),
            // Everything after `seen` is still stored (or nothing was ever removed after it).
            Some(seen) if seen + 1 >= oldest && seen <= latest => Start::After(seen),
            Some(_) => Start::Reset { latest },
        })
    }

    /// The events after `after`, oldest first, at most `PAGE`: the tenant's, or (None)
    /// every tenant's. The caller keeps those its audience `wants`.
    pub async fn events_after(&self, tenant: Option<TenantId>, after: i64) -> Result<Vec<Event>> {
        self.store
            .read(move |c| events::after(c, tenant, after, PAGE))
            .await
    }

    /// Removes the events older than `hours`, in writer commands of at most `PRUNE_BATCH`
    /// rows; returns how many.
    pub async fn prune_events(&self, hours: u32) -> Result<usize> {
        let before = self.now() - i64::from(hours) * 3_600_000;
        let mut removed = 0;
        loop {
            let n = self
                .store
                .write(move |c| events::prune(c, before, PRUNE_BATCH))
                .await?;
            removed += n;
            if n < PRUNE_BATCH as usize {
                return Ok(removed);
            }
        }
    }
}

/// Prunes the event log every minute, from now on, for as long as the runtime lives.
pub fn spawn_pruner(service: Service, hours: u32) {
    actix_web::rt::spawn(async move {
        loop {
            match service.prune_events(hours).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!("events: removed {n} past the retention window"),
                Err(e) => tracing::warn!("pruning the event log failed (tried again soon): {e}"),
            }
            actix_web::rt::time::sleep(PRUNE_EVERY).await;
        }
    });
}

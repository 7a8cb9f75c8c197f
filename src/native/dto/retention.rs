//! Retention policy and legal holds: requests and responses.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::time::rfc3339_ms;
use crate::store::legal_holds::{Hold, Target};
use crate::store::retention::Policy;

use super::{present, Ref};

/// `PUT /retention`: `message_days` must be given; `null` keeps messages forever.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRetention {
    #[serde(default, deserialize_with = "present")]
    pub message_days: Option<Option<i64>>,
}

#[derive(Serialize, JsonSchema)]
pub struct RetentionDto {
    /// Days messages are kept; null: forever.
    pub message_days: Option<i64>,
    pub updated_at: Option<String>,
    /// The last sweep that ran for real in this tenant (dry runs are not recorded).
    pub last_run: Option<LastRunDto>,
}

#[derive(Serialize, JsonSchema)]
pub struct LastRunDto {
    pub at: String,
    pub messages_removed: i64,
    pub conversations_affected: i64,
    pub messages_held: i64,
}

impl From<Policy> for RetentionDto {
    fn from(p: Policy) -> Self {
        Self {
            message_days: p.message_days,
            updated_at: p.updated_at.map(rfc3339_ms),
            last_run: p.last_run.map(|r| LastRunDto {
                at: rfc3339_ms(r.at),
                messages_removed: r.removed,
                conversations_affected: r.conversations,
                messages_held: r.held,
            }),
        }
    }
}

/// `POST /legal-holds`: exactly one of `conversation` and `user`, and a reason.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHold {
    pub conversation: Option<Ref>,
    pub user: Option<Ref>,
    pub reason: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct HoldDto {
    pub id: i64,
    pub conversation_id: Option<i64>,
    pub user_id: Option<i64>,
    pub reason: String,
    pub active: bool,
    /// The user who placed it; null: the server admin.
    pub placed_by: Option<i64>,
    pub placed_at: String,
    pub released_by: Option<i64>,
    pub released_at: Option<String>,
}

impl From<Hold> for HoldDto {
    fn from(h: Hold) -> Self {
        let (conversation_id, user_id) = match h.target {
            Target::Conversation(c) => (Some(c.0), None),
            Target::User(u) => (None, Some(u.0)),
        };
        Self {
            id: h.id,
            conversation_id,
            user_id,
            reason: h.reason,
            active: h.released_at.is_none(),
            placed_by: h.placed_by.map(|u| u.0),
            placed_at: rfc3339_ms(h.placed_at),
            released_by: h.released_by.map(|u| u.0),
            released_at: h.released_at.map(rfc3339_ms),
        }
    }
}

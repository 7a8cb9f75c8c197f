//! The audit trail on the wire (`GET /parlor/v1/audit`, `parlor audit export`).

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::audit::{Actor, Recorded};
use crate::domain::time::rfc3339_ms;

#[derive(Serialize, JsonSchema)]
pub struct AuditListDto {
    pub data: Vec<AuditEntryDto>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ActorDto {
    pub kind: &'static str,
    pub id: Option<i64>,
    /// The user's display name or the API key's label, when known.
    pub name: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct ObjectDto {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Serialize, JsonSchema)]
pub struct PatientDto {
    pub id: i64,
    pub name: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct AuditEntryDto {
    pub seq: i64,
    pub at: String,
    pub tenant_id: Option<i64>,
    pub actor: ActorDto,
    pub credential: Option<String>,
    pub surface: String,
    pub action: String,
    pub route: Option<String>,
    pub objects: Vec<ObjectDto>,
    pub patients: Vec<PatientDto>,
    pub outcome: String,
    pub status: Option<u16>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<serde_json::Value>,
    pub hash: String,
}

impl AuditEntryDto {
    pub fn new(
        r: &Recorded,
        users: &HashMap<i64, String>,
        keys: &HashMap<i64, String>,
    ) -> AuditEntryDto {
        let e = &r.entry;
        let name = match e.actor {
            Actor::User(id) => users.get(&id).cloned(),
            Actor::ApiKey(id) => keys.get(&id).cloned(),
            _ => None,
        };
        AuditEntryDto {
            seq: r.seq,
            at: rfc3339_ms(e.at),
            tenant_id: e.tenant.map(|t| t.0),
            actor: ActorDto {
                kind: e.actor.kind(),
                id: e.actor.id(),
                name,
            },
            credential: e.credential.clone(),
            surface: e.surface.clone(),
            action: e.action.clone(),
            route: e.route.clone(),
            objects: e
                .objects
                .iter()
                .map(|(kind, id)| ObjectDto {
                    kind: kind.clone(),
                    id: id.clone(),
                })
                .collect(),
            patients: e
                .patients
                .iter()
                .map(|id| PatientDto {
                    id: *id,
                    name: users.get(id).cloned(),
                })
                .collect(),
            outcome: e.outcome.clone(),
            status: e.status,
            client: e.client.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            detail: e
                .detail
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok()),
            hash: r.hash.clone(),
        }
    }
}

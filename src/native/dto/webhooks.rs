//! Webhook endpoints and their outbox: requests and responses. A secret appears only in the
//! answers of create and rotate-secret (`SecretDto`), never in an endpoint's other views.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{present, Stamp};
use crate::service::webhooks::EndpointInput;
use crate::store::webhooks::{Attempt, Delivery, Endpoint};

/// `POST /webhooks`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub format: Option<String>,
    pub include_text: Option<bool>,
    pub capture: Option<bool>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
}

impl From<CreateWebhook> for EndpointInput {
    fn from(b: CreateWebhook) -> Self {
        EndpointInput {
            url: b.url,
            events: b.events,
            format: b.format,
            include_text: b.include_text,
            capture: b.capture,
            enabled: b.enabled,
            description: Some(b.description),
        }
    }
}

/// `PATCH /webhooks/{id}`: what is given changes; `description: null` clears it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub format: Option<String>,
    pub include_text: Option<bool>,
    pub capture: Option<bool>,
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
}

impl From<UpdateWebhook> for EndpointInput {
    fn from(b: UpdateWebhook) -> Self {
        EndpointInput {
            url: b.url,
            events: b.events,
            format: b.format,
            include_text: b.include_text,
            capture: b.capture,
            enabled: b.enabled,
            description: b.description,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct WebhookDto {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub format: String,
    pub include_text: bool,
    pub capture: bool,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub description: Option<String>,
    /// Until when the secret replaced by the last rotation still signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<Stamp>,
    pub created_at: Stamp,
    pub updated_at: Stamp,
}

impl WebhookDto {
    pub fn new(e: &Endpoint, now: i64) -> Self {
        WebhookDto {
            id: e.id,
            url: e.url.clone(),
            events: e.events.clone(),
            format: e.format.clone(),
            include_text: e.include_text,
            capture: e.capture,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            description: e.description.clone(),
            previous_secret_expires_at: e.previous_until.filter(|t| *t > now).map(Stamp),
            created_at: Stamp(e.created_at),
            updated_at: Stamp(e.updated_at),
        }
    }
}

/// The create and rotate-secret answers: the endpoint and its secret, shown this once.
#[derive(Serialize, JsonSchema)]
pub struct SecretDto {
    #[serde(flatten)]
    pub endpoint: WebhookDto,
    pub secret: String,
}

#[derive(Serialize, JsonSchema)]
pub struct DeliveryDto {
    pub id: i64,
    /// The `webhook-id` header: the same on every attempt.
    pub webhook_id: String,
    pub endpoint_id: i64,
    pub event_seq: i64,
    pub event_type: String,
    pub status: String,
    /// Attempts made to send it (a captured delivery's record of what would have been sent is
    /// not one). The detail lists them as `attempts`.
    pub attempt_count: i64,
    /// When the next attempt is due (pending deliveries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Stamp>,
    pub created_at: Stamp,
    pub finished_at: Option<Stamp>,
}

impl From<&Delivery> for DeliveryDto {
    fn from(d: &Delivery) -> Self {
        DeliveryDto {
            id: d.id,
            webhook_id: d.uid.clone(),
            endpoint_id: d.endpoint,
            event_seq: d.event_seq,
            event_type: d.event_type.clone(),
            status: d.status.clone(),
            attempt_count: d.attempts,
            next_attempt_at: (d.status == "pending").then_some(Stamp(d.next_at)),
            created_at: Stamp(d.created_at),
            finished_at: d.finished_at.map(Stamp),
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct DeliveryDetailDto {
    #[serde(flatten)]
    pub delivery: DeliveryDto,
    /// The body every attempt sends.
    pub body: serde_json::Value,
    pub attempts: Vec<AttemptDto>,
}

#[derive(Serialize, JsonSchema)]
pub struct AttemptDto {
    pub attempt: i64,
    pub at: Stamp,
    pub request: RequestDto,
    /// Null when no answer came (an error, or capture mode).
    pub response: Option<ResponseDto>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct RequestDto {
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// Exactly the bytes sent (or, captured, that would have been).
    pub body: String,
}

#[derive(Serialize, JsonSchema)]
pub struct ResponseDto {
    pub status: u16,
    /// The first KiB of the answer's body.
    pub body: String,
}

impl From<&Attempt> for AttemptDto {
    fn from(a: &Attempt) -> Self {
        let pairs: Vec<(String, String)> =
            serde_json::from_str(&a.request_headers).unwrap_or_default();
        AttemptDto {
            attempt: a.attempt,
            at: Stamp(a.at),
            request: RequestDto {
                headers: pairs
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
                body: a.request_body.clone(),
            },
            response: a.response_status.map(|status| ResponseDto {
                status,
                body: a.response_body.clone().unwrap_or_default(),
            }),
            duration_ms: a.duration_ms,
            error: a.error.clone(),
        }
    }
}

//! Webhook endpoints and their outbox, for tenant admins: the rules (which event types, which
//! URLs, secrets shown once, rotation), over `store::webhooks`. Deliveries themselves are made
//! off the request path by `crate::webhooks`.

use super::events::Kind;
use super::Service;
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::store::webhooks::{self as store, Attempt, Delivery, Endpoint};
use crate::webhooks::address::{self, Outbound};
use crate::webhooks::sign;

/// Every event type an endpoint may ask for.
pub const EVENT_TYPES: [Kind; 11] = [
    Kind::MessageCreated,
    Kind::MessageUpdated,
    Kind::MessageDeleted,
    Kind::MessageRead,
    Kind::ConversationRead,
    Kind::ConversationCreated,
    Kind::ConversationUpdated,
    Kind::ConversationArchived,
    Kind::ConversationDeleted,
    Kind::ParticipantAdded,
    Kind::ParticipantRemoved,
];

/// How long the secret a rotation replaces still signs, in milliseconds (24 hours).
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;
/// The longest description accepted, in characters.
const MAX_DESCRIPTION: usize = 500;
/// The longest URL accepted, in bytes.
const MAX_URL: usize = 2_000;
/// The most deliveries one writer command prunes, so a large backlog never holds the writer.
const PRUNE_BATCH: u32 = 500;
/// The statuses a delivery can have (the outbox's filter).
pub const STATUSES: [&str; 4] = ["pending", "delivered", "failed", "captured"];

/// A new endpoint or a change to one, as the client gave it (None: not given).
#[derive(Clone, Debug, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub format: Option<String>,
    pub include_text: Option<bool>,
    pub capture: Option<bool>,
    pub enabled: Option<bool>,
    /// Some(None): clear it.
    pub description: Option<Option<String>>,
}

fn check_events(events: Vec<String>) -> Result<Vec<String>> {
    if events.is_empty() {
        return Err(Error::invalid(
            "events",
            "name at least one event type, or [\"*\"] for all",
        ));
    }
    if events.iter().any(|e| e == "*") {
        if events.len() > 1 {
            return Err(Error::invalid(
                "events",
                "\"*\" already means every event type: give it alone",
            ));
        }
        return Ok(events);
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if !EVENT_TYPES.iter().any(|k| k.as_str() == e) {
            let known: Vec<&str> = EVENT_TYPES.iter().map(|k| k.as_str()).collect();
            return Err(Error::invalid(
                "events",
                format!(
                    "{e:?} is not an event type; expected \"*\" or some of {}",
                    known.join(", ")
                ),
            ));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

fn check_format(format: Option<String>) -> Result<String> {
    match format.as_deref() {
        None | Some("parlor") => Ok("parlor".into()),
        Some(other) => Err(Error::invalid(
            "format",
            format!(
                "{other:?} is not available: only \"parlor\" exists, since none of the vendor \
                 APIs Parlor's faces speak (MDLIVE, Trillet, Respondent, Tati, Pigeons) defines \
                 a webhook of its own"
            ),
        )),
    }
}

fn check_description(d: Option<String>) -> Result<Option<String>> {
    let d = d.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if d.as_ref()
        .is_some_and(|s| s.chars().count() > MAX_DESCRIPTION)
    {
        return Err(Error::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(d)
}

/// The URL's form, and where it resolves to now under `policy`.
async fn check_url(url: &str, policy: Outbound) -> Result<String> {
    if url.len() > MAX_URL {
        return Err(Error::invalid(
            "url",
            format!("must be at most {MAX_URL} bytes"),
        ));
    }
    let parsed = address::parse(url).map_err(|why| Error::invalid("url", why))?;
    address::resolve(&parsed, policy)
        .await
        .map_err(|why| Error::invalid("url", why))?;
    Ok(parsed.to_string())
}

/// One page of an endpoint's outbox.
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub more: bool,
}

impl Service {
    pub async fn webhooks(&self, tenant: TenantId) -> Result<Vec<Endpoint>> {
        self.store
            .read(move |c| store::list_endpoints(c, tenant))
            .await
    }

    pub async fn webhook(&self, tenant: TenantId, id: i64) -> Result<Endpoint> {
        self.store
            .read(move |c| store::get_endpoint(c, tenant, id))
            .await
    }

    /// Registers an endpoint; the answer carries its new secret (the only time it is shown).
    pub async fn create_webhook(
        &self,
        tenant: TenantId,
        input: EndpointInput,
        policy: Outbound,
    ) -> Result<Endpoint> {
        let url = input
            .url
            .ok_or_else(|| Error::invalid("url", "is required: where deliveries are POSTed"))?;
        let events = check_events(input.events.ok_or_else(|| {
            Error::invalid(
                "events",
                "is required: a list of event types, or [\"*\"] for all",
            )
        })?)?;
        let format = check_format(input.format)?;
        let description = check_description(input.description.flatten())?;
        let url = check_url(&url, policy).await?;
        let now = self.now();
        let endpoint = Endpoint {
            id: 0,
            tenant,
            url,
            events,
            format,
            include_text: input.include_text.unwrap_or(false),
            capture: input.capture.unwrap_or(false),
            enabled: input.enabled.unwrap_or(true),
            disabled_reason: None,
            description,
            secret: sign::new_secret(&self.ids),
            previous_secret: None,
            previous_until: None,
            from_seq: 0,
            created_at: now,
            updated_at: now,
        };
        self.store
            .write(move |c| store::insert_endpoint(c, &endpoint))
            .await
    }

    /// Changes what is given; enabling a disabled endpoint clears why it was disabled.
    pub async fn update_webhook(
        &self,
        tenant: TenantId,
        id: i64,
        input: EndpointInput,
        policy: Outbound,
    ) -> Result<Endpoint> {
        if input.format.is_some() {
            check_format(input.format.clone())?;
        }
        let events = input.events.map(check_events).transpose()?;
        let description = input.description.map(check_description).transpose()?;
        let url = match &input.url {
            Some(u) => Some(check_url(u, policy).await?),
            None => None,
        };
        let now = self.now();
        self.store
            .write(move |c| {
                let mut e = store::get_endpoint(c, tenant, id)?;
                if let Some(url) = url {
                    e.url = url;
                }
                if let Some(events) = events {
                    e.events = events;
                }
                if let Some(d) = description {
                    e.description = d;
                }
                if let Some(b) = input.include_text {
                    e.include_text = b;
                }
                if let Some(b) = input.capture {
                    e.capture = b;
                }
                if let Some(b) = input.enabled {
                    e.enabled = b;
                    e.disabled_reason = None;
                }
                e.updated_at = now;
                store::update_endpoint(c, &e)?;
                store::get_endpoint(c, tenant, id)
            })
            .await
    }

    pub async fn delete_webhook(&self, tenant: TenantId, id: i64) -> Result<()> {
        self.store
            .write(move |c| store::delete_endpoint(c, tenant, id))
            .await
    }

    /// A new secret; the one it replaces keeps signing (a second signature) for 24 hours, so
    /// that receivers can switch without losing a delivery.
    pub async fn rotate_webhook_secret(&self, tenant: TenantId, id: i64) -> Result<Endpoint> {
        let now = self.now();
        let secret = sign::new_secret(&self.ids);
        self.store
            .write(move |c| {
                let mut e = store::get_endpoint(c, tenant, id)?;
                e.previous_secret = Some(std::mem::replace(&mut e.secret, secret));
                e.previous_until = Some(now + ROTATION_OVERLAP_MS);
                e.updated_at = now;
                store::update_endpoint(c, &e)?;
                store::get_endpoint(c, tenant, id)
            })
            .await
    }

    /// The endpoint's deliveries, newest first; `before`: a delivery id from the last page.
    pub async fn webhook_deliveries(
        &self,
        tenant: TenantId,
        endpoint: i64,
        status: Option<String>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<DeliveryPage> {
        if let Some(s) = &status {
            if !STATUSES.contains(&s.as_str()) {
                return Err(Error::invalid(
                    "status",
                    format!("must be one of {}", STATUSES.join(", ")),
                ));
            }
        }
        self.store
            .read(move |c| {
                store::get_endpoint(c, tenant, endpoint)?;
                let mut deliveries =
                    store::deliveries(c, endpoint, status.as_deref(), before, limit + 1)?;
                let more = deliveries.len() > limit as usize;
                deliveries.truncate(limit as usize);
                Ok(DeliveryPage { deliveries, more })
            })
            .await
    }

    /// One delivery with every attempt made.
    pub async fn webhook_delivery(
        &self,
        tenant: TenantId,
        endpoint: i64,
        id: i64,
    ) -> Result<(Delivery, Vec<Attempt>)> {
        self.store
            .read(move |c| {
                store::get_endpoint(c, tenant, endpoint)?;
                let d = store::delivery(c, endpoint, id)?;
                let attempts = store::attempts(c, d.id)?;
                Ok((d, attempts))
            })
            .await
    }

    /// Removes the finished deliveries older than `days` with their attempts, in writer
    /// commands of at most `PRUNE_BATCH`; returns how many. Pending ones stay.
    pub async fn prune_webhook_outbox(&self, days: u32) -> Result<usize> {
        let before = self.now() - i64::from(days) * 86_400_000;
        let mut removed = 0;
        loop {
            let n = self
                .store
                .write(move |c| store::prune(c, before, PRUNE_BATCH))
                .await?;
            removed += n;
            if n < PRUNE_BATCH as usize {
                return Ok(removed);
            }
        }
    }

    /// Sends a finished delivery again, with a fresh retry schedule and its `webhook-id`.
    pub async fn replay_webhook_delivery(
        &self,
        tenant: TenantId,
        endpoint: i64,
        id: i64,
    ) -> Result<Delivery> {
        let now = self.now();
        self.store
            .write(move |c| {
                store::get_endpoint(c, tenant, endpoint)?;
                let d = store::delivery(c, endpoint, id)?;
                match d.status.as_str() {
                    "failed" | "delivered" => {}
                    "pending" => {
                        return Err(Error::Conflict(
                            "this delivery is still pending: it is sent when its turn comes".into(),
                        ))
                    }
                    _ => {
                        return Err(Error::Conflict(
                            "a captured delivery is never sent; turn capture off for new \
                             deliveries to be sent"
                                .into(),
                        ))
                    }
                }
                store::replay(c, d.id, now)?;
                store::delivery(c, endpoint, id)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_checked() {
        assert_eq!(check_events(vec!["*".into()]).unwrap(), vec!["*"]);
        assert!(check_events(vec![]).is_err());
        assert!(check_events(vec!["*".into(), "message.created".into()]).is_err());
        assert!(check_events(vec!["message.sent".into()]).is_err());
        assert_eq!(
            check_events(vec!["message.created".into(), "message.created".into()]).unwrap(),
            vec!["message.created"]
        );
        assert!(check_format(Some("mdlive".into())).is_err());
        assert_eq!(check_format(None).unwrap(), "parlor");
    }
}

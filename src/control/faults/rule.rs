//! A fault rule: which requests it applies to (its scope), when it fires (`times`,
//! `probability` with a `seed`), and what it does (its effect). `Spec` is the rule as a client
//! writes it and reads it back; `Rule` is the rule at work.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::delay::Delay;
use super::pattern::Pattern;
use crate::domain::TenantId;
use crate::error::Error;

/// The surfaces a rule's `face` may name besides the faces.
pub const NATIVE: &str = "native";

/// A tenant as a client names it: its id, or its uuid.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TenantRef {
    Id(i64),
    Key(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// Reset the connection (RST), nothing sent.
    Drop,
    /// Close the connection (FIN), nothing sent.
    Empty,
    /// The real answer's head, half its body, then close.
    Truncate,
}

/// A rule as written (`POST /__parlor/faults`) and as listed.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Always listed: one is chosen when a probability comes without one, so that a flaky run
    /// can be repeated by passing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
}

/// Which requests a rule applies to; every field given must match.
#[derive(Debug)]
pub struct Scope {
    pub face: Option<String>,
    pub route: Option<Pattern>,
    pub method: Option<Method>,
    pub tenant: Option<TenantId>,
    pub sandbox: Option<String>,
}

/// A request as the rules see it.
pub struct Seen<'a> {
    /// "native" or the face's name.
    pub surface: &'a str,
    pub path: &'a str,
    pub method: &'a Method,
    pub sandbox: Option<&'a str>,
}

impl Scope {
    /// Everything but the tenant, which costs a lookup.
    pub fn admits(&self, seen: &Seen) -> bool {
        self.face.as_deref().is_none_or(|f| f == seen.surface)
            && self.method.as_ref().is_none_or(|m| m == seen.method)
            && self
                .sandbox
                .as_deref()
                .is_none_or(|s| Some(s) == seen.sandbox)
            && self.route.as_ref().is_none_or(|r| r.matches(seen.path))
    }
}

/// What a fired rule does to the request.
#[derive(Clone, Copy, Debug)]
pub struct Effect {
    /// The rule that fired.
    pub rule: u64,
    pub delay: Option<Duration>,
    pub status: Option<(StatusCode, Option<u64>)>,
    pub connection: Option<Connection>,
}

pub struct Rule {
    pub id: u64,
    pub spec: Spec,
    pub scope: Scope,
    delay: Option<Delay>,
    status: Option<StatusCode>,
    pub fired: u64,
    rng: ChaCha8Rng,
}

impl Rule {
    /// A rule from what the client wrote; `tenant` is the tenant `spec.tenant` names, already
    /// looked up. `spec.seed` must be set (`Spec::check` sets it).
    pub fn new(id: u64, spec: Spec, tenant: Option<TenantId>) -> Result<Rule, Error> {
        let route = spec
            .route
            .as_deref()
            .map(Pattern::parse)
            .transpose()
            .map_err(|e| Error::invalid("route", e))?;
        let method = spec
            .method
            .as_deref()
            .map(|m| Method::from_bytes(m.as_bytes()))
            .transpose()
            .map_err(|_| Error::invalid("method", "is not an HTTP method"))?;
        let status = spec
            .status
            .map(StatusCode::from_u16)
            .transpose()
            .map_err(|_| Error::invalid("status", "must be an error status, 400 to 599"))?;
        let delay = match (&spec.delay_ms, &spec.delay) {
            (Some(ms), None) => Some(Delay::FixedMs(*ms)),
            (None, delay) => delay.clone(),
            (Some(_), Some(_)) => {
                return Err(Error::invalid("delay", "give delay_ms or delay, not both"))
            }
        };
        Ok(Rule {
            id,
            scope: Scope {
                face: spec.face.clone(),
                route,
                method,
                tenant,
                sandbox: spec.sandbox.clone(),
            },
            delay,
            status,
            fired: 0,
            rng: ChaCha8Rng::seed_from_u64(spec.seed.unwrap_or_default()),
            spec,
        })
    }

    pub fn spent(&self) -> bool {
        self.spec.times.is_some_and(|t| self.fired >= t)
    }

    pub fn remaining(&self) -> Option<u64> {
        self.spec.times.map(|t| t.saturating_sub(self.fired))
    }

    /// Called once for each request the rule's scope takes, in arrival order: whether it fires
    /// this time, and if so what it does. A probability draws from the rule's generator even
    /// when it does not fire, so the same calls fire in every run with the same seed.
    pub fn fire(&mut self) -> Option<Effect> {
        if self.spent() {
            return None;
        }
        if let Some(p) = self.spec.probability {
            if self.rng.gen::<f64>() >= p {
                return None;
            }
        }
        self.fired += 1;
        Some(Effect {
            rule: self.id,
            delay: self.delay.as_ref().map(|d| d.sample(&mut self.rng)),
            status: self.status.map(|s| (s, self.spec.retry_after)),
            connection: self.spec.connection,
        })
    }
}

impl Spec {
    /// Checks what can be checked without the store, naming the field at fault, and fills in
    /// the seed. `faces`: the face names a rule may name.
    pub fn check(&mut self, faces: &[&str]) -> Result<(), Error> {
        if let Some(face) = &self.face {
            if face != NATIVE && !faces.contains(&face.as_str()) {
                return Err(Error::invalid(
                    "face",
                    format!("must be one of {NATIVE}, {}", faces.join(", ")),
                ));
            }
        }
        if let Some(method) = &mut self.method {
            *method = method.to_ascii_uppercase();
        }
        if self.sandbox.as_deref() == Some("") {
            return Err(Error::invalid("sandbox", "must not be empty"));
        }
        if self.times == Some(0) {
            return Err(Error::invalid("times", "must be at least 1"));
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::invalid("probability", "must be between 0 and 1"));
            }
        }
        if let Some(status) = self.status {
            if !(400..=599).contains(&status) {
                return Err(Error::invalid(
                    "status",
                    "must be an error status, 400 to 599",
                ));
            }
        }
        if self.retry_after.is_some() && self.status.is_none() {
            return Err(Error::invalid("retry_after", "goes with a status"));
        }
        if self.status.is_some() && self.connection.is_some() {
            return Err(Error::invalid(
                "connection",
                "a rule either answers with a status or cuts the connection, not both",
            ));
        }
        if let Some(ms) = self.delay_ms {
            Delay::FixedMs(ms)
                .check()
                .map_err(|e| Error::invalid("delay_ms", e))?;
        }
        if let Some(delay) = &self.delay {
            delay.check().map_err(|e| Error::invalid("delay", e))?;
        }
        if self.status.is_none()
            && self.connection.is_none()
            && self.delay_ms.is_none()
            && self.delay.is_none()
        {
            return Err(Error::invalid(
                "status",
                "a rule needs an effect: status, delay_ms, delay or connection",
            ));
        }
        if self.seed.is_none() {
            self.seed = Some(rand::thread_rng().gen());
        }
        Ok(())
    }
}

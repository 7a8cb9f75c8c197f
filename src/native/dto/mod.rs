//! Wire shapes of the native API. Requests reject unknown fields; responses are built only
//! from these structs (no ad-hoc JSON), each field converted explicitly from domain values.
//! One file per resource; this one holds what they share (ids in bodies, lists, `as`).

mod accounts;
mod attachments;
pub mod audit;
mod conversations;
mod directory;
mod events;
mod messages;
mod retention;
mod search;
mod session;
mod webhooks;

pub use accounts::*;
pub use attachments::*;
pub use conversations::*;
pub use directory::*;
pub use events::*;
pub use messages::*;
pub use retention::*;
pub use search::*;
pub use session::*;
pub use webhooks::*;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::domain::clock::Millis;
use crate::domain::time::{rfc3339_ms, rfc3339_ms_into};
use crate::domain::IdRef;

/// A user, conversation or message named in a body: a number is the integer id, a string the
/// uuid or oid (or the id in digits).
#[derive(Clone, Debug, PartialEq)]
pub struct Ref(pub IdRef);

impl<'de> Deserialize<'de> for Ref {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Ref;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer id or a uuid/oid string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ref, E> {
                i64::try_from(v)
                    .map(|n| Ref(IdRef::Id(n)))
                    .map_err(|_| E::custom("id out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ref, E> {
                Ok(Ref(IdRef::Id(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ref, E> {
                IdRef::parse(v)
                    .map(Ref)
                    .ok_or_else(|| E::custom(format!("\"{v}\" is not a valid id")))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Ref {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Ref".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An integer id, or a uuid or oid (or the id in digits) as a string",
            "anyOf": [{"type": "integer"}, {"type": "string"}],
        })
    }
}

/// A time in the native API's format (`2025-11-02T10:30:00.000Z`), written straight into the
/// response: lists hold dozens of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp(pub Millis);

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        match rfc3339_ms_into(self.0, &mut buf) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&rfc3339_ms(self.0)),
        }
    }
}

impl JsonSchema for Stamp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Stamp".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

pub fn refs(r: Option<Ref>) -> Option<IdRef> {
    r.map(|r| r.0)
}

/// Tells "absent" (None) from "null" (Some(None)).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AsOnly {
    #[serde(rename = "as")]
    pub as_user: Option<Ref>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub before: Option<String>,
    pub after: Option<String>,
    #[serde(rename = "as")]
    pub as_user: Option<String>,
    pub role: Option<String>,
    /// Conversations only: a participant's name contains this (admins, without `as`).
    pub q: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "{T}List")]
pub struct List<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// A page from `rows` read with one row more than `limit`: that extra row says whether a
    /// next page exists, and the last row kept gives its cursor.
    pub fn one_over<R>(
        mut rows: Vec<R>,
        limit: u32,
        cursor: impl Fn(&R) -> String,
        shape: impl FnMut(R) -> T,
    ) -> List<T> {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(cursor) } else { None };
        List {
            data: rows.into_iter().map(shape).collect(),
            next_cursor,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct HealthDto {
    pub status: &'static str,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AsQuery {
    #[serde(rename = "as")]
    pub as_user: Option<String>,
}

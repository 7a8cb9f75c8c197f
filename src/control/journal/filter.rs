//! Which entries a query, a count or an export is about: the filters of the journal's routes,
//! checked here so that a bad value is a 400 naming its field.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::domain::time::parse_rfc3339;
use crate::error::{Error, Result};

/// The query parameters every journal route takes (`GET /__parlor/journal`, `.../count`,
/// `.../verify`, `journal.har`); paging ones are ignored where there is no page.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterQuery {
    pub face: Option<String>,
    pub tenant: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub sandbox: Option<String>,
    pub body: Option<String>,
    pub before: Option<String>,
    pub limit: Option<u32>,
}

/// A path to match: exactly, or as a pattern where `*` stands for any characters.
#[derive(Clone, Debug, PartialEq)]
pub enum PathMatch {
    Exact(String),
    /// A GLOB pattern with every character but `*` taken literally.
    Glob(String),
}

/// A status, or a class of them (`4xx`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StatusMatch {
    Is(u16),
    Class(u16),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub face: Option<String>,
    pub tenant: Option<i64>,
    pub method: Option<String>,
    pub path: Option<PathMatch>,
    pub status: Option<StatusMatch>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub sandbox: Option<String>,
    /// Text the request or the response body contains.
    pub body: Option<String>,
    /// Entries with a smaller id (newest-first paging).
    pub before: Option<i64>,
    /// Entries with a larger id (oldest-first paging, the HAR export).
    pub after: Option<i64>,
}

/// The surfaces an entry can come from.
fn surfaces() -> impl Iterator<Item = &'static str> {
    std::iter::once("native").chain(crate::faces::FACES.iter().map(|f| f.name))
}

impl FilterQuery {
    pub fn filter(&self) -> Result<Filter> {
        fn text(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|t| !t.is_empty())
        }
        let face = match text(&self.face) {
            None => None,
            Some(f) if surfaces().any(|s| s == f) => Some(f.to_string()),
            Some(_) => {
                return Err(Error::invalid(
                    "face",
                    format!(
                        "must be one of {}",
                        surfaces().collect::<Vec<_>>().join(", ")
                    ),
                ))
            }
        };
        let tenant = text(&self.tenant)
            .map(|t| {
                t.parse::<i64>()
                    .map_err(|_| Error::invalid("tenant", "must be a numeric tenant id"))
            })
            .transpose()?;
        let method = match text(&self.method) {
            None => None,
            Some(m) if m.len() <= 16 && m.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(m.to_ascii_uppercase())
            }
            Some(_) => return Err(Error::invalid("method", "must be an HTTP method, e.g. GET")),
        };
        let path = match text(&self.path) {
            None => None,
            Some(p) if !p.starts_with(['/', '*']) => {
                return Err(Error::invalid(
                    "path",
                    "must start with '/' or '*'; '*' matches any characters, e.g. /v1/api/*",
                ))
            }
            Some(p) if p.contains('*') => Some(PathMatch::Glob(glob(p))),
            Some(p) => Some(PathMatch::Exact(p.to_string())),
        };
        let status = text(&self.status).map(status).transpose()?;
        let before = text(&self.before)
            .map(|b| {
                b.parse::<i64>()
                    .map_err(|_| Error::invalid("before", "must be a cursor from next_cursor"))
            })
            .transpose()?;
        Ok(Filter {
            face,
            tenant,
            method,
            path,
            status,
            since: instant("since", &self.since)?,
            until: instant("until", &self.until)?,
            sandbox: text(&self.sandbox).map(str::to_string),
            body: self.body.clone().filter(|b| !b.is_empty()),
            before,
            after: None,
        })
    }
}

/// An instant: RFC 3339, or a date (midnight UTC), as the audit trail's filters take it.
fn instant(field: &str, text: &Option<String>) -> Result<Option<i64>> {
    let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    parse_rfc3339(text)
        .or_else(|| parse_rfc3339(&format!("{text}T00:00:00Z")))
        .map(Some)
        .ok_or_else(|| {
            Error::invalid(
                field,
                "must be a date (2026-11-30) or an RFC 3339 time (2026-11-30T09:00:00Z)",
            )
        })
}

fn status(text: &str) -> Result<StatusMatch> {
    let bad = || {
        Error::invalid(
            "status",
            "must be a status (404) or a class of them (4xx), from 100 to 599",
        )
    };
    let lower = text.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        return match class.parse::<u16>() {
            Ok(c @ 1..=5) if class.len() == 1 => Ok(StatusMatch::Class(c)),
            _ => Err(bad()),
        };
    }
    match text.parse::<u16>() {
        Ok(s @ 100..=599) => Ok(StatusMatch::Is(s)),
        _ => Err(bad()),
    }
}

/// SQLite's GLOB treats `?` and `[` as special: they are taken literally here.
fn glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(q: FilterQuery) -> String {
        match q.filter() {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        let q = |f: fn(&mut FilterQuery)| {
            let mut q = FilterQuery::default();
            f(&mut q);
            q
        };
        assert_eq!(field_of(q(|q| q.face = Some("acme".into()))), "face");
        assert_eq!(field_of(q(|q| q.tenant = Some("x".into()))), "tenant");
        assert_eq!(field_of(q(|q| q.method = Some("G T".into()))), "method");
        assert_eq!(field_of(q(|q| q.path = Some("v1".into()))), "path");
        assert_eq!(field_of(q(|q| q.status = Some("6xx".into()))), "status");
        assert_eq!(field_of(q(|q| q.status = Some("99".into()))), "status");
        assert_eq!(field_of(q(|q| q.since = Some("yesterday".into()))), "since");
        assert_eq!(field_of(q(|q| q.before = Some("abc".into()))), "before");
    }

    #[test]
    fn paths_match_exactly_or_by_star() {
        let f = FilterQuery {
            path: Some("/v1/api/*?[x]".into()),
            status: Some("4XX".into()),
            ..FilterQuery::default()
        }
        .filter()
        .unwrap();
        assert_eq!(f.path, Some(PathMatch::Glob("/v1/api/*[?][[]x]".into())));
        assert_eq!(f.status, Some(StatusMatch::Class(4)));
    }
}

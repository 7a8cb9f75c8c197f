//! Requests in: query strings and JSON bodies checked the way the Partner API's NestJS
//! `ValidationPipe` checks them (class-validator messages, every violation listed), into typed
//! values. Lenient where the vendor is: unknown fields are ignored, an empty filter is no filter.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use super::error::RespondentError;
use crate::domain::time::parse_rfc3339;
use crate::error::Error;
use crate::faces::body::{json_object, BodyError};
use crate::service::inbox::Offset;
use crate::service::MAX_PAGE;

/// The last value of each query parameter, `?a=1&a=2` meaning `a=2`.
struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn parse(query: &str) -> Self {
        QueryParams(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The value of `name`; an empty value counts as absent (`?projectId=` filters nothing).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Collects class-validator messages; `finish` fails with all of them.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn add(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    fn finish<T>(self, value: T) -> Result<T, RespondentError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(RespondentError::Invalid(self.0))
        }
    }
}

/// `page`, `pageSize`, `includeCount` (Retrieve all conversations: query parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Paging {
    pub page: u64,
    pub page_size: u32,
    pub include_count: bool,
}

impl Paging {
    pub fn offset(&self) -> Offset {
        let skipped = (self.page - 1).saturating_mul(u64::from(self.page_size));
        Offset {
            offset: i64::try_from(skipped).unwrap_or(i64::MAX),
            limit: self.page_size,
            with_total: self.include_count,
        }
    }
}

/// A whole number within bounds: the schema types `page`/`pageSize` as `number`, so `2.0` and
/// `1e1` are numbers too.
fn whole_number(
    q: &QueryParams,
    name: &str,
    min: u64,
    max: Option<u64>,
    default: u64,
    v: &mut Violations,
) -> u64 {
    let Some(text) = q.get(name) else {
        return default;
    };
    let Some(n) = text.trim().parse::<f64>().ok().filter(|n| n.is_finite()) else {
        v.add(format!(
            "{name} must be a number conforming to the specified constraints"
        ));
        return default;
    };
    if n.fract() != 0.0 {
        v.add(format!("{name} must be an integer number"));
        return default;
    }
    if n < min as f64 {
        v.add(format!("{name} must not be less than {min}"));
        return default;
    }
    if let Some(max) = max.filter(|max| n > *max as f64) {
        v.add(format!("{name} must not be greater than {max}"));
        return default;
    }
    n as u64
}

fn boolean(q: &QueryParams, name: &str, v: &mut Violations) -> bool {
    match q.get(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            v.add(format!("{name} must be a boolean value"));
            false
        }
    }
}

/// An ISO 8601 date or date-time: with an offset or `Z`, or without (read as UTC), or a bare
/// date (its midnight, UTC).
fn iso_timestamp(q: &QueryParams, name: &str, v: &mut Violations) -> Option<i64> {
    let text = q.get(name)?.trim();
    let parsed = parse_rfc3339(text)
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                .map(|t| t.and_utc().timestamp_millis())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
        });
    if parsed.is_none() {
        v.add(format!("{name} must be a valid ISO 8601 date string"));
    }
    parsed
}

fn paging(q: &QueryParams, v: &mut Violations) -> Paging {
    Paging {
        page: whole_number(q, "page", 1, None, 1, v),
        page_size: whole_number(q, "pageSize", 1, Some(u64::from(MAX_PAGE)), 20, v) as u32,
        include_count: boolean(q, "includeCount", v),
    }
}

/// `GET /conversations`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationsQuery {
    pub paging: Paging,
    pub external_researcher_id: Option<String>,
    pub project_id: Option<String>,
}

impl ConversationsQuery {
    pub fn parse(query: &str) -> Result<Self, RespondentError> {
        let q = QueryParams::parse(query);
        let mut v = Violations::default();
        let paging = paging(&q, &mut v);
        v.finish(ConversationsQuery {
            paging,
            external_researcher_id: q.get("externalResearcherId").map(str::to_string),
            project_id: q.get("projectId").map(str::to_string),
        })
    }
}

/// `GET /messages`.
#[derive(Clone, Debug, PartialEq)]
pub struct MessagesQuery {
    pub paging: Paging,
    pub conversation_uid: Option<String>,
    pub external_researcher_id: Option<String>,
    pub project_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl MessagesQuery {
    pub fn parse(query: &str) -> Result<Self, RespondentError> {
        let q = QueryParams::parse(query);
        let mut v = Violations::default();
        let paging = paging(&q, &mut v);
        let since = iso_timestamp(&q, "since", &mut v);
        let until = iso_timestamp(&q, "until", &mut v);
        v.finish(MessagesQuery {
            paging,
            conversation_uid: q.get("conversationUid").map(str::to_string),
            external_researcher_id: q.get("externalResearcherId").map(str::to_string),
            project_id: q.get("projectId").map(str::to_string),
            since,
            until,
        })
    }
}

/// A request body as a JSON object. An empty body is `{}` (NestJS sees no body as an empty
/// one); a body that is not JSON fails the way body-parser does, with one message.
pub struct Body(pub Map<String, Value>);

impl FromRequest for Body {
    type Error = RespondentError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, RespondentError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            match json_object(bytes.await) {
                Ok(map) => Ok(Body(map)),
                // class-validator sees no properties on anything but an object.
                Err(BodyError::NotAnObject) => Ok(Body(Map::new())),
                Err(BodyError::NotJson(e, bytes)) => {
                    Err(RespondentError::Malformed(json_parse_error(&bytes, &e)))
                }
                Err(BodyError::TooLarge) => Err(RespondentError::Core(Error::TooLarge(
                    "the request body is larger than the configured body_limit".into(),
                ))),
                Err(BodyError::Unreadable(why)) => {
                    Err(RespondentError::Core(Error::invalid("body", why)))
                }
            }
        })
    }
}

/// What `JSON.parse` says about a bad body, as body-parser passes it on.
fn json_parse_error(bytes: &[u8], e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "Unexpected end of JSON input".into();
    }
    // serde counts lines and columns from 1; JSON.parse reports a 0-based position.
    let line_start: usize = bytes
        .split(|b| *b == b'\n')
        .take(e.line().saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    let position = line_start + e.column().saturating_sub(1);
    "Unexpected token in JSON at position ".to_string() + &position.to_string()
}

/// A required, non-empty string field.
fn required_text(body: &Map<String, Value>, name: &str, v: &mut Violations) -> String {
    match body.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => {
            v.add(format!("{name} should not be empty"));
            String::new()
        }
        None | Some(Value::Null) => {
            v.add(format!("{name} should not be empty"));
            v.add(format!("{name} must be a string"));
            String::new()
        }
        Some(_) => {
            v.add(format!("{name} must be a string"));
            String::new()
        }
    }
}

/// An optional string field (`null` is absent, as class-validator's `@IsOptional()` has it).
fn optional_text(body: &Map<String, Value>, name: &str, v: &mut Violations) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            v.add(format!("{name} must be a string"));
            None
        }
    }
}

/// `POST /conversations` (Create a conversation).
#[derive(Clone, Debug, PartialEq)]
pub struct CreateConversation {
    pub project_id: String,
    /// Users' `foreignId`s, at least one.
    pub participant_user_ids: Vec<String>,
    /// `(metadata key, value)` of the optional external ids given.
    pub external_ids: Vec<(&'static str, String)>,
}

impl CreateConversation {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, RespondentError> {
        let mut v = Violations::default();
        let project_id = required_text(body, "projectId", &mut v);
        let mut participant_user_ids = Vec::new();
        match body.get("participantUserIds") {
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    v.add("participantUserIds must contain at least 1 elements");
                }
                for item in items {
                    match item {
                        Value::String(s) if !s.is_empty() => participant_user_ids.push(s.clone()),
                        _ => {
                            v.add("each value in participantUserIds must be a string");
                            break;
                        }
                    }
                }
            }
            _ => {
                v.add("participantUserIds must contain at least 1 elements");
                v.add("participantUserIds must be an array");
            }
        }
        let mut external_ids = Vec::new();
        // surveyResponseId is part of the conversation metadata too; accepted when sent.
        for key in [
            "externalResearcherId",
            "externalTeamId",
            "externalCompanyId",
            "surveyResponseId",
        ] {
            if let Some(value) = optional_text(body, key, &mut v) {
                external_ids.push((key, value));
            }
        }
        v.finish(CreateConversation {
            project_id,
            participant_user_ids,
            external_ids,
        })
    }
}

/// `POST /conversations/{conversationUid}/messages` (Create a message).
pub fn message_body(body: &Map<String, Value>) -> Result<String, RespondentError> {
    let mut v = Violations::default();
    let text = required_text(body, "body", &mut v);
    v.finish(text)
}

/// `POST /conversations/{conversationUid}/participants` (Add a participant).
pub fn participant_user_id(body: &Map<String, Value>) -> Result<String, RespondentError> {
    let mut v = Violations::default();
    let id = required_text(body, "participantUserId", &mut v);
    v.finish(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations(result: Result<impl std::fmt::Debug, RespondentError>) -> Vec<String> {
        match result {
            Err(RespondentError::Invalid(list)) => list,
            other => panic!("expected a validation failure, got {other:?}"),
        }
    }

    #[test]
    fn paging_defaults_and_bounds() {
        let q = ConversationsQuery::parse("").unwrap();
        assert_eq!(
            q.paging,
            Paging {
                page: 1,
                page_size: 20,
                include_count: false
            }
        );
        let q = ConversationsQuery::parse("page=3&pageSize=100&includeCount=TRUE").unwrap();
        assert_eq!(q.paging.offset().offset, 200);
        assert!(q.paging.include_count);
        assert_eq!(
            violations(ConversationsQuery::parse(
                "page=0&pageSize=101&includeCount=yes"
            )),
            vec![
                "page must not be less than 1",
                "pageSize must not be greater than 100",
                "includeCount must be a boolean value"
            ]
        );
        assert_eq!(
            violations(ConversationsQuery::parse("page=abc&pageSize=1.5")),
            vec![
                "page must be a number conforming to the specified constraints",
                "pageSize must be an integer number"
            ]
        );
        let huge = ConversationsQuery::parse("page=1e300").unwrap();
        assert_eq!(huge.paging.offset().offset, i64::MAX);
    }

    #[test]
    fn timestamps_are_iso_8601() {
        let q = MessagesQuery::parse(
            "since=2025-10-06T14:00:00.000Z&until=2025-10-07&conversationUid=",
        )
        .unwrap();
        assert_eq!(q.since, parse_rfc3339("2025-10-06T14:00:00Z"));
        assert_eq!(q.until, parse_rfc3339("2025-10-07T00:00:00Z"));
        assert_eq!(q.conversation_uid, None);
        assert_eq!(
            violations(MessagesQuery::parse("since=yesterday")),
            vec!["since must be a valid ISO 8601 date string"]
        );
    }

    #[test]
    fn create_lists_every_violation() {
        let body = serde_json::json!({"participantUserIds": [], "externalTeamId": 5});
        let Value::Object(map) = body else { panic!() };
        assert_eq!(
            violations(CreateConversation::parse(&map)),
            vec![
                "projectId should not be empty",
                "projectId must be a string",
                "participantUserIds must contain at least 1 elements",
                "externalTeamId must be a string"
            ]
        );
    }
}

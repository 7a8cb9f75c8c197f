//! `GET /parlor/v1/audit`: the tenant's audit trail, for its admins (and the server admin
//! naming the tenant). Filters: `user`, `api_key`, `patient`, `action`, `surface`, `outcome`,
//! `since`, `until`; paged newest first by `before`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::auth::TenantCaller;
use super::dto::audit::{AuditEntryDto, AuditListDto};
use super::error::ApiResult;
use super::extract::Query;
use crate::app::App;
use crate::audit::Actor;
use crate::domain::time::parse_rfc3339;
use crate::error::Error;
use crate::service::page_limit;
use crate::store::audit::Filter;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub api_key: Option<String>,
    pub patient: Option<String>,
    pub action: Option<String>,
    pub surface: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub before: Option<String>,
    pub limit: Option<u32>,
}

fn id(field: &str, text: &Option<String>) -> Result<Option<i64>, Error> {
    text.as_deref()
        .map(|t| {
            t.trim()
                .parse::<i64>()
                .map_err(|_| Error::invalid(field, "must be a numeric id"))
        })
        .transpose()
}

/// An instant: RFC 3339, or a date (`2026-11-30`, midnight UTC).
pub fn instant(field: &str, text: &Option<String>) -> Result<Option<i64>, Error> {
    let Some(text) = text.as_deref().map(str::trim) else {
        return Ok(None);
    };
    let parsed = parse_rfc3339(text).or_else(|| parse_rfc3339(&format!("{text}T00:00:00Z")));
    parsed.map(Some).ok_or_else(|| {
        Error::invalid(
            field,
            "must be a date (2026-11-30) or an RFC 3339 time (2026-11-30T09:00:00Z)",
        )
    })
}

fn word(field: &str, text: &Option<String>, choices: &[&str]) -> Result<Option<String>, Error> {
    match text.as_deref().map(str::trim) {
        None => Ok(None),
        Some(t) if choices.is_empty() && !t.is_empty() && t.len() <= 64 => Ok(Some(t.to_string())),
        Some(t) if choices.contains(&t) => Ok(Some(t.to_string())),
        Some(_) if choices.is_empty() => Err(Error::invalid(field, "must be 1 to 64 characters")),
        Some(_) => Err(Error::invalid(
            field,
            format!("must be one of: {}", choices.join(", ")),
        )),
    }
}

impl AuditQuery {
    pub fn filter(&self) -> Result<Filter, Error> {
        let actor = match (id("user", &self.user)?, id("api_key", &self.api_key)?) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid("api_key", "give user or api_key, not both"))
            }
            (Some(u), None) => Some(Actor::User(u)),
            (None, Some(k)) => Some(Actor::ApiKey(k)),
            (None, None) => None,
        };
        Ok(Filter {
            actor,
            patient: id("patient", &self.patient)?,
            action: word("action", &self.action, &[])?,
            surface: word(
                "surface",
                &self.surface,
                &[
                    "native",
                    "admin",
                    "app",
                    "mdlive",
                    "tati",
                    "trillet",
                    "pigeons",
                    "respondent",
                    "cli",
                    "system",
                ],
            )?,
            outcome: word(
                "outcome",
                &self.outcome,
                &["ok", "refused", "not_found", "invalid", "failed"],
            )?,
            since: instant("since", &self.since)?,
            until: instant("until", &self.until)?,
            before: id("before", &self.before)?,
            ..Filter::default()
        })
    }
}

pub async fn list(
    app: web::Data<App>,
    caller: TenantCaller,
    query: Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let filter = query.0.filter()?;
    let limit = page_limit("limit", query.0.limit, 50)?;
    let page = app.service.audit_page(caller.tenant, filter, limit).await?;
    let next_cursor = if page.more {
        page.entries.last().map(|r| r.seq.to_string())
    } else {
        None
    };
    let data = page
        .entries
        .iter()
        .map(|r| AuditEntryDto::new(r, &page.users, &page.keys))
        .collect();
    Ok(HttpResponse::Ok().json(AuditListDto { data, next_cursor }))
}

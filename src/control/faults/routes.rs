//! `/__parlor/faults`: create, list, remove one, remove all.

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use schemars::JsonSchema;
use serde::Serialize;

use super::rule::{Rule, Spec, TenantRef};
use crate::app::App;
use crate::control::auth::ServerAdmin;
use crate::control::ControlPlane;
use crate::domain::{IdRef, TenantId};
use crate::error::Error;
use crate::faces::FACES;
use crate::native::error::ApiResult;
use crate::native::extract::Json;
use crate::openapi::{op, Op};

/// The fault rules' operations, for the control plane's table.
pub fn operations() -> Vec<Op> {
    use crate::control::{ADMIN, ADMIN_INPUT};
    vec![
        op(
            Method::POST,
            "/faults",
            "Add a fault or latency rule (checked after the earlier ones)",
            create,
        )
        .body::<Spec>()
        .json::<RuleDto>(201)
        .errors(ADMIN_INPUT),
        op(
            Method::GET,
            "/faults",
            "Every rule in the order they are checked, with how often each fired",
            list,
        )
        .json::<ListDto>(200)
        .errors(ADMIN),
        op(Method::DELETE, "/faults", "Remove every rule", clear)
            .empty(204)
            .errors(ADMIN),
        op(Method::DELETE, "/faults/{id}", "Remove one rule", remove)
            .empty(204)
            .errors(&[401, 403, 404]),
    ]
}

#[derive(Serialize, JsonSchema)]
struct RuleDto<'a> {
    id: u64,
    #[serde(flatten)]
    spec: &'a Spec,
    /// How often the rule fired.
    fired: u64,
    /// Firings left of `times`; null without a `times`.
    remaining: Option<u64>,
    /// Its `times` are used up: listed, never fires again.
    spent: bool,
}

impl<'a> From<&'a Rule> for RuleDto<'a> {
    fn from(rule: &'a Rule) -> Self {
        RuleDto {
            id: rule.id,
            spec: &rule.spec,
            fired: rule.fired,
            remaining: rule.remaining(),
            spent: rule.spent(),
        }
    }
}

#[derive(Serialize, JsonSchema)]
struct ListDto<'a> {
    data: Vec<RuleDto<'a>>,
}

/// The tenant a rule names, looked up once, when the rule is made.
async fn tenant(app: &App, named: &TenantRef) -> Result<TenantId, Error> {
    let id = match named {
        TenantRef::Id(id) => IdRef::Id(*id),
        TenantRef::Key(key) => {
            IdRef::parse(key).ok_or_else(|| Error::invalid("tenant", "is not a tenant id"))?
        }
    };
    match app.service.find_tenant(id).await {
        Ok(tenant) => Ok(tenant.id),
        Err(Error::NotFound(_)) => Err(Error::invalid("tenant", "no such tenant")),
        Err(e) => Err(e),
    }
}

/// `POST /__parlor/faults`: 201 with the rule as it will be listed.
async fn create(
    _admin: ServerAdmin,
    app: web::Data<App>,
    plane: web::Data<ControlPlane>,
    body: Json<Spec>,
) -> ApiResult<HttpResponse> {
    let mut spec = body.0;
    let faces: Vec<&str> = FACES.iter().map(|f| f.name).collect();
    spec.check(&faces)?;
    let tenant = match &spec.tenant {
        Some(named) => Some(tenant(&app, named).await?),
        None => None,
    };
    let faults = &plane.faults;
    let mut rules = faults.lock();
    let rule = Rule::new(rules.next_id + 1, spec, tenant)?;
    rules.next_id = rule.id;
    let created = HttpResponse::Created().json(RuleDto::from(&rule));
    rules.list.push(rule);
    faults.rearm(&rules);
    Ok(created)
}

/// `GET /__parlor/faults`: every rule in the order they are checked, spent ones included.
async fn list(_admin: ServerAdmin, plane: web::Data<ControlPlane>) -> HttpResponse {
    let rules = plane.faults.lock();
    HttpResponse::Ok().json(ListDto {
        data: rules.list.iter().map(RuleDto::from).collect(),
    })
}

/// `DELETE /__parlor/faults/{id}`.
async fn remove(
    _admin: ServerAdmin,
    plane: web::Data<ControlPlane>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id: u64 = id.parse().map_err(|_| Error::NotFound("fault rule"))?;
    let faults = &plane.faults;
    let mut rules = faults.lock();
    let before = rules.list.len();
    rules.list.retain(|r| r.id != id);
    if rules.list.len() == before {
        return Err(Error::NotFound("fault rule").into());
    }
    faults.rearm(&rules);
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /__parlor/faults`: every rule.
async fn clear(_admin: ServerAdmin, plane: web::Data<ControlPlane>) -> HttpResponse {
    let faults = &plane.faults;
    let mut rules = faults.lock();
    rules.list.clear();
    faults.rearm(&rules);
    HttpResponse::NoContent().finish()
}

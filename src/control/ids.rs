//! `/__parlor/ids`: seed the source of every new uuid, oid and token, so that two runs of the
//! same suite see the same ids (issue 15, "Determinism"). The source is `domain::idgen::Ids`;
//! seeding the server's reaches every sandbox's, each of which has its own sequence derived
//! from (seed, sandbox name).

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::ServerAdmin;
use crate::app::App;
use crate::domain::idgen::Seed;
use crate::error::Error;
use crate::native::error::ApiResult;
use crate::native::extract::Json;
use crate::openapi::{op, Op};

/// Longer text seeds are surely a mistake (a file pasted in).
const MAX_TEXT_SEED: usize = 256;

/// The ids' operations, for the control plane's table.
pub fn operations() -> Vec<Op> {
    vec![
        op(
            Method::GET,
            "/ids",
            "Whether new ids are seeded, and with what",
            show,
        )
        .json::<IdsDto>(200)
        .errors(super::ADMIN),
        op(
            Method::PUT,
            "/ids",
            "Seed every new uuid, oid and secret (a whole number or a text)",
            seed,
        )
        .body::<SetSeed>()
        .json::<IdsDto>(200)
        .errors(super::ADMIN_INPUT),
        op(
            Method::DELETE,
            "/ids",
            "Back to the operating system's generator",
            unseed,
        )
        .json::<IdsDto>(200)
        .errors(super::ADMIN),
    ]
}

#[derive(Serialize, JsonSchema)]
struct IdsDto {
    seeded: bool,
    /// As it was given: a number or a text.
    seed: Value,
}

fn state(app: &App) -> HttpResponse {
    let seed = match app.service.ids().seeded() {
        None => Value::Null,
        Some(Seed::Number(n)) => Value::from(n),
        Some(Seed::Text(t)) => Value::from(t),
    };
    HttpResponse::Ok().json(IdsDto {
        seeded: !seed.is_null(),
        seed,
    })
}

/// `GET /__parlor/ids`
async fn show(_admin: ServerAdmin, app: web::Data<App>) -> ApiResult<HttpResponse> {
    Ok(state(&app))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetSeed {
    seed: Value,
}

/// `PUT /__parlor/ids {"seed": 42}` or `{"seed": "my-suite"}`
async fn seed(
    _admin: ServerAdmin,
    app: web::Data<App>,
    body: Json<SetSeed>,
) -> ApiResult<HttpResponse> {
    let seed = match body.0.seed {
        Value::Number(n) => n.as_u64().map(Seed::Number),
        Value::String(t) if (1..=MAX_TEXT_SEED).contains(&t.len()) => Some(Seed::Text(t)),
        _ => None,
    }
    .ok_or_else(|| {
        Error::invalid(
            "seed",
            format!(
                "must be a whole number from 0 to {} or a text of 1 to {MAX_TEXT_SEED} bytes",
                u64::MAX
            ),
        )
    })?;
    app.service.ids().seed(seed);
    Ok(state(&app))
}

/// `DELETE /__parlor/ids`: back to the operating system's generator.
async fn unseed(_admin: ServerAdmin, app: web::Data<App>) -> ApiResult<HttpResponse> {
    app.service.ids().unseed();
    Ok(state(&app))
}

//! `/__parlor/clock`: freeze, set and advance Parlor's clock (issue 15, "Determinism").
//!
//! There is one clock per server: every sandbox's service holds a clone of it, which shares its
//! state, so moving it here moves every timestamp, token expiry and session timeout at once.
//! Advancing a running clock moves it ahead and lets it keep running (time travel, not a
//! freeze); a frozen clock stays frozen at the later instant.

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::ServerAdmin;
use crate::app::App;
use crate::domain::clock::{Millis, Reading};
use crate::domain::time::{parse_rfc3339, rfc3339_ms};
use crate::error::Error;
use crate::native::error::ApiResult;
use crate::native::extract::Json;
use crate::openapi::{op, Op};
use crate::webhooks::Webhooks;

/// The longest single advance: a century, far beyond any token lifetime, and far from overflow.
const MAX_ADVANCE_MS: Millis = 100 * 366 * 86_400_000;

/// The clock's operations, for the control plane's table.
pub fn operations() -> Vec<Op> {
    vec![
        op(Method::GET, "/clock", "Parlor's clock", show)
            .json::<ClockDto>(200)
            .errors(super::ADMIN),
        op(
            Method::PUT,
            "/clock",
            "Freeze the clock at a time or now, let it run on, or run it from a time",
            set,
        )
        .body::<SetClock>()
        .json::<ClockDto>(200)
        .errors(super::ADMIN_INPUT),
        op(Method::DELETE, "/clock", "Back to the system clock", system)
            .json::<ClockDto>(200)
            .errors(super::ADMIN),
        op(
            Method::POST,
            "/clock/advance",
            "Move the clock forward (\"90s\", \"1h30m\", or milliseconds)",
            advance,
        )
        .body::<Advance>()
        .json::<ClockDto>(200)
        .errors(super::ADMIN_INPUT),
    ]
}

#[derive(Serialize, JsonSchema)]
struct ClockDto {
    now: String,
    frozen: bool,
    /// How far a running clock is ahead of (or behind) the system clock.
    offset_ms: Millis,
}

impl From<Reading> for ClockDto {
    fn from(r: Reading) -> Self {
        Self {
            now: rfc3339_ms(r.now),
            frozen: r.frozen,
            offset_ms: r.offset,
        }
    }
}

fn answer(app: &App, hooks: Option<web::Data<Webhooks>>) -> HttpResponse {
    // Retries that became due when the clock moved go now rather than at the sender's next
    // wake-up.
    if let Some(hooks) = hooks {
        hooks.wake();
    }
    HttpResponse::Ok().json(ClockDto::from(app.service.clock.reading()))
}

/// `GET /__parlor/clock`
async fn show(_admin: ServerAdmin, app: web::Data<App>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(ClockDto::from(app.service.clock.reading())))
}

/// The body of `PUT /__parlor/clock`: exactly one of the three.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetClock {
    /// Freeze at this instant.
    frozen_at: Option<String>,
    /// `true`: freeze at what the clock reads now; `false`: let a frozen clock run on from there.
    frozen: Option<bool>,
    /// Let the clock run, starting from this instant.
    now: Option<String>,
}

fn instant(field: &str, text: &str) -> Result<Millis, Error> {
    parse_rfc3339(text).ok_or_else(|| {
        Error::invalid(
            field,
            "must be an RFC 3339 time with an offset, like 2025-11-05T09:00:00Z",
        )
    })
}

/// `PUT /__parlor/clock`. An earlier time than now is allowed: timestamps written afterwards
/// are earlier than those before, while every order the API promises (messages by `seq`) stays.
async fn set(
    _admin: ServerAdmin,
    app: web::Data<App>,
    hooks: Option<web::Data<Webhooks>>,
    body: Json<SetClock>,
) -> ApiResult<HttpResponse> {
    let clock = &app.service.clock;
    match body.0 {
        SetClock {
            frozen_at: Some(at),
            frozen: None | Some(true),
            now: None,
        } => clock.freeze(instant("frozen_at", &at)?),
        SetClock {
            frozen_at: None,
            frozen: Some(true),
            now: None,
        } => clock.freeze_now(),
        SetClock {
            frozen_at: None,
            frozen: Some(false),
            now: None,
        } => clock.resume(),
        SetClock {
            frozen_at: None,
            frozen: None | Some(false),
            now: Some(at),
        } => clock.run_from(instant("now", &at)?),
        _ => {
            return Err(Error::invalid(
                "body",
                "give one of frozen_at (freeze at a time), frozen (true: freeze now, false: \
                 run on) or now (run from a time)",
            )
            .into())
        }
    }
    Ok(answer(&app, hooks))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Advance {
    /// A duration: "250ms", "90s", "5m", "2h", "1d", a sum like "1h30m", or milliseconds.
    by: Value,
}

/// `POST /__parlor/clock/advance {"by": "90s"}`
async fn advance(
    _admin: ServerAdmin,
    app: web::Data<App>,
    hooks: Option<web::Data<Webhooks>>,
    body: Json<Advance>,
) -> ApiResult<HttpResponse> {
    let by = parse_step(&body.0.by).ok_or_else(|| {
        Error::invalid(
            "by",
            "must be a positive number of milliseconds or a duration like 250ms, 90s, 5m, 2h, \
             1d or 1h30m (at most a century; PUT /__parlor/clock sets an earlier time)",
        )
    })?;
    app.service.clock.advance(by);
    Ok(answer(&app, hooks))
}

/// `DELETE /__parlor/clock`: back to the system clock.
async fn system(
    _admin: ServerAdmin,
    app: web::Data<App>,
    hooks: Option<web::Data<Webhooks>>,
) -> ApiResult<HttpResponse> {
    app.service.clock.unfreeze();
    Ok(answer(&app, hooks))
}

/// A step forward: a JSON number of milliseconds, or text made of number-and-unit pairs.
fn parse_step(value: &Value) -> Option<Millis> {
    let ms = match value {
        Value::Number(n) => n.as_i64()?,
        Value::String(text) => parse_duration(text)?,
        _ => return None,
    };
    (1..=MAX_ADVANCE_MS).contains(&ms).then_some(ms)
}

/// `250ms`, `90s`, `5m`, `2h`, `1d`, and sums of them written together (`1h30m`).
pub fn parse_duration(text: &str) -> Option<Millis> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: Millis = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let amount: Millis = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = match &rest[..letters] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        rest = &rest[letters..];
        total = total.checked_add(amount.checked_mul(unit)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("2h"), Some(7_200_000));
        assert_eq!(parse_duration("1d"), Some(86_400_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        for bad in ["", "5", "m", "5x", "-5m", "5 m", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_step(&serde_json::json!(1500)), Some(1500));
        assert_eq!(parse_step(&serde_json::json!(0)), None);
        assert_eq!(parse_step(&serde_json::json!(-5)), None);
        assert_eq!(parse_step(&serde_json::json!("0s")), None);
        assert_eq!(parse_step(&serde_json::json!(true)), None);
    }
}

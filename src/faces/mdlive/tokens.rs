//! Token issuance (reference pages `_authentication_overview`, `_users`, `_extend`).

use actix_web::{web, HttpResponse};

use super::auth::{api_key, TokenHolder};
use super::dto::{ApiTokenDto, TokenUserDto, UserTokenDto};
use super::error::{MdliveError, MdliveResult};
use super::params::Params;
use crate::app::App;
use crate::auth::jwt::Subject;
use crate::domain::{Profile, Role, TenantId, UserId};
use crate::service::directory::NewUser;

/// `POST /auth/auth_token` `{"auth": {"api_key", "password"}}` → the API token.
pub async fn api_token(
    app: web::Data<App>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> MdliveResult<HttpResponse> {
    let params = Params::from_body(bytes)?;
    let key = api_key(&app, &params, "auth").await?;
    let jwt = app.jwt.issue(
        key.tenant_id,
        Subject::ApiKey(key.id),
        app.service.now(),
        app.settings.token_ttl_minutes,
    )?;
    Ok(HttpResponse::Ok().json(ApiTokenDto { jwt }))
}

fn user_token(app: &App, tenant: TenantId, user: UserId) -> MdliveResult<HttpResponse> {
    let ttl = app.settings.token_ttl_minutes;
    let jwt = app
        .jwt
        .issue(tenant, Subject::User(user), app.service.now(), ttl)?;
    Ok(HttpResponse::Ok().json(UserTokenDto {
        jwt,
        user: TokenUserDto {
            id: user.0,
            kind: "Patient",
            time_to_live_minutes: ttl,
        },
    }))
}

/// "M"/"F" as the vendor sends them; the spelled-out forms are accepted too.
fn gender(text: &str) -> Option<&'static str> {
    match text.to_ascii_lowercase().as_str() {
        "m" | "male" => Some("Male"),
        "f" | "female" => Some("Female"),
        _ => None,
    }
}

/// `POST /api/v1/sso_auth/auth_token`: finds the tenant's patient by `subscriber_id`, else by
/// email, creating them when absent, and returns a user token for them.
pub async fn sso_token(
    app: web::Data<App>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> MdliveResult<HttpResponse> {
    let params = Params::from_body(bytes)?;
    let key = api_key(&app, &params, "api").await?;
    let auth = params.require("auth")?;
    let mut f = auth.fields();
    let first_name = f.string("first_name", true);
    let last_name = f.string("last_name", true);
    let gender_text = f.string("gender", true);
    let birthdate = f.string("birthdate", true);
    let subscriber_id = f.string("subscriber_id", false);
    let email = f.string("email", false);
    let phone = f.string("phone", false);
    let gender = gender_text.as_deref().and_then(gender);
    if gender_text.is_some() && gender.is_none() {
        f.invalid("gender", "is not included in the list");
    }
    if matches!(&birthdate, Some(b) if chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").is_err()) {
        f.invalid("birthdate", "must be a date (YYYY-MM-DD)");
    }
    if matches!(&email, Some(e) if !e.contains('@')) {
        f.invalid("email", "is invalid");
    }
    if subscriber_id.is_none() && email.is_none() {
        f.invalid("subscriber_id", "can't be blank when email is blank");
    }
    f.finish()?;
    let (user, _created) = app
        .service
        .find_or_create_user(
            key.tenant_id,
            NewUser {
                role: Some(Role::Patient),
                profile: Profile {
                    first_name,
                    last_name,
                    gender: gender.map(str::to_string),
                    birthdate,
                    email,
                    phone,
                    ..Profile::default()
                },
                external_id: subscriber_id,
                ..Default::default()
            },
        )
        .await?;
    user_token(&app, key.tenant_id, user.id)
}

/// `POST /api/v1/sso_auth/auth_extend`: a fresh user token for the holder of a still-valid one,
/// given the same tenant's API credentials.
pub async fn sso_extend(
    app: web::Data<App>,
    holder: MdliveResult<TokenHolder>,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> MdliveResult<HttpResponse> {
    let TokenHolder(holder) = holder?;
    let params = Params::from_body(bytes)?;
    let key = api_key(&app, &params, "api").await?;
    if key.tenant_id != holder.tenant.id {
        return Err(MdliveError::Unauthorized(
            "The API key does not belong to the token's organization",
        ));
    }
    user_token(&app, holder.tenant.id, holder.user.id)
}

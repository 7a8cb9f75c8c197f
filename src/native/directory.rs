//! Sign-in, tenants, users, tokens and API keys.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::{Caller, TenantCaller};
use super::dto::*;
use super::error::ApiResult;
use super::extract::{Json, Query};
use super::path_ref;
use crate::app::App;
use crate::auth::throttle::SignInThrottle;
use crate::auth::Principal;
use crate::domain::time::parse_utc_offset;
use crate::domain::{IdRef, Profile, ProfilePatch, Role};
use crate::error::Error;
use crate::service::directory::{NewTenant, NewUser};
use crate::service::page_limit;
use crate::store::users::ProfileChange;

/// Username + password → a new token (the admin page's and apps' sign-in). Guessing is slowed
/// per client address and username, as on every surface that checks a password.
pub async fn login(
    app: web::Data<App>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let key = SignInThrottle::key(req.peer_addr().map(|a| a.ip()), &body.username);
    let service = &app.service;
    let checked = app
        .sign_in_throttle
        .attempt(&key, service.now(), |admitted| async move {
            let tenant = service
                .find_tenant(body.tenant.0)
                .await
                .map_err(|_| Error::Unauthenticated("invalid username or password".into()))?;
            let user = service
                .login(admitted, tenant.id, body.username, body.password)
                .await?;
            Ok((tenant, user))
        })
        .await;
    let (tenant, user) = match checked {
        Ok(checked) => checked?,
        Err(locked) => return Ok(super::error::too_many_attempts(locked.retry_after)),
    };
    let (_, token) = app
        .service
        .issue_token(
            Some(tenant.id),
            Some(IdRef::Id(user.id.0)),
            vec!["*".into()],
            Some("login".into()),
            Some(i64::from(app.settings.token_ttl_minutes) * 60_000),
        )
        .await?;
    Ok(HttpResponse::Ok().json(LoginDto {
        token,
        user: user.into(),
    }))
}

pub async fn me(caller: Caller) -> ApiResult<HttpResponse> {
    match caller.0 {
        Principal::ServerAdmin => {
            Ok(HttpResponse::Ok().json(ServerAdminDto { server_admin: true }))
        }
        Principal::User { user, .. } => Ok(HttpResponse::Ok().json(UserDto::from(*user))),
    }
}

fn require_server_admin(caller: &Caller) -> Result<(), Error> {
    match caller.0 {
        Principal::ServerAdmin => Ok(()),
        _ => Err(Error::forbidden("this needs the server admin token")),
    }
}

pub async fn list_tenants(app: web::Data<App>, caller: Caller) -> ApiResult<HttpResponse> {
    let tenants = match &caller.0 {
        Principal::ServerAdmin => app.service.tenants().await?,
        Principal::User { user, .. } => vec![app.service.tenant(user.tenant_id).await?],
    };
    Ok(HttpResponse::Ok().json(List {
        data: tenants.into_iter().map(TenantDto::from).collect(),
        next_cursor: None,
    }))
}

pub async fn create_tenant(
    app: web::Data<App>,
    caller: Caller,
    body: Json<CreateTenant>,
) -> ApiResult<HttpResponse> {
    require_server_admin(&caller)?;
    let body = body.0;
    let utc_offset_minutes = match &body.utc_offset {
        Some(text) => parse_utc_offset(text)
            .ok_or_else(|| Error::invalid("utc_offset", "must look like +HH:MM or -HH:MM"))?,
        None => 0,
    };
    let tenant = app
        .service
        .create_tenant(NewTenant {
            name: body.name,
            public_key: body.public_key,
            workspace_id: body.workspace_id,
            utc_offset_minutes,
            ..NewTenant::default()
        })
        .await?;
    Ok(HttpResponse::Created().json(TenantDto::from(tenant)))
}

pub async fn get_tenant(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let tenant = app.service.find_tenant(path_ref(&path, "tenant")?).await?;
    if caller.0.tenant().is_some_and(|t| t != tenant.id) {
        return Err(Error::NotFound("tenant").into());
    }
    Ok(HttpResponse::Ok().json(TenantDto::from(tenant)))
}

fn parse_role(text: &str) -> Result<Role, Error> {
    Role::parse(text)
        .ok_or_else(|| Error::invalid("role", format!("must be one of {}", Role::choices())))
}

pub async fn list_users(
    app: web::Data<App>,
    caller: TenantCaller,
    query: Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let query = query.0;
    if query.q.is_some() {
        return Err(Error::invalid("q", "is a parameter of the conversation list only").into());
    }
    let role = query.role.as_deref().map(parse_role).transpose()?;
    let limit = page_limit("limit", query.limit, 50)?;
    let after = match &query.after {
        Some(a) => a
            .parse::<i64>()
            .map_err(|_| Error::invalid("after", "must be a user id"))?,
        None => 0,
    };
    let users = app
        .service
        .users(caller.tenant, role, after, limit + 1)
        .await?;
    Ok(HttpResponse::Ok().json(List::one_over(
        users,
        limit,
        |u| u.id.0.to_string(),
        UserDto::from,
    )))
}

pub async fn create_user(
    app: web::Data<App>,
    caller: TenantCaller,
    body: Json<CreateUser>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let role = b.role.as_deref().map(parse_role).transpose()?;
    let user = app
        .service
        .create_user(
            caller.tenant,
            NewUser {
                role: Some(role.unwrap_or(Role::Participant)),
                uuid: b.uuid,
                oid: b.oid,
                display_name: b.display_name,
                profile: Profile {
                    first_name: b.first_name,
                    last_name: b.last_name,
                    prefix: b.prefix,
                    gender: b.gender,
                    email: b.email,
                    phone: b.phone,
                    avatar_url: b.avatar_url,
                    specialty: b.specialty,
                    birthdate: None,
                },
                external_id: b.external_id,
                username: b.username,
                password: b.password,
                ..NewUser::default()
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(UserDto::from(user)))
}

/// Admins see any user of their tenant; others only themselves.
async fn visible_user(
    app: &App,
    caller: &TenantCaller,
    segment: &str,
) -> Result<crate::domain::User, Error> {
    let user = app
        .service
        .user(caller.tenant, path_ref(segment, "user")?)
        .await?;
    match &caller.principal {
        Principal::User { user: me, .. } if !caller.is_admin() && me.id != user.id => {
            Err(Error::NotFound("user"))
        }
        _ => Ok(user),
    }
}

pub async fn get_user(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = visible_user(&app, &caller, &path).await?;
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}

pub async fn update_user(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: Json<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let target = visible_user(&app, &caller, &path).await?;
    let b = body.0;
    if b.username.is_some() && !caller.is_admin() {
        return Err(Error::forbidden("only an admin may change a username").into());
    }
    let change = ProfileChange {
        display_name: match b.display_name {
            Some(None) => return Err(Error::invalid("display_name", "cannot be null").into()),
            other => other.flatten(),
        },
        username: b.username,
        language: b.language,
        // Gender and birthdate are set when a user is created, never changed here.
        profile: ProfilePatch {
            first_name: b.first_name,
            last_name: b.last_name,
            prefix: b.prefix,
            email: b.email,
            phone: b.phone,
            avatar_url: b.avatar_url,
            specialty: b.specialty,
            ..ProfilePatch::default()
        },
    };
    let user = app
        .service
        .update_user(caller.tenant, IdRef::Id(target.id.0), change, b.password)
        .await?;
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}

pub async fn list_tokens(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let user = visible_user(&app, &caller, &path).await?;
    let tokens = app
        .service
        .tokens_of(caller.tenant, IdRef::Id(user.id.0))
        .await?;
    Ok(HttpResponse::Ok().json(List {
        data: tokens.into_iter().map(TokenDto::from).collect(),
        next_cursor: None,
    }))
}

pub async fn create_token(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
    body: Json<CreateToken>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let user = app
        .service
        .user(caller.tenant, path_ref(&path, "user")?)
        .await?;
    let b = body.0;
    let ttl = b.expires_in_minutes.map(|m| i64::from(m) * 60_000);
    // Ten years at most: long enough for any integration, short enough to render as a date.
    const MAX_MINUTES: u32 = 10 * 366 * 24 * 60;
    if matches!(b.expires_in_minutes, Some(m) if m == 0 || m > MAX_MINUTES) {
        let message = format!("must be between 1 and {MAX_MINUTES}");
        return Err(Error::invalid("expires_in_minutes", message).into());
    }
    let (record, token) = app
        .service
        .issue_token(
            Some(caller.tenant),
            Some(IdRef::Id(user.id.0)),
            b.abilities.unwrap_or_else(|| vec!["*".into()]),
            b.label,
            ttl,
        )
        .await?;
    Ok(HttpResponse::Created().json(NewTokenDto {
        token,
        record: record.into(),
    }))
}

pub async fn revoke_token(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let token = app
        .service
        .revoke_token(Some(caller.tenant), path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(TokenDto::from(token)))
}

pub async fn list_api_keys(app: web::Data<App>, caller: TenantCaller) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let keys = app.service.api_keys(caller.tenant).await?;
    Ok(HttpResponse::Ok().json(List {
        data: keys.into_iter().map(ApiKeyDto::from).collect(),
        next_cursor: None,
    }))
}

pub async fn create_api_key(
    app: web::Data<App>,
    caller: TenantCaller,
    body: Json<CreateApiKey>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (record, secret) = app
        .service
        .create_api_key(caller.tenant, body.0.label)
        .await?;
    Ok(HttpResponse::Created().json(NewApiKeyDto {
        secret,
        record: record.into(),
    }))
}

pub async fn revoke_api_key(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let key = app
        .service
        .revoke_api_key(caller.tenant, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyDto::from(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_named_in_errors() {
        let e = parse_role("doctor").unwrap_err();
        assert!(e.to_string().contains("\"provider\""), "{e}");
        assert_eq!(parse_role("patient").unwrap(), Role::Patient);
    }
}

//! Accounts for staff and patients: invite and reset links (`/users/{id}/invites`, and the
//! public `/invites/{secret}`), a user's contacts (`/contacts`) and their own name
//! (`PATCH /me`). The rules are `service/invites.rs` and `service/contacts.rs`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::{Caller, TenantCaller};
use super::dto::{
    AcceptInvite, ContactDto, ContactsQuery, CreateInvite, InviteDto, InviteIssuedDto,
    InviteStateDto, List, Stamp, UpdateMe, UserDto,
};
use super::error::ApiResult;
use super::extract::{Json, OptionalJson, Query};
use super::path_ref;
use crate::app::App;
use crate::auth::throttle::SignInThrottle;
use crate::auth::Principal;
use crate::error::Error;
use crate::service::invites::{link, Purpose};
use crate::service::page_limit;

/// The throttle's name for guesses at link secrets: one budget per client address.
const INVITE_GUESS: &str = "(invite link)";

/// Where links point: the `public_url` setting, else the scheme and host this request came to.
fn base_url(app: &App, req: &HttpRequest) -> String {
    match &app.settings.public_url {
        Some(url) => url.clone(),
        None => {
            let info = req.connection_info();
            let scheme = if req.app_config().secure() {
                "https"
            } else {
                info.scheme()
            };
            format!("{scheme}://{}", info.host())
        }
    }
}

pub async fn create_invite(
    app: web::Data<App>,
    req: HttpRequest,
    caller: TenantCaller,
    path: web::Path<String>,
    body: OptionalJson<CreateInvite>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let purpose = b.purpose.as_deref().map(Purpose::parse).transpose()?;
    let issued = app
        .service
        .issue_invite(
            caller.tenant,
            path_ref(&path, "user")?,
            purpose,
            b.expires_in_hours,
        )
        .await?;
    Ok(HttpResponse::Created().json(InviteIssuedDto {
        id: issued.invite.id,
        user_id: issued.user.id.0,
        purpose: issued.invite.purpose,
        url: link(&base_url(&app, &req), &issued.secret),
        expires_at: Stamp(issued.invite.expires_at),
        created_at: Stamp(issued.invite.created_at),
    }))
}

pub async fn invite_state(
    app: web::Data<App>,
    caller: TenantCaller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let user = app
        .service
        .user(caller.tenant, path_ref(&path, "user")?)
        .await?;
    let expires = app.service.outstanding_invite(user.id).await?;
    Ok(HttpResponse::Ok().json(InviteStateDto {
        user_id: user.id.0,
        outstanding: expires.is_some(),
        invite_expires_at: expires.map(Stamp),
    }))
}

/// Runs `check` under the sign-in throttle for guesses from this client address. A dead link
/// counts as a failed guess; it is answered as "not found".
async fn throttled<T, F, Fut>(
    app: &App,
    req: &HttpRequest,
    check: F,
) -> ApiResult<Result<T, HttpResponse>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let key = SignInThrottle::key(req.peer_addr().map(|a| a.ip()), INVITE_GUESS);
    let outcome = app
        .sign_in_throttle
        .attempt(&key, app.service.now(), |_admitted| async move {
            match check().await {
                Err(Error::NotFound("invite")) => Err(Error::Unauthenticated("invite".into())),
                other => other,
            }
        })
        .await;
    match outcome {
        Err(locked) => Ok(Err(super::error::too_many_attempts(locked.retry_after))),
        Ok(Err(Error::Unauthenticated(_))) => Err(Error::NotFound("invite").into()),
        Ok(result) => Ok(Ok(result?)),
    }
}

pub async fn show_invite(
    app: web::Data<App>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let secret = path.into_inner();
    let welcome = match throttled(&app, &req, || app.service.invite(secret)).await? {
        Ok(w) => w,
        Err(locked) => return Ok(locked),
    };
    let user = welcome.user;
    let name = user
        .profile
        .first_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(user.display_name);
    Ok(HttpResponse::Ok().json(InviteDto {
        purpose: welcome.invite.purpose,
        clinic_name: welcome.tenant.name,
        name,
        username: user.username,
        expires_at: Stamp(welcome.invite.expires_at),
    }))
}

pub async fn accept_invite(
    app: web::Data<App>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<AcceptInvite>,
) -> ApiResult<HttpResponse> {
    super::sessions::require_json(&req)?;
    let b = body.0;
    let surface = match b.client.as_deref() {
        None | Some("app") => "app",
        Some("admin") => "admin",
        Some(_) => return Err(Error::invalid("client", "must be \"app\" or \"admin\"").into()),
    };
    let secret = path.into_inner();
    let accepted = throttled(&app, &req, || app.service.accept_invite(secret, b.password)).await?;
    match accepted {
        Ok(user) => super::sessions::open_for_user(&app, &req, user, surface).await,
        Err(locked) => Ok(locked),
    }
}

pub async fn contacts(
    app: web::Data<App>,
    caller: Caller,
    query: Query<ContactsQuery>,
) -> ApiResult<HttpResponse> {
    let me = signed_in_user(caller)?;
    let q = query.0;
    let limit = page_limit("limit", q.limit, 50)?;
    let before = q
        .before
        .as_deref()
        .map(|b| {
            b.parse::<i64>()
                .map_err(|_| Error::invalid("before", "must be a user id (a next_cursor)"))
        })
        .transpose()?;
    if q.q.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(Error::invalid("q", "must be at most 100 characters").into());
    }
    let found = app.service.contacts_page(me, q.q, before, limit).await?;
    Ok(HttpResponse::Ok().json(List::one_over(
        found,
        limit,
        |u| u.id.0.to_string(),
        ContactDto::from,
    )))
}

pub async fn update_me(
    app: web::Data<App>,
    caller: Caller,
    body: Json<UpdateMe>,
) -> ApiResult<HttpResponse> {
    let me = signed_in_user(caller)?;
    let b = body.0;
    let user = app
        .service
        .update_me(me.tenant_id, me, b.display_name, b.language)
        .await?;
    Ok(HttpResponse::Ok().json(UserDto::from(user)))
}

/// The user a caller is; the server admin is no user and has no contacts or name.
fn signed_in_user(caller: Caller) -> Result<crate::domain::User, Error> {
    match caller.0 {
        Principal::User { user, .. } => Ok(*user),
        Principal::ServerAdmin => Err(Error::forbidden(
            "the server admin is not a user of a tenant; this is for a signed-in user",
        )),
    }
}

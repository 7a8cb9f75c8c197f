//! The admin page's sign-in: `POST /session` turns the server-admin token or a tenant admin's
//! username and password into an `HttpOnly`, `SameSite=Strict` session cookie; `GET /session`
//! says who is signed in (and hands the page its CSRF token again after a reload);
//! `DELETE /session` signs out. The rules (idle timeout, lifetime, CSRF) are in
//! `auth/sessions.rs` and `auth.rs`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::SignedIn;
use super::dto::{SessionDto, SignIn, UserDto};
use super::error::ApiResult;
use super::extract::Json;
use crate::app::App;
use crate::auth::sessions::{Session, COOKIE};
use crate::auth::throttle::{Admitted, SignInThrottle};
use crate::auth::Principal;
use crate::domain::time::rfc3339_ms;
use crate::domain::{IdRef, Role};
use crate::error::Error;
use crate::native::BASE;

/// The ability of the token a tenant admin's session runs on: the native API and nothing else.
const SESSION_ABILITY: &str = "native";

fn refused() -> Error {
    Error::Unauthenticated("invalid username or password".into())
}

pub async fn sign_in(
    app: web::Data<App>,
    req: HttpRequest,
    body: Json<SignIn>,
) -> ApiResult<HttpResponse> {
    // A page on another site can post a form (urlencoded, multipart or text/plain) without
    // asking, but not JSON: requiring it keeps other sites from signing a browser in.
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(Error::invalid("Content-Type", "must be application/json").into());
    }
    let b = body.0;
    // Guessing is slowed per client address and name tried, as on every password check.
    let who = b.username.as_deref().unwrap_or("(server-admin token)");
    let key = SignInThrottle::key(req.peer_addr().map(|a| a.ip()), who);
    let checked = app
        .sign_in_throttle
        .attempt(&key, app.service.now(), |admitted| {
            check_credentials(&app, admitted, b)
        })
        .await;
    let checked = match checked {
        Ok(checked) => checked,
        Err(locked) => return Ok(super::error::too_many_attempts(locked.retry_after)),
    };
    let (credential, token_id, principal) = checked?;
    let opened = app.sessions.open(credential, token_id, app.service.now());
    let mut response = HttpResponse::Ok();
    response.insert_header((
        actix_web::http::header::SET_COOKIE,
        cookie_header(&req, &opened.cookie, app.sessions.lifetime_ms() / 1000),
    ));
    Ok(response.json(session_dto(&app, principal, &opened.session)))
}

/// The credential a session will run on (and the id of the token issued for it), from the
/// sign-in body: the server-admin token, or a tenant admin's username and password; and who
/// it speaks for, as checked here (not looked up again).
async fn check_credentials(
    app: &App,
    admitted: Admitted,
    b: SignIn,
) -> Result<(String, Option<i64>, Principal), Error> {
    match (b.token, b.username, b.password) {
        (Some(token), None, None) if b.tenant.is_none() => {
            match app.service.authenticate_bearer(token.clone()).await? {
                Principal::ServerAdmin => Ok((token, None, Principal::ServerAdmin)),
                Principal::User { .. } => Err(Error::Unauthenticated(
                    "this is not a server-admin token; tenant admins sign in with their \
                     username and password"
                        .into(),
                )),
            }
        }
        (None, Some(username), Some(password)) => {
            let user = match b.tenant {
                Some(tenant) => {
                    let tenant = app
                        .service
                        .find_tenant(tenant.0)
                        .await
                        .map_err(|_| refused())?;
                    app.service
                        .login(admitted, tenant.id, username, password)
                        .await?
                }
                None => {
                    app.service
                        .login_anywhere(admitted, username, password, Role::Admin)
                        .await?
                }
            };
            if user.role != Role::Admin {
                return Err(refused());
            }
            let (token, secret) = app
                .service
                .issue_token(
                    Some(user.tenant_id),
                    Some(IdRef::Id(user.id.0)),
                    vec![SESSION_ABILITY.into()],
                    Some("admin page".into()),
                    Some(app.sessions.lifetime_ms()),
                )
                .await?;
            let token_id = token.id;
            let principal = Principal::User {
                user: Box::new(user),
                token,
            };
            Ok((secret, Some(token_id), principal))
        }
        _ => Err(Error::invalid(
            "body",
            "give either \"token\" (the server-admin token) or \"username\" and \
             \"password\" (and optionally \"tenant\")",
        )),
    }
}

pub async fn current(app: web::Data<App>, me: SignedIn) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(session_dto(&app, me.principal, &me.session)))
}

pub async fn sign_out(
    app: web::Data<App>,
    req: HttpRequest,
    me: SignedIn,
) -> ApiResult<HttpResponse> {
    if let Some(token) = app.sessions.close(&me.cookie).and_then(|s| s.token_id) {
        app.service.revoke_token(None, token).await?;
    }
    Ok(HttpResponse::NoContent()
        .insert_header((
            actix_web::http::header::SET_COOKIE,
            cookie_header(&req, "", 0),
        ))
        .finish())
}

fn session_dto(app: &App, principal: Principal, session: &Session) -> SessionDto {
    let (server_admin, user) = match principal {
        Principal::ServerAdmin => (true, None),
        Principal::User { user, .. } => (false, Some(UserDto::from(*user))),
    };
    SessionDto {
        server_admin,
        user,
        csrf_token: session.csrf.clone(),
        idle_timeout_seconds: app.sessions.idle_ms() / 1000,
        expires_at: rfc3339_ms(session.created_at + app.sessions.lifetime_ms()),
    }
}

/// The session cookie: script-proof, never sent by another site's page, only to the native
/// API, and `Secure` when the page was reached over HTTPS: built-in TLS (whatever a
/// `X-Forwarded-Proto` the client sends says), or a proxy's HTTPS (a clinic's LAN may be plain
/// HTTP).
fn cookie_header(req: &HttpRequest, value: &str, max_age_seconds: i64) -> String {
    let secure = if req.app_config().secure() || req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={value}; Path={BASE}; Max-Age={max_age_seconds}; HttpOnly; SameSite=Strict{secure}")
}

//! Browser sign-in, for the admin page and the clinic's app: `POST /session` turns the
//! server-admin token, or any user's username and password, into an `HttpOnly`,
//! `SameSite=Strict` session cookie that speaks for that user with exactly their native API
//! rights; `GET /session` says who is signed in (and hands the page its CSRF token again after
//! a reload); `DELETE /session` signs out. The rules (idle timeout, lifetime, CSRF) are in
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
use crate::domain::{IdRef, User};
use crate::error::Error;
use crate::native::BASE;

/// The ability of the token a user's session runs on: the native API and nothing else.
const SESSION_ABILITY: &str = "native";

/// Who a session is for, from the sign-in body's `client`: the audit trail's surface for its
/// requests and the label of its token.
fn client_surface(client: Option<&str>) -> Result<&'static str, Error> {
    match client {
        None | Some("admin") => Ok("admin"),
        Some("app") => Ok("app"),
        Some(_) => Err(Error::invalid("client", "must be \"admin\" or \"app\"")),
    }
}

fn refused() -> Error {
    Error::Unauthenticated("invalid username or password".into())
}

pub async fn sign_in(
    app: web::Data<App>,
    req: HttpRequest,
    body: Json<SignIn>,
) -> ApiResult<HttpResponse> {
    require_json(&req)?;
    let b = body.0;
    let surface = client_surface(b.client.as_deref())?;
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
    match checked? {
        Checked::ServerAdmin(token) => Ok(open(
            &app,
            &req,
            token,
            None,
            Principal::ServerAdmin,
            surface,
        )),
        Checked::User(user) => open_for_user(&app, &req, *user, surface).await,
    }
}

/// A page on another site can post a form (urlencoded, multipart or text/plain) without
/// asking, but not JSON: requiring it keeps other sites from signing a browser in (here, and
/// with an invite link of their own).
pub(super) fn require_json(req: &HttpRequest) -> Result<(), Error> {
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if json {
        Ok(())
    } else {
        Err(Error::invalid("Content-Type", "must be application/json"))
    }
}

/// Whom a sign-in body's credentials were checked to be.
enum Checked {
    ServerAdmin(String),
    User(Box<User>),
}

/// Signs `user` in: a native-only token for the session's lifetime, the session, its cookie,
/// and the answer of `POST /session`. Also how a used invite link signs its user in.
pub(super) async fn open_for_user(
    app: &App,
    req: &HttpRequest,
    user: User,
    surface: &'static str,
) -> ApiResult<HttpResponse> {
    let label = if surface == "app" {
        "app"
    } else {
        "admin page"
    };
    let (token, secret) = app
        .service
        .issue_token(
            Some(user.tenant_id),
            Some(IdRef::Id(user.id.0)),
            vec![SESSION_ABILITY.into()],
            Some(label.into()),
            Some(app.sessions.lifetime_ms()),
        )
        .await?;
    let token_id = token.id;
    let principal = Principal::User {
        user: Box::new(user),
        token,
    };
    Ok(open(app, req, secret, Some(token_id), principal, surface))
}

fn open(
    app: &App,
    req: &HttpRequest,
    credential: String,
    token_id: Option<i64>,
    principal: Principal,
    surface: &'static str,
) -> HttpResponse {
    let opened = app.sessions.open(
        credential,
        token_id,
        surface,
        app.service.now(),
        app.service.ids(),
    );
    let max_age = app.sessions.lifetime_ms() / 1000;
    let mut response = HttpResponse::Ok();
    response.insert_header((
        actix_web::http::header::SET_COOKIE,
        cookie_header(req, BASE, &opened.cookie, max_age),
    ));
    if matches!(principal, Principal::ServerAdmin) && control_plane(req) {
        response.append_header((
            actix_web::http::header::SET_COOKIE,
            cookie_header(req, crate::control::PREFIX, &opened.cookie, max_age),
        ));
    }
    response.json(session_dto(app, principal, &opened.session))
}

/// Who the sign-in body's credentials belong to: the server-admin token, or a user's username
/// and password (in the named tenant, else the first user of that name in any tenant whose
/// password matches).
async fn check_credentials(app: &App, admitted: Admitted, b: SignIn) -> Result<Checked, Error> {
    match (b.token, b.username, b.password) {
        (Some(token), None, None) if b.tenant.is_none() => {
            match app.service.authenticate_bearer(token.clone()).await? {
                Principal::ServerAdmin => Ok(Checked::ServerAdmin(token)),
                Principal::User { .. } => Err(Error::Unauthenticated(
                    "this is not a server-admin token; users sign in with their username and \
                     password"
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
                        .login_anywhere(admitted, username, password, None)
                        .await?
                }
            };
            Ok(Checked::User(Box::new(user)))
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
    let mut response = HttpResponse::NoContent();
    response.insert_header((
        actix_web::http::header::SET_COOKIE,
        cookie_header(&req, BASE, "", 0),
    ));
    if control_plane(&req) {
        response.append_header((
            actix_web::http::header::SET_COOKIE,
            cookie_header(&req, crate::control::PREFIX, "", 0),
        ));
    }
    Ok(response.finish())
}

fn session_dto(app: &App, principal: Principal, session: &Session) -> SessionDto {
    let (server_admin, role, user) = match principal {
        Principal::ServerAdmin => (true, "server_admin", None),
        Principal::User { user, .. } => (false, user.role.as_str(), Some(UserDto::from(*user))),
    };
    SessionDto {
        server_admin,
        role,
        client: session.surface,
        user,
        csrf_token: session.csrf.clone(),
        idle_timeout_seconds: app.sessions.idle_ms() / 1000,
        expires_at: rfc3339_ms(session.created_at + app.sessions.lifetime_ms()),
    }
}

/// Whether this server has the stand-in control plane (`control::enabled`): there the server
/// admin's session is also sent to `/__parlor`, for the admin page's Stand-in panel. A cookie
/// has one path, so that is a second cookie with the same session; a clinic's server, and
/// every other signed-in person, has only the native API's.
fn control_plane(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<crate::control::ControlPlane>>()
        .is_some()
}

/// The session cookie: script-proof, never sent by another site's page, only to `path` (the
/// native API, or the control plane), and `Secure` when the page was reached over HTTPS:
/// built-in TLS (whatever a `X-Forwarded-Proto` the client sends says), or a proxy's HTTPS (a
/// clinic's LAN may be plain HTTP).
fn cookie_header(req: &HttpRequest, path: &str, value: &str, max_age_seconds: i64) -> String {
    let secure = if req.app_config().secure() || req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={value}; Path={path}; Max-Age={max_age_seconds}; HttpOnly; SameSite=Strict{secure}")
}

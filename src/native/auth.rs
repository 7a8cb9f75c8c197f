//! Who is calling the native API, in which tenant, and as whom they act.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};

use super::error::ApiError;
use crate::app::App;
use crate::auth::sessions::{self, Refused, Session, Use};
use crate::auth::{presented, Presented, Principal};
use crate::domain::{IdRef, TenantId, UserId};
use crate::error::Error;
use crate::idempotency::resolve_once;

/// The header a server admin uses to say which tenant a tenant-scoped call is about.
pub const TENANT_HEADER: &str = "X-Parlor-Tenant";
/// The ability a token needs for the native API.
pub const NATIVE_ABILITY: &str = "native";

/// An authenticated caller: `Authorization: Bearer <token>`.
pub struct Caller(pub Principal);

/// An authenticated caller and the tenant the call is about: the caller's own tenant, or for
/// the server admin the one named by `X-Parlor-Tenant`.
pub struct TenantCaller {
    pub principal: Principal,
    pub tenant: TenantId,
}

fn bearer(req: &HttpRequest) -> Result<String, Error> {
    match presented(req, &["bearer"]) {
        Presented::Token(token) => Ok(token),
        Presented::Missing => Err(Error::Unauthenticated(
            "missing Authorization header".into(),
        )),
        Presented::Malformed => Err(Error::Unauthenticated(
            "malformed Authorization header".into(),
        )),
        Presented::OtherScheme => Err(Error::Unauthenticated(
            "expected 'Authorization: Bearer <token>'".into(),
        )),
    }
}

/// The admin page's session cookie, when the request carries one.
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == sessions::COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The admin page's own calls about its session (`GET` and `DELETE /session`): the session
/// behind the cookie, and who it speaks for. A bearer token does not stand in for it.
pub struct SignedIn {
    pub principal: Principal,
    pub session: Session,
    pub cookie: String,
}

impl FromRequest for SignedIn {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let app = App::of(&req)?;
            let cookie = session_cookie(&req)
                .ok_or_else(|| Error::Unauthenticated("not signed in".into()))?;
            let (principal, session) = session_principal(&app, &req, &cookie).await?;
            Ok(SignedIn {
                principal,
                session,
                cookie,
            })
        })
    }
}

/// The session behind `cookie`, if it still holds. An expired session's sign-in token is
/// revoked with it (if that fails, the token still expires by itself).
pub async fn resume_session(
    app: &App,
    cookie: &str,
    usage: Use,
    csrf: Option<&str>,
    activity: bool,
) -> Result<Session, Error> {
    match app
        .sessions
        .resume(cookie, usage, csrf, activity, app.service.now())
    {
        Ok(s) => Ok(s),
        Err(Refused::Expired(Some(token))) => {
            if let Err(e) = app.service.revoke_token(None, token).await {
                tracing::warn!("revoking an expired session's token: {e}");
            }
            Err(Refused::Expired(None).into())
        }
        Err(refused) => Err(refused.into()),
    }
}

/// The caller behind an admin-page session cookie, and the session. Changes (anything but
/// GET and HEAD) must repeat the session's CSRF token; the page's background refreshes say so
/// and do not count as activity. A session whose credential no longer authenticates (a
/// revoked token, a removed user) ends.
async fn session_principal(
    app: &App,
    req: &HttpRequest,
    cookie: &str,
) -> Result<(Principal, Session), Error> {
    let usage = match *req.method() {
        actix_web::http::Method::GET | actix_web::http::Method::HEAD => Use::Read,
        _ => Use::Change,
    };
    let csrf = req
        .headers()
        .get(sessions::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    // An event stream (re)connects by itself, whether anyone is at the screen or not.
    let stream = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let activity = !req.headers().contains_key(sessions::BACKGROUND_HEADER) && !stream;
    let session = resume_session(app, cookie, usage, csrf, activity).await?;
    match app
        .service
        .authenticate_bearer(session.credential.clone())
        .await
    {
        Ok(principal) => {
            crate::audit::surface(session.surface);
            if let Some(id) = session.token_id {
                crate::audit::set_credential(format!("session:{id}"));
            }
            Ok((principal, session))
        }
        Err(e) => {
            app.sessions.close(cookie);
            Err(e)
        }
    }
}

async fn authenticate(req: HttpRequest) -> Result<(web::Data<App>, Principal), Error> {
    let app = App::of(&req)?;
    // A bearer token wins over a cookie: scripts and tests need no CSRF token.
    let cookie = session_cookie(&req).filter(|_| {
        !req.headers()
            .contains_key(actix_web::http::header::AUTHORIZATION)
    });
    let principal = match cookie {
        Some(cookie) => session_principal(&app, &req, &cookie).await?.0,
        None => app.service.authenticate_bearer(bearer(&req)?).await?,
    };
    if let Principal::User { token, .. } = &principal {
        if !token.can(NATIVE_ABILITY) {
            return Err(Error::forbidden(
                "this token may not use the native API (needs ability \"native\" or \"*\")",
            ));
        }
    }
    Ok((app, principal))
}

/// Why the request's credentials are refused on the native API (401, or 403 for a token
/// without the ability), if they are.
pub(super) async fn refusal(req: HttpRequest) -> Option<Error> {
    authenticate(req).await.err()
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Caller(authenticate(req).await?.1)) })
    }
}

impl FromRequest for TenantCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        resolve_once(req, tenant_caller)
    }
}

async fn tenant_caller(req: HttpRequest) -> Result<TenantCaller, ApiError> {
    let (app, principal) = authenticate(req.clone()).await?;
    let named = req
        .headers()
        .get(TENANT_HEADER)
        .map(|v| v.to_str().ok().and_then(IdRef::parse))
        .map(|r| r.ok_or_else(|| Error::invalid(TENANT_HEADER, "is not a tenant id or uuid")))
        .transpose()?;
    let tenant = tenant_of(&app, &principal, named).await?;
    Ok(TenantCaller { principal, tenant })
}

/// The tenant a call is about: the caller's own, or the one the server admin `named`.
pub async fn tenant_of(
    app: &App,
    principal: &Principal,
    named: Option<IdRef>,
) -> Result<TenantId, Error> {
    Ok(match (principal, named) {
        (Principal::ServerAdmin, Some(r)) => {
            let id = app.service.find_tenant(r).await?.id;
            crate::audit::tenant(id);
            id
        }
        (Principal::ServerAdmin, None) => {
            return Err(Error::invalid(
                TENANT_HEADER,
                "the server admin must name the tenant with this header",
            ))
        }
        (Principal::User { user, .. }, None) => user.tenant_id,
        // The caller's own tenant by its id: it exists, as the caller does.
        (Principal::User { user, .. }, Some(IdRef::Id(id))) if id == user.tenant_id.0 => {
            user.tenant_id
        }
        (Principal::User { user, .. }, Some(r)) => {
            let t = app
                .service
                .find_tenant(r)
                .await
                .map_err(|_| Error::NotFound("tenant"))?;
            if t.id != user.tenant_id {
                return Err(Error::NotFound("tenant"));
            }
            t.id
        }
    })
}

impl TenantCaller {
    pub fn is_admin(&self) -> bool {
        self.principal.is_admin()
    }

    pub fn require_admin(&self) -> Result<(), Error> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::forbidden("this needs a tenant admin"))
        }
    }

    fn own_user(&self) -> Option<UserId> {
        match &self.principal {
            Principal::ServerAdmin => None,
            Principal::User { user, .. } => Some(user.id),
        }
    }

    /// The user the caller acts as: `as` when given (admins only, unless it is the caller),
    /// else the caller. Errors when no user results (the server admin must say `as`).
    pub async fn acting_user(&self, app: &App, as_user: Option<IdRef>) -> Result<UserId, Error> {
        match as_user {
            Some(r) => self.acting_or_admin(app, Some(r)).await?,
            None => self.own_user(),
        }
        .ok_or_else(|| Error::invalid("as", "the server admin must name the user to act as"))
    }

    /// For reads: like `acting_user`, but an admin who names nobody reads with admin authority
    /// (None) instead of as themselves.
    pub async fn acting_or_admin(
        &self,
        app: &App,
        as_user: Option<IdRef>,
    ) -> Result<Option<UserId>, Error> {
        match as_user {
            // Acting as oneself: the caller is already resolved.
            Some(IdRef::Id(id)) if self.own_user() == Some(UserId(id)) => Ok(Some(UserId(id))),
            Some(r) => {
                let user = app
                    .service
                    .user(self.tenant, r)
                    .await
                    .map_err(|_| Error::invalid("as", "no such user in this tenant"))?;
                if Some(user.id) != self.own_user() && !self.is_admin() {
                    return Err(Error::forbidden("only an admin may act as another user"));
                }
                Ok(Some(user.id))
            }
            None if self.is_admin() => Ok(None),
            None => Ok(self.own_user()),
        }
    }
}

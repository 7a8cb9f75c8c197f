//! `POST /token/` (Getting Started → authentication): a new token for a patient's username and
//! password, each call. Guessing is slowed by the sign-in throttle, answered as DRF's throttles
//! answer.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ABILITY;
use super::dto::TokenDto;
use super::error::{TatiError, TatiResult};
use super::fields::Fields;
use crate::app::App;
use crate::auth::throttle::SignInThrottle;
use crate::domain::{IdRef, Role};
use crate::error::Error;

pub async fn obtain(
    app: web::Data<App>,
    req: HttpRequest,
    bytes: Result<web::Bytes, actix_web::Error>,
) -> TatiResult<HttpResponse> {
    let mut f = Fields::from_body(bytes)?;
    let username = f.string("username", true);
    let password = f.string("password", true);
    f.finish()?;
    let (Some(username), Some(password)) = (username, password) else {
        return Err(TatiError::field(
            "non_field_errors",
            "Must include \"username\" and \"password\".",
        ));
    };
    let key = SignInThrottle::key(req.peer_addr().map(|a| a.ip()), &username);
    let checked = app
        .sign_in_throttle
        .attempt(&key, app.service.now(), |admitted| {
            app.service
                .login_anywhere(admitted, username, password, Some(Role::Patient))
        })
        .await
        .map_err(|locked| TatiError::Throttled(locked.retry_after))?;
    let user = checked.map_err(|e| match e {
        Error::Unauthenticated(_) => TatiError::field(
            "non_field_errors",
            "Unable to log in with provided credentials.",
        ),
        other => other.into(),
    })?;
    let (_, token) = app
        .service
        .issue_token(
            Some(user.tenant_id),
            Some(IdRef::Id(user.id.0)),
            vec![ABILITY.to_string()],
            Some("Tati sign-in".into()),
            None,
        )
        .await?;
    Ok(HttpResponse::Ok().json(TokenDto { token }))
}

//! Who may use the control plane: the server admin alone, by the server-admin token (or the
//! admin page's session of the server admin, which the Stand-in panel uses). A tenant's users
//! and admins are refused: the control plane changes every tenant's data at once.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest};

use crate::auth::Principal;
use crate::error::Error;
use crate::native::auth::Caller;
use crate::native::error::ApiError;

/// The server admin, resolved once per request like every surface's caller.
pub struct ServerAdmin;

impl FromRequest for ServerAdmin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            match caller.await?.0 {
                Principal::ServerAdmin => Ok(ServerAdmin),
                Principal::User { .. } => Err(ApiError(Error::forbidden(
                    "the control plane answers only the server-admin token",
                ))),
            }
        })
    }
}

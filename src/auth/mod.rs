//! Credentials: human passwords (argon2id), machine secrets (random, stored as SHA-256), and
//! the principal a verified credential resolves to.

pub mod jwt;
pub mod password;
pub mod secret;
pub mod sessions;
pub mod throttle;

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;

use crate::domain::{Role, TenantId, Token, User};

/// What a request's `Authorization` header holds, read for one set of schemes. Each API turns
/// the cases into its own refusals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    /// No `Authorization` header.
    Missing,
    /// A header that is not text.
    Malformed,
    /// Another scheme, or one of ours with no token after it.
    OtherScheme,
    /// The token after one of the accepted schemes.
    Token(String),
}

/// Reads `Authorization: <scheme> <token>` for any of `schemes` (compared without regard to
/// case, as HTTP schemes are).
pub fn presented(req: &HttpRequest, schemes: &[&str]) -> Presented {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Presented::Missing;
    };
    let Ok(text) = value.to_str() else {
        return Presented::Malformed;
    };
    match text.trim().split_once(' ') {
        Some((scheme, token))
            if schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme))
                && !token.trim().is_empty() =>
        {
            Presented::Token(token.trim().to_string())
        }
        _ => Presented::OtherScheme,
    }
}

/// Who a verified bearer token speaks for.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A token made by `parlor init` or named in the config: may do anything, in any tenant.
    ServerAdmin,
    /// A user's token, with its abilities.
    User { user: Box<User>, token: Token },
}

impl Principal {
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Principal::ServerAdmin => None,
            Principal::User { user, .. } => Some(user.tenant_id),
        }
    }

    /// A tenant admin (role `admin`) or the server admin.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::ServerAdmin => true,
            Principal::User { user, .. } => user.role == Role::Admin,
        }
    }
}

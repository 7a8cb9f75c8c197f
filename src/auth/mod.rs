//! Credentials: human passwords (argon2id), machine secrets (random, stored as SHA-256), and
//! the principal a verified credential resolves to.

pub mod jwt;
pub mod password;
pub mod secret;
pub mod sessions;
pub mod throttle;

use crate::domain::{Role, TenantId, Token, User};

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

//! Tenants, users, tokens and API keys, one file each, and single sign-on's find-or-create.

mod api_keys;
mod sso;
mod tenants;
mod tokens;
mod users;

pub use tenants::{insert_tenant, NewTenant};
pub use users::{default_display_name, insert_user, NewUser};

use crate::domain::ids::is_valid_text_id;
use crate::error::{Error, Result};

/// Checks a caller-chosen `uuid`/`oid`.
pub fn check_text_id(field: &str, id: &Option<String>) -> Result<()> {
    match id {
        Some(text) if !is_valid_text_id(text) => Err(Error::invalid(
            field,
            "must be 1-64 characters from A-Z, a-z, 0-9, '.', '_' and '-'",
        )),
        _ => Ok(()),
    }
}

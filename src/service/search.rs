//! The admin page's inbox search: the tenant's conversations filtered by a participant's name
//! (listed by `Service::conversation_page` with `Scope::Search`).

use crate::error::{Error, Result};

/// Longest accepted search text, in characters.
const MAX_SEARCH: usize = 100;

/// The search text as searched (trimmed), or why it cannot be.
pub(crate) fn check_text(text: String) -> Result<String> {
    let text = text.trim().to_string();
    if text.chars().count() > MAX_SEARCH {
        return Err(Error::invalid(
            "q",
            format!("must be at most {MAX_SEARCH} characters"),
        ));
    }
    Ok(text)
}

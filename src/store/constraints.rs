//! What a failed uniqueness constraint means to a client: the input field whose value is
//! already taken, and what to say about it. Table and column names stay in `store`; clients
//! never see them, nor any other text of SQLite's.

/// The field at fault and a predicate for it ("is taken in this tenant"), from the columns
/// SQLite names after "UNIQUE constraint failed: ". None for a constraint no client input can
/// break (a bug, answered with safe generic wording).
pub fn duplicate(columns: &str) -> Option<(&'static str, &'static str)> {
    let (table, column) = match columns.split_once(", ") {
        // Composite keys: what decides the meaning is the whole list.
        Some(_) => return composite(columns),
        None => columns.split_once('.')?,
    };
    let owner = match table {
        "tenants" => "tenant",
        "users" => "user",
        "conversations" => "conversation",
        "messages" => "message",
        "flows" => "flow",
        "api_keys" if column == "key" => {
            return Some(("key", "is already used by another API key"))
        }
        "api_keys" if column == "secret_hash" => {
            return Some(("secret", "is already used by another API key"))
        }
        "tokens" if column == "token_hash" => return Some(("token", "is already registered")),
        _ => return None,
    };
    let field = match column {
        "id" => "id",
        "uuid" => "uuid",
        "oid" => "oid",
        "public_key" => "public_key",
        "workspace_id" => "workspace_id",
        _ => return None,
    };
    Some((field, already_used_by(owner)))
}

fn already_used_by(owner: &str) -> &'static str {
    match owner {
        "tenant" => "is already used by another tenant",
        "user" => "is already used by another user",
        "conversation" => "is already used by another conversation",
        "message" => "is already used by another message",
        _ => "is already used by another flow",
    }
}

/// Of the composite keys only the username's can be broken by input: the others are written
/// with `INSERT OR IGNORE`, an upsert, or after a check in the same write.
fn composite(columns: &str) -> Option<(&'static str, &'static str)> {
    (columns == "users.tenant_id, users.username")
        .then_some(("username", "is taken in this tenant"))
}

#[cfg(test)]
mod tests {
    use super::duplicate;

    #[test]
    fn each_client_reachable_constraint_names_its_field() {
        assert_eq!(
            duplicate("users.tenant_id, users.username"),
            Some(("username", "is taken in this tenant"))
        );
        assert_eq!(
            duplicate("tenants.public_key"),
            Some(("public_key", "is already used by another tenant"))
        );
        assert_eq!(
            duplicate("messages.id"),
            Some(("id", "is already used by another message"))
        );
        assert_eq!(
            duplicate("tokens.token_hash"),
            Some(("token", "is already registered"))
        );
        assert_eq!(
            duplicate("api_keys.secret_hash"),
            Some(("secret", "is already used by another API key"))
        );
        assert_eq!(duplicate("messages.conversation_id, messages.seq"), None);
        assert_eq!(
            duplicate("push_devices.user_id, push_devices.platform"),
            None
        );
        assert_eq!(duplicate("server_settings.key"), None);
        assert_eq!(duplicate("nonsense"), None);
    }
}

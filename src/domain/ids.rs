//! Newtype ids and the three identities every user, conversation and message carries. New
//! uuids and oids come from an `idgen::Ids` source.

macro_rules! id_type {
    ($name:ident) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);
    };
}

id_type!(TenantId);
id_type!(UserId);
id_type!(ConversationId);
id_type!(MessageId);

/// How a client names a user, conversation or message: the integer `id`, or a text id that is
/// either its `uuid` or its `oid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdRef {
    Id(i64),
    Key(String),
}

impl IdRef {
    /// Path segments: all digits is an integer id, anything else a uuid/oid.
    pub fn parse(text: &str) -> Option<IdRef> {
        if text.is_empty() {
            return None;
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse().ok().map(IdRef::Id);
        }
        is_valid_text_id(text).then(|| IdRef::Key(text.to_owned()))
    }
}

/// A `uuid`/`oid` may be any 1–64 characters from `[A-Za-z0-9._-]` (vendor examples use ids
/// like `con123` and `msg_123456789`).
pub fn is_valid_text_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_refs_parse() {
        assert_eq!(IdRef::parse("52"), Some(IdRef::Id(52)));
        assert_eq!(IdRef::parse("con123"), Some(IdRef::Key("con123".into())));
        assert_eq!(IdRef::parse("a b"), None);
        assert_eq!(IdRef::parse(""), None);
        assert_eq!(IdRef::parse(&"x".repeat(65)), None);
    }
}

//! Wording shared by the faces: the core's messages as the vendors write them.

/// `text` with its first letter upper-cased: the core's "conversation not found" as the
/// vendors write it.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

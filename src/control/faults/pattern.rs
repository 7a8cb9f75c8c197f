//! A fault rule's `route`: a path pattern matched segment by segment against the path as the
//! face's framework reads it (after `faces::doors`). `*` (or an actix-style `{name}`) is one
//! segment, `**` any number of segments (none included); anything else is literal. Empty
//! segments do not count, so a trailing slash matches either way.

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    One,
    Any,
}

#[derive(Clone, Debug)]
pub struct Pattern {
    parts: Vec<Part>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if !text.starts_with('/') {
            return Err("must start with /".into());
        }
        let parts = text
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|segment| match segment {
                "*" => Ok(Part::One),
                "**" => Ok(Part::Any),
                s if s.starts_with('{') && s.ends_with('}') && s.len() > 2 => Ok(Part::One),
                s if s.contains(['*', '{', '}']) => Err(format!(
                    "segment {s:?}: `*`, `**` and `{{name}}` stand for whole segments"
                )),
                s => Ok(Part::Literal(s.to_string())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Pattern { parts })
    }

    pub fn matches(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        matches_from(&self.parts, &segments)
    }
}

fn matches_from(parts: &[Part], segments: &[&str]) -> bool {
    match parts.split_first() {
        None => segments.is_empty(),
        Some((Part::Any, rest)) => (0..=segments.len()).any(|n| matches_from(rest, &segments[n..])),
        Some((part, rest)) => match segments.split_first() {
            None => false,
            Some((segment, others)) => {
                let here = match part {
                    Part::Literal(text) => text == segment,
                    _ => true,
                };
                here && matches_from(rest, others)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn matches(pattern: &str, path: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(path)
    }

    #[test]
    fn segments_and_wildcards() {
        assert!(matches("/conversations", "/conversations"));
        assert!(matches("/conversations", "/conversations/"));
        assert!(!matches("/conversations", "/conversations/5"));
        assert!(matches("/conversations/*", "/conversations/5"));
        assert!(matches(
            "/conversations/{id}/messages",
            "/conversations/5/messages"
        ));
        assert!(!matches("/conversations/*", "/conversations/5/messages"));
        assert!(matches("/api/**", "/api"));
        assert!(matches("/api/**/messages", "/api/v2/patients/7/messages"));
        assert!(matches("/**", "/anything/at/all"));
        assert!(!matches("/api/**/messages", "/api/v2/patients"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Pattern::parse("conversations").is_err());
        assert!(Pattern::parse("/conv*").is_err());
        assert!(Pattern::parse("/{x").is_err());
    }
}

//! What a message search asks for, parsed from the text a person typed by Parlor's own small
//! grammar. Nothing of the text reaches SQLite's query syntax: a search is these values, and the
//! store spells them out (`store::message_search`), quoting words it made of letters and digits
//! only, so no input can be an FTS5 syntax error.
//!
//! The grammar, in the words the README uses:
//! - words are all required; a word of three or more letters or digits also finds longer words
//!   it begins (`cardio` finds `cardiology`), a shorter one (or a phrase) only itself, unless it
//!   ends in `*` (`rx*`);
//! - `"two words"` is a phrase: those words, in that order;
//! - `OR` (capitals) between two words or phrases: either;
//! - `-word` or `-"a phrase"`: without it.
//!
//! A word is split where the index splits it: `x-ray` is the phrase `x ray`. Case and accents do
//! not matter (the index folds both).

/// The longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words and phrases in one search.
pub const MAX_TERMS: usize = 16;
/// A word this long (in letters or digits) also matches the longer words it begins. Shorter
/// prefixes would match a large part of the index (`c*`), for little use.
pub const PREFIX_FROM: usize = 3;
/// With an explicit `*`, the shortest word that is still a prefix.
pub const EXPLICIT_PREFIX_FROM: usize = 2;

/// One word or phrase: its words (runs of letters and digits) in order; `prefix`: the last one
/// also matches longer words it begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// A parsed search: every group must match (a group is one term, or terms joined by `OR`), and
/// no excluded term may.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextQuery {
    pub all: Vec<Vec<Term>>,
    pub none: Vec<Term>,
}

/// What the lexer saw: a word or a phrase (excluded or not), or `OR`.
#[derive(Debug)]
enum Token {
    Term { term: Option<Term>, excluded: bool },
    Or,
}

impl TextQuery {
    /// The search `text` asks for, or why it asks for nothing Parlor can search (a message for
    /// the client, naming the problem).
    pub fn parse(text: &str) -> Result<TextQuery, String> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(format!("must be at most {MAX_QUERY_CHARS} characters"));
        }
        if text.trim().is_empty() {
            return Err("must not be empty".into());
        }
        let tokens = lex(text)?;
        let terms = tokens
            .iter()
            .filter(|t| matches!(t, Token::Term { term: Some(_), .. }))
            .count();
        if terms > MAX_TERMS {
            return Err(format!(
                "has more than {MAX_TERMS} words and phrases; search for fewer"
            ));
        }
        group(tokens)
    }

    /// Every term, the excluded ones last.
    pub fn terms(&self) -> impl Iterator<Item = &Term> {
        self.all.iter().flatten().chain(&self.none)
    }
}

/// The words of `text` as the index cuts them: runs of letters and digits.
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn term(text: &str, phrase: bool) -> Option<Term> {
    let words = words_of(text);
    let last = words.last()?.chars().count();
    let explicit = !phrase && text.trim_end().ends_with('*');
    let prefix = !phrase && (last >= PREFIX_FROM || (explicit && last >= EXPLICIT_PREFIX_FROM));
    Some(Term { words, prefix })
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut excluded = false;
        if c == '-' {
            chars.next();
            match chars.peek() {
                Some(&n) if !n.is_whitespace() => excluded = true,
                // A lone dash is punctuation, as in "MRI - knee".
                _ => continue,
            }
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut phrase = String::new();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                phrase.push(c);
            }
            if !closed {
                return Err("has an unbalanced quote (\"): close the phrase".into());
            }
            tokens.push(Token::Term {
                term: term(&phrase, true),
                excluded,
            });
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '"' {
                break;
            }
            word.push(c);
            chars.next();
        }
        match word.as_str() {
            "OR" if !excluded => tokens.push(Token::Or),
            // "a AND b" says what "a b" says.
            "AND" if !excluded => {}
            _ => tokens.push(Token::Term {
                term: term(&word, false),
                excluded,
            }),
        }
    }
    Ok(tokens)
}

const OR_PLACEMENT: &str = "has an OR that does not stand between two words or phrases";

/// The tokens as groups joined by AND, and the excluded terms.
fn group(tokens: Vec<Token>) -> Result<TextQuery, String> {
    let mut all: Vec<Vec<Term>> = Vec::new();
    let mut none = Vec::new();
    // An OR was just read: the next term joins the last group.
    let mut joining = false;
    // The last token read was a (kept) term that may take an OR after it.
    let mut may_or = false;
    for token in tokens {
        match token {
            Token::Or => {
                if !may_or || joining {
                    return Err(OR_PLACEMENT.into());
                }
                joining = true;
                may_or = false;
            }
            Token::Term { term: None, .. } => {
                // Punctuation alone: nothing to search for, and nothing an OR can join.
                if joining {
                    return Err(OR_PLACEMENT.into());
                }
                may_or = false;
            }
            Token::Term {
                term: Some(term),
                excluded: true,
            } => {
                if joining {
                    return Err("has an OR next to an excluded word: OR joins words to find".into());
                }
                none.push(term);
                may_or = false;
            }
            Token::Term {
                term: Some(term),
                excluded: false,
            } => {
                match all.last_mut() {
                    Some(last) if joining => last.push(term),
                    _ => all.push(vec![term]),
                }
                joining = false;
                may_or = true;
            }
        }
    }
    if joining {
        return Err(OR_PLACEMENT.into());
    }
    if all.is_empty() {
        return Err(if none.is_empty() {
            "has no word to search for (letters or digits)".into()
        } else {
            "has only excluded words (-word): add a word to find".into()
        });
    }
    Ok(TextQuery { all, none })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str, prefix: bool) -> Term {
        Term {
            words: vec![w.into()],
            prefix,
        }
    }

    #[test]
    fn words_are_required_and_long_ones_are_prefixes() {
        let q = TextQuery::parse("  mri de  Rodilla ").unwrap();
        assert_eq!(
            q.all,
            vec![
                vec![word("mri", true)],
                vec![word("de", false)],
                vec![word("Rodilla", true)]
            ]
        );
        assert!(q.none.is_empty());
    }

    #[test]
    fn phrases_or_and_exclusions() {
        let q = TextQuery::parse(r#""dolor de cabeza" mri OR resonancia -"x-ray" -knee AND rx*"#)
            .unwrap();
        assert_eq!(
            q.all,
            vec![
                vec![Term {
                    words: vec!["dolor".into(), "de".into(), "cabeza".into()],
                    prefix: false
                }],
                vec![word("mri", true), word("resonancia", true)],
                vec![word("rx", true)],
            ]
        );
        assert_eq!(
            q.none,
            vec![
                Term {
                    words: vec!["x".into(), "ray".into()],
                    prefix: false
                },
                word("knee", true)
            ]
        );
    }

    #[test]
    fn punctuation_splits_words_and_never_reaches_the_index() {
        let q = TextQuery::parse(r#"x-ray body:(NEAR) ^start ¿médico? a*"#).unwrap();
        let words: Vec<Vec<String>> = q.all.iter().flatten().map(|t| t.words.clone()).collect();
        assert_eq!(
            words,
            vec![
                vec!["x".to_string(), "ray".into()],
                vec!["body".into(), "NEAR".into()],
                vec!["start".into()],
                vec!["médico".into()],
                vec!["a".into()],
            ]
        );
        // "a*": one letter is too short a prefix even when asked for.
        assert!(!q.all[4][0].prefix);
        for t in q.terms() {
            for w in &t.words {
                assert!(w.chars().all(char::is_alphanumeric), "{w}");
            }
        }
    }

    #[test]
    fn malformed_searches_are_named() {
        for (text, says) in [
            ("", "must not be empty"),
            ("   ", "must not be empty"),
            ("\"open phrase", "unbalanced quote"),
            ("mri \"knee", "unbalanced quote"),
            ("OR mri", "OR that does not stand"),
            ("mri OR", "OR that does not stand"),
            ("mri OR OR knee", "OR that does not stand"),
            ("mri OR -knee", "excluded word"),
            ("-knee", "only excluded words"),
            ("?!", "no word to search for"),
            ("\"\" ...", "no word to search for"),
        ] {
            let err = TextQuery::parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert!(TextQuery::parse(&long).unwrap_err().contains("at most 200"));
        let many = vec!["word"; MAX_TERMS + 1].join(" ");
        assert!(TextQuery::parse(&many)
            .unwrap_err()
            .contains("more than 16"));
        assert!(TextQuery::parse(&vec!["word"; MAX_TERMS].join(" ")).is_ok());
    }

    #[test]
    fn a_lowercase_or_is_a_word_and_a_lone_dash_is_punctuation() {
        let q = TextQuery::parse("mri or knee - left").unwrap();
        assert_eq!(q.all.len(), 4);
        assert!(q.none.is_empty());
    }
}

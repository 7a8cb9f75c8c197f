//! Full-text search of message bodies (issue 16): who may find what, the query the text asks
//! for (`domain::search`), pages and snippets. The index and its SQL are
//! `store::message_search`.
//!
//! A user finds messages of the conversations they take part in now (leaving one takes its
//! messages out of their searches, as out of their lists); an admin without `as` searches the
//! tenant. Deleted messages and conversations are not in the index at all.

use super::Service;
use crate::domain::search::TextQuery;
use crate::domain::{TenantId, UserId};
use crate::error::{Error, Result};
use crate::store::message_search::{self, Marks, Within};

/// Up to this many of a user's conversations are named in the query itself, so the index
/// keeps to them; a user in more (a provider in every conversation of the clinic) is searched
/// across the tenant with a membership check on each match.
const NAMED_CONVERSATIONS: u32 = 100;

/// One message found, the body around its matches in pieces: `(text, is a match)`.
pub type SearchHit = message_search::Hit<Vec<(String, bool)>>;

/// A page of a search, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Passed back as `after`, the next page.
    pub next: Option<String>,
    /// More messages matched than are ranked (`store::message_search::WINDOW`): these are the
    /// best of the newest.
    pub truncated: bool,
}

/// The search text as a query, or a 400 naming what is wrong with it.
pub fn parse_query(text: &str) -> Result<TextQuery> {
    TextQuery::parse(text).map_err(|why| Error::invalid("q", why))
}

/// The cursor of the page after one that ended at `offset`: how many hits came before it.
fn decode_after(text: &str) -> Result<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|n| (0..=message_search::WINDOW).contains(n))
        .ok_or_else(|| Error::invalid("after", "is not a cursor this server handed out"))
}

/// `raw` (as `snippet()` wrote it, each match between `open` and `close`) in pieces.
fn pieces(raw: &str, open: &str, close: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let Some(start) = rest.find(open) else {
            out.push((rest.to_string(), false));
            break;
        };
        if start > 0 {
            out.push((rest[..start].to_string(), false));
        }
        rest = &rest[start + open.len()..];
        let end = rest.find(close).unwrap_or(rest.len());
        if end > 0 {
            out.push((rest[..end].to_string(), true));
        }
        rest = rest.get(end + close.len()..).unwrap_or("");
    }
    out
}

impl Service {
    /// A page of the messages matching `text`, best first: `viewer`'s (their conversations),
    /// or the tenant's for an admin (`viewer` None). `after` is the previous page's `next`.
    pub async fn search_messages(
        &self,
        tenant: TenantId,
        viewer: Option<UserId>,
        text: &str,
        after: Option<String>,
        limit: u32,
    ) -> Result<SearchPage> {
        let query = parse_query(text)?;
        let offset = after.as_deref().map(decode_after).transpose()?.unwrap_or(0);
        // Markers no message can contain: a body may hold any character, but not this
        // request's random number.
        let nonce: u64 = rand::random();
        let open = format!("\u{1}{nonce:016x}\u{2}");
        let close = format!("\u{1}{nonce:016x}\u{3}");
        let found = self
            .store
            .read({
                let (open, close) = (open.clone(), close.clone());
                move |c| {
                    let within = match viewer {
                        None => Within::Tenant,
                        Some(user) => {
                            let mine = message_search::conversations_of(
                                c,
                                tenant,
                                user,
                                NAMED_CONVERSATIONS + 1,
                            )?;
                            if mine.len() > NAMED_CONVERSATIONS as usize {
                                Within::Tenant
                            } else {
                                Within::Conversations(mine)
                            }
                        }
                    };
                    let marks = Marks {
                        open: &open,
                        close: &close,
                        ellipsis: "…",
                    };
                    message_search::search(
                        c,
                        tenant,
                        &query,
                        &within,
                        viewer,
                        &marks,
                        message_search::WINDOW,
                        offset,
                        limit + 1,
                    )
                }
            })
            .await?;
        let more = found.hits.len() > limit as usize;
        let hits: Vec<SearchHit> = found
            .hits
            .into_iter()
            .take(limit as usize)
            .map(|h| h.map_snippet(|s| pieces(&s, &open, &close)))
            .collect();
        Ok(SearchPage {
            next: more.then(|| (offset + hits.len() as i64).to_string()),
            hits,
            truncated: found.truncated,
        })
    }

    /// Builds the search index again from the messages; how many it then holds.
    pub async fn rebuild_search_index(&self) -> Result<i64> {
        self.store.write(message_search::rebuild).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_comes_apart_at_its_markers() {
        let p = |raw: &str| pieces(raw, "<", ">");
        assert_eq!(
            p("…the <MRI> of the <knee>…"),
            vec![
                ("…the ".to_string(), false),
                ("MRI".into(), true),
                (" of the ".into(), false),
                ("knee".into(), true),
                ("…".into(), false),
            ]
        );
        assert_eq!(p("<all>"), vec![("all".to_string(), true)]);
        assert_eq!(p(""), Vec::<(String, bool)>::new());
        // A marker cut off at the end still yields the text.
        assert_eq!(
            p("a <b"),
            vec![("a ".to_string(), false), ("b".into(), true)]
        );
    }

    #[test]
    fn cursors_are_offsets_within_the_window() {
        assert_eq!(decode_after("20").unwrap(), 20);
        for bad in ["-1", "x", "1.5", "10001", ""] {
            assert!(decode_after(bad).is_err(), "{bad}");
        }
    }
}

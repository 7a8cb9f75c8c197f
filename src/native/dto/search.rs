//! Message search: its query and its answer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::service::message_search::{SearchHit, SearchPage};

use super::Stamp;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// What to find: words (all required; three letters or more also find longer words they
    /// begin), "quoted phrases", OR between two of them, -word to leave out.
    pub q: Option<String>,
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// An admin searching as this user: only that user's conversations.
    #[serde(rename = "as")]
    pub as_user: Option<String>,
}

/// A piece of a snippet: text as it is in the message, and whether it is one of the matches.
/// Render `text` as text (never as HTML), marking the matches.
#[derive(Serialize, JsonSchema)]
pub struct SnippetPartDto {
    pub text: String,
    #[serde(rename = "match")]
    pub is_match: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct SearchHitDto {
    pub message_id: i64,
    pub conversation_id: i64,
    /// The message's place in its conversation (`before=` / `after=` of the message list).
    pub seq: i64,
    pub sender_id: i64,
    pub sender_name: Option<String>,
    pub conversation_name: Option<String>,
    pub created_at: Stamp,
    /// The body around the matches, in pieces (cut with "…" where it is long).
    pub snippet: Vec<SnippetPartDto>,
}

impl From<SearchHit> for SearchHitDto {
    fn from(h: SearchHit) -> Self {
        Self {
            message_id: h.message_id.0,
            conversation_id: h.conversation_id.0,
            seq: h.seq,
            sender_id: h.sender_id.0,
            sender_name: h.sender_name,
            conversation_name: h.conversation_name,
            created_at: Stamp(h.created_at),
            snippet: h
                .snippet
                .into_iter()
                .map(|(text, is_match)| SnippetPartDto { text, is_match })
                .collect(),
        }
    }
}

/// A page of hits, best first.
#[derive(Serialize, JsonSchema)]
pub struct SearchListDto {
    pub data: Vec<SearchHitDto>,
    pub next_cursor: Option<String>,
    /// More messages matched than are ranked: these are the best of the newest 10,000. Add a
    /// word to narrow the search.
    pub truncated: bool,
}

impl From<SearchPage> for SearchListDto {
    fn from(p: SearchPage) -> Self {
        Self {
            data: p.hits.into_iter().map(SearchHitDto::from).collect(),
            next_cursor: p.next,
            truncated: p.truncated,
        }
    }
}

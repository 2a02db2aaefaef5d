//! Reading the history back: filters, summaries, search.

use async_trait::async_trait;

use crate::{ExchangeRecord, SessionRecord, StoreError};

/// Which exchanges. Every field narrows; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeFilter {
    /// Unix ms, inclusive.
    pub since_ms: Option<i64>,
    /// Unix ms, exclusive.
    pub until_ms: Option<i64>,
    pub session_id: Option<String>,
    /// Matches the requested or the served model.
    pub model: Option<String>,
    pub provider: Option<String>,
    pub key_name: Option<String>,
    pub status: Option<u16>,
    /// Only exchanges with ids strictly before this one (newest-first paging cursor).
    pub before_id: Option<String>,
    /// At most this many (default 50, at most 1000).
    pub limit: Option<u32>,
}

/// An exchange without its bodies, for lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeSummary {
    pub id: String,
    pub request_id: String,
    pub started_at_ms: i64,
    pub session_id: Option<String>,
    pub client: Option<String>,
    pub key_name: Option<String>,
    pub endpoint: String,
    pub provider: Option<String>,
    pub model_requested: Option<String>,
    pub model_served: Option<String>,
    pub stream: bool,
    pub status: u16,
    pub outcome: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub ttfb_ms: Option<i64>,
    pub total_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub key_name: Option<String>,
    pub limit: Option<u32>,
}

/// A full-text search hit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHit {
    pub exchange: ExchangeSummary,
    /// A short excerpt around the match.
    pub snippet: String,
}

/// Read side of the history. Results are newest first.
#[async_trait]
pub trait HistoryQuery: Send + Sync {
    async fn list_exchanges(
        &self,
        filter: &ExchangeFilter,
    ) -> Result<Vec<ExchangeSummary>, StoreError>;
    /// One exchange with its bodies and policy events.
    async fn get_exchange(&self, id: &str) -> Result<Option<ExchangeRecord>, StoreError>;
    /// Full-text search over `search_text` (words, all must match), narrowed by `filter`.
    async fn search(
        &self,
        query: &str,
        filter: &ExchangeFilter,
    ) -> Result<Vec<SearchHit>, StoreError>;
    async fn list_sessions(&self, filter: &SessionFilter)
    -> Result<Vec<SessionRecord>, StoreError>;
    async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Every exchange of a session with bodies, oldest first (for export).
    async fn session_exchanges(&self, session_id: &str) -> Result<Vec<ExchangeRecord>, StoreError>;
    async fn set_session_title(&self, id: &str, title: &str) -> Result<(), StoreError>;
    /// Retention: drops the bodies (request, forwarded, response, message, search text) of
    /// exchanges that started before `before_ms`, keeping metadata, usage and cost. Returns
    /// how many exchanges were purged.
    async fn purge_bodies(&self, before_ms: i64) -> Result<u64, StoreError>;
}

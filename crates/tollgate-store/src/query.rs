//! Reading the history back: filters, summaries, search.

use async_trait::async_trait;

use crate::{ExchangeRecord, SessionRecord, StoreError};

/// Rows a list returns when the filter names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most rows one list returns: a page, not an export (use a cursor for more).
pub const MAX_LIMIT: u32 = 1000;

/// Marks the start of a matched word in [`SearchHit::snippet`]; plain text, never markup, so a
/// snippet is safe to show anywhere and a UI highlights by splitting on the markers.
pub const SNIPPET_OPEN: &str = "\u{ab}";
/// Marks the end of a matched word in [`SearchHit::snippet`].
pub const SNIPPET_CLOSE: &str = "\u{bb}";

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

impl ExchangeFilter {
    /// The row limit after the default and the cap.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)
    }
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

/// Which sessions: those active in `[since_ms, until_ms)` (last seen at or after `since_ms`,
/// first seen before `until_ms`), newest activity first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub key_name: Option<String>,
    pub limit: Option<u32>,
}

impl SessionFilter {
    /// The row limit after the default and the cap.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)
    }
}

/// A full-text search hit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHit {
    pub exchange: ExchangeSummary,
    /// A short excerpt around the match, matched words between [`SNIPPET_OPEN`] and
    /// [`SNIPPET_CLOSE`].
    pub snippet: String,
}

/// How one deployment did on one category of routed requests (automatic routing), over a
/// window of the history: what routing's measured success starts from, and what
/// `tollgate route report` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouteStat {
    pub category: String,
    pub deployment: String,
    pub requests: i64,
    /// Requests that ended well with an answer (`ok`, and output or a tool call).
    pub ok: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub total_ms: i64,
}

/// The SQL of [`HistoryQuery::route_stats`], with `{since}` for the backend's placeholder.
macro_rules! route_stats_sql {
    ($since:literal) => {
        concat!(
            "SELECT route_category, route_deployment, CAST(count(*) AS BIGINT) AS requests, \
             CAST(sum(CASE WHEN outcome = 'ok' AND (output_tokens > 0 OR stop_reason IN ('tool_use', 'tool_calls')) \
             THEN 1 ELSE 0 END) AS BIGINT) AS ok, CAST(sum(input_tokens) AS BIGINT) AS input_tokens, \
             CAST(sum(output_tokens) AS BIGINT) AS output_tokens, CAST(sum(cache_read_tokens) AS BIGINT) AS cache_read_tokens, \
             CAST(sum(cache_write_tokens) AS BIGINT) AS cache_write_tokens, CAST(sum(cost_micros) AS BIGINT) AS cost_micros, \
             CAST(sum(total_ms) AS BIGINT) AS total_ms FROM exchanges \
             WHERE route_category IS NOT NULL AND route_deployment IS NOT NULL AND started_at_ms >= ",
            $since,
            " GROUP BY route_category, route_deployment ORDER BY route_category, route_deployment"
        )
    };
}
pub(crate) use route_stats_sql;

pub(crate) fn route_stat_from_row(
    row: &impl crate::sql::DecodeRow,
) -> Result<RouteStat, sqlx::Error> {
    Ok(RouteStat {
        category: row.text("route_category")?,
        deployment: row.text("route_deployment")?,
        requests: row.int("requests")?,
        ok: row.int("ok")?,
        input_tokens: row.int("input_tokens")?,
        output_tokens: row.int("output_tokens")?,
        cache_read_tokens: row.int("cache_read_tokens")?,
        cache_write_tokens: row.int("cache_write_tokens")?,
        cost_micros: row.int("cost_micros")?,
        total_ms: row.int("total_ms")?,
    })
}

/// Read side of the history. Results are newest first.
#[async_trait]
pub trait HistoryQuery: Send + Sync {
    async fn list_exchanges(
        &self,
        filter: &ExchangeFilter,
    ) -> Result<Vec<ExchangeSummary>, StoreError>;
    /// One exchange with its bodies and policy events. `session` is `None`: the session is
    /// stored once, on its own ([`HistoryQuery::get_session`]).
    async fn get_exchange(&self, id: &str) -> Result<Option<ExchangeRecord>, StoreError>;
    /// Full-text search over `search_text`, narrowed by `filter`, newest first. The query is
    /// words, all required, matched whole and case-insensitively. Words are runs of letters and
    /// digits, so a word with punctuation (`main.rs`, `foo-bar`) requires each of its parts,
    /// in any order and anywhere in the text (the indexes keep no positions). No character or
    /// word is query syntax. A query with no letter or digit finds nothing.
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
    /// Sets the title (trimmed; empty clears it). [`StoreError::SessionNotFound`] when there is
    /// no such session.
    async fn set_session_title(&self, id: &str, title: &str) -> Result<(), StoreError>;
    /// Retention: drops the bodies (request, forwarded, response, message, search text) of
    /// exchanges that started before `before_ms`, keeping metadata, usage and cost. Returns
    /// how many exchanges were purged (those that still had a body or search text). The work
    /// is done in short steps, so appends continue meanwhile.
    async fn purge_bodies(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Routed requests since `since_ms` (unix ms), per category and deployment.
    async fn route_stats(&self, since_ms: i64) -> Result<Vec<RouteStat>, StoreError>;
}

//! Storage: what Tollgate remembers, behind small role traits.
//!
//! The request path never calls the history store directly: records go through the server's
//! write-behind recorder, which calls [`ExchangeLog::append`] with batches. The one exception
//! is [`TranslationState`], small keyed values translation reads and writes as it goes. HTTP
//! never reaches this crate.
//!
//! # Layout
//! - [`record`]: [`ExchangeRecord`] (one exchange as stored), [`SessionUpdate`],
//!   [`SessionRecord`], [`PolicyEvent`].
//! - [`query`]: [`HistoryQuery`], the read side: filters, summaries, search, retention.
//! - [`export`]: records rendered as a Markdown transcript, a JSON document or JSON lines
//!   (pure; the CLI and the admin API share it).
//! - `open.rs`: [`open`] a store from a URL or a path, [`redact_url`].
//! - `sql.rs`: what the backends share: column lists, filter clauses, row decoding, the session
//!   totals of a batch.
//! - `terms.rs`: how text and queries split into search terms (one way for both), and the
//!   snippet PostgreSQL shows around a match.
//! - [`TranslationState`] (here): what translation remembers between turns, keyed values.
//! - Backends, each with the same files (`mod.rs` connects, `write.rs` appends, `query.rs`
//!   reads, `state.rs` keeps translation state) and its own migrations under
//!   `migrations/<backend>/`:
//!   - [`sqlite`]: the embedded default, one file in the data directory.
//!   - [`postgres`]: for a shared or managed database.

pub mod export;
pub mod postgres;
pub mod query;
pub mod record;
pub mod sqlite;

mod open;
mod sql;
mod terms;

use async_trait::async_trait;

pub use open::{open, redact_url};
pub use postgres::PostgresStore;
pub use query::{
    ExchangeFilter, ExchangeSummary, HistoryQuery, RouteStat, SNIPPET_CLOSE, SNIPPET_OPEN,
    SearchHit, SessionFilter,
};
pub use record::{ExchangeRecord, PolicyEvent, SessionRecord, SessionUpdate};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    /// The URL names no backend this build has. `url` is redacted.
    #[error(
        "unsupported database URL `{url}`: use `sqlite://PATH`, a file path, or `postgres://...`"
    )]
    UnsupportedUrl { url: String },
    /// Connecting failed. `url` is redacted.
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("no session `{0}`")]
    SessionNotFound(String),
}

/// Append-only log of exchanges.
#[async_trait]
pub trait ExchangeLog: Send + Sync {
    /// Writes a batch atomically: all records or none. Idempotent per record id: a record
    /// already stored (a retried batch) is skipped and counts nowhere twice.
    async fn append(&self, batch: &[ExchangeRecord]) -> Result<(), StoreError>;
    /// The most recent exchanges with bodies and policy events, newest first.
    async fn recent(&self, limit: u32) -> Result<Vec<ExchangeRecord>, StoreError>;
    /// Cheap liveness check for `/health/ready`.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What translation remembers between turns, so a restart, or a request landing on another
/// replica of one database, loses nothing a client cannot carry back: a Responses-API
/// conversation under the response id Tollgate issued (`previous_response_id` against a
/// stateless provider), thinking an OpenAI Chat client cannot return under its tool-call ids.
///
/// Entries are opaque bytes (the server writes JSON, up to a whole conversation: megabytes)
/// under a `key` within a `kind`; kinds are separate namespaces. Unlike the history, these are
/// written and read on the request path, one entry at a time, and are durable once a call
/// returns. Keys are ids: PostgreSQL indexes a key of up to about 2,700 bytes and refuses a
/// longer one with an error. PostgreSQL text cannot hold NUL, so there a NUL in `kind` or `key`
/// is stored and looked up as U+FFFD (it round trips; `"a\0"` and `"a\u{fffd}"` name one entry).
#[async_trait]
pub trait TranslationState: Send + Sync {
    /// Stores `value` under `(kind, key)`, replacing the value and the creation time of an
    /// entry already there.
    async fn put_state(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        created_at_ms: i64,
    ) -> Result<(), StoreError>;
    /// The value under `(kind, key)`, `None` when there is none (never stored, or purged).
    async fn get_state(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Retention: deletes every entry, of any kind, created before `older_than_ms` (unix ms,
    /// exclusive). Returns how many were deleted. Done in short steps, so puts and gets
    /// continue meanwhile.
    async fn purge_state(&self, older_than_ms: i64) -> Result<u64, StoreError>;
}

/// Everything a backend does: the history's write and read sides and translation state.
/// Implemented for every type that has all three, so `Arc<dyn Store>` coerces to
/// `Arc<dyn ExchangeLog>`, `Arc<dyn HistoryQuery>` or `Arc<dyn TranslationState>`.
pub trait Store: ExchangeLog + HistoryQuery + TranslationState {}

impl<T: ExchangeLog + HistoryQuery + TranslationState + ?Sized> Store for T {}

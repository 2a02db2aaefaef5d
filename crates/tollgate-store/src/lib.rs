//! Storage: what Tollgate remembers, behind small role traits.
//!
//! The request path never calls the store directly: records go through the server's
//! write-behind recorder, which calls [`ExchangeLog::append`] with batches. HTTP never reaches
//! this crate.
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
//! - Backends, each with the same files (`mod.rs` connects, `write.rs` appends, `query.rs`
//!   reads) and its own migrations under `migrations/<backend>/`:
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
    ExchangeFilter, ExchangeSummary, HistoryQuery, SNIPPET_CLOSE, SNIPPET_OPEN, SearchHit,
    SessionFilter,
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

/// Everything a backend does: the write side and the read side. Implemented for every type that
/// has both, so `Arc<dyn Store>` coerces to `Arc<dyn ExchangeLog>` or `Arc<dyn HistoryQuery>`.
pub trait Store: ExchangeLog + HistoryQuery {}

impl<T: ExchangeLog + HistoryQuery + ?Sized> Store for T {}

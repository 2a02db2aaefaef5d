//! Storage: what Tollgate remembers, behind small role traits.
//!
//! The request path never calls the store directly: records go through the server's
//! write-behind recorder, which calls [`ExchangeLog::append`] with batches.
//!
//! # Layout
//! - [`record`]: [`ExchangeRecord`] (one exchange as stored), [`SessionUpdate`],
//!   [`SessionRecord`], [`PolicyEvent`].
//! - [`query`]: [`HistoryQuery`], the read side: filters, summaries, search, retention.
//! - [`sqlite`]: the embedded default backend (`sqlite/mod.rs`, migrations under
//!   `migrations/sqlite/`). A PostgreSQL backend will sit beside it with the same file set.

pub mod query;
pub mod record;
pub mod sqlite;

use async_trait::async_trait;

pub use query::{ExchangeFilter, ExchangeSummary, HistoryQuery, SearchHit, SessionFilter};
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
}

/// Append-only log of exchanges.
#[async_trait]
pub trait ExchangeLog: Send + Sync {
    /// Writes a batch atomically: all records or none.
    async fn append(&self, batch: &[ExchangeRecord]) -> Result<(), StoreError>;
    /// The most recent exchanges with bodies, newest first.
    async fn recent(&self, limit: u32) -> Result<Vec<ExchangeRecord>, StoreError>;
    /// Cheap liveness check for `/health/ready`.
    async fn ping(&self) -> Result<(), StoreError>;
}

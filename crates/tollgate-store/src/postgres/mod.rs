//! The PostgreSQL backend, for a shared or managed database: the same tables as SQLite, in
//! migrations embedded from `migrations/postgres/`. `write.rs` appends batches with a few
//! array (`UNNEST`) statements, `query.rs` reads the history back, `state.rs` keeps
//! translation state; the SQLite backend has the same files.
//!
//! This build speaks PostgreSQL without TLS (sqlx is built without a TLS feature): use it on a
//! private network or through a local proxy.

mod query;
mod state;
mod write;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{ExchangeLog, ExchangeRecord, StoreError, redact_url};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per store: the recorder writes on one, the history API reads on the rest.
const MAX_CONNECTIONS: u32 = 8;
/// How long opening (and later, borrowing a connection) may wait for the server before it
/// fails. Long enough for a database that is still starting, short enough to fail a
/// misconfigured start visibly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to a `postgres://` or `postgresql://` URL and applies migrations. Errors name
    /// the URL with its password redacted.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let connect_error = |source| StoreError::Connect { url: redact_url(url), source };
        let options = PgConnectOptions::from_str(url).map_err(connect_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl ExchangeLog for PostgresStore {
    async fn append(&self, batch: &[ExchangeRecord]) -> Result<(), StoreError> {
        write::append(&self.pool, batch).await
    }

    async fn recent(&self, limit: u32) -> Result<Vec<ExchangeRecord>, StoreError> {
        query::recent(&self.pool, limit).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

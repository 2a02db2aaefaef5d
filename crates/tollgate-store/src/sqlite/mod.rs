//! The SQLite backend: one file in the data directory, WAL mode, migrations embedded from
//! `migrations/sqlite/`. `write.rs` appends batches, `query.rs` reads the history back,
//! `state.rs` keeps translation state; the PostgreSQL backend has the same files.
//!
//! `exchanges_fts` indexes `exchanges` by its implicit rowid, which `VACUUM` may renumber (the
//! table has a text primary key): whatever vacuums the file must then rebuild the index
//! (`INSERT INTO exchanges_fts (exchanges_fts) VALUES ('rebuild')`).

mod query;
mod state;
mod write;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{ExchangeLog, ExchangeRecord, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::connect(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a `sqlite:` URL (`sqlite://PATH`, `sqlite::memory:`), creating the file's
    /// directory as [`SqliteStore::open`] does.
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::connect(SqliteConnectOptions::from_str(url)?).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        // An in-memory database is named `file:...`, whose parent is empty.
        let dir = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        // WAL lets readers run beside the one writer; NORMAL sync is durable across process
        // crashes (not power loss) and avoids an fsync per batch.
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        // Connections are never recycled: there is no server to rebalance, and an in-memory
        // database lives only as long as one of its connections does.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool; later calls fail. For shutdown, and for tests of a store that is gone.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl ExchangeLog for SqliteStore {
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

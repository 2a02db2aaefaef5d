//! The SQLite backend: one file in the data directory, WAL mode, migrations embedded.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::{ExchangeLog, ExchangeRecord, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::new().filename(path);
        Self::connect(options).await
    }

    /// Opens a `sqlite:` URL (`sqlite://PATH`, `sqlite::memory:`).
    pub async fn open_url(url: &str) -> Result<Self, StoreError> {
        Self::connect(SqliteConnectOptions::from_str(url)?).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        // WAL lets readers run beside the one writer; NORMAL sync is durable across process
        // crashes (not power loss) and avoids an fsync per batch.
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
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
        let mut tx = self.pool.begin().await?;
        for r in batch {
            sqlx::query(
                "INSERT OR IGNORE INTO exchanges (id, request_id, started_at_ms, client_dialect, endpoint, key_name, \
                 user_agent, provider, model_requested, model_served, route_reason, stream, status, outcome, \
                 error_type, error_message, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, \
                 stop_reason, ttfb_ms, total_ms, upstream_request_id, request_body, response_body) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&r.id)
            .bind(&r.request_id)
            .bind(r.started_at_ms)
            .bind(&r.client_dialect)
            .bind(&r.endpoint)
            .bind(&r.key_name)
            .bind(&r.user_agent)
            .bind(&r.provider)
            .bind(&r.model_requested)
            .bind(&r.model_served)
            .bind(&r.route_reason)
            .bind(r.stream)
            .bind(i64::from(r.status))
            .bind(&r.outcome)
            .bind(&r.error_type)
            .bind(&r.error_message)
            .bind(r.input_tokens)
            .bind(r.output_tokens)
            .bind(r.cache_read_tokens)
            .bind(r.cache_write_tokens)
            .bind(&r.stop_reason)
            .bind(r.ttfb_ms)
            .bind(r.total_ms)
            .bind(&r.upstream_request_id)
            .bind(r.request_body.as_deref())
            .bind(r.response_body.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn recent(&self, limit: u32) -> Result<Vec<ExchangeRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM exchanges ORDER BY id DESC LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_record).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn row_to_record(row: &sqlx::sqlite::SqliteRow) -> Result<ExchangeRecord, sqlx::Error> {
    Ok(ExchangeRecord {
        id: row.try_get("id")?,
        request_id: row.try_get("request_id")?,
        started_at_ms: row.try_get("started_at_ms")?,
        client_dialect: row.try_get("client_dialect")?,
        endpoint: row.try_get("endpoint")?,
        key_name: row.try_get("key_name")?,
        user_agent: row.try_get("user_agent")?,
        provider: row.try_get("provider")?,
        model_requested: row.try_get("model_requested")?,
        model_served: row.try_get("model_served")?,
        route_reason: row.try_get("route_reason")?,
        stream: row.try_get("stream")?,
        status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(0),
        outcome: row.try_get("outcome")?,
        error_type: row.try_get("error_type")?,
        error_message: row.try_get("error_message")?,
        input_tokens: row.try_get("input_tokens")?,
        output_tokens: row.try_get("output_tokens")?,
        cache_read_tokens: row.try_get("cache_read_tokens")?,
        cache_write_tokens: row.try_get("cache_write_tokens")?,
        stop_reason: row.try_get("stop_reason")?,
        ttfb_ms: row.try_get("ttfb_ms")?,
        total_ms: row.try_get("total_ms")?,
        upstream_request_id: row.try_get("upstream_request_id")?,
        request_body: row.try_get::<Option<Vec<u8>>, _>("request_body")?.map(Bytes::from),
        response_body: row.try_get::<Option<Vec<u8>>, _>("response_body")?.map(Bytes::from),
        client: row.try_get("client")?,
        session_id: row.try_get("session_id")?,
        cost_micros: row.try_get("cost_micros")?,
        forwarded_body: row.try_get::<Option<Vec<u8>>, _>("forwarded_body")?.map(Bytes::from),
        response_message: row.try_get::<Option<Vec<u8>>, _>("response_message")?.map(Bytes::from),
        search_text: row.try_get("search_text")?,
        bodies_purged_at_ms: row.try_get("bodies_purged_at_ms")?,
        session: None,
        policy_events: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn appends_and_reads_back_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("sub/t.db")).await.unwrap();
        store.ping().await.unwrap();
        let rec = |id: &str| ExchangeRecord {
            id: id.into(),
            request_id: format!("req-{id}"),
            client_dialect: "anthropic".into(),
            endpoint: "messages".into(),
            status: 200,
            outcome: "ok".into(),
            input_tokens: 5,
            request_body: Some(Bytes::from_static(b"{}")),
            ..Default::default()
        };
        store.append(&[rec("01"), rec("02")]).await.unwrap();
        // Appending the same record twice (a retried batch) does not duplicate it.
        store.append(&[rec("02"), rec("03")]).await.unwrap();
        let got = store.recent(10).await.unwrap();
        assert_eq!(got.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["03", "02", "01"]);
        assert_eq!(got[2], rec("01"));
        drop(store);
        // Reopening applies no migration twice and keeps the data.
        let store = SqliteStore::open(&dir.path().join("sub/t.db")).await.unwrap();
        assert_eq!(store.recent(10).await.unwrap().len(), 3);
    }
}

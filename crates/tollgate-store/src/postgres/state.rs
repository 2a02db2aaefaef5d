//! Translation state in PostgreSQL: one row per `(kind, key)` in `translation_state`
//! (migration 0003), replaced whole on every put (`ON CONFLICT DO UPDATE`, so replicas putting
//! one key at once both succeed, the later one winning); purged by age in steps, like the
//! history's bodies.

use async_trait::async_trait;

use super::PostgresStore;
use super::write::text;
use crate::sql::PURGE_STEP;
use crate::{StoreError, TranslationState};

#[async_trait]
impl TranslationState for PostgresStore {
    async fn put_state(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        created_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO translation_state (kind, key, value, created_at_ms) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, key) DO UPDATE SET \
             value = excluded.value, created_at_ms = excluded.created_at_ms",
        )
        .bind(text(kind))
        .bind(text(key))
        .bind(value)
        .bind(created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_state(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value =
            sqlx::query_scalar("SELECT value FROM translation_state WHERE kind = $1 AND key = $2")
                .bind(text(kind))
                .bind(text(key))
                .fetch_optional(&self.pool)
                .await?;
        Ok(value)
    }

    async fn purge_state(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        // Each step is its own short transaction, so row locks are never held for long. The
        // outer condition is checked again on a row another replica refreshed meanwhile, which
        // then stays.
        loop {
            let done = sqlx::query(
                "DELETE FROM translation_state WHERE created_at_ms < $1 AND (kind, key) IN \
                 (SELECT kind, key FROM translation_state WHERE created_at_ms < $1 LIMIT $2)",
            )
            .bind(older_than_ms)
            .bind(PURGE_STEP)
            .execute(&self.pool)
            .await?;
            purged += done.rows_affected();
            if done.rows_affected() < PURGE_STEP.unsigned_abs() {
                return Ok(purged);
            }
        }
    }
}

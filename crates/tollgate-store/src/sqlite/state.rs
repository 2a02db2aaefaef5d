//! Translation state in SQLite: one row per `(kind, key)` in `translation_state` (migration
//! 0004), replaced whole on every put; purged by age in steps, like the history's bodies.

use async_trait::async_trait;

use super::SqliteStore;
use crate::sql::PURGE_STEP;
use crate::{StoreError, TranslationState};

#[async_trait]
impl TranslationState for SqliteStore {
    async fn put_state(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        created_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO translation_state (kind, key, value, created_at_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (kind, key) DO UPDATE SET \
             value = excluded.value, created_at_ms = excluded.created_at_ms",
        )
        .bind(kind)
        .bind(key)
        .bind(value)
        .bind(created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_state(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value =
            sqlx::query_scalar("SELECT value FROM translation_state WHERE kind = ? AND key = ?")
                .bind(kind)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(value)
    }

    async fn purge_state(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        // Each step is its own statement, so the write lock is never held for long. The index
        // on `created_at_ms` finds the old rows; none is visited twice, as each step deletes
        // what it found.
        loop {
            let done = sqlx::query(
                "DELETE FROM translation_state WHERE rowid IN (SELECT rowid FROM translation_state \
                 WHERE created_at_ms < ? LIMIT ?)",
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

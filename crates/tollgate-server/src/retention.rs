//! History retention: with `[history] retention` set, a background task drops the bodies of
//! exchanges older than the retention (request, forwarded and response bodies, the
//! reconstructed message and the search text) at startup and then every hour. Metadata, usage
//! and cost stay, so totals and per-session sums do not change. The same hourly task drops
//! translation state (kept Responses conversations and Chat clients' thinking) older than a
//! week, whether or not history retention is set. Nothing else lives here.
//!
//! The store purges in short transactions, so appends from the recorder continue meanwhile.
//! `tollgate history purge --older-than` does the same by hand.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tollgate_store::{HistoryQuery, StoreError};

use crate::clock::now_ms;
use crate::state::AppState;

/// How often retention runs after startup. An hour keeps at most an hour's worth of bodies
/// past the retention, at the cost of one cheap indexed query per hour when nothing is due.
pub const INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the retention task when a retention is configured.
pub fn spawn(state: Arc<AppState>) -> Option<JoinHandle<()>> {
    let retention = state.config.history.retention?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // A failure is logged and tried again at the next tick; the history keeps working.
            let _ = purge_once(state.store.as_ref(), retention, now_ms()).await;
        }
    }))
}

/// Drops the bodies of exchanges that started more than `retention` before `now_ms`, and logs
/// what it did. Returns how many exchanges were purged.
pub async fn purge_once(
    store: &dyn HistoryQuery,
    retention: Duration,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let before = now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    match store.purge_bodies(before).await {
        Ok(purged) => {
            if purged > 0 {
                tracing::info!(
                    purged,
                    before_ms = before,
                    retention_s = retention.as_secs(),
                    "history retention: dropped old bodies"
                );
            } else {
                tracing::debug!(before_ms = before, "history retention: nothing to drop");
            }
            Ok(purged)
        }
        Err(e) => {
            tracing::warn!(error = %e, "history retention failed; retrying in an hour");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_store::{ExchangeRecord, SessionUpdate};

    const DAY: i64 = 86_400_000;

    #[tokio::test]
    async fn drops_old_bodies_and_keeps_totals() {
        let dir = tempfile::tempdir().unwrap();
        let store = tollgate_store::open(dir.path().join("h.db").to_str().unwrap()).await.unwrap();
        let now = 100 * DAY;
        let record = |id: &str, at: i64| ExchangeRecord {
            id: id.into(),
            started_at_ms: at,
            session_id: Some("s".into()),
            input_tokens: 10,
            cost_micros: 7,
            request_body: Some(b"{\"messages\":[]}".to_vec().into()),
            response_body: Some(b"{}".to_vec().into()),
            search_text: Some("words".into()),
            session: Some(SessionUpdate {
                id: "s".into(),
                source: "header".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        store.append(&[record("a", now - 31 * DAY), record("b", now - 29 * DAY)]).await.unwrap();
        let thirty_days = Duration::from_secs(30 * 86_400);
        assert_eq!(purge_once(store.as_ref(), thirty_days, now).await.unwrap(), 1);
        assert_eq!(purge_once(store.as_ref(), thirty_days, now).await.unwrap(), 0);
        let old = store.get_exchange("a").await.unwrap().unwrap();
        assert!(
            old.request_body.is_none() && old.response_body.is_none() && old.search_text.is_none()
        );
        assert!(old.bodies_purged_at_ms.is_some());
        assert_eq!((old.input_tokens, old.cost_micros), (10, 7));
        assert!(store.get_exchange("b").await.unwrap().unwrap().request_body.is_some());
        let s = store.get_session("s").await.unwrap().unwrap();
        assert_eq!((s.exchange_count, s.input_tokens, s.cost_micros), (2, 20, 14));
    }
}

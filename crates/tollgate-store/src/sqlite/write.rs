//! Appending to SQLite: one transaction per batch. `INSERT OR IGNORE` makes a retried record a
//! no-op, and only the rows actually inserted feed the session totals and policy events. The
//! FTS index follows `search_text` through the triggers of migration 0003.

use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::sql::{SessionDelta, session_deltas};
use crate::{ExchangeRecord, StoreError};

pub(super) async fn append(pool: &SqlitePool, batch: &[ExchangeRecord]) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let mut new_ids = std::collections::HashSet::with_capacity(batch.len());
    for chunk in batch.chunks(ROWS_PER_INSERT) {
        new_ids.extend(insert_exchanges(&mut tx, chunk).await?);
    }
    // A record repeated within one batch counts once.
    let mut inserted = Vec::with_capacity(new_ids.len());
    for r in batch {
        if new_ids.remove(&r.id) {
            inserted.push(r);
        }
    }
    for delta in session_deltas(inserted.iter().copied()) {
        upsert_session(&mut tx, &delta).await?;
    }
    for r in &inserted {
        for e in &r.policy_events {
            sqlx::query(
                "INSERT OR IGNORE INTO policy_events \
                 (id, exchange_id, at_ms, policy, verdict, reason, detail) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&e.id)
            .bind(&r.id)
            .bind(e.at_ms)
            .bind(&e.policy)
            .bind(&e.verdict)
            .bind(&e.reason)
            .bind(&e.detail)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per multi-row `INSERT`: 33 parameters each, far under SQLite's limit of 32,766. sqlx
/// runs each statement on its worker thread, so one statement per row would cost two thread
/// hand-offs per record; per chunk it is two per 30 records.
const ROWS_PER_INSERT: usize = 30;

/// Inserts a chunk; returns the ids that were new (an id already stored is ignored).
async fn insert_exchanges(
    tx: &mut Transaction<'static, Sqlite>,
    chunk: &[ExchangeRecord],
) -> Result<Vec<String>, StoreError> {
    let mut q = sqlx::QueryBuilder::<Sqlite>::new(
        "INSERT OR IGNORE INTO exchanges (id, request_id, started_at_ms, client_dialect, endpoint, \
         key_name, user_agent, client, session_id, provider, model_requested, model_served, \
         route_reason, stream, status, outcome, error_type, error_message, input_tokens, \
         output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, stop_reason, ttfb_ms, \
         total_ms, upstream_request_id, request_body, forwarded_body, response_body, \
         response_message, search_text, bodies_purged_at_ms, route_category, route_deployment, \
         route_decision) ",
    );
    q.push_values(chunk, |mut b, r| {
        b.push_bind(&r.id)
            .push_bind(&r.request_id)
            .push_bind(r.started_at_ms)
            .push_bind(&r.client_dialect)
            .push_bind(&r.endpoint)
            .push_bind(&r.key_name)
            .push_bind(&r.user_agent)
            .push_bind(&r.client)
            .push_bind(&r.session_id)
            .push_bind(&r.provider)
            .push_bind(&r.model_requested)
            .push_bind(&r.model_served)
            .push_bind(&r.route_reason)
            .push_bind(r.stream)
            .push_bind(i64::from(r.status))
            .push_bind(&r.outcome)
            .push_bind(&r.error_type)
            .push_bind(&r.error_message)
            .push_bind(r.input_tokens)
            .push_bind(r.output_tokens)
            .push_bind(r.cache_read_tokens)
            .push_bind(r.cache_write_tokens)
            .push_bind(r.cost_micros)
            .push_bind(&r.stop_reason)
            .push_bind(r.ttfb_ms)
            .push_bind(r.total_ms)
            .push_bind(&r.upstream_request_id)
            .push_bind(r.request_body.as_deref())
            .push_bind(r.forwarded_body.as_deref())
            .push_bind(r.response_body.as_deref())
            .push_bind(r.response_message.as_deref())
            .push_bind(&r.search_text)
            .push_bind(r.bodies_purged_at_ms)
            .push_bind(&r.route_category)
            .push_bind(&r.route_deployment)
            .push_bind(&r.route_decision);
    });
    q.push(" RETURNING id");
    let ids: Vec<(String,)> = q.build_query_as().fetch_all(&mut **tx).await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// First-seen fields are filled once and kept; the span widens; counters and totals add up.
async fn upsert_session(
    tx: &mut Transaction<'static, Sqlite>,
    d: &SessionDelta<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id, source, key_name, client, first_seen_ms, last_seen_ms, preview, \
         cwd, git_branch, exchange_count, input_tokens, output_tokens, cache_read_tokens, \
         cache_write_tokens, cost_micros) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET \
         key_name = coalesce(sessions.key_name, excluded.key_name), \
         client = coalesce(sessions.client, excluded.client), \
         first_seen_ms = min(sessions.first_seen_ms, excluded.first_seen_ms), \
         last_seen_ms = max(sessions.last_seen_ms, excluded.last_seen_ms), \
         preview = coalesce(sessions.preview, excluded.preview), \
         cwd = coalesce(sessions.cwd, excluded.cwd), \
         git_branch = coalesce(sessions.git_branch, excluded.git_branch), \
         exchange_count = sessions.exchange_count + excluded.exchange_count, \
         input_tokens = sessions.input_tokens + excluded.input_tokens, \
         output_tokens = sessions.output_tokens + excluded.output_tokens, \
         cache_read_tokens = sessions.cache_read_tokens + excluded.cache_read_tokens, \
         cache_write_tokens = sessions.cache_write_tokens + excluded.cache_write_tokens, \
         cost_micros = sessions.cost_micros + excluded.cost_micros",
    )
    .bind(d.id)
    .bind(d.source)
    .bind(d.key_name)
    .bind(d.client)
    .bind(d.first_seen_ms)
    .bind(d.last_seen_ms)
    .bind(d.preview)
    .bind(d.cwd)
    .bind(d.git_branch)
    .bind(d.exchange_count)
    .bind(d.input_tokens)
    .bind(d.output_tokens)
    .bind(d.cache_read_tokens)
    .bind(d.cache_write_tokens)
    .bind(d.cost_micros)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

//! Reading the history back from PostgreSQL. Search splits the query into terms as the writer
//! split the text (`terms.rs`) and matches `search_terms @> $1` (GIN-indexed): every term
//! required, and the terms are a bound array, so no character of user input is syntax.
//! Snippets are cut in Rust from the text of the rows returned, with the same split, so they
//! mark the same words SQLite's `snippet()` marks.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::PostgresStore;
use crate::sql::{
    PURGE_STEP, attach_events, exchange_columns, exchange_from_row, has_bodies, now_ms,
    policy_event_columns, policy_event_from_row, push_exchange_filter, push_exchange_order,
    session_columns, session_from_row, sessions_query, summary_columns, summary_from_row,
};
use crate::terms::{index_key, query_terms, snippet};
use crate::{
    ExchangeFilter, ExchangeRecord, ExchangeSummary, HistoryQuery, SearchHit, SessionFilter,
    SessionRecord, StoreError,
};

pub(super) async fn recent(pool: &PgPool, limit: u32) -> Result<Vec<ExchangeRecord>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        exchange_columns!(),
        " FROM exchanges e ORDER BY e.id DESC LIMIT $1"
    ))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    with_events(pool, &rows).await
}

/// Decodes full exchanges and loads their policy events.
async fn with_events(pool: &PgPool, rows: &[PgRow]) -> Result<Vec<ExchangeRecord>, StoreError> {
    let mut records = rows.iter().map(exchange_from_row).collect::<Result<Vec<_>, _>>()?;
    if records.is_empty() {
        return Ok(records);
    }
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let events = sqlx::query(concat!(
        "SELECT ",
        policy_event_columns!(),
        " FROM policy_events p WHERE p.exchange_id = ANY($1) ORDER BY p.at_ms, p.id"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    let events = events.iter().map(policy_event_from_row).collect::<Result<Vec<_>, _>>()?;
    attach_events(&mut records, events);
    Ok(records)
}

#[async_trait]
impl HistoryQuery for PostgresStore {
    async fn list_exchanges(
        &self,
        filter: &ExchangeFilter,
    ) -> Result<Vec<ExchangeSummary>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            summary_columns!(),
            " FROM exchanges e WHERE 1 = 1"
        ));
        push_exchange_filter(&mut qb, filter);
        push_exchange_order(&mut qb, filter.effective_limit());
        let rows = qb.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(summary_from_row).collect::<Result<_, _>>()?)
    }

    async fn get_exchange(&self, id: &str) -> Result<Option<ExchangeRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            exchange_columns!(),
            " FROM exchanges e WHERE e.id = $1"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(with_events(&self.pool, &rows).await?.pop())
    }

    async fn search(
        &self,
        query: &str,
        filter: &ExchangeFilter,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let terms = query_terms(query);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = terms.iter().map(|t| index_key(t)).collect();
        let mut qb = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            summary_columns!(),
            ", e.search_text FROM exchanges e WHERE e.search_terms @> "
        ));
        qb.push_bind(keys).push("::text[]");
        push_exchange_filter(&mut qb, filter);
        push_exchange_order(&mut qb, filter.effective_limit());
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let text: Option<String> = row.try_get("search_text")?;
                Ok(SearchHit {
                    exchange: summary_from_row(row)?,
                    snippet: snippet(text.as_deref().unwrap_or_default(), &terms),
                })
            })
            .collect()
    }

    async fn list_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sessions_query::<Postgres>(filter).build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(session_from_row).collect::<Result<_, _>>()?)
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row =
            sqlx::query(concat!("SELECT ", session_columns!(), " FROM sessions s WHERE s.id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    async fn session_exchanges(&self, session_id: &str) -> Result<Vec<ExchangeRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            exchange_columns!(),
            " FROM exchanges e WHERE e.session_id = $1 ORDER BY e.started_at_ms, e.id"
        ))
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        with_events(&self.pool, &rows).await
    }

    async fn set_session_title(&self, id: &str, title: &str) -> Result<(), StoreError> {
        let title = Some(title.trim().replace('\0', "\u{fffd}")).filter(|t| !t.is_empty());
        let done = sqlx::query("UPDATE sessions SET title = $1 WHERE id = $2")
            .bind(title)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::SessionNotFound(id.to_owned()));
        }
        Ok(())
    }

    async fn route_stats(&self, since_ms: i64) -> Result<Vec<crate::query::RouteStat>, StoreError> {
        let rows = sqlx::query(crate::query::route_stats_sql!("$1"))
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| crate::query::route_stat_from_row(r).map_err(StoreError::from))
            .collect()
    }

    async fn purge_bodies(&self, before_ms: i64) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut after = String::new();
        let mut purged = 0;
        // Step through the ids in order: each step finds where it ends, then purges up to
        // there, so no step rescans rows an earlier one purged.
        loop {
            let last: Option<String> = sqlx::query_scalar(concat!(
                "SELECT max(t.id) FROM (SELECT e.id FROM exchanges e WHERE e.id > $1 \
                 AND e.started_at_ms < $2 AND ",
                has_bodies!(),
                " ORDER BY e.id LIMIT $3) t"
            ))
            .bind(&after)
            .bind(before_ms)
            .bind(PURGE_STEP)
            .fetch_one(&self.pool)
            .await?;
            let Some(last) = last else { break };
            let done = sqlx::query(concat!(
                "UPDATE exchanges AS e SET request_body = NULL, forwarded_body = NULL, \
                 response_body = NULL, response_message = NULL, search_text = NULL, \
                 search_terms = NULL, bodies_purged_at_ms = $1 WHERE e.id > $2 AND e.id <= $3 AND e.started_at_ms < $4 \
                 AND ",
                has_bodies!()
            ))
            .bind(now)
            .bind(&after)
            .bind(&last)
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
            purged += done.rows_affected();
            after = last;
        }
        Ok(purged)
    }
}

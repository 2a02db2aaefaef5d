//! Reading the history back from SQLite. Search goes through the FTS5 table `exchanges_fts`
//! (external content: the text lives once, in `exchanges.search_text`; no positions, see
//! migration 0003). The query is split into terms by `terms.rs`, each one FTS5 token, quoted,
//! so user input is matched as words and never parsed as FTS5 syntax.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::SqliteStore;
use crate::sql::{
    PURGE_STEP, attach_events, exchange_columns, exchange_from_row, has_bodies, now_ms,
    policy_event_columns, policy_event_from_row, push_exchange_filter, push_exchange_order,
    session_columns, session_from_row, sessions_query, summary_columns, summary_from_row,
};
use crate::terms::{SNIPPET_ELLIPSIS, SNIPPET_WORDS, query_terms};
use crate::{
    ExchangeFilter, ExchangeRecord, ExchangeSummary, HistoryQuery, SNIPPET_CLOSE, SNIPPET_OPEN,
    SearchHit, SessionFilter, SessionRecord, StoreError,
};

pub(super) async fn recent(
    pool: &SqlitePool,
    limit: u32,
) -> Result<Vec<ExchangeRecord>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        exchange_columns!(),
        " FROM exchanges e ORDER BY e.id DESC LIMIT ?",
    ))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    with_events(pool, &rows).await
}

/// Decodes full exchanges and loads their policy events.
async fn with_events(
    pool: &SqlitePool,
    rows: &[sqlx::sqlite::SqliteRow],
) -> Result<Vec<ExchangeRecord>, StoreError> {
    let mut records = rows.iter().map(exchange_from_row).collect::<Result<Vec<_>, _>>()?;
    let mut events = Vec::new();
    // Bound parameters per statement stay far below SQLite's limit.
    for chunk in records.chunks(500) {
        let mut qb = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            policy_event_columns!(),
            " FROM policy_events p WHERE p.exchange_id IN ("
        ));
        let mut ids = qb.separated(", ");
        for r in chunk {
            ids.push_bind(r.id.clone());
        }
        qb.push(") ORDER BY p.at_ms, p.id");
        for row in qb.build().fetch_all(pool).await? {
            events.push(policy_event_from_row(&row)?);
        }
    }
    attach_events(&mut records, events);
    Ok(records)
}

/// The FTS5 query for `terms`: each term a quoted string, so `NEAR`, `AND`, `OR` are text;
/// juxtaposed strings must all match. Terms hold only letters and digits, and each is one
/// token to FTS5 (a phrase, which `detail = column` refuses, cannot arise); the quotes are
/// doubled anyway, so a term can never end its string.
fn fts_query(terms: &[impl AsRef<str>]) -> String {
    let quoted: Vec<String> =
        terms.iter().map(|t| format!("\"{}\"", t.as_ref().replace('"', "\"\""))).collect();
    quoted.join(" ")
}

#[async_trait]
impl HistoryQuery for SqliteStore {
    async fn list_exchanges(
        &self,
        filter: &ExchangeFilter,
    ) -> Result<Vec<ExchangeSummary>, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new(concat!(
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
            " FROM exchanges e WHERE e.id = ?"
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
        let mut qb = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            summary_columns!(),
            ", snippet(exchanges_fts, 0, "
        ));
        qb.push_bind(SNIPPET_OPEN)
            .push(", ")
            .push_bind(SNIPPET_CLOSE)
            .push(", ")
            .push_bind(SNIPPET_ELLIPSIS)
            .push(", ")
            .push_bind(i64::try_from(SNIPPET_WORDS).unwrap_or(i64::MAX))
            .push(
                ") AS snippet FROM exchanges_fts JOIN exchanges e ON e.rowid = exchanges_fts.rowid \
                 WHERE exchanges_fts MATCH ",
            )
            .push_bind(fts_query(&terms));
        push_exchange_filter(&mut qb, filter);
        push_exchange_order(&mut qb, filter.effective_limit());
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(SearchHit { exchange: summary_from_row(row)?, snippet: row.try_get("snippet")? })
            })
            .collect()
    }

    async fn list_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sessions_query::<Sqlite>(filter).build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(session_from_row).collect::<Result<_, _>>()?)
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row =
            sqlx::query(concat!("SELECT ", session_columns!(), " FROM sessions s WHERE s.id = ?"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    async fn session_exchanges(&self, session_id: &str) -> Result<Vec<ExchangeRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            exchange_columns!(),
            " FROM exchanges e WHERE e.session_id = ? ORDER BY e.started_at_ms, e.id",
        ))
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        with_events(&self.pool, &rows).await
    }

    async fn set_session_title(&self, id: &str, title: &str) -> Result<(), StoreError> {
        let title = Some(title.trim()).filter(|t| !t.is_empty());
        let done = sqlx::query("UPDATE sessions SET title = ? WHERE id = ?")
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
        let rows = sqlx::query(crate::query::route_stats_sql!("?"))
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
                "SELECT max(t.id) FROM (SELECT e.id FROM exchanges e \
                 WHERE e.id > ? AND e.started_at_ms < ? AND ",
                has_bodies!(),
                " ORDER BY e.id LIMIT ?) t",
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
                 bodies_purged_at_ms = ? WHERE e.id > ? AND e.id <= ? AND e.started_at_ms < ? AND ",
                has_bodies!(),
                "",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_quote_every_term() {
        assert_eq!(fts_query(&query_terms("NEAR(x -y* main.rs")), r#""near" "x" "y" "main" "rs""#);
        assert_eq!(fts_query(&["a\"b"]), r#""a""b""#);
    }
}

//! Reading the history back from PostgreSQL. Search matches the generated `search_tsv` column
//! (GIN-indexed) against one `phraseto_tsquery` per query word, all required: a word is split
//! into letter-and-digit runs that must appear in order, as FTS5 matches a quoted word, and
//! `phraseto_tsquery` reads its input as plain text, so no operator in user input means
//! anything. Snippets come from `ts_headline`, computed only for the rows returned; it parses
//! the original text with PostgreSQL's own parser, so a word found inside a path
//! (`src/main.rs`) is in the snippet but not marked.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::PostgresStore;
use crate::query::search_words;
use crate::sql::{
    PURGE_STEP, attach_events, exchange_columns, exchange_from_row, has_bodies, now_ms,
    policy_event_columns, policy_event_from_row, push_exchange_filter, push_exchange_order,
    session_columns, session_from_row, sessions_query, summary_columns, summary_from_row,
};
use crate::{
    ExchangeFilter, ExchangeRecord, ExchangeSummary, HistoryQuery, SNIPPET_CLOSE, SNIPPET_OPEN,
    SearchHit, SessionFilter, SessionRecord, StoreError,
};

/// Words of context in a search snippet (SQLite's snippet counts 16 tokens).
const SNIPPET_WORDS: u32 = 16;

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

/// A query word as the index splits text (see the migration): its letter-and-digit runs.
fn phrase(word: &str) -> String {
    let runs: Vec<&str> =
        word.split(|c: char| !c.is_alphanumeric()).filter(|r| !r.is_empty()).collect();
    runs.join(" ")
}

/// `(phraseto_tsquery('simple', $1) && ...)`: every phrase required.
fn push_tsquery(qb: &mut QueryBuilder<Postgres>, phrases: &[String]) {
    qb.push("(");
    for (i, p) in phrases.iter().enumerate() {
        if i > 0 {
            qb.push(" && ");
        }
        qb.push("phraseto_tsquery('simple', ").push_bind(p.clone()).push(")");
    }
    qb.push(")");
}

/// `ts_headline` options: one fragment around the best match, marked like SQLite's snippets.
fn headline_options() -> String {
    format!(
        "StartSel=\"{SNIPPET_OPEN}\", StopSel=\"{SNIPPET_CLOSE}\", MaxFragments=1, \
         MaxWords={SNIPPET_WORDS}, MinWords={}",
        SNIPPET_WORDS / 2
    )
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
        let words = search_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let phrases: Vec<String> = words.iter().map(|w| phrase(w)).collect();
        // The page is chosen first; the (costly) headline is computed for its rows only.
        let mut qb = QueryBuilder::<Postgres>::new(concat!(
            "SELECT ",
            summary_columns!(),
            ", ts_headline('simple', left(e.search_text, 100000), "
        ));
        push_tsquery(&mut qb, &phrases);
        qb.push(", ").push_bind(headline_options());
        qb.push(concat!(
            ") AS snippet FROM (SELECT ",
            summary_columns!(),
            ", e.search_text FROM exchanges e WHERE e.search_tsv @@ "
        ));
        push_tsquery(&mut qb, &phrases);
        push_exchange_filter(&mut qb, filter);
        push_exchange_order(&mut qb, filter.effective_limit());
        qb.push(") e ORDER BY e.id DESC");
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
                 bodies_purged_at_ms = $1 WHERE e.id > $2 AND e.id <= $3 AND e.started_at_ms < $4 \
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

//! What the backends share, written once so they cannot drift: column lists, the filter
//! clauses (through `QueryBuilder`, which writes each dialect's placeholders), row decoding, and
//! the session totals a batch adds up to. Dialect-specific SQL (upserts, search) stays in the
//! backends.

use std::collections::HashMap;

use bytes::Bytes;
use sqlx::{Database, Encode, QueryBuilder, Row, Type};

use crate::{
    ExchangeFilter, ExchangeRecord, ExchangeSummary, PolicyEvent, SessionFilter, SessionRecord,
};

// Column lists are macros so statements can be `concat!`ed into `&'static str`: nothing is
// ever formatted into SQL at run time.

/// Every stored column of an exchange; the table is always aliased `e`.
macro_rules! exchange_columns {
    () => {
        "e.id, e.request_id, e.started_at_ms, e.client_dialect, e.endpoint, e.key_name, \
         e.user_agent, e.client, e.session_id, e.provider, e.model_requested, e.model_served, \
         e.route_reason, e.stream, e.status, e.outcome, e.error_type, e.error_message, \
         e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_write_tokens, \
         e.cost_micros, e.stop_reason, e.ttfb_ms, e.total_ms, e.upstream_request_id, \
         e.request_body, e.forwarded_body, e.response_body, e.response_message, e.search_text, \
         e.bodies_purged_at_ms, e.route_category, e.route_deployment, e.route_decision"
    };
}
pub(crate) use exchange_columns;

/// The columns of an [`ExchangeSummary`]: no bodies, so lists stay cheap.
macro_rules! summary_columns {
    () => {
        "e.id, e.request_id, e.started_at_ms, e.session_id, e.client, e.key_name, e.endpoint, \
         e.provider, e.model_requested, e.model_served, e.stream, e.status, e.outcome, \
         e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_write_tokens, \
         e.cost_micros, e.ttfb_ms, e.total_ms"
    };
}
pub(crate) use summary_columns;

macro_rules! session_columns {
    () => {
        "s.id, s.source, s.key_name, s.client, s.first_seen_ms, s.last_seen_ms, s.preview, \
         s.title, s.cwd, s.git_branch, s.exchange_count, s.input_tokens, s.output_tokens, \
         s.cache_read_tokens, s.cache_write_tokens, s.cost_micros"
    };
}
pub(crate) use session_columns;

macro_rules! policy_event_columns {
    () => {
        "p.exchange_id, p.id, p.at_ms, p.policy, p.verdict, p.reason, p.detail"
    };
}
pub(crate) use policy_event_columns;

/// Rows whose bodies retention has not dropped yet (and that had any).
macro_rules! has_bodies {
    () => {
        "(e.request_body IS NOT NULL OR e.forwarded_body IS NOT NULL \
         OR e.response_body IS NOT NULL OR e.response_message IS NOT NULL \
         OR e.search_text IS NOT NULL)"
    };
}
pub(crate) use has_bodies;

/// Rows (exchanges, or translation-state entries) one retention step purges. Each step is its
/// own short transaction, so a purge of months of history never holds SQLite's write lock (or
/// PostgreSQL row locks) long enough to stall the recorder or translation; a smaller step
/// costs more round trips.
pub(crate) const PURGE_STEP: i64 = 500;

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Appends ` AND ...` for every field of `f` that is set, except the limit. The query must
/// already have a `WHERE`, and the exchanges table aliased `e`.
pub(crate) fn push_exchange_filter<DB>(qb: &mut QueryBuilder<DB>, f: &ExchangeFilter)
where
    DB: Database,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
{
    if let Some(since) = f.since_ms {
        qb.push(" AND e.started_at_ms >= ").push_bind(since);
    }
    if let Some(until) = f.until_ms {
        qb.push(" AND e.started_at_ms < ").push_bind(until);
    }
    if let Some(session) = &f.session_id {
        qb.push(" AND e.session_id = ").push_bind(session.clone());
    }
    if let Some(model) = &f.model {
        qb.push(" AND (e.model_requested = ").push_bind(model.clone());
        qb.push(" OR e.model_served = ").push_bind(model.clone()).push(")");
    }
    if let Some(provider) = &f.provider {
        qb.push(" AND e.provider = ").push_bind(provider.clone());
    }
    if let Some(key) = &f.key_name {
        qb.push(" AND e.key_name = ").push_bind(key.clone());
    }
    if let Some(status) = f.status {
        qb.push(" AND e.status = ").push_bind(i64::from(status));
    }
    if let Some(before) = &f.before_id {
        qb.push(" AND e.id < ").push_bind(before.clone());
    }
}

/// Newest first (ids are UUIDv7, so id order is arrival order and a stable paging cursor).
pub(crate) fn push_exchange_order<DB>(qb: &mut QueryBuilder<DB>, limit: u32)
where
    DB: Database,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
{
    qb.push(" ORDER BY e.id DESC LIMIT ").push_bind(i64::from(limit));
}

/// The whole `SELECT` of [`HistoryQuery::list_sessions`](crate::HistoryQuery::list_sessions).
pub(crate) fn sessions_query<DB>(f: &SessionFilter) -> QueryBuilder<DB>
where
    DB: Database,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    DB::Arguments: Default,
{
    let mut qb =
        QueryBuilder::new(concat!("SELECT ", session_columns!(), " FROM sessions s WHERE 1 = 1"));
    if let Some(since) = f.since_ms {
        qb.push(" AND s.last_seen_ms >= ").push_bind(since);
    }
    if let Some(until) = f.until_ms {
        qb.push(" AND s.first_seen_ms < ").push_bind(until);
    }
    if let Some(key) = &f.key_name {
        qb.push(" AND s.key_name = ").push_bind(key.clone());
    }
    qb.push(" ORDER BY s.last_seen_ms DESC, s.id DESC LIMIT ")
        .push_bind(i64::from(f.effective_limit()));
    qb
}

/// Reading a column by name as the types both backends store: text, 64-bit integers,
/// booleans, bytes. Implemented for each backend's row type, so row decoding is written once.
pub(crate) trait DecodeRow {
    fn text(&self, col: &'static str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &'static str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, col: &'static str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &'static str) -> Result<Option<i64>, sqlx::Error>;
    fn flag(&self, col: &'static str) -> Result<bool, sqlx::Error>;
    fn opt_bytes(&self, col: &'static str) -> Result<Option<Bytes>, sqlx::Error>;

    fn status(&self, col: &'static str) -> Result<u16, sqlx::Error> {
        u16::try_from(self.int(col)?)
            .map_err(|e| sqlx::Error::ColumnDecode { index: col.to_owned(), source: Box::new(e) })
    }
}

macro_rules! impl_decode_row {
    ($($row:ty),*) => {$(
        impl DecodeRow for $row {
            fn text(&self, col: &'static str) -> Result<String, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_text(&self, col: &'static str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(col)
            }
            fn int(&self, col: &'static str) -> Result<i64, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_int(&self, col: &'static str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(col)
            }
            fn flag(&self, col: &'static str) -> Result<bool, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_bytes(&self, col: &'static str) -> Result<Option<Bytes>, sqlx::Error> {
                Ok(self.try_get::<Option<Vec<u8>>, _>(col)?.map(Bytes::from))
            }
        }
    )*};
}

impl_decode_row!(sqlx::sqlite::SqliteRow, sqlx::postgres::PgRow);

/// An exchange from [`exchange_columns`], without its policy events (see [`attach_events`]).
/// `session` stays `None`: the session is stored on its own, not per exchange.
pub(crate) fn exchange_from_row(row: &impl DecodeRow) -> Result<ExchangeRecord, sqlx::Error> {
    Ok(ExchangeRecord {
        id: row.text("id")?,
        request_id: row.text("request_id")?,
        started_at_ms: row.int("started_at_ms")?,
        client_dialect: row.text("client_dialect")?,
        endpoint: row.text("endpoint")?,
        key_name: row.opt_text("key_name")?,
        user_agent: row.opt_text("user_agent")?,
        client: row.opt_text("client")?,
        session_id: row.opt_text("session_id")?,
        provider: row.opt_text("provider")?,
        model_requested: row.opt_text("model_requested")?,
        model_served: row.opt_text("model_served")?,
        route_reason: row.opt_text("route_reason")?,
        route_category: row.opt_text("route_category")?,
        route_deployment: row.opt_text("route_deployment")?,
        route_decision: row.opt_text("route_decision")?,
        stream: row.flag("stream")?,
        status: row.status("status")?,
        outcome: row.text("outcome")?,
        error_type: row.opt_text("error_type")?,
        error_message: row.opt_text("error_message")?,
        input_tokens: row.int("input_tokens")?,
        output_tokens: row.int("output_tokens")?,
        cache_read_tokens: row.int("cache_read_tokens")?,
        cache_write_tokens: row.int("cache_write_tokens")?,
        cost_micros: row.int("cost_micros")?,
        stop_reason: row.opt_text("stop_reason")?,
        ttfb_ms: row.opt_int("ttfb_ms")?,
        total_ms: row.int("total_ms")?,
        upstream_request_id: row.opt_text("upstream_request_id")?,
        request_body: row.opt_bytes("request_body")?,
        forwarded_body: row.opt_bytes("forwarded_body")?,
        response_body: row.opt_bytes("response_body")?,
        response_message: row.opt_bytes("response_message")?,
        search_text: row.opt_text("search_text")?,
        bodies_purged_at_ms: row.opt_int("bodies_purged_at_ms")?,
        session: None,
        policy_events: Vec::new(),
        hints: Vec::new(),
    })
}

/// A summary from [`summary_columns`].
pub(crate) fn summary_from_row(row: &impl DecodeRow) -> Result<ExchangeSummary, sqlx::Error> {
    Ok(ExchangeSummary {
        id: row.text("id")?,
        request_id: row.text("request_id")?,
        started_at_ms: row.int("started_at_ms")?,
        session_id: row.opt_text("session_id")?,
        client: row.opt_text("client")?,
        key_name: row.opt_text("key_name")?,
        endpoint: row.text("endpoint")?,
        provider: row.opt_text("provider")?,
        model_requested: row.opt_text("model_requested")?,
        model_served: row.opt_text("model_served")?,
        stream: row.flag("stream")?,
        status: row.status("status")?,
        outcome: row.text("outcome")?,
        input_tokens: row.int("input_tokens")?,
        output_tokens: row.int("output_tokens")?,
        cache_read_tokens: row.int("cache_read_tokens")?,
        cache_write_tokens: row.int("cache_write_tokens")?,
        cost_micros: row.int("cost_micros")?,
        ttfb_ms: row.opt_int("ttfb_ms")?,
        total_ms: row.int("total_ms")?,
    })
}

/// A session from [`session_columns`].
pub(crate) fn session_from_row(row: &impl DecodeRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id: row.text("id")?,
        source: row.text("source")?,
        key_name: row.opt_text("key_name")?,
        client: row.opt_text("client")?,
        first_seen_ms: row.int("first_seen_ms")?,
        last_seen_ms: row.int("last_seen_ms")?,
        preview: row.opt_text("preview")?,
        title: row.opt_text("title")?,
        cwd: row.opt_text("cwd")?,
        git_branch: row.opt_text("git_branch")?,
        exchange_count: row.int("exchange_count")?,
        input_tokens: row.int("input_tokens")?,
        output_tokens: row.int("output_tokens")?,
        cache_read_tokens: row.int("cache_read_tokens")?,
        cache_write_tokens: row.int("cache_write_tokens")?,
        cost_micros: row.int("cost_micros")?,
    })
}

/// A policy event from [`policy_event_columns`], with the exchange it belongs to.
pub(crate) fn policy_event_from_row(
    row: &impl DecodeRow,
) -> Result<(String, PolicyEvent), sqlx::Error> {
    Ok((
        row.text("exchange_id")?,
        PolicyEvent {
            id: row.text("id")?,
            at_ms: row.int("at_ms")?,
            policy: row.text("policy")?,
            verdict: row.text("verdict")?,
            reason: row.opt_text("reason")?,
            detail: row.opt_text("detail")?,
        },
    ))
}

/// Hands each exchange its policy events (given in stored order).
pub(crate) fn attach_events(records: &mut [ExchangeRecord], events: Vec<(String, PolicyEvent)>) {
    let index: HashMap<String, usize> =
        records.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
    for (exchange_id, event) in events {
        if let Some(&i) = index.get(&exchange_id) {
            records[i].policy_events.push(event);
        }
    }
}

/// What a batch adds to one session: the first-seen fields from the first exchange that has
/// them, the time span, and the sums. Folding a batch first makes one upsert per session (a
/// PostgreSQL upsert cannot touch the same row twice in one statement) with the same result as
/// one upsert per exchange in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionDelta<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub key_name: Option<&'a str>,
    pub client: Option<&'a str>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub preview: Option<&'a str>,
    pub cwd: Option<&'a str>,
    pub git_branch: Option<&'a str>,
    pub exchange_count: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
}

/// The session deltas of the exchanges actually inserted, in order of first appearance.
pub(crate) fn session_deltas<'a>(
    inserted: impl IntoIterator<Item = &'a ExchangeRecord>,
) -> Vec<SessionDelta<'a>> {
    let mut deltas: Vec<SessionDelta<'a>> = Vec::new();
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    for r in inserted {
        let Some(s) = &r.session else { continue };
        match index.get(s.id.as_str()) {
            Some(&i) => {
                let d = &mut deltas[i];
                d.key_name = d.key_name.or(r.key_name.as_deref());
                d.client = d.client.or(r.client.as_deref());
                d.preview = d.preview.or(s.preview.as_deref());
                d.cwd = d.cwd.or(s.cwd.as_deref());
                d.git_branch = d.git_branch.or(s.git_branch.as_deref());
                d.first_seen_ms = d.first_seen_ms.min(r.started_at_ms);
                d.last_seen_ms = d.last_seen_ms.max(r.started_at_ms);
                d.exchange_count += 1;
                d.input_tokens += r.input_tokens;
                d.output_tokens += r.output_tokens;
                d.cache_read_tokens += r.cache_read_tokens;
                d.cache_write_tokens += r.cache_write_tokens;
                d.cost_micros += r.cost_micros;
            }
            None => {
                index.insert(&s.id, deltas.len());
                deltas.push(SessionDelta {
                    id: &s.id,
                    source: &s.source,
                    key_name: r.key_name.as_deref(),
                    client: r.client.as_deref(),
                    first_seen_ms: r.started_at_ms,
                    last_seen_ms: r.started_at_ms,
                    preview: s.preview.as_deref(),
                    cwd: s.cwd.as_deref(),
                    git_branch: s.git_branch.as_deref(),
                    exchange_count: 1,
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    cache_read_tokens: r.cache_read_tokens,
                    cache_write_tokens: r.cache_write_tokens,
                    cost_micros: r.cost_micros,
                });
            }
        }
    }
    deltas
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionUpdate;

    fn rec(id: &str, at: i64, session: &str, preview: Option<&str>) -> ExchangeRecord {
        ExchangeRecord {
            id: id.into(),
            started_at_ms: at,
            input_tokens: 10,
            cost_micros: 7,
            session: Some(SessionUpdate {
                id: session.into(),
                source: "header".into(),
                preview: preview.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn deltas_fold_a_batch_per_session_in_order() {
        let batch = [
            rec("1", 200, "a", None),
            rec("2", 100, "b", Some("b first")),
            rec("3", 150, "a", Some("a first")),
            rec("4", 300, "a", Some("a later")),
            ExchangeRecord { id: "5".into(), ..Default::default() },
        ];
        let d = session_deltas(&batch);
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].id, d[0].preview), ("a", Some("a first")));
        assert_eq!((d[0].first_seen_ms, d[0].last_seen_ms), (150, 300));
        assert_eq!((d[0].exchange_count, d[0].input_tokens, d[0].cost_micros), (3, 30, 21));
        assert_eq!((d[1].id, d[1].exchange_count), ("b", 1));
    }
}

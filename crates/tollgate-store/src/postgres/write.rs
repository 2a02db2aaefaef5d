//! Appending to PostgreSQL: one transaction per batch, a handful of statements whatever its
//! size. Exchanges go in as arrays (`UNNEST`) with `ON CONFLICT (id) DO NOTHING RETURNING id`,
//! which says which rows are new; only those feed the session totals (one upsert for all the
//! batch's sessions) and the policy events. The search terms of each exchange are split here,
//! in Rust (`terms.rs`), and stored beside its text.

use std::borrow::Cow;
use std::collections::HashSet;

use sqlx::{PgPool, Postgres, Transaction};

use crate::sql::{SessionDelta, session_deltas};
use crate::terms::index_terms;
use crate::{ExchangeRecord, StoreError};

/// Body bytes per exchanges statement. A batch of 256 streamed exchanges with large bodies
/// can reach hundreds of megabytes, past what one protocol message may carry (1 GB); smaller
/// statements also keep the client's buffer small. Larger means fewer round trips.
const STATEMENT_BYTES: usize = 16 << 20;

pub(super) async fn append(pool: &PgPool, batch: &[ExchangeRecord]) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let mut new_ids: HashSet<String> = HashSet::with_capacity(batch.len());
    for chunk in chunks(batch) {
        new_ids.extend(insert_exchanges(&mut tx, chunk).await?);
    }
    // The first occurrence of each new id: a record twice in one batch counts once.
    let inserted: Vec<&ExchangeRecord> =
        batch.iter().filter(|r| new_ids.remove(r.id.as_str())).collect();
    let mut deltas = session_deltas(inserted.iter().copied());
    // Rows locked in one order by every writer cannot deadlock one another.
    deltas.sort_unstable_by(|a, b| a.id.cmp(b.id));
    upsert_sessions(&mut tx, &deltas).await?;
    insert_policy_events(&mut tx, &inserted).await?;
    tx.commit().await?;
    Ok(())
}

/// Consecutive slices of at most [`STATEMENT_BYTES`] of bodies (at least one record each).
fn chunks(batch: &[ExchangeRecord]) -> Vec<&[ExchangeRecord]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in batch.iter().enumerate() {
        let size = [&r.request_body, &r.forwarded_body, &r.response_body, &r.response_message]
            .iter()
            .map(|b| b.as_ref().map_or(0, |b| b.len()))
            .sum::<usize>()
            + r.search_text.as_ref().map_or(0, String::len);
        if i > start && bytes + size > STATEMENT_BYTES {
            out.push(&batch[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    out.push(&batch[start..]);
    out
}

/// PostgreSQL text cannot hold NUL; SQLite's can, and a prompt or an upstream error may carry
/// one. Refusing it would fail the batch on every retry, so it becomes U+FFFD.
pub(super) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{fffd}")) } else { Cow::Borrowed(s) }
}

fn opt_text(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(text)
}

/// The index terms of a search text, joined by spaces for `string_to_array` (a term never
/// holds a space, or a NUL); `None` when there are none. One array of arrays cannot carry
/// them: PostgreSQL arrays are rectangular.
fn joined_terms(search_text: Option<&str>) -> Option<String> {
    let terms = index_terms(search_text?);
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The ids of the rows that were new.
async fn insert_exchanges(
    tx: &mut Transaction<'static, Postgres>,
    rows: &[ExchangeRecord],
) -> Result<Vec<String>, StoreError> {
    let n = rows.len();
    let mut id = Vec::with_capacity(n);
    let mut request_id = Vec::with_capacity(n);
    let mut started_at_ms = Vec::with_capacity(n);
    let mut client_dialect = Vec::with_capacity(n);
    let mut endpoint = Vec::with_capacity(n);
    let mut key_name = Vec::with_capacity(n);
    let mut user_agent = Vec::with_capacity(n);
    let mut client = Vec::with_capacity(n);
    let mut session_id = Vec::with_capacity(n);
    let mut provider = Vec::with_capacity(n);
    let mut model_requested = Vec::with_capacity(n);
    let mut model_served = Vec::with_capacity(n);
    let mut route_reason = Vec::with_capacity(n);
    let mut stream = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut outcome = Vec::with_capacity(n);
    let mut error_type = Vec::with_capacity(n);
    let mut error_message = Vec::with_capacity(n);
    let mut input_tokens = Vec::with_capacity(n);
    let mut output_tokens = Vec::with_capacity(n);
    let mut cache_read_tokens = Vec::with_capacity(n);
    let mut cache_write_tokens = Vec::with_capacity(n);
    let mut cost_micros = Vec::with_capacity(n);
    let mut stop_reason = Vec::with_capacity(n);
    let mut ttfb_ms = Vec::with_capacity(n);
    let mut total_ms = Vec::with_capacity(n);
    let mut upstream_request_id = Vec::with_capacity(n);
    let mut request_body = Vec::with_capacity(n);
    let mut forwarded_body = Vec::with_capacity(n);
    let mut response_body = Vec::with_capacity(n);
    let mut response_message = Vec::with_capacity(n);
    let mut search_text = Vec::with_capacity(n);
    let mut bodies_purged_at_ms = Vec::with_capacity(n);
    let mut search_terms = Vec::with_capacity(n);
    let mut route_category = Vec::with_capacity(n);
    let mut route_deployment = Vec::with_capacity(n);
    let mut route_decision = Vec::with_capacity(n);
    for r in rows {
        search_terms.push(joined_terms(r.search_text.as_deref()));
        if r.search_text.is_some() {
            // Splitting takes ~0.1 ms per 8 KB of text, on the runtime's thread: let the
            // rest of the runtime run between records rather than stall for a whole batch.
            tokio::task::yield_now().await;
        }
    }
    for r in rows {
        id.push(r.id.as_str());
        request_id.push(text(&r.request_id));
        started_at_ms.push(r.started_at_ms);
        client_dialect.push(text(&r.client_dialect));
        endpoint.push(text(&r.endpoint));
        key_name.push(opt_text(&r.key_name));
        user_agent.push(opt_text(&r.user_agent));
        client.push(opt_text(&r.client));
        session_id.push(opt_text(&r.session_id));
        provider.push(opt_text(&r.provider));
        model_requested.push(opt_text(&r.model_requested));
        model_served.push(opt_text(&r.model_served));
        route_reason.push(opt_text(&r.route_reason));
        stream.push(r.stream);
        status.push(i64::from(r.status));
        outcome.push(text(&r.outcome));
        error_type.push(opt_text(&r.error_type));
        error_message.push(opt_text(&r.error_message));
        input_tokens.push(r.input_tokens);
        output_tokens.push(r.output_tokens);
        cache_read_tokens.push(r.cache_read_tokens);
        cache_write_tokens.push(r.cache_write_tokens);
        cost_micros.push(r.cost_micros);
        stop_reason.push(opt_text(&r.stop_reason));
        ttfb_ms.push(r.ttfb_ms);
        total_ms.push(r.total_ms);
        upstream_request_id.push(opt_text(&r.upstream_request_id));
        request_body.push(r.request_body.as_deref());
        forwarded_body.push(r.forwarded_body.as_deref());
        response_body.push(r.response_body.as_deref());
        response_message.push(r.response_message.as_deref());
        search_text.push(opt_text(&r.search_text));
        bodies_purged_at_ms.push(r.bodies_purged_at_ms);
        route_category.push(opt_text(&r.route_category));
        route_deployment.push(opt_text(&r.route_deployment));
        route_decision.push(opt_text(&r.route_decision));
    }
    let ids = sqlx::query_scalar(
        "INSERT INTO exchanges (id, request_id, started_at_ms, client_dialect, endpoint, \
         key_name, user_agent, client, session_id, provider, model_requested, model_served, \
         route_reason, stream, status, outcome, error_type, error_message, input_tokens, \
         output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, stop_reason, ttfb_ms, \
         total_ms, upstream_request_id, request_body, forwarded_body, response_body, \
         response_message, search_text, bodies_purged_at_ms, search_terms, route_category, \
         route_deployment, route_decision) \
         SELECT u.id, u.request_id, u.started_at_ms, u.client_dialect, u.endpoint, u.key_name, \
         u.user_agent, u.client, u.session_id, u.provider, u.model_requested, u.model_served, \
         u.route_reason, u.stream, u.status, u.outcome, u.error_type, u.error_message, \
         u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, \
         u.cost_micros, u.stop_reason, u.ttfb_ms, u.total_ms, u.upstream_request_id, \
         u.request_body, u.forwarded_body, u.response_body, u.response_message, u.search_text, \
         u.bodies_purged_at_ms, string_to_array(u.search_terms, ' '), u.route_category, \
         u.route_deployment, u.route_decision \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::boolean[], $15::bigint[], $16::text[], $17::text[], $18::text[], \
         $19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[], $23::bigint[], $24::text[], \
         $25::bigint[], $26::bigint[], $27::text[], $28::bytea[], $29::bytea[], $30::bytea[], \
         $31::bytea[], $32::text[], $33::bigint[], $34::text[], $35::text[], $36::text[], $37::text[]) \
         AS u (id, request_id, started_at_ms, client_dialect, endpoint, key_name, user_agent, \
         client, session_id, provider, model_requested, model_served, route_reason, stream, \
         status, outcome, error_type, error_message, input_tokens, output_tokens, \
         cache_read_tokens, cache_write_tokens, cost_micros, stop_reason, ttfb_ms, total_ms, \
         upstream_request_id, request_body, forwarded_body, response_body, response_message, \
         search_text, bodies_purged_at_ms, search_terms, route_category, route_deployment, \
         route_decision) \
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(request_id)
    .bind(started_at_ms)
    .bind(client_dialect)
    .bind(endpoint)
    .bind(key_name)
    .bind(user_agent)
    .bind(client)
    .bind(session_id)
    .bind(provider)
    .bind(model_requested)
    .bind(model_served)
    .bind(route_reason)
    .bind(stream)
    .bind(status)
    .bind(outcome)
    .bind(error_type)
    .bind(error_message)
    .bind(input_tokens)
    .bind(output_tokens)
    .bind(cache_read_tokens)
    .bind(cache_write_tokens)
    .bind(cost_micros)
    .bind(stop_reason)
    .bind(ttfb_ms)
    .bind(total_ms)
    .bind(upstream_request_id)
    .bind(request_body)
    .bind(forwarded_body)
    .bind(response_body)
    .bind(response_message)
    .bind(search_text)
    .bind(bodies_purged_at_ms)
    .bind(search_terms)
    .bind(route_category)
    .bind(route_deployment)
    .bind(route_decision)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids)
}

/// First-seen fields are filled once and kept; the span widens; counters and totals add up.
async fn upsert_sessions(
    tx: &mut Transaction<'static, Postgres>,
    deltas: &[SessionDelta<'_>],
) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&SessionDelta<'_>) -> i64| deltas.iter().map(f).collect::<Vec<i64>>();
    let text_column = |f: for<'d> fn(&'d SessionDelta<'_>) -> Option<&'d str>| {
        deltas.iter().map(|d| f(d).map(text)).collect::<Vec<_>>()
    };
    sqlx::query(
        "INSERT INTO sessions (id, source, key_name, client, first_seen_ms, last_seen_ms, preview, \
         cwd, git_branch, exchange_count, input_tokens, output_tokens, cache_read_tokens, \
         cache_write_tokens, cost_micros) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
         $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], \
         $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[]) \
         ON CONFLICT (id) DO UPDATE SET \
         key_name = coalesce(sessions.key_name, excluded.key_name), \
         client = coalesce(sessions.client, excluded.client), \
         first_seen_ms = least(sessions.first_seen_ms, excluded.first_seen_ms), \
         last_seen_ms = greatest(sessions.last_seen_ms, excluded.last_seen_ms), \
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
    .bind(deltas.iter().map(|d| text(d.id)).collect::<Vec<_>>())
    .bind(deltas.iter().map(|d| text(d.source)).collect::<Vec<_>>())
    .bind(text_column(|d| d.key_name))
    .bind(text_column(|d| d.client))
    .bind(column(|d| d.first_seen_ms))
    .bind(column(|d| d.last_seen_ms))
    .bind(text_column(|d| d.preview))
    .bind(text_column(|d| d.cwd))
    .bind(text_column(|d| d.git_branch))
    .bind(column(|d| d.exchange_count))
    .bind(column(|d| d.input_tokens))
    .bind(column(|d| d.output_tokens))
    .bind(column(|d| d.cache_read_tokens))
    .bind(column(|d| d.cache_write_tokens))
    .bind(column(|d| d.cost_micros))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_policy_events(
    tx: &mut Transaction<'static, Postgres>,
    inserted: &[&ExchangeRecord],
) -> Result<(), StoreError> {
    let events: Vec<_> = inserted
        .iter()
        .flat_map(|r| r.policy_events.iter().map(move |e| (r.id.as_str(), e)))
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO policy_events (id, exchange_id, at_ms, policy, verdict, reason, detail) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
         $6::text[], $7::text[]) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(events.iter().map(|(_, e)| text(&e.id)).collect::<Vec<_>>())
    .bind(events.iter().map(|(x, _)| *x).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| e.at_ms).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| text(&e.policy)).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| text(&e.verdict)).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| opt_text(&e.reason)).collect::<Vec<_>>())
    .bind(events.iter().map(|(_, e)| opt_text(&e.detail)).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn chunks_split_by_body_bytes() {
        let big = |id: &str| ExchangeRecord {
            id: id.into(),
            request_body: Some(Bytes::from(vec![b'x'; STATEMENT_BYTES / 2 + 1])),
            ..Default::default()
        };
        let small = ExchangeRecord::default();
        let batch = [big("a"), small.clone(), big("b"), big("c"), small];
        let sizes: Vec<usize> = chunks(&batch).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [2, 1, 2]);
        assert_eq!(chunks(&[]).len(), 1);
    }

    #[test]
    fn terms_are_joined_by_spaces() {
        assert_eq!(
            joined_terms(Some("Fix src/main.rs; fix it")).as_deref(),
            Some("fix src main rs it")
        );
        assert_eq!(joined_terms(Some(" -- ")), None);
        assert_eq!(joined_terms(None), None);
    }

    #[test]
    fn nul_becomes_a_replacement_character() {
        assert_eq!(text("a\0b"), "a\u{fffd}b");
        assert!(matches!(text("ab"), Cow::Borrowed(_)));
    }
}

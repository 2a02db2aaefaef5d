//! Appending: every field, idempotency, size, odd text, reopening.

use bytes::Bytes;
use tollgate_store::{ExchangeFilter, ExchangeRecord};

use crate::harness::{Harness, as_stored, bare, full, id};

pub async fn append_reads_back_every_field(h: &Harness) {
    let mut purged = bare(3);
    purged.bodies_purged_at_ms = Some(1_700_000_900_000);
    let mut extreme = full(4, "s-extreme");
    extreme.status = 599;
    extreme.stream = false;
    extreme.cost_micros = i64::MAX / 2;
    extreme.input_tokens = 0;
    extreme.ttfb_ms = None;
    let batch = [full(1, "s-1"), bare(2), purged, extreme];
    h.store.append(&batch).await.unwrap();

    for r in &batch {
        let got = h.store.get_exchange(&r.id).await.unwrap().expect("stored");
        assert_eq!(got, as_stored(r.clone()), "{}", r.id);
    }
    // `recent` reads the same, newest first.
    let recent = h.store.recent(10).await.unwrap();
    let want: Vec<ExchangeRecord> = batch.iter().rev().cloned().map(as_stored).collect();
    assert_eq!(recent, want);
    // Summaries carry the same metadata.
    let list = h.store.list_exchanges(&ExchangeFilter::default()).await.unwrap();
    let s = list.iter().find(|s| s.id == id(1)).expect("listed");
    let r = &batch[0];
    assert_eq!(
        (s.request_id.as_str(), s.started_at_ms, s.session_id.as_deref(), s.client.as_deref()),
        (r.request_id.as_str(), r.started_at_ms, Some("s-1"), Some("claude-code"))
    );
    assert_eq!((s.key_name.as_deref(), s.endpoint.as_str()), (Some("team"), "messages"));
    assert_eq!(
        (s.provider.as_deref(), s.model_requested.as_deref(), s.model_served.as_deref()),
        (r.provider.as_deref(), r.model_requested.as_deref(), r.model_served.as_deref())
    );
    assert_eq!((s.stream, s.status, s.outcome.as_str()), (true, 200, "ok"));
    assert_eq!(
        (s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens),
        (1200, 340, 5000, 77)
    );
    assert_eq!((s.cost_micros, s.ttfb_ms, s.total_ms), (12_345, Some(420), 3100));
    let extreme = list.iter().find(|s| s.id == id(4)).expect("listed");
    assert_eq!((extreme.status, extreme.stream, extreme.cost_micros), (599, false, i64::MAX / 2));
}

pub async fn reappending_is_idempotent(h: &Harness) {
    let (a, b, c, d) = (full(1, "s"), full(2, "s"), full(3, "s"), full(4, "s"));
    h.store.append(&[a.clone(), b.clone()]).await.unwrap();
    // A retried batch, overlapping the first one...
    h.store.append(&[b.clone(), c.clone()]).await.unwrap();
    // ...and the same record twice in one batch, stored or new.
    h.store.append(&[c.clone(), c.clone(), a.clone(), d.clone(), d.clone()]).await.unwrap();

    let all = h.store.recent(100).await.unwrap();
    let ids: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, [id(4), id(3), id(2), id(1)]);
    assert!(all.iter().all(|r| r.policy_events.len() == 2), "policy events not duplicated");
    let s = h.store.get_session("s").await.unwrap().expect("session");
    assert_eq!(s.exchange_count, 4);
    assert_eq!(s.input_tokens, 4 * 1200);
    assert_eq!(s.cost_micros, 4 * 12_345);
    assert_eq!(h.store.search("refactor", &ExchangeFilter::default()).await.unwrap().len(), 4);
}

pub async fn empty_batch_is_a_no_op(h: &Harness) {
    h.store.append(&[]).await.unwrap();
    assert!(h.store.recent(10).await.unwrap().is_empty());
    h.store.ping().await.unwrap();
}

pub async fn text_with_nul_does_not_fail_the_batch(h: &Harness) {
    let mut r = full(1, "s\0nul");
    r.search_text = Some("before\0after marker".into());
    r.error_message = Some("upstream said \0".into());
    h.store.append(&[r.clone(), full(2, "s")]).await.unwrap();
    let got = h.store.get_exchange(&id(1)).await.unwrap().expect("stored");
    // SQLite keeps the NUL; PostgreSQL text cannot hold one and stores U+FFFD instead.
    let message = got.error_message.expect("message");
    assert!(message == "upstream said \0" || message == "upstream said \u{fffd}", "{message:?}");
    let hits = h.store.search("marker", &ExchangeFilter::default()).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(h.store.recent(10).await.unwrap().len(), 2);
}

pub async fn a_thousand_records_with_4kb_bodies_append_in_one_call(h: &Harness) {
    let body = Bytes::from(vec![b'x'; 4096]);
    let batch: Vec<ExchangeRecord> = (1..=1000)
        .map(|n| {
            let mut r = full(n, "bulk");
            r.request_body = Some(body.clone());
            r.response_body = Some(body.clone());
            r
        })
        .collect();
    let started = std::time::Instant::now();
    h.store.append(&batch).await.unwrap();
    let took = started.elapsed();
    assert!(took.as_secs() < 30, "1,000 records took {took:?}");

    let s = h.store.get_session("bulk").await.unwrap().expect("session");
    assert_eq!((s.exchange_count, s.output_tokens), (1000, 1000 * 340));
    let all = ExchangeFilter { limit: Some(1000), ..Default::default() };
    assert_eq!(h.store.list_exchanges(&all).await.unwrap().len(), 1000);
    let got = h.store.get_exchange(&id(500)).await.unwrap().expect("stored");
    assert_eq!(got.request_body.as_deref(), Some(&body[..]));
    assert_eq!(got.policy_events.len(), 2);
}

pub async fn reopening_runs_no_migration_and_keeps_data(h: &Harness) {
    h.store.append(&[full(1, "s"), bare(2)]).await.unwrap();
    let before = h.migrations().await;
    assert!(!before.is_empty(), "migrations recorded");

    let again = h.reopen().await;
    assert_eq!(h.migrations().await, before, "no migration ran again");
    assert_eq!(again.recent(10).await.unwrap().len(), 2);
    assert_eq!(again.get_session("s").await.unwrap().expect("session").exchange_count, 1);
    // Both handles write to the same history.
    again.append(&[bare(3)]).await.unwrap();
    assert_eq!(h.store.recent(10).await.unwrap().len(), 3);
}

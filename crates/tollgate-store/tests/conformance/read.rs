//! Listing exchanges: every filter, the cursor, limits.

use tollgate_store::{ExchangeFilter, ExchangeRecord};

use crate::harness::{Harness, T0, bare, full, id};

/// Ten exchanges that differ in one way each from a plain `full` record.
fn varied() -> Vec<ExchangeRecord> {
    (1..=10)
        .map(|n| {
            let mut r = full(n, if n <= 5 { "s-a" } else { "s-b" });
            match n {
                2 => r.model_requested = Some("gpt-5".into()),
                3 => r.model_served = Some("gpt-5".into()),
                4 => r.provider = Some("openai".into()),
                5 => r.key_name = Some("ci".into()),
                6 => r.status = 529,
                7 => r.key_name = None,
                _ => {}
            }
            r
        })
        .collect()
}

async fn listed(h: &Harness, f: ExchangeFilter) -> Vec<String> {
    h.store.list_exchanges(&f).await.unwrap().into_iter().map(|s| s.id).collect()
}

fn ids(ns: &[u32]) -> Vec<String> {
    ns.iter().map(|&n| id(n)).collect()
}

pub async fn every_exchange_filter_narrows(h: &Harness) {
    h.store.append(&varied()).await.unwrap();
    let any = ExchangeFilter::default();
    assert_eq!(listed(h, any.clone()).await, ids(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]));

    let at = |n: i64| T0 + n * 1000;
    let f = ExchangeFilter { since_ms: Some(at(8)), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[10, 9, 8]), "since is inclusive");
    let f = ExchangeFilter { until_ms: Some(at(3)), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[2, 1]), "until is exclusive");
    let f = ExchangeFilter { since_ms: Some(at(4)), until_ms: Some(at(6)), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[5, 4]));
    let f = ExchangeFilter { session_id: Some("s-a".into()), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[5, 4, 3, 2, 1]));
    let f = ExchangeFilter { model: Some("gpt-5".into()), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[3, 2]), "requested or served");
    let f = ExchangeFilter { provider: Some("openai".into()), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[4]));
    let f = ExchangeFilter { key_name: Some("ci".into()), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[5]));
    let f = ExchangeFilter { status: Some(529), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[6]));
    let f = ExchangeFilter { before_id: Some(id(3)), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[2, 1]));
    let f = ExchangeFilter { limit: Some(2), ..any.clone() };
    assert_eq!(listed(h, f).await, ids(&[10, 9]));
    // Filters combine.
    let f = ExchangeFilter {
        session_id: Some("s-b".into()),
        key_name: Some("team".into()),
        status: Some(200),
        before_id: Some(id(10)),
        limit: Some(1),
        ..any.clone()
    };
    assert_eq!(listed(h, f).await, ids(&[9]));
    let f = ExchangeFilter { session_id: Some("nope".into()), ..any };
    assert!(listed(h, f).await.is_empty());
}

pub async fn cursor_pages_newest_first(h: &Harness) {
    let batch: Vec<_> = (1..=25).map(bare).collect();
    h.store.append(&batch).await.unwrap();
    let mut seen = Vec::new();
    let mut filter = ExchangeFilter { limit: Some(10), ..Default::default() };
    loop {
        let page = h.store.list_exchanges(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        filter.before_id = page.last().map(|s| s.id.clone());
        seen.extend(page.into_iter().map(|s| s.id));
    }
    assert_eq!(seen, (1..=25).rev().map(id).collect::<Vec<_>>());
}

pub async fn limits_default_and_cap(h: &Harness) {
    let batch: Vec<_> = (1..=1001).map(bare).collect();
    h.store.append(&batch).await.unwrap();
    let default = h.store.list_exchanges(&ExchangeFilter::default()).await.unwrap();
    assert_eq!(default.len(), 50);
    assert_eq!(default[0].id, id(1001));
    let huge = ExchangeFilter { limit: Some(u32::MAX), ..Default::default() };
    assert_eq!(h.store.list_exchanges(&huge).await.unwrap().len(), 1000);
    let none = ExchangeFilter { limit: Some(0), ..Default::default() };
    assert!(h.store.list_exchanges(&none).await.unwrap().is_empty());
    assert_eq!(h.store.recent(3).await.unwrap().len(), 3);
}

pub async fn unknown_ids_are_none(h: &Harness) {
    h.store.append(&[bare(1)]).await.unwrap();
    assert_eq!(h.store.get_exchange(&id(2)).await.unwrap(), None);
    assert_eq!(h.store.get_session("nope").await.unwrap(), None);
    assert!(h.store.session_exchanges("nope").await.unwrap().is_empty());
}

pub async fn route_stats_group_routed_requests(h: &Harness) {
    let mut batch = Vec::new();
    for n in 1..=5u32 {
        let mut r = full(n, "s-route");
        r.route_category = Some(if n <= 3 { "debug" } else { "simple_qa" }.into());
        r.route_deployment =
            Some(if n == 5 { "openai:gpt-5-nano" } else { "anthropic:claude-sonnet-4-5" }.into());
        if n == 2 {
            r.outcome = "upstream_error".into();
        }
        if n == 3 {
            // A tool call with no text still counts as an answer; an empty answer does not.
            r.output_tokens = 0;
            r.stop_reason = Some("tool_use".into());
        }
        if n == 4 {
            r.output_tokens = 0;
        }
        batch.push(r);
    }
    let mut unrouted = full(6, "s-route");
    unrouted.route_category = None;
    batch.push(unrouted);
    h.store.append(&batch).await.unwrap();

    let stats = h.store.route_stats(T0).await.unwrap();
    let rows: Vec<(&str, &str, i64, i64, i64)> = stats
        .iter()
        .map(|s| (s.category.as_str(), s.deployment.as_str(), s.requests, s.ok, s.cost_micros))
        .collect();
    assert_eq!(
        rows,
        [
            ("debug", "anthropic:claude-sonnet-4-5", 3, 2, 3 * 12_345),
            ("simple_qa", "anthropic:claude-sonnet-4-5", 1, 0, 12_345),
            ("simple_qa", "openai:gpt-5-nano", 1, 1, 12_345),
        ]
    );
    assert_eq!(stats[0].input_tokens, 3 * 1200);
    // The window: nothing started after the last record.
    assert!(h.store.route_stats(T0 + 1_000_000).await.unwrap().is_empty());
}

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

//! Retention: bodies go, metadata, totals and sessions stay, search forgets.

use tollgate_store::{ExchangeFilter, HistoryQuery};

use crate::harness::{Harness, T0, bare, full, id};

pub async fn purge_drops_bodies_keeps_totals_and_search_forgets(h: &Harness) {
    let batch: Vec<_> = (1..=10).map(|n| full(n, "s")).collect();
    h.store.append(&batch).await.unwrap();
    h.store.append(&[bare(11)]).await.unwrap(); // no bodies: nothing to purge
    let session_before = h.store.get_session("s").await.unwrap().expect("session");
    let before = h.store.list_exchanges(&ExchangeFilter::default()).await.unwrap();

    let cutoff = T0 + 7000; // exchanges 1..=6 started before it
    let purged = h.store.purge_bodies(cutoff).await.unwrap();
    assert_eq!(purged, 6);
    assert_eq!(h.store.purge_bodies(cutoff).await.unwrap(), 0, "nothing left to purge");

    for n in 1..=10 {
        let r = h.store.get_exchange(&id(n)).await.unwrap().expect("kept");
        if n <= 6 {
            assert_eq!(
                (&r.request_body, &r.forwarded_body, &r.response_body, &r.response_message),
                (&None, &None, &None, &None),
                "{n}"
            );
            assert_eq!(r.search_text, None);
            let at = r.bodies_purged_at_ms.expect("purge time");
            assert!(at > T0, "purged at {at}");
        } else {
            assert_eq!(r, tollgate_store::ExchangeRecord { session: None, ..full(n, "s") });
        }
        assert_eq!(r.policy_events.len(), 2, "policy events stay");
    }
    assert_eq!(
        h.store.get_exchange(&id(11)).await.unwrap().expect("kept").bodies_purged_at_ms,
        None
    );
    assert_eq!(
        h.store.list_exchanges(&ExchangeFilter::default()).await.unwrap(),
        before,
        "metadata, usage and cost stay"
    );
    assert_eq!(h.store.get_session("s").await.unwrap().expect("session"), session_before);

    let hits: Vec<String> = search(&*h.store, "refactor").await;
    assert_eq!(hits, (7..=10).rev().map(id).collect::<Vec<_>>(), "purged text is not found");
    assert!(search(&*h.store, "number3").await.is_empty());
    assert_eq!(search(&*h.store, "number8").await, [id(8)]);

    // Later appends are searchable as before.
    h.store.append(&[full(12, "s")]).await.unwrap();
    assert_eq!(search(&*h.store, "number12").await, [id(12)]);
}

async fn search(store: &dyn HistoryQuery, q: &str) -> Vec<String> {
    let hits = store.search(q, &ExchangeFilter::default()).await.unwrap();
    hits.into_iter().map(|h| h.exchange.id).collect()
}

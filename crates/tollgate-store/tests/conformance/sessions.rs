//! Sessions: the upsert, their exchanges, titles, listing.

use tollgate_store::{ExchangeRecord, SessionFilter, SessionUpdate, StoreError};

use crate::harness::{Harness, T0, as_stored, bare, full, id};

fn in_session(n: u32, session: &str, update: SessionUpdate) -> ExchangeRecord {
    let mut r = full(n, session);
    r.session = Some(SessionUpdate { id: session.into(), ..update });
    r
}

pub async fn session_totals_add_up_and_first_seen_fields_stay(h: &Harness) {
    let mut first = in_session(
        5,
        "cc:1",
        SessionUpdate {
            source: "claude-code".into(),
            preview: Some("first prompt".into()),
            cwd: None,
            git_branch: Some("main".into()),
            ..Default::default()
        },
    );
    first.key_name = None;
    first.client = Some("claude-code".into());
    h.store.append(&[first, bare(1)]).await.unwrap();

    let s = h.store.get_session("cc:1").await.unwrap().expect("session");
    assert_eq!((s.first_seen_ms, s.last_seen_ms), (T0 + 5000, T0 + 5000));
    assert_eq!((s.key_name, s.cwd), (None, None));

    // A later exchange, and an earlier one recorded late (a long stream ends after a short one).
    let mut later = in_session(
        9,
        "cc:1",
        SessionUpdate {
            source: "header".into(),
            preview: Some("another prompt".into()),
            cwd: Some("/repo".into()),
            git_branch: Some("feature".into()),
            ..Default::default()
        },
    );
    later.key_name = Some("team".into());
    later.client = Some("codex".into());
    later.cost_micros = 1;
    let earlier = in_session(2, "cc:1", SessionUpdate::default());
    h.store.append(&[later]).await.unwrap();
    h.store.append(&[earlier]).await.unwrap();

    let s = h.store.get_session("cc:1").await.unwrap().expect("session");
    assert_eq!(s.id, "cc:1");
    assert_eq!(s.source, "claude-code", "source kept");
    assert_eq!(s.preview.as_deref(), Some("first prompt"), "preview kept");
    assert_eq!(s.git_branch.as_deref(), Some("main"), "branch kept");
    assert_eq!(s.cwd.as_deref(), Some("/repo"), "cwd filled when first known");
    assert_eq!(s.key_name.as_deref(), Some("team"), "key filled when first known");
    assert_eq!(s.client.as_deref(), Some("claude-code"), "client kept");
    assert_eq!(s.title, None);
    assert_eq!((s.first_seen_ms, s.last_seen_ms), (T0 + 2000, T0 + 9000));
    assert_eq!(s.exchange_count, 3);
    assert_eq!(
        (s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens),
        (3 * 1200, 3 * 340, 3 * 5000, 3 * 77)
    );
    assert_eq!(s.cost_micros, 2 * 12_345 + 1);
}

pub async fn session_exchanges_are_oldest_first_with_bodies(h: &Harness) {
    let batch = [full(7, "s"), full(3, "s"), full(5, "other"), full(4, "s")];
    h.store.append(&batch[..2]).await.unwrap();
    h.store.append(&batch[2..]).await.unwrap();
    let got = h.store.session_exchanges("s").await.unwrap();
    assert_eq!(got.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), [id(3), id(4), id(7)]);
    assert_eq!(got[0], as_stored(full(3, "s")), "bodies and policy events included");
}

pub async fn set_session_title_sets_clears_and_refuses_unknown(h: &Harness) {
    h.store.append(&[full(1, "s")]).await.unwrap();
    h.store.set_session_title("s", "Parser refactor").await.unwrap();
    let s = h.store.get_session("s").await.unwrap().expect("session");
    assert_eq!(s.title.as_deref(), Some("Parser refactor"));
    // New exchanges leave the title alone.
    h.store.append(&[full(2, "s")]).await.unwrap();
    let s = h.store.get_session("s").await.unwrap().expect("session");
    assert_eq!((s.title.as_deref(), s.exchange_count), (Some("Parser refactor"), 2));
    // An empty title clears it.
    h.store.set_session_title("s", "  ").await.unwrap();
    assert_eq!(h.store.get_session("s").await.unwrap().expect("session").title, None);
    let err = h.store.set_session_title("nope", "x").await.unwrap_err();
    assert!(matches!(err, StoreError::SessionNotFound(ref id) if id == "nope"), "{err}");
}

pub async fn list_sessions_filters_newest_activity_first(h: &Harness) {
    // Session a: 1..3, b: 4 (key ci), c: 6..8.
    let mut b = full(4, "b");
    b.key_name = Some("ci".into());
    h.store
        .append(&[full(1, "a"), full(3, "a"), b, full(6, "c"), full(8, "c"), bare(9)])
        .await
        .unwrap();
    let names = |list: Vec<tollgate_store::SessionRecord>| {
        list.into_iter().map(|s| s.id).collect::<Vec<_>>()
    };
    let any = SessionFilter::default();
    assert_eq!(names(h.store.list_sessions(&any).await.unwrap()), ["c", "b", "a"]);
    let at = |n: i64| T0 + n * 1000;
    let f = SessionFilter { since_ms: Some(at(4)), ..any.clone() };
    assert_eq!(names(h.store.list_sessions(&f).await.unwrap()), ["c", "b"], "active since");
    let f = SessionFilter { until_ms: Some(at(4)), ..any.clone() };
    assert_eq!(names(h.store.list_sessions(&f).await.unwrap()), ["a"], "started before");
    let f = SessionFilter { since_ms: Some(at(2)), until_ms: Some(at(7)), ..any.clone() };
    assert_eq!(names(h.store.list_sessions(&f).await.unwrap()), ["c", "b", "a"], "overlapping");
    let f = SessionFilter { key_name: Some("ci".into()), ..any.clone() };
    assert_eq!(names(h.store.list_sessions(&f).await.unwrap()), ["b"]);
    let f = SessionFilter { limit: Some(1), ..any };
    assert_eq!(names(h.store.list_sessions(&f).await.unwrap()), ["c"]);
}

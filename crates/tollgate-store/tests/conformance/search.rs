//! Full-text search: words, all required, no query syntax, filters, snippets.

use tollgate_store::{ExchangeFilter, ExchangeRecord, SNIPPET_CLOSE, SNIPPET_OPEN};

use crate::harness::{Backend, Harness, T0, full, id};

fn with_text(n: u32, session: &str, text: &str) -> ExchangeRecord {
    let mut r = full(n, session);
    r.search_text = Some(text.into());
    r
}

async fn found(h: &Harness, query: &str) -> Vec<String> {
    found_in(h, query, ExchangeFilter::default()).await
}

async fn found_in(h: &Harness, query: &str, filter: ExchangeFilter) -> Vec<String> {
    match h.store.search(query, &filter).await {
        Ok(hits) => hits.into_iter().map(|hit| hit.exchange.id).collect(),
        Err(e) => panic!("search {query:?} failed: {e}"),
    }
}

async fn corpus(h: &Harness) {
    h.store
        .append(&[
            with_text(1, "a", "The quick brown fox jumps over the lazy dog"),
            with_text(2, "a", "quick silver is a liquid metal"),
            with_text(3, "b", "a lazy afternoon with the Quick reference"),
            full(4, "b"),
        ])
        .await
        .unwrap();
}

pub async fn search_finds_words_and_requires_all(h: &Harness) {
    corpus(h).await;
    assert_eq!(found(h, "quick").await, [id(3), id(2), id(1)], "newest first, any case");
    assert_eq!(found(h, "QUICK lazy").await, [id(3), id(1)], "every word must match");
    assert_eq!(found(h, "  fox   dog ").await, [id(1)]);
    assert!(found(h, "fox cat").await.is_empty());
    assert!(found(h, "qui").await.is_empty(), "whole words, no prefixes");
    assert!(found(h, "").await.is_empty());
    assert!(found(h, "   ").await.is_empty());

    let hits = h.store.search("fox", &ExchangeFilter::default()).await.unwrap();
    assert_eq!(hits.len(), 1);
    let snippet = &hits[0].snippet;
    assert!(snippet.contains(&format!("{SNIPPET_OPEN}fox{SNIPPET_CLOSE}")), "{snippet}");
    assert!(snippet.contains("brown"), "context around the match: {snippet}");
    assert_eq!(hits[0].exchange.session_id.as_deref(), Some("a"));
    assert_eq!(hits[0].exchange.input_tokens, 1200, "hits carry the summary");
}

pub async fn search_is_safe_against_query_syntax(h: &Harness) {
    corpus(h).await;
    // Characters and words that mean something to FTS5 or tsquery are only text.
    for query in [
        "\"",
        "\"quick",
        "quick\"",
        "*",
        "fox*",
        "quick:",
        "search_text:quick",
        "(quick",
        "quick)",
        "-quick",
        "NOT quick",
        "quick OR lazy",
        "quick AND",
        "NEAR(quick fox)",
        "quick NEAR fox",
        "^quick",
        "{quick}",
        "quick + lazy",
        "'quick'",
        "quick & !lazy",
        "quick | lazy",
        "<->",
        ":*",
        "\\",
        "%",
        "_",
        "quick;--",
        "'); DROP TABLE exchanges; --",
    ] {
        found(h, query).await;
    }
    // Punctuation around a word leaves the word.
    assert_eq!(found(h, "\"quick\"").await, [id(3), id(2), id(1)]);
    assert_eq!(found(h, "fox*").await, [id(1)]);
    assert_eq!(found(h, "(lazy").await, [id(3), id(1)]);
    assert_eq!(found(h, "-lazy quick:").await, [id(3), id(1)], "no negation");
    // Operators are words, and every word must match.
    assert!(found(h, "quick OR lazy").await.is_empty(), "no OR");
    assert!(found(h, "NOT quick").await.is_empty(), "no NOT");
    assert!(found(h, "NEAR(quick fox)").await.is_empty(), "no NEAR");
    assert!(found(h, "*").await.is_empty());
    // Nothing was dropped.
    assert_eq!(h.store.recent(10).await.unwrap().len(), 4);
}

pub async fn search_respects_filters_and_paging(h: &Harness) {
    corpus(h).await;
    let f = ExchangeFilter { session_id: Some("a".into()), ..Default::default() };
    assert_eq!(found_in(h, "quick", f).await, [id(2), id(1)]);
    let f = ExchangeFilter { limit: Some(1), ..Default::default() };
    assert_eq!(found_in(h, "quick", f).await, [id(3)]);
    let f = ExchangeFilter { before_id: Some(id(3)), limit: Some(1), ..Default::default() };
    assert_eq!(found_in(h, "quick", f).await, [id(2)]);
    let f = ExchangeFilter { status: Some(500), ..Default::default() };
    assert!(found_in(h, "quick", f).await.is_empty());
}

pub async fn search_splits_words_like_code(h: &Harness) {
    h.store
        .append(&[
            with_text(1, "a", "fixed src/main.rs and foo-bar, see user@example.com"),
            with_text(2, "a", "call HashMap::new() in snake_case_fn"),
        ])
        .await
        .unwrap();
    assert_eq!(found(h, "main").await, [id(1)], "a word inside a path");
    assert_eq!(found(h, "main.rs").await, [id(1)]);
    assert_eq!(found(h, "src/main.rs").await, [id(1)]);
    assert_eq!(found(h, "example").await, [id(1)]);
    assert_eq!(found(h, "bar").await, [id(1)]);
    assert_eq!(found(h, "hashmap::new").await, [id(2)]);
    assert_eq!(found(h, "case").await, [id(2)]);
    // The indexes keep no positions: a word's parts are each required, in any order.
    assert_eq!(found(h, "rs.main").await, [id(1)], "parts, not a phrase");
    assert!(found(h, "main.py").await.is_empty(), "every part required");

    // Both backends split text and queries alike, so they mark the same words.
    let (o, c) = (SNIPPET_OPEN, SNIPPET_CLOSE);
    let hits = h.store.search("src/main.rs", &ExchangeFilter::default()).await.unwrap();
    assert_eq!(
        hits[0].snippet,
        format!("fixed {o}src{c}/{o}main{c}.{o}rs{c} and foo-bar, see user@example.com")
    );
    let hits = h.store.search("HASHMAP", &ExchangeFilter::default()).await.unwrap();
    assert_eq!(hits[0].snippet, format!("call {o}HashMap{c}::new() in snake_case_fn"));
}

pub async fn search_matches_words_of_any_script(h: &Harness) {
    h.store
        .append(&[
            with_text(1, "a", "नमस्ते दुनिया, grüße aus Köln, 東京 ２０２４"),
            with_text(2, "a", "ÜBER alles"),
        ])
        .await
        .unwrap();
    assert_eq!(found(h, "नमस्ते").await, [id(1)], "a word with vowel signs and a virama");
    assert_eq!(found(h, "GRÜSSE köln").await, Vec::<String>::new(), "no folding beyond case");
    assert_eq!(found(h, "GRÜßE köln").await, [id(1)]);
    assert_eq!(found(h, "über").await, [id(2)]);
    assert_eq!(found(h, "東京").await, [id(1)]);
}

pub async fn search_finds_history_stored_before_the_index_changed(h: &Harness) {
    // The last migration before the search index changed: SQLite 0002, PostgreSQL 0001.
    let version = match h.backend() {
        Backend::Sqlite => 2,
        Backend::Postgres => 1,
    };
    let old = Harness::upgraded(
        h.backend(),
        version,
        &format!(
            "INSERT INTO exchanges (id, request_id, started_at_ms, client_dialect, endpoint, \
             stream, status, outcome, total_ms, search_text) VALUES \
             ('{}', 'r1', {T0}, 'anthropic', 'messages', FALSE, 200, 'ok', 1, \
              'Fixed the Parser in src/main.rs'), \
             ('{}', 'r2', {T0}, 'anthropic', 'messages', FALSE, 200, 'ok', 1, NULL);",
            id(1),
            id(2)
        ),
    )
    .await;
    assert_eq!(found(&old, "parser main.rs").await, [id(1)]);
    let hits = old.store.search("parser", &ExchangeFilter::default()).await.unwrap();
    assert_eq!(
        hits[0].snippet,
        format!("Fixed the {SNIPPET_OPEN}Parser{SNIPPET_CLOSE} in src/main.rs")
    );
    // New records join them; purging forgets the old ones too.
    old.store.append(&[with_text(3, "a", "another parser")]).await.unwrap();
    assert_eq!(found(&old, "parser").await, [id(3), id(1)]);
    assert_eq!(old.store.purge_bodies(T0 + 1).await.unwrap(), 1);
    assert_eq!(found(&old, "parser").await, [id(3)]);
}

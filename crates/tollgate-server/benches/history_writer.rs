//! The history writer alone: records/s sustained from the request path's `record()` through the
//! journal, enrichment and batched inserts, on SQLite and on PostgreSQL, with 4 KB bodies.
//!
//! `cargo bench -p tollgate-server --bench history_writer [-- RECORDS]`
//! PostgreSQL at `TOLLGATE_TEST_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/test);
//! skipped with a note when unreachable.

#![expect(clippy::print_stdout, clippy::unwrap_used, reason = "a benchmark binary")]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sqlx::Connection;
use tollgate_server::journal::Journal;
use tollgate_server::metrics::Metrics;
use tollgate_server::recorder::Recorder;
use tollgate_store::{ExchangeRecord, Store};

/// ~4 KB of text shaped like a coding conversation: varied words, identifiers, paths.
fn text(seed: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "parser",
        "returns",
        "an",
        "error",
        "when",
        "input",
        "is",
        "empty",
        "fn",
        "main",
        "let",
        "mut",
        "config",
        "src/lib.rs",
        "tests",
        "should",
        "handle",
        "unicode",
        "stream",
        "request",
        "response",
        "token",
        "cache",
        "session",
        "retry",
        "timeout",
        "provider",
        "model",
        "router",
        "fix",
        "bug",
        "in",
        "line",
        "42",
        "Result<T,",
        "E>",
        "impl",
        "trait",
        "async",
        "await",
        "tokio::spawn",
        "serde_json::Value",
        "None",
        "Some(x)",
        "refactor",
        "function",
        "variable",
        "rename",
        "because",
        "which",
        "could",
        "cause",
        "panic",
        "unwrap()",
    ];
    let mut x = seed as u64 ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = String::with_capacity(4200);
    while out.len() < 4000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
        out.push(if x.is_multiple_of(11) { '\n' } else { ' ' });
    }
    out.replace('"', "'").replace('\n', "\\n")
}

fn record(i: usize) -> ExchangeRecord {
    let text = text(i);
    let request = format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":512,"messages":[{{"role":"user","content":"{text} {i}"}}]}}"#
    );
    let response = format!(
        r#"{{"id":"msg_{i}","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{{"type":"text","text":"{text}"}}],"stop_reason":"end_turn","usage":{{"input_tokens":1000,"output_tokens":1000}}}}"#
    );
    ExchangeRecord {
        id: uuid::Uuid::now_v7().to_string(),
        request_id: format!("bench-{i}"),
        started_at_ms: 1_700_000_000_000 + i as i64,
        client_dialect: "anthropic".into(),
        endpoint: "messages".into(),
        key_name: Some("master".into()),
        provider: Some("anthropic".into()),
        model_requested: Some("claude-sonnet-4-5".into()),
        model_served: Some("claude-sonnet-4-5".into()),
        status: 200,
        outcome: "ok".into(),
        input_tokens: 1000,
        output_tokens: 1000,
        total_ms: 900,
        request_body: Some(Bytes::from(request)),
        response_body: Some(Bytes::from(response)),
        hints: vec![("x-session-id".into(), format!("s{}", i % 50))],
        ..Default::default()
    }
}

async fn run(name: &str, store: Arc<dyn Store>, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (journal, resume) = Journal::open(&dir.path().join("spool")).unwrap();
    let (recorder, _task) = Recorder::spawn(store.clone(), journal, resume, Metrics::new());
    let records: Vec<ExchangeRecord> = (0..n).map(record).collect();
    let start = Instant::now();
    let mut worst_call = std::time::Duration::ZERO;
    for r in records {
        let t = Instant::now();
        recorder.record(r);
        worst_call = worst_call.max(t.elapsed());
    }
    let enqueue = start.elapsed();
    recorder.flush().await;
    let total = start.elapsed();
    println!(
        "| {name} | {n} | {:.0} | {:.1} µs | {:.2} ms |",
        n as f64 / total.as_secs_f64(),
        enqueue.as_secs_f64() * 1e6 / n as f64,
        worst_call.as_secs_f64() * 1e3,
    );
}

fn database_url() -> String {
    std::env::var("TOLLGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh PostgreSQL schema for one measurement, dropped by `drop_schema`.
async fn pg_schema(prefix: &str) -> Option<(sqlx::PgConnection, String, Arc<dyn Store>)> {
    let url = database_url();
    let mut admin = match sqlx::PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            println!("PostgreSQL skipped: {e}");
            return None;
        }
    };
    let schema = format!("{prefix}_{:08x}", rand::random::<u32>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let store =
        tollgate_store::open(&format!("{url}?options=-c%20search_path%3D{schema}")).await.unwrap();
    Some((admin, schema, store))
}

async fn drop_schema(mut admin: sqlx::PgConnection, schema: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// The store's `append` alone, in batches of 256, with and without search text.
async fn append_alone(name: &str, store: &dyn Store, enriched: &[ExchangeRecord]) {
    for with_search in [true, false] {
        let batch: Vec<ExchangeRecord> = enriched
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.id = uuid::Uuid::now_v7().to_string();
                if !with_search {
                    r.search_text = None;
                }
                r
            })
            .collect();
        let t = Instant::now();
        for chunk in batch.chunks(256) {
            store.append(chunk).await.unwrap();
        }
        let label = if with_search { "with search text" } else { "without search text" };
        println!(
            "{name} append alone, {label}: {:.0} records/s",
            batch.len() as f64 / t.elapsed().as_secs_f64()
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);

    let mut enriched: Vec<ExchangeRecord> = (0..2000).map(record).collect();
    let t = Instant::now();
    enriched.iter_mut().for_each(tollgate_server::enrich::enrich);
    println!("enrichment alone: {:.1} µs per record", t.elapsed().as_secs_f64() * 1e6 / 2000.0);
    let dir = tempfile::tempdir().unwrap();
    let sqlite =
        tollgate_store::open(&dir.path().join("raw.db").display().to_string()).await.unwrap();
    append_alone("SQLite", sqlite.as_ref(), &enriched).await;
    if let Some((admin, schema, pg)) = pg_schema("benchraw").await {
        append_alone("PostgreSQL", pg.as_ref(), &enriched).await;
        drop_schema(admin, &schema).await;
    }

    println!();
    println!(
        "| backend | records | records/s sustained (record() to committed) | record() per call, mean | record() worst |"
    );
    println!("|---|---|---|---|---|");
    let sqlite =
        tollgate_store::open(&dir.path().join("bench.db").display().to_string()).await.unwrap();
    run("SQLite", sqlite, n).await;
    if let Some((admin, schema, pg)) = pg_schema("bench").await {
        run("PostgreSQL", pg, n).await;
        drop_schema(admin, &schema).await;
    }
}

//! SIGKILL mid-load loses no history record whose response was completed: the real binary, a
//! mock upstream in this process, concurrent streams, `kill -9`, restart, count.

#![expect(clippy::unwrap_used, reason = "test")]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tollgate_store::{ExchangeFilter, HistoryQuery, SqliteStore};
use tollgate_testkit::MockUpstream;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const KEY: &str = "tg-kill-test";

fn start_gateway(data: &std::path::Path, mock: &MockUpstream) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("HOME", data)
        .env("TOLLGATE_DATA_DIR", data)
        .env("TOLLGATE_LISTEN", "127.0.0.1:0")
        .env("TOLLGATE_MASTER_KEY", KEY)
        .env("ANTHROPIC_API_KEY", "sk-upstream")
        .env("TOLLGATE_ANTHROPIC_BASE_URL", mock.url())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "gateway exited early");
        if let Some(rest) = line.split("tollgate listening on http://").nth(1) {
            break rest.split('"').next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_completed_record() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mock = MockUpstream::start().await;
    // Slow streams, so some are mid-flight when the process dies.
    mock.set_event_interval(Duration::from_millis(15));
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start_gateway(dir.path(), &mock);
    let client = reqwest::Client::new();

    let mut tasks = Vec::new();
    for i in 0..80u32 {
        let client = client.clone();
        let url = format!("http://{addr}/v1/messages");
        tasks.push(tokio::spawn(async move {
            // Spread the load so the kill lands mid-run.
            tokio::time::sleep(Duration::from_millis(u64::from(i) * 5)).await;
            let id = format!("kill-{i}");
            let body = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": i % 3 != 0,
                "messages": [{"role": "user", "content": format!("request {i}")}]});
            let r = client
                .post(url)
                .header("x-api-key", KEY)
                .header("anthropic-version", "2023-06-01")
                .header("x-request-id", &id)
                .body(body.to_string())
                .send()
                .await
                .ok()?;
            let text = r.text().await.ok()?;
            // Complete: a whole stream, or a whole message.
            (text.contains("event: message_stop") || text.contains("\"stop_reason\":\"end_turn\"")).then_some(id)
        }));
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    let mut completed = HashSet::new();
    for t in tasks {
        if let Some(id) = t.await.unwrap() {
            completed.insert(id);
        }
    }
    assert!(
        !completed.is_empty() && completed.len() < 80,
        "the kill should land mid-load: {} completed",
        completed.len()
    );

    // Restart on the same data directory: the journal is replayed into the database.
    let (mut child, _addr) = start_gateway(dir.path(), &mock);
    let store = SqliteStore::open(&dir.path().join("tollgate.db")).await.unwrap();
    let mut recorded = HashSet::new();
    for _ in 0..100 {
        let all = store
            .list_exchanges(&ExchangeFilter { limit: Some(1000), ..Default::default() })
            .await
            .unwrap();
        recorded = all.into_iter().map(|e| e.request_id).collect();
        if completed.is_subset(&recorded) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let missing: Vec<_> = completed.difference(&recorded).collect();
    assert!(missing.is_empty(), "completed but not recorded: {missing:?}");
}

//! `tollgate history` as a user runs it: the real binary against a SQLite file filled through
//! the store, with a Claude Code session of three streamed turns, an OpenAI exchange, a
//! provider error and an old exchange for retention.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on unexpected shapes")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use tollgate_store::{ExchangeRecord, PolicyEvent, SessionUpdate};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const SESSION: &str = "cc:5f0c2a8e-1111-4222-8333-944445555666";
const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

/// An Anthropic stream as the relay stores it: the raw SSE bytes.
fn anthropic_sse(text: &str, tool: Option<(&str, &str, Value)>, input: u64, output: u64) -> String {
    let mut frames = vec![
        (
            "message_start",
            json!({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"usage":{"input_tokens":input,"output_tokens":1}}}),
        ),
        (
            "content_block_start",
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        ("ping", json!({"type":"ping"})),
    ];
    let (head, tail) = text.split_at(text.len() / 2);
    for piece in [head, tail] {
        frames.push((
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":piece}}),
        ));
    }
    frames.push(("content_block_stop", json!({"type":"content_block_stop","index":0})));
    let stop = if let Some((id, name, input_json)) = tool {
        frames.push((
            "content_block_start",
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":id,"name":name,"input":{}}}),
        ));
        frames.push((
            "content_block_delta",
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":input_json.to_string()}}),
        ));
        frames.push(("content_block_stop", json!({"type":"content_block_stop","index":1})));
        "tool_use"
    } else {
        "end_turn"
    };
    frames.push((
        "message_delta",
        json!({"type":"message_delta","delta":{"stop_reason":stop},"usage":{"output_tokens":output}}),
    ));
    frames.push(("message_stop", json!({"type":"message_stop"})));
    frames.iter().map(|(event, data)| format!("event: {event}\ndata: {data}\n\n")).collect()
}

fn claude_code_turn(
    n: i64,
    at: i64,
    messages: Value,
    reply: &str,
    tool: Option<(&str, &str, Value)>,
) -> ExchangeRecord {
    let request = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "metadata": {"user_id": format!("user_abc_account__session_{}", &SESSION[3..])},
        "messages": messages,
    });
    ExchangeRecord {
        id: format!("0193a000-0000-7000-8000-00000000000{n}"),
        request_id: format!("req_cli_{n}"),
        started_at_ms: at,
        client_dialect: "anthropic".into(),
        endpoint: "messages".into(),
        key_name: Some("master".into()),
        user_agent: Some("claude-cli/2.0.14 (external, cli)".into()),
        client: Some("claude-code".into()),
        session_id: Some(SESSION.into()),
        provider: Some("anthropic".into()),
        model_requested: Some("claude-sonnet-4-5".into()),
        model_served: Some("claude-sonnet-4-5-20250929".into()),
        route_reason: Some("preset pattern".into()),
        stream: true,
        status: 200,
        outcome: "ok".into(),
        input_tokens: 400 + n,
        output_tokens: 50 + n,
        cache_read_tokens: 2_048,
        cost_micros: 4_000 + n,
        stop_reason: Some(if tool.is_some() { "tool_use" } else { "end_turn" }.into()),
        ttfb_ms: Some(380),
        total_ms: 2_100,
        request_body: Some(serde_json::to_vec(&request).unwrap().into()),
        response_body: Some(anthropic_sse(reply, tool, 400, 50).into_bytes().into()),
        search_text: Some(format!("{}\n{reply}", last_user_words(&request))),
        session: Some(SessionUpdate {
            id: SESSION.into(),
            source: "claude-code".into(),
            preview: Some("Add a test for the relay's cut-off stream".into()),
            cwd: Some("/home/ada/tollgate".into()),
            git_branch: Some("relay-tests".into()),
        }),
        ..Default::default()
    }
}

/// The searchable words of the last user message (what the gateway's search text holds).
fn last_user_words(request: &Value) -> String {
    let last =
        request["messages"].as_array().unwrap().iter().rev().find(|m| m["role"] == "user").unwrap();
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str().or(b["content"].as_str()))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn records(now: i64) -> Vec<ExchangeRecord> {
    let t = now - 10 * 60_000;
    let ask = json!({"role": "user", "content": "Add a test for the relay's cut-off stream"});
    let read = json!({"role": "assistant", "content": [{"type": "text", "text": "Reading the relay first."}, {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "src/relay.rs"}}]});
    let result = json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "pub struct Relay { decoder: SseDecoder }"},
        {"type": "text", "text": "Use the cut_off fixture please"},
    ]});
    let edit = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_02", "name": "Edit", "input": {"file_path": "src/relay.rs"}}]});
    let done = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_02", "content": "ok"}]});
    let mut turn2 = claude_code_turn(
        2,
        t + 60_000,
        json!([ask, read, result]),
        "I'll add the test with the fixture.",
        Some(("toolu_02", "Edit", json!({"file_path": "src/relay.rs"}))),
    );
    turn2.policy_events = vec![PolicyEvent {
        id: "pe-1".into(),
        at_ms: t + 60_001,
        policy: "secrets".into(),
        verdict: "redact".into(),
        reason: Some("masked an AWS access key in a tool result".into()),
        detail: None,
    }];
    let openai_response = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "The pipeline has three stages."}}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 7},
    });
    vec![
        claude_code_turn(1, t, json!([ask]), "Reading the relay first.", Some(("toolu_01", "Read", json!({"file_path": "src/relay.rs"})))),
        turn2,
        claude_code_turn(3, t + 120_000, json!([ask, read, result, edit, done]), "Done: the test covers the cut-off stream.", None),
        ExchangeRecord {
            id: "0193a000-0000-7000-8000-000000000004".into(),
            request_id: "req_cli_4".into(),
            started_at_ms: t + 180_000,
            client_dialect: "openai-chat".into(),
            endpoint: "chat_completions".into(),
            key_name: Some("ci".into()),
            client: Some("openai-sdk-python".into()),
            session_id: Some("hdr:ci-job-7".into()),
            provider: Some("openai".into()),
            model_requested: Some("gpt-4o".into()),
            model_served: Some("gpt-4o-2024-08-06".into()),
            status: 200,
            outcome: "ok".into(),
            input_tokens: 30,
            output_tokens: 7,
            cost_micros: 145,
            total_ms: 640,
            request_body: Some(br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Summarise the pipeline"}]}"#.to_vec().into()),
            response_body: Some(serde_json::to_vec(&openai_response).unwrap().into()),
            search_text: Some("Summarise the pipeline\nThe pipeline has three stages.".into()),
            session: Some(SessionUpdate { id: "hdr:ci-job-7".into(), source: "header".into(), preview: Some("Summarise the pipeline".into()), ..Default::default() }),
            ..Default::default()
        },
        ExchangeRecord {
            id: "0193a000-0000-7000-8000-000000000005".into(),
            request_id: "req_cli_5".into(),
            started_at_ms: t + 240_000,
            client_dialect: "anthropic".into(),
            endpoint: "messages".into(),
            key_name: Some("master".into()),
            provider: Some("anthropic".into()),
            model_requested: Some("claude-opus-4-1".into()),
            status: 529,
            outcome: "upstream_error".into(),
            error_type: Some("overloaded_error".into()),
            error_message: Some("Overloaded".into()),
            total_ms: 90,
            request_body: Some(br#"{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"ping"}]}"#.to_vec().into()),
            response_body: Some(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.to_vec().into()),
            ..Default::default()
        },
        ExchangeRecord {
            id: "0190a000-0000-7000-8000-000000000000".into(),
            request_id: "req_cli_old".into(),
            started_at_ms: now - 40 * DAY_MS,
            client_dialect: "anthropic".into(),
            endpoint: "messages".into(),
            provider: Some("anthropic".into()),
            model_requested: Some("claude-haiku-4-5".into()),
            status: 200,
            outcome: "ok".into(),
            total_ms: 300,
            request_body: Some(br#"{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"an ancient question"}]}"#.to_vec().into()),
            response_body: Some(br#"{"type":"message","content":[{"type":"text","text":"an ancient answer"}]}"#.to_vec().into()),
            search_text: Some("an ancient question\nan ancient answer".into()),
            ..Default::default()
        },
    ]
}

/// A data directory holding a populated `tollgate.db`.
struct History {
    dir: tempfile::TempDir,
}

impl History {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store =
            tollgate_store::open(dir.path().join("tollgate.db").to_str().unwrap()).await.unwrap();
        store.append(&records(now_ms())).await.unwrap();
        Self { dir }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("tollgate.db")
    }

    /// `tollgate history ARGS` finding the database the way `serve` does: through the data
    /// directory of the configuration.
    fn run(&self, args: &[&str]) -> Output {
        history_command(self.dir.path())
            .args(args)
            .env("TOLLGATE_DATA_DIR", self.dir.path())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

fn history_command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("history");
    c
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn list_shows_a_table_filters_and_json_lines() {
    let h = History::new().await;
    let table = h.ok(&["list", "--since", "1h"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID  "), "{table}");
    for col in
        ["TIME (UTC)", "SESSION", "CLIENT", "MODEL", "STATUS", "IN", "OUT", "COST", "LATENCY"]
    {
        assert!(lines[0].contains(col), "{table}");
    }
    assert_eq!(lines.len(), 6, "header and the five recent exchanges:\n{table}");
    // Newest first; tokens in include the cache; cost in dollars.
    assert!(lines[1].starts_with("0193a000-0000-7000-8000-000000000005"), "{table}");
    let turn3 =
        lines.iter().find(|l| l.starts_with("0193a000-0000-7000-8000-000000000003")).unwrap();
    for cell in [
        "cc:5f0c2a8e-111…",
        "claude-code",
        "claude-sonnet-4-5-20250929",
        "200",
        "2,451",
        "53",
        "$0.0040",
        "2.10 s",
    ] {
        assert!(turn3.contains(cell), "{cell} in {turn3}");
    }

    let everything = json_lines(&h.ok(&["list", "--json"]));
    assert_eq!(everything.len(), 6);
    assert_eq!(everything[5]["id"], "0190a000-0000-7000-8000-000000000000");
    assert!(everything[0].get("request_body").is_none(), "lists carry no bodies");

    let gpt = json_lines(&h.ok(&["list", "--json", "--model", "gpt-4o"]));
    assert_eq!(gpt.len(), 1);
    assert_eq!(gpt[0]["model_served"], "gpt-4o-2024-08-06");
    assert_eq!(
        json_lines(&h.ok(&["list", "--json", "--status", "529"]))[0]["outcome"],
        "upstream_error"
    );
    assert_eq!(json_lines(&h.ok(&["list", "--json", "--session", SESSION])).len(), 3);
    assert_eq!(
        json_lines(&h.ok(&["list", "--json", "--key", "ci", "--provider", "openai"])).len(),
        1
    );
    assert_eq!(json_lines(&h.ok(&["list", "--json", "--until", "7d"])).len(), 1);
    assert_eq!(json_lines(&h.ok(&["list", "--json", "--limit", "2"])).len(), 2);

    let sessions = h.ok(&["list", "--sessions"]);
    assert!(sessions.lines().next().unwrap().starts_with("LAST SEEN (UTC)"), "{sessions}");
    let cc = sessions.lines().find(|l| l.contains(SESSION)).unwrap();
    for cell in ["claude-code", "3", "Add a test for the relay's cut-off stream"] {
        assert!(cc.contains(cell), "{cell} in {cc}");
    }
    let sessions = json_lines(&h.ok(&["list", "--sessions", "--json"]));
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().find(|s| s["id"] == SESSION).unwrap()["exchange_count"], 3);

    let out = h.run(&["list", "--since", "last tuesday"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since: `last tuesday` is not a time"));
    let out = h.run(&["list", "--sessions", "--model", "x"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model does not apply to --sessions"));
}

#[tokio::test]
async fn search_finds_words_with_snippets() {
    let h = History::new().await;
    let out = h.ok(&["search", "fixture"]);
    assert!(out.contains("0193a000-0000-7000-8000-000000000002"), "{out}");
    assert!(out.contains("\u{ab}fixture\u{bb}"), "matched words are marked:\n{out}");
    assert!(!out.contains("000000000004"), "{out}");

    let hits = json_lines(&h.ok(&["search", "pipeline", "stages", "--json"]));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["exchange"]["id"], "0193a000-0000-7000-8000-000000000004");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("\u{ab}stages\u{bb}"));
    assert!(json_lines(&h.ok(&["search", "fixture", "--json", "--model", "gpt-4o"])).is_empty());

    let none = h.run(&["search", "zebra"]);
    assert!(none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("nothing found for `zebra`"));
}

#[tokio::test]
async fn show_finds_exchanges_requests_and_sessions() {
    let h = History::new().await;
    let out = h.ok(&["show", "0193a000-0000-7000-8000-000000000002"]);
    for want in [
        "Exchange     0193a000-0000-7000-8000-000000000002",
        "Request      req_cli_2",
        &format!("Session      {SESSION}"),
        "Client       claude-code (claude-cli/2.0.14 (external, cli))",
        "Endpoint     messages (anthropic, stream)",
        "Route        anthropic · claude-sonnet-4-5 → claude-sonnet-4-5-20250929 (preset pattern)",
        "Status       200 ok · stop tool_use",
        "Usage        402 in · 52 out · 2,048 cache read · 0 cache write",
        "Cost         $0.0040",
        "Latency      first byte 380 ms · total 2.10 s",
        "Asked        3 messages · system prompt · max_tokens 32,000 · stream",
        "**Tool result** `toolu_01`",
        "Use the cut_off fixture please",
        "I'll add the test with the fixture.",
        "**Tool call** `Edit` · `toolu_02`",
        "- **Policy** `secrets`: redact — masked an AWS access key in a tool result",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }

    let by_request = h.ok(&["show", "req_cli_4"]);
    assert!(
        by_request.contains("Exchange     0193a000-0000-7000-8000-000000000004"),
        "{by_request}"
    );
    assert!(by_request.contains("The pipeline has three stages."), "{by_request}");

    let failed = h.ok(&["show", "req_cli_5"]);
    assert!(failed.contains("Error        overloaded_error: Overloaded"), "{failed}");

    let session = h.ok(&["show", SESSION]);
    assert!(session.starts_with("# Add a test for the relay's cut-off stream\n"), "{session}");
    assert_eq!(session.matches("\n## ").count(), 3, "{session}");

    let doc: Value = serde_json::from_str(&h.ok(&["show", "req_cli_2", "--json"])).unwrap();
    assert_eq!(
        doc["request_body"]["messages"][2]["content"][1]["text"],
        "Use the cut_off fixture please"
    );
    assert!(doc["response_body"].as_str().unwrap().starts_with("event: message_start"));

    let out = h.run(&["show", "nope"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no exchange, session or request with id `nope`")
    );
}

#[tokio::test]
async fn export_writes_markdown_json_and_jsonl() {
    let h = History::new().await;
    let md = h.ok(&["export", "--session", SESSION]);
    for want in [
        "# Add a test for the relay's cut-off stream",
        "| Directory | `/home/ada/tollgate` |",
        "| Exchanges | 3 |",
        "**User**\n\nAdd a test for the relay's cut-off stream\n",
        "**Assistant**\n\nReading the relay first.\n",
        "Use the cut_off fixture please",
        "Done: the test covers the cut-off stream.",
        "```json\n{\n  \"file_path\": \"src/relay.rs\"\n}\n```",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }

    let doc: Value =
        serde_json::from_str(&h.ok(&["export", "--session", SESSION, "--format", "json"])).unwrap();
    assert_eq!(doc["session"]["id"], SESSION);
    assert_eq!(doc["session"]["cwd"], "/home/ada/tollgate");
    let ids: Vec<&str> =
        doc["exchanges"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "0193a000-0000-7000-8000-000000000001",
            "0193a000-0000-7000-8000-000000000002",
            "0193a000-0000-7000-8000-000000000003"
        ]
    );
    assert_eq!(doc["exchanges"][0]["request_body"]["max_tokens"], 32000);

    let lines = json_lines(&h.ok(&["export", "--since", "1h", "--format", "jsonl"]));
    assert_eq!(lines.len(), 5, "everything in the last hour, oldest first");
    assert_eq!(lines[0]["id"], "0193a000-0000-7000-8000-000000000001");
    assert_eq!(
        lines[3]["response_body"]["choices"][0]["message"]["content"],
        "The pipeline has three stages."
    );

    let range = h.ok(&["export", "--since", "1h", "--until", "0s"]);
    assert!(range.starts_with("# Tollgate history, "), "{range}");
    assert!(range.contains("| 5 | 2 |"), "five exchanges in two sessions:\n{range}");
    assert!(range.contains("## Exchanges without a session"), "{range}");
    assert!(range.contains("## Summarise the pipeline"), "{range}");

    let file = h.dir.path().join("out.md");
    let out = h.run(&["export", "--session", SESSION, "--output", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote 3 exchanges to"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), md);

    let out = h.run(&["export", "--format", "json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--session ID, or a range"));
    let out = h.run(&["export", "--session", "cc:none"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session `cc:none`"));
    let out = h.run(&["export", "--session", SESSION, "--format", "pdf"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown export format `pdf`"));
}

#[tokio::test]
async fn purge_drops_old_bodies_and_keeps_totals() {
    let h = History::new().await;
    let out = h.ok(&["purge", "--older-than", "30d"]);
    assert!(out.starts_with("dropped the bodies of 1 exchange that started before "), "{out}");
    assert!(h.ok(&["search", "ancient"]).is_empty());
    let old = h.ok(&["show", "req_cli_old"]);
    assert!(old.contains("dropped by retention"), "{old}");
    assert!(!old.contains("an ancient answer"), "{old}");
    assert!(
        h.ok(&["purge", "--older-than", "30d"]).starts_with("dropped the bodies of 0 exchanges")
    );
    // The recent ones keep everything.
    assert!(h.ok(&["show", "req_cli_4"]).contains("The pipeline has three stages."));
    let out = h.run(&["purge", "--older-than", "soon"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--older-than:"));
}

#[tokio::test]
async fn the_database_comes_from_the_config_or_the_flag() {
    let h = History::new().await;
    // --database names the file directly, wherever the data directory is.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = history_command(elsewhere.path())
        .args(["list", "--json", "--database", h.db().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_lines(&String::from_utf8(out.stdout).unwrap()).len(), 6);
    // A config file's data directory.
    let config = elsewhere.path().join("tollgate.toml");
    std::fs::write(
        &config,
        format!("[server]\ndata_dir = {:?}\n", h.dir.path().display().to_string()),
    )
    .unwrap();
    let out = history_command(elsewhere.path()).args(["list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json_lines(&String::from_utf8(out.stdout).unwrap()).len(), 6);
    // No database: an explanation, and no empty database created.
    let empty = tempfile::tempdir().unwrap();
    let out = history_command(empty.path())
        .env("TOLLGATE_DATA_DIR", empty.path())
        .arg("list")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no history database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!empty.path().join("tollgate.db").exists());
}

use serde_json::{Value, json};

use super::*;
use crate::PolicyEvent;

const T0: i64 = 1_795_341_605_000; // 2026-11-22 10:00:05 UTC

/// Claude Code's second turn: a tool result and a reminder in the user turn; the answer
/// streamed with thinking, text and a tool call, stored as raw SSE only.
const ANTHROPIC_SSE: &str = concat!(
    "event: message_start\n",
    r#"data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"usage":{"input_tokens":472,"output_tokens":1}}}"#,
    "\n\nevent: content_block_start\n",
    r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The test needs a fixture."}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBsig"}}"#,
    "\n\nevent: content_block_start\n",
    r#"data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"I'll add a test "}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"for the relay."}}"#,
    "\n\nevent: content_block_start\n",
    r#"data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_02","name":"Edit","input":{}}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\":\"src/relay.rs\","}}"#,
    "\n\nevent: content_block_delta\n",
    r#"data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"new\":\"```rust\\n#[test]\\n```\"}"}}"#,
    "\n\nevent: message_delta\n",
    r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":88}}"#,
    "\n\nevent: message_stop\n",
    r#"data: {"type":"message_stop"}"#,
    "\n\n",
);

fn session() -> SessionRecord {
    SessionRecord {
        id: "cc:5f0c2a8e-1111-4222-8333-944445555666".into(),
        source: "claude-code".into(),
        key_name: Some("master".into()),
        client: Some("claude-code".into()),
        first_seen_ms: T0,
        last_seen_ms: T0 + 65_000,
        preview: Some("Add a test for the relay's cut-off stream".into()),
        title: None,
        cwd: Some("/home/ada/tollgate".into()),
        git_branch: Some("relay-tests".into()),
        exchange_count: 2,
        input_tokens: 1_472,
        output_tokens: 120,
        cache_read_tokens: 2_048,
        cache_write_tokens: 0,
        cost_micros: 12_345,
    }
}

fn anthropic_turn() -> ExchangeRecord {
    let request = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "messages": [
            {"role": "user", "content": "Add a test for the relay's cut-off stream"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "src/relay.rs"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "pub struct Relay {}\n```nested fence```"},
                {"type": "text", "text": "<system-reminder>Keep tests small.</system-reminder>"},
                {"type": "text", "text": "Use the cut_off fixture please"},
            ]},
        ],
    });
    ExchangeRecord {
        id: "0193a000-0000-7000-8000-000000000002".into(),
        request_id: "req_2".into(),
        started_at_ms: T0 + 60_000,
        client_dialect: "anthropic".into(),
        endpoint: "messages".into(),
        key_name: Some("master".into()),
        client: Some("claude-code".into()),
        session_id: Some(session().id),
        provider: Some("anthropic".into()),
        model_requested: Some("claude-sonnet-4-5".into()),
        model_served: Some("claude-sonnet-4-5-20250929".into()),
        stream: true,
        status: 200,
        outcome: "ok".into(),
        input_tokens: 472,
        output_tokens: 88,
        cache_read_tokens: 2_048,
        cost_micros: 12_345,
        stop_reason: Some("tool_use".into()),
        ttfb_ms: Some(410),
        total_ms: 2_314,
        request_body: Some(serde_json::to_vec(&request).unwrap().into()),
        response_body: Some(ANTHROPIC_SSE.as_bytes().to_vec().into()),
        policy_events: vec![PolicyEvent {
            id: "pe1".into(),
            at_ms: T0 + 60_001,
            policy: "secrets".into(),
            verdict: "redact".into(),
            reason: Some("masked an AWS access key".into()),
            detail: Some(r#"{"found":"aws_access_key"}"#.into()),
        }],
        ..Default::default()
    }
}

fn anthropic_error() -> ExchangeRecord {
    ExchangeRecord {
        id: "0193a000-0000-7000-8000-000000000001".into(),
        request_id: "req_1".into(),
        started_at_ms: T0,
        client_dialect: "anthropic".into(),
        endpoint: "messages".into(),
        session_id: Some(session().id),
        provider: Some("anthropic".into()),
        model_requested: Some("claude-sonnet-4-5".into()),
        status: 529,
        outcome: "upstream_error".into(),
        error_type: Some("overloaded_error".into()),
        error_message: Some("Overloaded".into()),
        total_ms: 120,
        request_body: Some(
            br#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Add a test for the relay's cut-off stream"}]}"#
                .to_vec()
                .into(),
        ),
        response_body: Some(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.to_vec().into(),
        ),
        ..Default::default()
    }
}

fn openai() -> ExchangeRecord {
    let response = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Listing the directory.",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{\"dir\":\"src\"}"}}],
        }}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 12},
    });
    ExchangeRecord {
        id: "0193a000-0000-7000-8000-000000000003".into(),
        request_id: "req_3".into(),
        started_at_ms: T0 + 120_000,
        client_dialect: "openai-chat".into(),
        endpoint: "chat_completions".into(),
        provider: Some("openai".into()),
        model_requested: Some("gpt-4o".into()),
        model_served: Some("gpt-4o-2024-08-06".into()),
        status: 200,
        outcome: "ok".into(),
        input_tokens: 30,
        output_tokens: 12,
        cost_micros: 195,
        total_ms: 640,
        request_body: Some(
            br#"{"model":"gpt-4o","messages":[{"role":"system","content":"be terse"},{"role":"user","content":"what is in src?"}]}"#
                .to_vec()
                .into(),
        ),
        response_body: Some(serde_json::to_vec(&response).unwrap().into()),
        ..Default::default()
    }
}

#[test]
fn markdown_reads_as_a_transcript() {
    let s = session();
    let md =
        render(Format::Markdown, Scope::Session(s.clone()), &[anthropic_error(), anthropic_turn()]);
    for want in [
        "# Add a test for the relay's cut-off stream\n",
        "| Session | `cc:5f0c2a8e-1111-4222-8333-944445555666` (claude-code) |",
        "| Directory | `/home/ada/tollgate` |",
        "| Branch | `relay-tests` |",
        "| Time | 2026-11-22 10:00:05 – 10:01:10 UTC |",
        "| Tokens | 1,472 in · 120 out · 2,048 cache read |",
        "| Cost | $0.0123 |",
        // The failed first attempt, and why.
        "## 1 · 2026-11-22 10:00:05 UTC · claude-sonnet-4-5 · 529\n",
        "> **Provider error** · status 529 · `overloaded_error`: Overloaded",
        // The second exchange: the user's turn.
        "## 2 · 2026-11-22 10:01:05 UTC · claude-sonnet-4-5-20250929\n",
        "**User**\n\n**Tool result** `toolu_01`\n````\npub struct Relay {}\n```nested fence```\n````\n",
        "<details><summary>system-reminder</summary>",
        "Use the cut_off fixture please\n",
        // The answer, assembled from the raw stream.
        "**Assistant**\n\n<details><summary>Thinking</summary>\n\nThe test needs a fixture.\n\n</details>",
        "I'll add a test for the relay.\n",
        "**Tool call** `Edit` · `toolu_02`\n````json\n{\n  \"file_path\": \"src/relay.rs\",",
        "- **Policy** `secrets`: redact — masked an AWS access key",
        "<sub>anthropic · claude-sonnet-4-5 → claude-sonnet-4-5-20250929 · 472 in · 88 out · 2,048 cache read · $0.0123 · first byte 410 ms · 2.31 s · tool_use</sub>",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
    // The tool call's input holds ``` itself: its fence is longer.
    assert!(md.contains("\\n#[test]\\n```\"\n}\n````\n"), "{md}");
    // The signature and the system prompt are not part of a transcript.
    assert!(!md.contains("EqQBsig") && !md.contains("You are Claude Code"), "{md}");
}

#[test]
fn markdown_of_a_range_groups_exchanges_under_their_sessions() {
    let s = session();
    let sessions = vec![s.clone()];
    let mut totals = Totals::default();
    let records = [anthropic_error(), anthropic_turn(), openai()];
    for r in &records {
        totals.add(&ExchangeSummary {
            started_at_ms: r.started_at_ms,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cost_micros: r.cost_micros,
            ..Default::default()
        });
    }
    let scope = Scope::Range { since_ms: Some(T0), until_ms: None, sessions, totals };
    let md = render(Format::Markdown, scope, &records);
    for want in [
        "# Tollgate history, since 2026-11-22 10:00:05 UTC\n",
        "| 3 | 1 | 2026-11-22 10:00:05 – 10:02:05 UTC | 502 in · 100 out | $0.0125 |",
        "## Add a test for the relay's cut-off stream\n",
        "### 1 · 2026-11-22 10:00:05 UTC",
        "## Exchanges without a session\n",
        "### 3 · 2026-11-22 10:02:05 UTC · gpt-4o-2024-08-06\n",
        "**User**\n\nwhat is in src?\n",
        "**Assistant**\n\nListing the directory.\n\n**Tool call** `list_dir` · `call_1`\n```json\n{\n  \"dir\": \"src\"\n}\n```",
    ] {
        assert!(md.contains(want), "missing {want:?} in\n{md}");
    }
    assert_eq!(md.matches("## Add a test").count(), 1, "one header per session group");
}

#[test]
fn json_embeds_json_bodies_and_keeps_streams_as_text() {
    let s = session();
    let doc =
        render(Format::Json, Scope::Session(s.clone()), &[anthropic_error(), anthropic_turn()]);
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["session"]["id"], s.id);
    assert_eq!(v["session"]["cost_micros"], 12_345);
    let exchanges = v["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 2);
    assert_eq!(exchanges[0]["response_body"]["error"]["type"], "overloaded_error");
    let turn = &exchanges[1];
    assert_eq!(
        turn["request_body"]["messages"][2]["content"][2]["text"],
        "Use the cut_off fixture please"
    );
    assert!(turn["response_body"].as_str().unwrap().starts_with("event: message_start\n"));
    assert_eq!(turn["response_message"], Value::Null);
    assert_eq!(turn["policy_events"][0]["detail"]["found"], "aws_access_key");
    assert_eq!(turn["stream"], true);
    assert_eq!(turn["ttfb_ms"], 410);

    let empty = render(Format::Json, Scope::Session(s.clone()), &[]);
    let v: Value = serde_json::from_str(&empty).unwrap();
    assert_eq!(v["exchanges"], json!([]));

    let range = Scope::Range {
        since_ms: Some(1),
        until_ms: None,
        sessions: vec![],
        totals: Totals::default(),
    };
    let v: Value = serde_json::from_str(&render(Format::Json, range, &[openai()])).unwrap();
    assert_eq!(v["since_ms"], 1);
    assert_eq!(v["until_ms"], Value::Null);
    assert_eq!(
        v["exchanges"][0]["response_body"]["choices"][0]["message"]["content"],
        "Listing the directory."
    );
}

#[test]
fn jsonl_is_one_exchange_per_line() {
    let s = session();
    let out = render(
        Format::Jsonl,
        Scope::Session(s.clone()),
        &[anthropic_error(), anthropic_turn(), openai()],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    let ids: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [anthropic_error().id, anthropic_turn().id, openai().id]);
    assert!(out.ends_with('\n'));
}

#[test]
fn invalid_utf8_and_non_json_bodies_survive_every_format() {
    let e = ExchangeRecord {
        id: "x".into(),
        request_body: Some(vec![0xff, b'{', 0xfe].into()),
        response_body: Some(b"not json, not sse".to_vec().into()),
        ..Default::default()
    };
    let s = session();
    let v: Value = serde_json::from_str(&render(
        Format::Json,
        Scope::Session(s.clone()),
        std::slice::from_ref(&e),
    ))
    .unwrap();
    assert_eq!(v["exchanges"][0]["request_body"], "\u{fffd}{\u{fffd}");
    let md = render(Format::Markdown, Scope::Session(s.clone()), &[e]);
    assert!(md.contains("_The request body is not a messages request._"), "{md}");
}

#[test]
fn purged_and_unrecorded_bodies_are_said_so() {
    let s = session();
    let purged = ExchangeRecord { bodies_purged_at_ms: Some(T0), ..anthropic_turn() };
    let purged = ExchangeRecord { request_body: None, response_body: None, ..purged };
    let bare = ExchangeRecord { request_body: None, response_body: None, ..openai() };
    let md = render(Format::Markdown, Scope::Session(s.clone()), &[purged, bare]);
    assert!(md.contains("dropped by retention on 2026-11-22 10:00:05 UTC"), "{md}");
    assert!(md.contains("_Bodies were not recorded._"), "{md}");
}

#[test]
fn count_tokens_and_openai_streams_render() {
    let s = session();
    let count = ExchangeRecord {
        endpoint: "count_tokens".into(),
        response_body: Some(br#"{"input_tokens":1234}"#.to_vec().into()),
        ..anthropic_turn()
    };
    let stream = concat!(
        r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hmm"}}]}"#,
        "\n\n",
        r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hello from "}}]}"#,
        "\n\n",
        r#"data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"a stream"},"finish_reason":"stop"}]}"#,
        "\n\ndata: [DONE]\n\n",
    );
    let streamed = ExchangeRecord {
        stream: true,
        response_body: Some(stream.as_bytes().to_vec().into()),
        ..openai()
    };
    let md = render(Format::Markdown, Scope::Session(s.clone()), &[count, streamed]);
    assert!(md.contains("· count\\_tokens"), "{md}");
    assert!(md.contains("_1,234 input tokens counted._"), "{md}");
    assert!(md.contains("<details><summary>Thinking</summary>\n\nhmm\n\n</details>"), "{md}");
    assert!(md.contains("Hello from a stream\n"), "{md}");
}

#[test]
fn long_tool_results_are_cut_with_a_note() {
    let s = session();
    let big = "x".repeat(LONG_BLOCK_CHARS + 10);
    let body = json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": big}]}]});
    let e = ExchangeRecord {
        client_dialect: "anthropic".into(),
        request_body: Some(serde_json::to_vec(&body).unwrap().into()),
        ..Default::default()
    };
    let md = render(Format::Markdown, Scope::Session(s.clone()), &[e]);
    assert!(md.contains("… (10 more characters)"), "{md}");
}

/// Random bytes, random JSON of odd shapes, and real bodies cut at every length: every format
/// renders, and the JSON formats stay valid JSON.
#[test]
fn arbitrary_stored_content_never_panics() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let shapes = [
        json!({"messages": 3}),
        json!({"messages": [1, null, {"role": 5}, {"role": "user", "content": 7}]}),
        json!({"messages": [{"role": "user", "content": [null, 1, {"type": 3}, {"type": "tool_result", "content": {"a": 1}}]}]}),
        json!({"content": "text", "choices": {"a": 1}}),
        json!({"content": [{"type": "tool_use", "input": null}, {"type": "web_search_tool_result", "content": []}]}),
        json!({"choices": [{"message": {"content": [{"type": "text"}], "tool_calls": [{"function": 1}]}}]}),
        json!({"error": "plain"}),
        json!([]),
        json!("<a>b</a>"),
    ];
    let real = [anthropic_turn(), openai(), anthropic_error()];
    let mut bodies: Vec<Vec<u8>> = shapes.iter().map(|v| serde_json::to_vec(v).unwrap()).collect();
    for r in &real {
        for b in [&r.request_body, &r.response_body].into_iter().flatten() {
            for cut in (0..b.len()).step_by(17) {
                bodies.push(b[..cut].to_vec());
            }
        }
    }
    for _ in 0..200 {
        let len = (next() % 64) as usize;
        bodies.push((0..len).map(|_| (next() % 256) as u8).collect());
    }
    let s = session();
    for (i, body) in bodies.iter().enumerate() {
        for dialect in ["anthropic", "openai-chat", ""] {
            let e = ExchangeRecord {
                client_dialect: dialect.into(),
                endpoint: if i % 5 == 0 { "count_tokens".into() } else { "messages".into() },
                request_body: Some(body.clone().into()),
                response_body: Some(body.clone().into()),
                response_message: (i % 2 == 0).then(|| body.clone().into()),
                error_message: (i % 3 == 0).then(|| "x|y\n`z`".into()),
                ..Default::default()
            };
            let _ = render(Format::Markdown, Scope::Session(s.clone()), std::slice::from_ref(&e));
            let doc = render(Format::Json, Scope::Session(s.clone()), std::slice::from_ref(&e));
            assert!(serde_json::from_str::<Value>(&doc).is_ok(), "{doc}");
            let line = render(Format::Jsonl, Scope::Session(s.clone()), std::slice::from_ref(&e));
            assert!(serde_json::from_str::<Value>(line.trim_end()).is_ok(), "{line}");
        }
    }
}

#[test]
fn formats_parse_and_name_their_content_type() {
    assert_eq!("markdown".parse::<Format>(), Ok(Format::Markdown));
    assert_eq!("MD".parse::<Format>(), Ok(Format::Markdown));
    assert_eq!("jsonl".parse::<Format>(), Ok(Format::Jsonl));
    assert!("pdf".parse::<Format>().is_err());
    assert_eq!(Format::Jsonl.content_type(), "application/x-ndjson");
    assert_eq!(Format::Markdown.extension(), "md");
}

#[test]
fn request_summaries_say_what_was_asked() {
    let body = anthropic_turn().request_body.unwrap();
    assert_eq!(
        request_summary(&body).as_deref(),
        Some("3 messages · system prompt · max_tokens 32,000 · stream")
    );
    assert_eq!(request_summary(b"[1]"), None);
    let t = transcript(&openai());
    assert!(t.starts_with("## 1 · 2026-11-22 10:02:05 UTC · gpt-4o-2024-08-06\n"), "{t}");
}

#[test]
fn chunks_are_the_rendering_piece_by_piece() {
    let s = session();
    let records = vec![anthropic_error(), anthropic_turn()];
    for format in [Format::Markdown, Format::Json, Format::Jsonl] {
        let whole = render(format, Scope::Session(s.clone()), &records);
        let chunks: Vec<String> =
            Exporter::new(format, Scope::Session(s.clone())).into_chunks(records.clone()).collect();
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunks.concat(), whole);
    }
}

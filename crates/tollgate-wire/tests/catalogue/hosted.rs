//! Catalogue 4.11-4.13: server tools, Responses specifics and the client behaviours the wire
//! must serve (cases 48-58; count_tokens, other endpoints, sessions and the real clients are
//! tested in the testkit, `session.rs` and the e2e suites).

use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Response, StopReason, StreamBuilder, StreamEvent, TextBlock, ToolUse, validate,
};
use tollgate_wire::responses::{self, ResponseOptions};
use tollgate_wire::{Usage, anthropic};

use crate::{
    build, claude, decode, encode, for_anthropic, for_chat, for_responses, from_anthropic,
    from_responses, gpt, json_frames, noted,
};

fn web_search_history() -> Value {
    json!({"model": "m", "max_tokens": 1024,
    "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5,
        "allowed_domains": ["rust-lang.org"]}],
    "messages": [
        {"role": "user", "content": "When did Rust 2024 ship?"},
        {"role": "assistant", "content": [
            {"type": "server_tool_use", "id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB", "name": "web_search",
             "input": {"query": "rust 2024 edition release date"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
             "content": [{"type": "web_search_result", "title": "Announcing Rust 1.85.0",
                "url": "https://blog.rust-lang.org/2025/02/20/Rust-1.85.0.html",
                "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1", "page_age": "February 20, 2025"}]},
            {"type": "text", "text": "Rust 2024 shipped with Rust 1.85.", "citations": [
                {"type": "web_search_result_location", "cited_text": "Rust 1.85.0 stabilises",
                 "url": "https://blog.rust-lang.org/2025/02/20/Rust-1.85.0.html",
                 "title": "Announcing Rust 1.85.0", "encrypted_index": "Eo8BCioIAhgBIiQ"}]}]},
        {"role": "user", "content": "And 2021?"},
    ]})
}

#[test]
fn case_48_web_search_blocks_replay_to_anthropic_unchanged() {
    let body = web_search_history();
    let (a, _) = for_anthropic(&from_anthropic(&body), &claude());
    assert_eq!(a["tools"], body["tools"]);
    assert_eq!(a["messages"][1], body["messages"][1], "encrypted_content and citations as sent");
    let blocks = a["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().into_iter().flatten());
    assert!(blocks.clone().all(|b| b["type"] != "tool_result"), "no tool_result for a server tool");
}

#[test]
fn case_48_a_streamed_web_search_reaches_an_anthropic_client_whole() {
    let sse = include_str!("../fixtures/anthropic_web_search.sse");
    let events = build(decode(anthropic::codec::Decoder::new(), sse));
    assert_eq!(validate(&events), Ok(()));
    let out = encode(anthropic::codec::Encoder::new(), &events);
    let original: Vec<Value> = json_frames(sse)
        .into_iter()
        .filter(|(_, v)| v["type"] == "content_block_start")
        .map(|(_, v)| v["content_block"].clone())
        .collect();
    let written: Vec<Value> = json_frames(&out)
        .into_iter()
        .filter(|(_, v)| v["type"] == "content_block_start")
        .map(|(_, v)| v["content_block"].clone())
        .collect();
    let result =
        |blocks: &[Value]| blocks.iter().find(|b| b["type"] == "web_search_tool_result").cloned();
    assert!(result(&original).is_some());
    assert_eq!(result(&written), result(&original), "encrypted_content unchanged");
    assert!(out.contains(r#""partial_json":"{\"query\":\"rust 2024 edition release date\"}""#));
    assert!(out.contains(r#""type":"citations_delta""#));
}

#[test]
fn case_48_pause_turn_reaches_an_anthropic_client_as_is() {
    let resp = Response {
        id: "msg_1".into(),
        model: "claude".into(),
        content: vec![Block::Text(TextBlock::new("Searching."))],
        stop_reason: Some(StopReason::PauseTurn),
        stop_sequence: None,
        usage: Usage::default(),
    };
    let mut notes = Vec::new();
    let a: Value =
        serde_json::from_slice(&anthropic::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(a["stop_reason"], "pause_turn");
}

#[test]
fn case_49_server_tools_and_their_blocks_are_stripped_for_other_providers() {
    let req = from_anthropic(&web_search_history());
    let (c, notes) = for_chat(&req, &gpt());
    assert!(c.get("tools").is_none());
    assert!(noted(&notes, "web_search"));
    let text = c.to_string();
    for absent in ["srvtoolu_", "web_search_tool_result", "encrypted_content"] {
        assert!(!text.contains(absent), "{absent} sent to Chat: {text}");
    }
    assert_eq!(
        c["messages"][1],
        json!({"role": "assistant", "content": "Rust 2024 shipped with Rust 1.85."})
    );
    let (r, _) = for_responses(&req, &gpt());
    assert!(!r.to_string().contains("srvtoolu_") && r.get("tools").is_none());

    // The other way, a Responses client's other hosted tools are not sent to Anthropic.
    let req = from_responses(
        &json!({"model": "m", "input": "x", "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}),
    );
    let (a, notes) = for_anthropic(&req, &claude());
    assert!(a.get("tools").is_none());
    assert!(noted(&notes, "cannot run it"));
}

#[test]
fn case_49_a_responses_clients_web_search_runs_as_claudes_own_search() {
    // Codex offers the hosted `web_search`; on Claude it becomes Anthropic's server tool.
    let req = from_responses(&json!({"model": "m", "input": "news?", "tools": [
        {"type": "web_search", "filters": {"allowed_domains": ["rust-lang.org"]},
         "user_location": {"type": "approximate", "country": "FR", "city": "Paris"}}]}));
    let (a, notes) = for_anthropic(&req, &claude());
    assert_eq!(
        a["tools"],
        json!([{"type": "web_search_20250305", "name": "web_search",
            "allowed_domains": ["rust-lang.org"],
            "user_location": {"type": "approximate", "city": "Paris", "country": "FR"}}])
    );
    assert!(noted(&notes, "web_search server tool"));

    // Claude's search comes back to the Responses client as a `web_search_call` item, whole and
    // streamed; the results block has no Responses item.
    let history = from_anthropic(&web_search_history());
    let answer = Response {
        id: "msg_1".into(),
        model: "claude".into(),
        content: history.messages[1].content.clone(),
        stop_reason: Some(StopReason::EndTurn),
        ..Response::default()
    };
    let mut notes = Vec::new();
    let whole: Value = serde_json::from_slice(&responses::encode_response_with(
        &answer,
        &ResponseOptions::default(),
        &mut notes,
    ))
    .unwrap();
    let types: Vec<&str> =
        whole["output"].as_array().unwrap().iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["web_search_call", "message"], "{whole}");
    assert_eq!(whole["output"][0]["action"]["query"], "rust 2024 edition release date");
    let streamed = encode(
        responses::codec::Encoder::with_options(ResponseOptions::default()),
        &build(tollgate_wire::canonical::assemble::events_of(&answer)),
    );
    assert!(streamed.contains("\"web_search_call\""), "{streamed}");
    assert!(!streamed.contains("web_search_tool_result"), "{streamed}");
}

#[test]
fn case_50_responses_input_items_decode_and_role_tool_is_refused() {
    let err = responses::decode_request(
        json!({"model": "m", "input": [{"role": "tool", "content": "x"}]}).to_string().as_bytes(),
    )
    .unwrap_err();
    assert!(
        err.message.contains(
            "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and 'user'."
        ),
        "{}",
        err.message
    );

    let req = from_responses(&json!({"model": "m", "input": "hello",
        "tools": [{"type": "custom", "name": "apply_patch"}]}));
    let (r, _) = for_responses(&req, &gpt());
    assert_eq!(
        r["input"],
        json!([{"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "hello"}]}]),
        "input is always a list"
    );

    let req = from_responses(
        &json!({"model": "m", "tools": [{"type": "custom", "name": "apply_patch"}],
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "patch it"}]},
            {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": "*** Begin Patch\n"},
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done!"},
        ]}),
    );
    let (a, _) = for_anthropic(&req, &claude());
    assert_eq!(
        a["messages"][1]["content"][0],
        json!({"type": "tool_use", "id": "call_p", "name": "apply_patch", "input": {"input": "*** Begin Patch\n"}})
    );
    assert_eq!(a["messages"][2]["content"][0]["tool_use_id"], "call_p");
}

#[test]
fn case_51_previous_response_id_is_read_for_the_server_and_never_sent_to_a_stateless_provider() {
    let req =
        from_responses(&json!({"model": "m", "previous_response_id": "resp_abc", "input": "next"}));
    assert_eq!(responses::previous_response_id(&req), Some("resp_abc"));
    let (a, notes) = for_anthropic(&req, &claude());
    assert!(a.get("previous_response_id").is_none());
    assert!(noted(&notes, "previous_response_id"));
}

#[test]
fn case_52_responses_clients_get_items_call_ids_and_status() {
    let resp = Response {
        id: "msg_1".into(),
        model: "claude".into(),
        content: vec![
            Block::Text(TextBlock::new("Running.")),
            Block::ToolUse(ToolUse {
                id: "toolu_9".into(),
                name: "shell".into(),
                input: json!({"cmd": "ls"}),
                cache_control: None,
            }),
        ],
        stop_reason: Some(StopReason::ToolUse),
        stop_sequence: None,
        usage: Usage::default(),
    };
    let mut notes = Vec::new();
    let r: Value = serde_json::from_slice(&responses::encode_response_with(
        &resp,
        &ResponseOptions { response_id: "resp_1".into(), ..ResponseOptions::default() },
        &mut notes,
    ))
    .unwrap();
    assert_eq!(r["status"], "completed");
    assert_eq!(r["output"][0]["type"], "message");
    let call = &r["output"][1];
    assert_eq!(
        (call["type"].as_str(), call["call_id"].as_str()),
        (Some("function_call"), Some("toolu_9"))
    );
    assert!(call["id"].as_str().unwrap().starts_with("fc_"), "the item id is separate");
    assert_eq!(call["arguments"], "{\"cmd\":\"ls\"}");
    assert!(r.get("finish_reason").is_none());
}

#[test]
fn case_53_a_compact_request_with_duplicate_tools_is_accepted_by_anthropic_rules() {
    let tool = json!({"name": "Bash", "input_schema": {"type": "object"}});
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "tools": [tool, tool, tool],
        "messages": [{"role": "user", "content": "Summarise the conversation so far."}]}));
    let (a, _) = for_anthropic(&req, &claude());
    assert_eq!(a["tools"].as_array().unwrap().len(), 1);
}

#[test]
fn case_54_side_calls_translate_title_generation_and_the_quota_probe() {
    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]});
    let req = from_anthropic(&json!({"model": "claude-haiku-4-5", "max_tokens": 512, "tools": [],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
        "system": [{"type": "text", "text": "Generate a title."}],
        "messages": [{"role": "user", "content": "fix the failing test"}]}));
    let (c, _) = for_chat(&req, &gpt());
    assert_eq!(c["response_format"]["type"], "json_schema");
    assert_eq!(c["response_format"]["json_schema"]["schema"], schema);
    assert!(c.get("tools").is_none() && c.get("tool_choice").is_none());
    let (r, _) = for_responses(&req, &gpt());
    assert_eq!(r["text"]["format"]["schema"], schema);

    let probe = from_anthropic(&json!({"model": "claude-haiku-4-5", "max_tokens": 1,
        "messages": [{"role": "user", "content": "quota"}]}));
    assert_eq!(for_chat(&probe, &gpt()).0["max_tokens"], 1);
}

#[test]
fn case_56_nothing_follows_the_message_delta_and_tool_use_needs_a_tool() {
    let mut builder = StreamBuilder::new();
    let mut out = Vec::new();
    for e in [
        StreamEvent::MessageStart { id: "m".into(), model: "m".into(), usage: Usage::default() },
        StreamEvent::BlockStart { index: 0, block: Block::Text(TextBlock::new("Done.")) },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage::default(),
        },
        StreamEvent::BlockStart { index: 1, block: Block::Text(TextBlock::new("late")) },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageStop,
    ] {
        builder.push(e, &mut out);
    }
    assert_eq!(validate(&out), Ok(()));
    let a = encode(anthropic::codec::Encoder::new(), &out);
    assert!(!a.contains("late"));
    assert!(a.contains(r#""stop_reason":"end_turn""#));
    let names: Vec<String> = crate::frames(&a).into_iter().filter_map(|f| f.event).collect();
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
}

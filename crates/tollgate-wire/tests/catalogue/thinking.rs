//! Catalogue 4.2: extended thinking and reasoning (cases 7-14).

use std::collections::HashMap;

use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Delta, Origin, RedactedThinking, Response, StopReason, StreamEvent, TextBlock,
    ThinkingBlock, ToolUse,
};
use tollgate_wire::responses::{self, DecodeOptions, ResponseOptions, Sealer};
use tollgate_wire::{Usage, anthropic, openai};

use crate::{
    build, claude, decode, encode, fixture, for_anthropic, for_chat, for_responses, from_anthropic,
    from_chat, from_responses, gpt, json_frames, noted,
};

fn weather_tool() -> Value {
    json!([{"name": "get_weather", "description": "Weather", "input_schema":
        {"type": "object", "properties": {"city": {"type": "string"}}}}])
}

/// A Claude tool loop at its second request: the assistant turn holds `assistant`, and the result
/// follows.
fn tool_loop(assistant: Value) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 4096,
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "tools": weather_tool(),
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
    ]})
}

fn call() -> Value {
    json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}})
}

#[test]
fn case_07_thinking_and_redacted_thinking_are_replayed_byte_for_byte_first_in_their_turn() {
    let thinking = json!({"type": "thinking",
        "thinking": "  The user wants\n the weather. \u{e9}\u{2600} ", "signature": "EqQB+/x=\n="});
    let redacted = json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"});
    let req = from_anthropic(&tool_loop(json!([
        thinking.clone(), redacted.clone(), {"type": "text", "text": "Checking."}, call()
    ])));
    let (body, _) = for_anthropic(&req, &claude());
    let turn = &body["messages"][1]["content"];
    assert_eq!(turn[0], thinking);
    assert_eq!(turn[1], redacted);
    assert_eq!(turn[3]["type"], "tool_use");
    assert_eq!(body["thinking"]["type"], "enabled", "the loop's turn starts with thinking");
}

#[test]
fn case_07_a_tool_loop_whose_turn_does_not_start_with_thinking_turns_thinking_off() {
    let req = from_anthropic(&tool_loop(json!([{"type": "text", "text": "Checking."}, call()])));
    let (body, notes) = for_anthropic(&req, &claude());
    assert_eq!(body["thinking"]["type"], "disabled");
    assert!(noted(&notes, "does not start with a thinking block"));
}

#[test]
fn case_07_thinking_sealed_for_a_responses_client_comes_back_unchanged_to_claude() {
    let origin = Origin { provider: "anthropic".into(), family: claude().family() };
    let thinking = ThinkingBlock {
        thinking: "Weather needs a tool.".into(),
        signature: Some("EqQBCgIYAhIM1gbc+/==".into()),
        origin: Some(origin.clone()),
    };
    let answer = Response {
        id: "msg_1".into(),
        model: claude().model,
        content: vec![
            Block::Thinking(thinking.clone()),
            Block::RedactedThinking(RedactedThinking { data: "EmwK".into(), origin: Some(origin) }),
            Block::ToolUse(ToolUse {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                input: json!({"city": "Paris"}),
                cache_control: None,
            }),
        ],
        stop_reason: Some(StopReason::ToolUse),
        stop_sequence: None,
        usage: Usage::default(),
    };
    let sealer = Sealer::new(b"gateway key");
    let opts = ResponseOptions { sealer: Some(sealer.clone()), ..ResponseOptions::default() };
    let mut notes = Vec::new();
    let out: Value =
        serde_json::from_slice(&responses::encode_response_with(&answer, &opts, &mut notes))
            .unwrap();
    let mut input =
        vec![json!({"type": "message", "role": "user", "content": "Weather in Paris?"})];
    input.extend(out["output"].as_array().unwrap().iter().cloned());
    input.push(json!({"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"}));
    let body =
        json!({"model": "claude-sonnet-4-5", "input": input, "reasoning": {"effort": "medium"}});
    let req = responses::decode_request_with(
        body.to_string().as_bytes(),
        &DecodeOptions { sealer: Some(sealer) },
    )
    .unwrap();
    let (body, _) = for_anthropic(&req, &claude());
    let turn = &body["messages"][1]["content"];
    assert_eq!(
        turn[0],
        json!({"type": "thinking", "thinking": "Weather needs a tool.", "signature": "EqQBCgIYAhIM1gbc+/=="})
    );
    assert_eq!(turn[1], json!({"type": "redacted_thinking", "data": "EmwK"}));
    assert_eq!(turn[2]["type"], "tool_use");
}

#[test]
fn case_08_signature_only_thinking_survives_requests_responses_and_streams() {
    let only_sig = json!({"type": "thinking", "thinking": "", "signature": "ErUBCkYIBhgC=="});
    let req = from_anthropic(&tool_loop(json!([only_sig.clone(), call()])));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(body["messages"][1]["content"][0], only_sig);

    let resp = anthropic::convert::decode_response(
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [only_sig.clone(), {"type": "text", "text": "Hi."}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 1, "output_tokens": 1}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let mut notes = Vec::new();
    let out: Value =
        serde_json::from_slice(&anthropic::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(out["content"][0], only_sig);

    let sse = fixture!("anthropic", "messages_stream_signature_only_thinking.sse");
    let events = build(decode(anthropic::codec::Decoder::new(), sse));
    let signature = events.iter().find_map(|e| match e {
        StreamEvent::BlockDelta { index: 0, delta: Delta::Signature(s) } => Some(s.clone()),
        _ => None,
    });
    assert!(signature.is_some_and(|s| s.starts_with("EsECCokB")), "the block is kept");
    let written = encode(anthropic::codec::Encoder::new(), &events);
    assert!(written.contains(r#""type":"signature_delta","signature":"EsECCokB"#));
}

fn with_origin(req: &mut tollgate_wire::canonical::Request, origin: &Origin) {
    for m in &mut req.messages {
        for b in &mut m.content {
            match b {
                Block::Thinking(t) => t.origin = Some(origin.clone()),
                Block::RedactedThinking(r) => r.origin = Some(origin.clone()),
                _ => {}
            }
        }
    }
}

#[test]
fn case_09_thinking_goes_back_only_to_the_provider_and_model_family_that_signed_it() {
    let body = tool_loop(json!([
        {"type": "thinking", "thinking": "t", "signature": "S1"},
        {"type": "redacted_thinking", "data": "R1"},
        call()
    ]));
    let same = Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() };
    let mut req = from_anthropic(&body);
    with_origin(&mut req, &same);
    let (out, _) = for_anthropic(&req, &claude());
    assert_eq!(out["messages"][1]["content"][0]["signature"], "S1");

    for foreign in [
        Origin { provider: "anthropic".into(), family: "claude-opus-4-1".into() },
        Origin { provider: "bedrock".into(), family: "claude-sonnet-4-5".into() },
    ] {
        let mut req = from_anthropic(&body);
        with_origin(&mut req, &foreign);
        let (out, notes) = for_anthropic(&req, &claude());
        let turn = out["messages"][1]["content"].to_string();
        assert!(!turn.contains("thinking"), "{foreign:?}: {turn}");
        assert!(noted(&notes, "issued by another provider or model"));
        // Without its thinking the loop cannot keep thinking on (7).
        assert_eq!(out["thinking"]["type"], "disabled");
    }
}

#[test]
fn case_09_unsigned_thinking_from_another_provider_never_reaches_anthropic() {
    let mut req = from_anthropic(&tool_loop(json!([call()])));
    let ollama = Origin { provider: "ollama".into(), family: "qwen3".into() };
    if let Some(m) = req.messages.get_mut(1) {
        m.content.insert(
            0,
            Block::Thinking(ThinkingBlock {
                thinking: "local reasoning".into(),
                signature: None,
                origin: Some(ollama),
            }),
        );
    }
    let (out, notes) = for_anthropic(&req, &claude());
    assert!(!out.to_string().contains("local reasoning"));
    assert!(!notes.is_empty());
}

#[test]
fn case_10_chat_effort_becomes_a_budget_and_forced_tools_and_sampling_give_way() {
    let req = from_chat(&json!({"model": "m", "max_tokens": 32000, "reasoning_effort": "high",
        "temperature": 0.5, "top_k": 5, "tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}],
        "messages": [{"role": "user", "content": "list"}]}));
    let (body, notes) = for_anthropic(&req, &claude());
    assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 16384}));
    assert_eq!(body["tool_choice"]["type"], "auto", "thinking cannot force tool use");
    assert!(body.get("temperature").is_none() && body.get("top_k").is_none());
    assert!(noted(&notes, "relaxed to auto"));

    let mut adaptive = claude();
    adaptive.quirks.adaptive_thinking = true;
    let req = from_chat(&json!({"model": "m", "max_tokens": 4096, "reasoning_effort": "low",
        "messages": [{"role": "user", "content": "hi"}]}));
    let (body, _) = for_anthropic(&req, &adaptive);
    assert_eq!(body["thinking"]["type"], "adaptive");
    assert_eq!(body["output_config"]["effort"], "low");
}

#[test]
fn case_10_budgets_map_to_efforts_and_stay_within_max_tokens() {
    let mut reasoning = gpt();
    reasoning.quirks.reasoning_effort = true;
    for (budget, effort) in [(1024, "low"), (2000, "medium"), (8192, "medium"), (10000, "high")] {
        let req = from_anthropic(&json!({"model": "m", "max_tokens": 32000,
            "thinking": {"type": "enabled", "budget_tokens": budget},
            "messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(for_chat(&req, &reasoning).0["reasoning_effort"], effort, "{budget}");
        assert_eq!(for_responses(&req, &gpt()).0["reasoning"]["effort"], effort, "{budget}");
    }
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 3000,
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(for_anthropic(&req, &claude()).0["thinking"]["budget_tokens"], 2999);
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 3000,
        "thinking": {"type": "enabled", "budget_tokens": 500},
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(for_anthropic(&req, &claude()).0["thinking"]["budget_tokens"], 1024);
}

#[test]
fn case_11_chat_reasoning_is_read_but_never_written_to_a_chat_client() {
    let sse = fixture!("openai", "chat_completion_stream_deepseek_reasoning_tool.sse");
    let events = build(decode(openai::codec::Decoder::new(), sse));
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::BlockDelta { delta: Delta::Thinking(t), .. } if !t.is_empty()
    )));

    let events = vec![
        StreamEvent::MessageStart {
            id: "m".into(),
            model: "claude".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart { index: 0, block: Block::Thinking(ThinkingBlock::default()) },
        StreamEvent::BlockDelta { index: 0, delta: Delta::Thinking("secret plan".into()) },
        StreamEvent::BlockDelta { index: 0, delta: Delta::Signature("SIG".into()) },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart { index: 1, block: Block::Text(TextBlock::new("")) },
        StreamEvent::BlockDelta { index: 1, delta: Delta::Text("Hello.".into()) },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::EndTurn),
            stop_sequence: None,
            usage: Usage::default(),
        },
        StreamEvent::MessageStop,
    ];
    let out = encode(openai::codec::Encoder::new(), &events);
    assert!(out.contains("Hello."));
    for absent in ["secret plan", "SIG", "reasoning", "thinking"] {
        assert!(!out.contains(absent), "{absent} written: {out}");
    }
}

#[test]
fn case_11_unsigned_chat_reasoning_sent_back_is_not_forwarded_to_anthropic() {
    let req = from_chat(&json!({"model": "m", "messages": [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": null, "reasoning_content": "I should list.",
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
    ]}));
    let (body, notes) = for_anthropic(&req, &claude());
    assert!(!body.to_string().contains("I should list."));
    assert!(noted(&notes, "without a signature"));
}

#[test]
fn case_12_reasoning_to_a_responses_provider_is_stateless_and_encrypted() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "hi"}]}));
    let (body, _) = for_responses(&req, &gpt());
    assert_eq!(body["store"], false);
    assert!(body["include"].as_array().unwrap().contains(&json!("reasoning.encrypted_content")));
    assert_eq!(body["reasoning"]["effort"], "medium");
}

#[test]
fn case_12_openai_reasoning_items_are_replayed_to_openai_unchanged() {
    let item = json!({"type": "reasoning", "id": "rs_68af", "summary":
        [{"type": "summary_text", "text": "Plan."}], "encrypted_content": "gAAAAABo_opaque=="});
    let req = from_responses(&json!({"model": "gpt-5", "input": [
        {"type": "message", "role": "user", "content": "list"},
        item.clone(),
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "ls", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
    ], "tools": [{"type": "function", "name": "ls", "parameters": {"type": "object"}}]}));
    let (body, _) = for_responses(&req, &gpt());
    assert!(body["input"].as_array().unwrap().contains(&item), "{body}");
    // Anywhere else it cannot be opened: it goes.
    let (body, _) = for_anthropic(&req, &claude());
    assert!(!body.to_string().contains("gAAAAABo_opaque"));
}

#[test]
fn case_13_thinking_streams_with_its_signature_last_and_redacted_thinking_whole() {
    let sse = include_str!("../fixtures/anthropic_thinking_tools.sse");
    let events = build(decode(anthropic::codec::Decoder::new(), sse));
    let out = encode(anthropic::codec::Encoder::new(), &events);
    let mut kinds: HashMap<u64, String> = HashMap::new();
    let mut last_delta: HashMap<u64, String> = HashMap::new();
    let mut closed = Vec::new();
    for (_, v) in json_frames(&out) {
        let index = v["index"].as_u64();
        match v["type"].as_str().unwrap() {
            "content_block_start" => {
                let block = &v["content_block"];
                kinds.insert(index.unwrap(), block["type"].as_str().unwrap().to_owned());
                if block["type"] == "redacted_thinking" {
                    assert!(block["data"].as_str().unwrap().starts_with("EmwK"), "whole at start");
                }
            }
            "content_block_delta" => {
                let i = index.unwrap();
                assert!(!closed.contains(&i), "delta after the block closed");
                last_delta.insert(i, v["delta"]["type"].as_str().unwrap().to_owned());
            }
            "content_block_stop" => closed.push(index.unwrap()),
            _ => {}
        }
    }
    let thinking: Vec<u64> =
        kinds.iter().filter(|(_, k)| *k == "thinking").map(|(i, _)| *i).collect();
    assert_eq!(thinking.len(), 2, "both thinking blocks, the signature-only one too");
    for i in thinking {
        assert_eq!(last_delta.get(&i).map(String::as_str), Some("signature_delta"), "block {i}");
    }
    let redacted = kinds.iter().find(|(_, k)| *k == "redacted_thinking").map(|(i, _)| *i);
    assert!(redacted.is_some_and(|i| !last_delta.contains_key(&i)), "no deltas for redacted");
    assert!(out.contains(
        "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/Sdk0SjvMjB7C/fJs/9lFNGTI="
    ));
}

#[test]
fn case_14_reasoning_tokens_are_never_invented_for_openai_clients() {
    let resp = Response {
        id: "msg_1".into(),
        model: "claude".into(),
        content: vec![
            Block::Thinking(ThinkingBlock {
                thinking: "t".into(),
                signature: Some("s".into()),
                origin: None,
            }),
            Block::Text(TextBlock::new("Hi.")),
        ],
        stop_reason: Some(StopReason::EndTurn),
        stop_sequence: None,
        usage: Usage { input_tokens: 10, output_tokens: 50, ..Usage::default() },
    };
    let mut notes = Vec::new();
    let chat: Value =
        serde_json::from_slice(&openai::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(chat["usage"]["completion_tokens"], 50, "thinking is inside output tokens");
    assert!(chat["usage"].get("completion_tokens_details").is_none(), "{chat}");
    let r: Value = serde_json::from_slice(&responses::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(r["usage"]["output_tokens"], 50);
    assert!(r["usage"].get("output_tokens_details").is_none(), "{r}");
    assert!(
        !String::from_utf8(openai::convert::encode_response(&resp, &mut notes))
            .unwrap()
            .contains("reasoning_tokens")
    );
}

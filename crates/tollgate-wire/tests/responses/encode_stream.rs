//! Canonical streams encoded for a Responses client (25, 31, 33, 44), checked against the event
//! grammar and decoded back with the Responses decoder.

use serde_json::{Value, json};
use tollgate_wire::Usage;
use tollgate_wire::canonical::{
    Block, Delta, RedactedThinking, StopReason, StreamDecoder, StreamEncoder, StreamEvent,
    TextBlock, ThinkingBlock, ToolUse,
};
use tollgate_wire::responses::codec::{Decoder, Encoder};
use tollgate_wire::responses::{NamespacedTool, ResponseOptions, Sealer};

use crate::summary::frames;

fn options() -> ResponseOptions {
    ResponseOptions {
        response_id: "resp_tg_1".into(),
        created_at: 1_741_476_777,
        custom_tools: vec!["apply_patch".into()],
        namespaced_tools: vec![NamespacedTool {
            flat: "multi_agent_v1__spawn_agent".into(),
            namespace: "multi_agent_v1".into(),
            name: "spawn_agent".into(),
        }],
        sealer: Some(Sealer::new(b"k")),
        ..ResponseOptions::default()
    }
}

fn encode(events: &[StreamEvent], opts: ResponseOptions) -> String {
    let mut encoder = Encoder::with_options(opts);
    let mut out = Vec::new();
    for event in events {
        encoder.encode(event, &mut out);
    }
    encoder.finish(&mut out);
    String::from_utf8(out).unwrap()
}

fn start() -> StreamEvent {
    StreamEvent::MessageStart {
        id: "msg_01".into(),
        model: "claude-sonnet-4-5".into(),
        usage: Usage {
            web_search_requests: 0,
            input_tokens: 12,
            cache_read_tokens: 100,
            cache_write_tokens: 5,
            output_tokens: 1,
        },
    }
}

fn end(stop: StopReason) -> [StreamEvent; 2] {
    [
        StreamEvent::MessageDelta {
            stop_reason: Some(stop),
            stop_sequence: None,
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 12,
                cache_read_tokens: 100,
                cache_write_tokens: 5,
                output_tokens: 30,
            },
        },
        StreamEvent::MessageStop,
    ]
}

fn delta(index: usize, delta: Delta) -> StreamEvent {
    StreamEvent::BlockDelta { index, delta }
}

fn tool(index: usize, id: &str, name: &str) -> StreamEvent {
    StreamEvent::BlockStart {
        index,
        block: Block::ToolUse(ToolUse {
            id: id.into(),
            name: name.into(),
            input: json!({}),
            cache_control: None,
        }),
    }
}

/// Thinking (signed), redacted thinking, two text blocks, a function call, a custom call whose
/// JSON arrives split inside an escape, a namespaced call.
fn full_turn() -> Vec<StreamEvent> {
    let mut events = vec![
        start(),
        StreamEvent::Ping,
        StreamEvent::BlockStart { index: 0, block: Block::Thinking(ThinkingBlock::default()) },
        delta(0, Delta::Thinking("Let me ".into())),
        delta(0, Delta::Thinking("think.".into())),
        delta(0, Delta::Signature("sig-1".into())),
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: Block::RedactedThinking(RedactedThinking { data: "EmwK".into(), origin: None }),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart { index: 2, block: Block::Text(TextBlock::default()) },
        delta(2, Delta::Text("Hello".into())),
        delta(2, Delta::Text(" world.".into())),
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::BlockStart { index: 3, block: Block::Text(TextBlock::default()) },
        delta(3, Delta::Text("Second part.".into())),
        StreamEvent::BlockStop { index: 3 },
        tool(4, "toolu_1", "exec_command"),
        delta(4, Delta::InputJson("{\"cmd\":".into())),
        delta(4, Delta::InputJson("\"ls\"}".into())),
        StreamEvent::BlockStop { index: 4 },
        tool(5, "toolu_2", "apply_patch"),
        delta(5, Delta::InputJson("{\"input\":\"line\\".into())),
        delta(5, Delta::InputJson("n\\\"q\\\"\\u00e9\"}".into())),
        StreamEvent::BlockStop { index: 5 },
        tool(6, "toolu_3", "multi_agent_v1__spawn_agent"),
        delta(6, Delta::InputJson("{}".into())),
        StreamEvent::BlockStop { index: 6 },
    ];
    events.extend(end(StopReason::ToolUse));
    events
}

/// Every event is named after its `type`, and sequence numbers count up from 0.
fn check_grammar(sse: &str) -> Vec<Value> {
    let mut datas = Vec::new();
    for (n, frame) in frames(sse.as_bytes()).into_iter().enumerate() {
        let data: Value = serde_json::from_str(&frame.data).unwrap();
        assert_eq!(frame.event.as_deref(), data["type"].as_str(), "{data}");
        assert_eq!(data["sequence_number"], n, "{data}");
        datas.push(data);
    }
    datas
}

/// Volatile blobs out of the snapshot (the seal's bytes are covered by the round-trip tests).
fn redact(sse: &str) -> String {
    let mut out = String::new();
    for line in sse.lines() {
        match line.find("\"encrypted_content\":\"tg1.") {
            Some(start) => {
                let end = line[start + 21..].find('"').map_or(line.len(), |e| start + 21 + e + 1);
                out.push_str(&line[..start]);
                out.push_str("\"encrypted_content\":\"<sealed>\"");
                out.push_str(&line[end..]);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn a_full_turn_for_codex() {
    let sse = encode(&full_turn(), options());
    let events = check_grammar(&sse);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"response.created"));
    assert_eq!(kinds[1], "response.in_progress");
    assert_eq!(kinds.last(), Some(&"response.completed"));
    let done = events.last().unwrap();
    let output = done["response"]["output"].as_array().unwrap();
    let kinds: Vec<&str> = output.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["reasoning", "message", "function_call", "custom_tool_call", "function_call"]
    );
    assert_eq!(output[0]["output_index"], Value::Null);
    assert_eq!(output[1]["content"].as_array().unwrap().len(), 2);
    assert_eq!(output[3]["input"], "line\n\"q\"é", "raw text, unescaped");
    assert_eq!(output[4]["name"], "spawn_agent");
    assert_eq!(output[4]["namespace"], "multi_agent_v1");
    let usage = &done["response"]["usage"];
    assert_eq!(usage["input_tokens"], 117);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 100);
    assert_eq!(usage["total_tokens"], 147);
    // The seal holds the signed thinking and the redacted block, nothing else.
    let sealed = output[0]["encrypted_content"].as_str().unwrap();
    let blocks = Sealer::new(b"k").open(sealed).unwrap();
    assert_eq!(blocks.len(), 2);
    assert!(
        matches!(&blocks[0], Block::Thinking(t) if t.thinking == "Let me think." && t.signature.as_deref() == Some("sig-1"))
    );
    insta::assert_snapshot!(redact(&sse));
}

#[test]
fn our_stream_decodes_back_to_the_same_turn() {
    let sse = encode(&full_turn(), options());
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    for frame in frames(sse.as_bytes()) {
        decoder.decode(&frame, &mut events);
    }
    decoder.finish(&mut events);
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta { delta: Delta::Text(t), .. } => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hello world.Second part.");
    let inputs: Vec<Value> = (0..20)
        .filter_map(|i| {
            let json: String = events
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::BlockDelta { index, delta: Delta::InputJson(s) }
                        if *index == i =>
                    {
                        Some(s.as_str())
                    }
                    _ => None,
                })
                .collect();
            (!json.is_empty()).then(|| serde_json::from_str(&json).unwrap())
        })
        .collect();
    assert_eq!(inputs, [json!({"cmd": "ls"}), json!({"input": "line\n\"q\"é"}), json!({})]);
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), usage, .. }
            if usage.cache_read_tokens == 100 && usage.input_tokens == 12 && usage.cache_write_tokens == 5
    )));
}

#[test]
fn max_tokens_is_an_incomplete_response() {
    let mut events = vec![
        start(),
        StreamEvent::BlockStart { index: 0, block: Block::Text(TextBlock::default()) },
        delta(0, Delta::Text("Cut".into())),
        StreamEvent::BlockStop { index: 0 },
    ];
    events.extend(end(StopReason::MaxTokens));
    let sse = encode(&events, options());
    let last = check_grammar(&sse).pop().unwrap();
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(last["response"]["status"], "incomplete");
    assert_eq!(last["response"]["incomplete_details"]["reason"], "max_output_tokens");
}

#[test]
fn an_error_mid_stream_fails_the_response() {
    let events = vec![
        start(),
        StreamEvent::BlockStart { index: 0, block: Block::Text(TextBlock::default()) },
        delta(0, Delta::Text("Par".into())),
        StreamEvent::Error { kind: "overloaded_error".into(), message: "Overloaded".into() },
        // Nothing after an error is written.
        StreamEvent::MessageStop,
    ];
    let sse = encode(&events, options());
    let datas = check_grammar(&sse);
    let kinds: Vec<&str> = datas.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(&kinds[kinds.len() - 2..], ["error", "response.failed"]);
    let failed = datas.last().unwrap();
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(
        failed["response"]["error"],
        json!({"code": "server_is_overloaded", "message": "Overloaded"})
    );
    insta::assert_snapshot!(sse);
}

#[test]
fn a_whole_tool_input_without_fragments_is_still_sent() {
    let events = vec![
        start(),
        StreamEvent::BlockStart {
            index: 0,
            block: Block::ToolUse(ToolUse {
                id: "c1".into(),
                name: "exec_command".into(),
                input: json!({"cmd": "pwd"}),
                cache_control: None,
            }),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: Block::ToolUse(ToolUse {
                id: "c2".into(),
                name: "apply_patch".into(),
                input: json!({"input": "raw"}),
                cache_control: None,
            }),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageStop,
    ];
    let datas = check_grammar(&encode(&events, options()));
    let output = &datas.last().unwrap()["response"]["output"];
    assert_eq!(output[0]["arguments"], r#"{"cmd":"pwd"}"#);
    assert_eq!(output[1]["input"], "raw");
}

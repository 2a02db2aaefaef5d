//! Catalogue 4.4: streaming (cases 23-30).

use serde_json::{Value, json};
use tollgate_wire::Usage;
use tollgate_wire::canonical::{
    Block, Delta, StopReason, StreamEvent, TextBlock, ThinkingBlock, ToolUse, validate,
};
use tollgate_wire::openai::codec::EncoderOptions;
use tollgate_wire::{anthropic, openai, responses};

use crate::{build, decode, encode, fixture, frames, json_frames};

fn start() -> StreamEvent {
    StreamEvent::MessageStart {
        id: "msg_1".into(),
        model: "m".into(),
        usage: Usage { input_tokens: 20, cache_read_tokens: 100, ..Usage::default() },
    }
}

fn text(index: usize, t: &str) -> [StreamEvent; 3] {
    [
        StreamEvent::BlockStart { index, block: Block::Text(TextBlock::new("")) },
        StreamEvent::BlockDelta { index, delta: Delta::Text(t.into()) },
        StreamEvent::BlockStop { index },
    ]
}

fn tool(index: usize, id: &str, args: &str) -> [StreamEvent; 3] {
    let block = Block::ToolUse(ToolUse {
        id: id.into(),
        name: "ls".into(),
        input: json!({}),
        cache_control: None,
    });
    [
        StreamEvent::BlockStart { index, block },
        StreamEvent::BlockDelta { index, delta: Delta::InputJson(args.into()) },
        StreamEvent::BlockStop { index },
    ]
}

fn end(stop: StopReason) -> [StreamEvent; 2] {
    [
        StreamEvent::MessageDelta {
            stop_reason: Some(stop),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 20,
                cache_read_tokens: 100,
                output_tokens: 9,
                ..Usage::default()
            },
        },
        StreamEvent::MessageStop,
    ]
}

#[test]
fn case_23_a_translated_stream_follows_anthropics_event_grammar() {
    let sse = fixture!("openai", "chat_completion_stream_text_then_tool.sse");
    let events = build(decode(openai::codec::Decoder::new(), sse));
    assert_eq!(validate(&events), Ok(()));
    let out = encode(anthropic::codec::Encoder::new(), &events);
    let names: Vec<String> = frames(&out).into_iter().map(|f| f.event.unwrap()).collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(names.iter().filter(|n| *n == "message_delta").count(), 1);
    let mut next = 0;
    let mut open = None;
    for (name, v) in json_frames(&out) {
        let index = v["index"].as_u64();
        match name.as_deref() {
            Some("content_block_start") => {
                assert_eq!((open, index), (None, Some(next)), "indices in order, one block open");
                open = index;
                next += 1;
            }
            Some("content_block_delta") => assert_eq!(index, open),
            Some("content_block_stop") => {
                assert_eq!(index, open);
                open = None;
            }
            Some("message_delta") => assert_eq!(open, None, "blocks close before message_delta"),
            _ => {}
        }
    }
    assert_eq!(next, 2, "the text and the tool call");
}

#[test]
fn case_23_pings_anywhere_and_errors_after_a_200_are_read() {
    let sse = include_str!("../fixtures/anthropic_thinking_tools.sse");
    assert!(sse.contains("event: ping"));
    let events = decode(anthropic::codec::Decoder::new(), sse);
    assert!(events.contains(&StreamEvent::Ping));
    let events = decode(
        anthropic::codec::Decoder::new(),
        fixture!("anthropic", "messages_stream_error.sse"),
    );
    assert!(
        matches!(events.last(), Some(StreamEvent::Error { kind, .. }) if kind == "overloaded_error")
    );
}

#[test]
fn case_24_chat_chunks_several_tool_indices_per_chunk_and_trailing_usage_are_read() {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let call = |i: u64, id: &str, args: &str| {
        json!({"index": i, "id": id, "type": "function",
        "function": {"name": format!("f{i}"), "arguments": args}})
    };
    let mut sse = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    sse += &chunk(
        json!({"tool_calls": [call(0, "call_a", "{\"a\":"), call(1, "call_b", "{\"b\":")]}),
        Value::Null,
    );
    sse += &chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}, {"index": 1, "function": {"arguments": "2}"}}]}),
        Value::Null,
    );
    sse += &chunk(json!({}), json!("tool_calls"));
    sse += &format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
            "usage": {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38}})
    );
    let events = build(decode(openai::codec::Decoder::new(), &sse));
    let mut calls: Vec<(String, String)> = Vec::new();
    for e in &events {
        match e {
            StreamEvent::BlockStart { block: Block::ToolUse(u), .. } => {
                calls.push((u.id.clone(), String::new()))
            }
            StreamEvent::BlockDelta { delta: Delta::InputJson(s), .. } => {
                calls.last_mut().unwrap().1.push_str(s)
            }
            _ => {}
        }
    }
    assert_eq!(
        calls,
        [("call_a".into(), "{\"a\":1}".into()), ("call_b".into(), "{\"b\":2}".into())]
    );
    let delta = events.iter().find_map(|e| match e {
        StreamEvent::MessageDelta { stop_reason, usage, .. } => Some((stop_reason.clone(), *usage)),
        _ => None,
    });
    let (stop, usage) = delta.unwrap();
    assert_eq!(stop, Some(StopReason::ToolUse));
    assert_eq!((usage.input_tokens, usage.output_tokens), (30, 8));
}

#[test]
fn case_24_chat_clients_get_role_first_finish_alone_usage_chunk_then_done() {
    let mut events = vec![start()];
    events.extend(text(0, "Hi"));
    events.extend(end(StopReason::EndTurn));
    let out = encode(
        openai::codec::Encoder::with_options(EncoderOptions {
            include_usage: true,
            ..EncoderOptions::default()
        }),
        &events,
    );
    let chunks = json_frames(&out);
    assert_eq!(chunks[0].1["choices"][0]["delta"]["role"], "assistant");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|(_, c)| c)
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finish.len(), 1);
    assert_eq!(finish[0]["choices"][0]["delta"], json!({}), "finish_reason has a chunk of its own");
    let last = &chunks.last().unwrap().1;
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 120);
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[test]
fn case_25_responses_clients_get_the_documented_event_grammar() {
    let mut events = vec![start()];
    events.extend(text(0, "Listing."));
    events.extend(tool(1, "call_1", "{\"path\":\".\"}"));
    events.extend(end(StopReason::ToolUse));
    let out = encode(responses::codec::Encoder::new(), &build(events));
    let frames = json_frames(&out);
    for (i, (name, v)) in frames.iter().enumerate() {
        assert_eq!(v["sequence_number"], i, "sequence numbers count from 0");
        assert_eq!(name.as_deref(), v["type"].as_str(), "event name is the type");
    }
    let kinds: Vec<&str> = frames.iter().map(|(_, v)| v["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let done = &frames.last().unwrap().1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["usage"]["input_tokens"], 120);
}

#[test]
fn case_26_text_after_a_tool_call_is_a_new_block_and_the_end_waits_for_usage() {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut sse = chunk(json!({"role": "assistant", "content": "Let me look."}), Value::Null);
    sse += &chunk(
        json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
        "function": {"name": "ls", "arguments": "{}"}}]}),
        Value::Null,
    );
    sse += &chunk(json!({"content": "Done."}), Value::Null);
    sse += &chunk(json!({}), json!("tool_calls"));
    let usage = json!({"id": "c", "model": "m", "choices": [],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}});
    sse += &format!("data: {usage}\n\ndata: [DONE]\n\n");
    let events = decode(openai::codec::Decoder::new(), &sse);
    let starts: Vec<(usize, &str)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart { index, block: Block::Text(_) } => Some((*index, "text")),
            StreamEvent::BlockStart { index, block: Block::ToolUse(_) } => Some((*index, "tool")),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [(0, "text"), (1, "tool"), (2, "text")], "never under the tool's index");
    let delta = events.iter().position(|e| matches!(e, StreamEvent::MessageDelta { .. })).unwrap();
    assert!(
        matches!(
            &events[delta],
            StreamEvent::MessageDelta { usage, .. } if usage.input_tokens == 11 && usage.output_tokens == 5
        ),
        "the usage that came after finish_reason is in the delta"
    );
    assert_eq!(events.last(), Some(&StreamEvent::MessageStop));
}

#[test]
fn case_26_a_chat_stream_that_breaks_off_is_an_error_never_end_turn() {
    let sse = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hal\"},\"finish_reason\":null}]}\n\n";
    let events = build(decode(openai::codec::Decoder::new(), sse));
    assert!(matches!(events.last(), Some(StreamEvent::Error { .. })));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, StreamEvent::MessageDelta { .. } | StreamEvent::MessageStop))
    );
}

#[test]
fn case_27_anthropic_events_become_chat_chunks() {
    let mut events = vec![start(), StreamEvent::Ping];
    events.push(StreamEvent::BlockStart {
        index: 0,
        block: Block::Thinking(ThinkingBlock::default()),
    });
    events.push(StreamEvent::BlockDelta { index: 0, delta: Delta::Thinking("hmm".into()) });
    events.push(StreamEvent::BlockStop { index: 0 });
    events.extend(text(1, "Two calls."));
    events.extend(tool(2, "toolu_a", "{\"x\":1}"));
    events.extend(tool(3, "toolu_b", "{}"));
    events.extend(end(StopReason::ToolUse));
    let out = encode(openai::codec::Encoder::new(), &events);
    assert!(out.contains(": ping\n\n"), "ping becomes a comment");
    let chunks = json_frames(&out);
    let calls: Vec<&Value> = chunks
        .iter()
        .flat_map(|(_, c)| c["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten())
        .collect();
    let starts: Vec<(u64, &str)> = calls
        .iter()
        .filter(|c| c.get("id").is_some())
        .map(|c| (c["index"].as_u64().unwrap(), c["id"].as_str().unwrap()))
        .collect();
    assert_eq!(starts, [(0, "toolu_a"), (1, "toolu_b")], "indices count tool calls only");
    assert_eq!(calls[0]["function"]["arguments"], "");
    assert!(calls.iter().any(|c| c["index"] == 0 && c["function"]["arguments"] == "{\"x\":1}"));
    assert!(!out.contains("hmm"));
    let finish = chunks.iter().find(|(_, c)| c["choices"][0]["finish_reason"] == "tool_calls");
    assert_eq!(finish.unwrap().1["choices"][0]["delta"], json!({}));

    let failed = [start(), StreamEvent::Error { kind: "api_error".into(), message: "boom".into() }];
    let out = encode(openai::codec::Encoder::new(), &failed);
    assert!(out.contains(r#"data: {"error":"#) && !out.contains("[DONE]"), "{out}");
}

#[test]
fn case_28_tool_calls_are_held_whole_while_text_keeps_flowing() {
    let mut events = vec![start()];
    events.extend(text(0, "Before."));
    events.extend(tool(1, "toolu_1", "{\"a\":1}"));
    events.extend(text(2, "After."));
    let mut builder = tollgate_wire::canonical::StreamBuilder::new();
    let mut out = Vec::new();
    for e in events {
        builder.push(e, &mut out);
    }
    assert!(
        out.iter().any(
            |e| matches!(e, StreamEvent::BlockDelta { delta: Delta::Text(t), .. } if t == "After.")
        ),
        "text after the call is out before the turn ends"
    );
    assert!(
        !out.iter().any(|e| matches!(e, StreamEvent::BlockStart { block: Block::ToolUse(_), .. }))
    );
    for e in end(StopReason::ToolUse) {
        builder.push(e, &mut out);
    }
    let tool_at = out
        .iter()
        .position(|e| matches!(e, StreamEvent::BlockStart { block: Block::ToolUse(_), .. }));
    let delta_at = out.iter().position(|e| matches!(e, StreamEvent::MessageDelta { .. }));
    assert!(tool_at.unwrap() < delta_at.unwrap(), "the whole call goes out at the end of the turn");
    assert_eq!(validate(&out), Ok(()));
}

#[test]
fn case_29_upstream_pings_reach_every_client_dialect() {
    let mut events = vec![start(), StreamEvent::Ping];
    events.extend(text(0, "Hi"));
    events.extend(end(StopReason::EndTurn));
    let a = encode(anthropic::codec::Encoder::new(), &events);
    assert!(a.contains("event: ping\ndata: {\"type\": \"ping\"}\n\n"));
    let c = encode(openai::codec::Encoder::new(), &events);
    assert!(c.contains("\n\n: ping\n\n"));
    let r = encode(responses::codec::Encoder::new(), &events);
    assert!(r.contains("\n\n: keep-alive\n\n"), "an SSE comment, which every parser skips");
    for (i, (_, v)) in json_frames(&r).iter().enumerate() {
        assert_eq!(v["sequence_number"], i, "the comment is not an event");
    }
}

#[test]
fn case_30_chat_clients_get_only_standard_fields() {
    let sse = fixture!("openai", "chat_completion_stream_text_then_tool.sse");
    assert!(sse.contains("obfuscation") && sse.contains("system_fingerprint"));
    let events = build(decode(openai::codec::Decoder::new(), sse));
    let out = encode(openai::codec::Encoder::new(), &events);
    for (_, chunk) in json_frames(&out) {
        let mut keys: Vec<&str> = chunk.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["choices", "created", "id", "model", "object"], "{chunk}");
        let mut choice: Vec<&str> =
            chunk["choices"][0].as_object().unwrap().keys().map(String::as_str).collect();
        choice.sort_unstable();
        assert_eq!(choice, ["delta", "finish_reason", "index", "logprobs"]);
    }
}

//! OpenAI Chat Completions streams through the canonical model: recorded provider streams
//! decoded into events (golden), any byte split decoding the same, constructed streams for the
//! cases no recording shows, and canonical events encoded for Chat clients.

#![expect(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use tollgate_wire::Usage;
use tollgate_wire::canonical::{
    Block, Delta, StopReason, StreamDecoder, StreamEncoder, StreamEvent, TextBlock, ThinkingBlock,
    ToolUse,
};
use tollgate_wire::openai::codec::{Decoder, Encoder, EncoderOptions};
use tollgate_wire::sse::{SseDecoder, SseFrame};

macro_rules! fixture {
    ($name:literal) => {
        ($name, include_str!(concat!("../../tollgate-testkit/fixtures/openai/", $name)))
    };
}

/// Every recorded Chat stream: the provider fixtures and the two the reconstruction tests use.
const STREAMS: &[(&str, &str)] = &[
    fixture!("chat_completion_stream.sse"),
    fixture!("chat_completion_stream_error.sse"),
    fixture!("chat_completion_stream_tool_calls_usage.sse"),
    fixture!("chat_completion_stream_text_then_tool.sse"),
    fixture!("chat_completion_stream_deepseek_reasoning_tool.sse"),
    fixture!("chat_completion_stream_anthropic_compat_tool.sse"),
    fixture!("chat_completion_stream_mistral_thinking_parts.sse"),
    ("openai_tools.sse", include_str!("fixtures/openai_tools.sse")),
    ("openai_reasoning_text.sse", include_str!("fixtures/openai_reasoning_text.sse")),
];

fn decode_chunks(chunks: &[&[u8]]) -> Vec<StreamEvent> {
    let mut sse = SseDecoder::new();
    let mut frames = Vec::new();
    for c in chunks {
        sse.feed(c, &mut frames);
    }
    sse.finish();
    decode_frames(&frames)
}

fn decode_frames(frames: &[SseFrame]) -> Vec<StreamEvent> {
    let mut d = Decoder::new();
    let mut events = Vec::new();
    for f in frames {
        d.decode(f, &mut events);
    }
    d.finish(&mut events);
    events
}

fn decode(s: &str) -> Vec<StreamEvent> {
    decode_chunks(&[s.as_bytes()])
}

/// A stream of `data:` frames from chunk payloads.
fn sse(payloads: &[&str]) -> String {
    payloads.iter().map(|p| format!("data: {p}\n\n")).collect()
}

/// The canonical grammar (23): start first; blocks start, take deltas and stop one at a time with
/// increasing indices; the delta and stop last, or an error last.
fn check_grammar(events: &[StreamEvent]) {
    let mut open: Option<usize> = None;
    let mut next = 0;
    let mut ended = false;
    for (i, e) in events.iter().enumerate() {
        assert!(!ended, "event {i} after the end: {e:?}");
        match e {
            StreamEvent::MessageStart { .. } => assert_eq!(i, 0, "start must come first"),
            StreamEvent::BlockStart { index, .. } => {
                assert!(open.is_none(), "block {index} starts while {open:?} is open");
                assert_eq!(*index, next, "indices increase by one");
                open = Some(*index);
                next += 1;
            }
            StreamEvent::BlockDelta { index, .. } => {
                assert_eq!(open, Some(*index), "delta outside its block")
            }
            StreamEvent::BlockStop { index } => {
                assert_eq!(open, Some(*index));
                open = None;
            }
            StreamEvent::MessageDelta { .. } => {
                assert!(open.is_none(), "blocks close before the message delta");
                assert!(matches!(events.get(i + 1), Some(StreamEvent::MessageStop)));
            }
            StreamEvent::MessageStop | StreamEvent::Error { .. } => ended = true,
            StreamEvent::Ping => {}
        }
    }
    assert!(ended, "the stream must end with MessageStop or Error");
}

/// Each tool call's id, name and joined arguments, in block order.
fn tool_calls(events: &[StreamEvent]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(usize, String, String, String)> = Vec::new();
    for e in events {
        match e {
            StreamEvent::BlockStart { index, block: Block::ToolUse(u) } => {
                calls.push((*index, u.id.clone(), u.name.clone(), String::new()));
            }
            StreamEvent::BlockDelta { index, delta: Delta::InputJson(s) } => {
                let call = calls.iter_mut().find(|c| c.0 == *index).unwrap();
                call.3.push_str(s);
            }
            _ => {}
        }
    }
    calls.into_iter().map(|(_, id, name, args)| (id, name, args)).collect()
}

fn end_of(events: &[StreamEvent]) -> (Option<StopReason>, Usage) {
    events
        .iter()
        .find_map(|e| match e {
            StreamEvent::MessageDelta { stop_reason, usage, .. } => {
                Some((stop_reason.clone(), *usage))
            }
            _ => None,
        })
        .unwrap()
}

fn error_of(events: &[StreamEvent]) -> (String, String) {
    match events.last().unwrap() {
        StreamEvent::Error { kind, message } => (kind.clone(), message.clone()),
        other => panic!("expected an error last, got {other:?}"),
    }
}

#[test]
fn recorded_streams_decode_to_golden_events() {
    for (name, text) in STREAMS {
        let events = decode(text);
        check_grammar(&events);
        insta::assert_debug_snapshot!(format!("decode_{name}"), events);
    }
}

#[test]
fn recorded_streams_keep_their_meaning() {
    // OpenAI, text then a tool call: two blocks, usage from the trailing chunk.
    let events = decode(STREAMS[3].1);
    assert_eq!(
        tool_calls(&events),
        [("call_NZa7xqfefoaMI2YYHowVXVlU".into(), "weather".into(), "{}".into())]
    );
    let (stop, usage) = end_of(&events);
    assert_eq!(stop, Some(StopReason::ToolUse));
    assert_eq!(
        usage,
        Usage {
            web_search_requests: 0,
            input_tokens: 58,
            output_tokens: 12,
            cache_read_tokens: 0,
            cache_write_tokens: 0
        }
    );

    // DeepSeek: thinking first, usage on the finish chunk, cached tokens split out (33).
    let events = decode(STREAMS[4].1);
    assert!(matches!(&events[1], StreamEvent::BlockStart { index: 0, block: Block::Thinking(_) }));
    assert_eq!(tool_calls(&events)[0].2, r#"{"location": "San Francisco"}"#);
    let (_, usage) = end_of(&events);
    assert_eq!(
        usage,
        Usage {
            web_search_requests: 0,
            input_tokens: 118,
            output_tokens: 61,
            cache_read_tokens: 256,
            cache_write_tokens: 0
        }
    );

    // Anthropic's compatibility layer numbers the call 1; no usage chunk, so zero usage.
    let events = decode(STREAMS[5].1);
    assert_eq!(
        tool_calls(&events),
        [("toolu_sanitized".into(), "read_file".into(), r#"{"path": "a.txt"}"#.into())]
    );

    // Two calls in one chunk, then fragments interleaved: each keeps its own arguments.
    let events = decode(STREAMS[7].1);
    assert_eq!(
        tool_calls(&events),
        [
            ("call_7pXq2".into(), "read_file".into(), r#"{"path":"Cargo.toml"}"#.into()),
            ("call_9ZkR4".into(), "list_dir".into(), r#"{"dir":"src"}"#.into()),
        ]
    );

    // Mistral: content as thinking and text parts, both kinds in one chunk at the switch.
    let events = decode(STREAMS[6].1);
    check_grammar(&events);
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta { index: 1, delta: Delta::Text(t) } => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "391");
    assert!(matches!(&events[1], StreamEvent::BlockStart { index: 0, block: Block::Thinking(_) }));
    assert_eq!(end_of(&events).1.output_tokens, 139);

    // A stream that is only an error: the mapped type and the message.
    let events = decode(STREAMS[1].1);
    assert_eq!(events.len(), 1);
    assert_eq!(error_of(&events).0, "api_error");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_byte_split_decodes_the_same(which in 0..STREAMS.len(), cuts in proptest::collection::vec(0usize..10_000, 0..24)) {
        let bytes = STREAMS[which].1.as_bytes();
        let whole = decode_chunks(&[bytes]);
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for p in points {
            chunks.push(&bytes[at..p]);
            at = p;
        }
        chunks.push(&bytes[at..]);
        prop_assert_eq!(decode_chunks(&chunks), whole);
    }
}

const HEAD: &str = r#""id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"m""#;

fn chunk(choice: &str) -> String {
    format!(r#"{{{HEAD},"choices":[{choice}]}}"#)
}

fn delta(delta: &str) -> String {
    chunk(&format!(r#"{{"index":0,"delta":{delta},"finish_reason":null}}"#))
}

fn finish(reason: &str) -> String {
    chunk(&format!(r#"{{"index":0,"delta":{{}},"finish_reason":"{reason}"}}"#))
}

fn usage_chunk() -> String {
    format!(
        r#"{{{HEAD},"choices":[],"usage":{{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{{"cached_tokens":4}}}}}}"#
    )
}

fn tc(index: u64, id: &str, name: &str, args: &str) -> String {
    format!(
        r#"{{"index":{index},"id":"{id}","type":"function","function":{{"name":"{name}","arguments":"{args}"}}}}"#
    )
}

fn frag(index: u64, args: &str) -> String {
    format!(r#"{{"index":{index},"function":{{"arguments":"{args}"}}}}"#)
}

fn tools_delta(calls: &[String]) -> String {
    delta(&format!(r#"{{"tool_calls":[{}]}}"#, calls.join(",")))
}

#[test]
fn interleaved_fragments_are_held_for_later_calls_and_flushed_in_order() {
    // Constructed: three calls, fragments for 2 and 1 arriving while 0 is incomplete.
    let s = sse(&[
        &delta(r#"{"role":"assistant","content":null}"#),
        &tools_delta(&[tc(0, "a", "f", ""), tc(1, "b", "g", "")]),
        &tools_delta(&[frag(0, r#"{\"x\":"#), frag(1, r#"{\"y\""#)]),
        &tools_delta(&[tc(2, "c", "h", r#"{\"z\":3}"#)]),
        &tools_delta(&[frag(1, r#":2}"#), frag(0, "1}")]),
        &finish("tool_calls"),
        &usage_chunk(),
        "[DONE]",
    ]);
    let events = decode(&s);
    check_grammar(&events);
    assert_eq!(
        tool_calls(&events),
        [
            ("a".into(), "f".into(), r#"{"x":1}"#.into()),
            ("b".into(), "g".into(), r#"{"y":2}"#.into()),
            ("c".into(), "h".into(), r#"{"z":3}"#.into()),
        ]
    );
    assert_eq!(end_of(&events).0, Some(StopReason::ToolUse));
}

#[test]
fn sequential_calls_stream_without_holding() {
    // As api.openai.com streams parallel calls: call 1 starts once call 0 is complete JSON.
    let s = sse(&[
        &tools_delta(&[tc(0, "a", "f", "")]),
        &tools_delta(&[frag(0, r#"{\"x\":1}"#)]),
        &tools_delta(&[tc(1, "b", "g", "")]),
        &tools_delta(&[frag(1, r#"{\"y\":"#)]),
        &tools_delta(&[frag(1, "2}")]),
        &finish("tool_calls"),
        "[DONE]",
    ]);
    let events = decode(&s);
    check_grammar(&events);
    // The second call's first fragment is its own delta, not a flush at the end.
    let pos_frag = events.iter().position(|e| matches!(e, StreamEvent::BlockDelta { delta: Delta::InputJson(s), .. } if s == r#"{"y":"#));
    let pos_finish_frag = events.iter().position(
        |e| matches!(e, StreamEvent::BlockDelta { delta: Delta::InputJson(s), .. } if s == "2}"),
    );
    assert!(pos_frag.unwrap() < pos_finish_frag.unwrap());
}

#[test]
fn calls_without_index_or_with_a_reused_index() {
    // Gemini's compatibility layer omits `index`; a backend numbering every call 0 gives each a
    // new id.
    let s = sse(&[
        &delta(
            r#"{"tool_calls":[{"id":"g1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"g2","type":"function","function":{"name":"g","arguments":"{\"b\":2}"}}]}"#,
        ),
        &tools_delta(&[tc(0, "z1", "h", r#"{\"c\":"#)]),
        &tools_delta(&[frag(0, "3}")]),
        &tools_delta(&[tc(0, "z2", "k", "{}")]),
        &finish("tool_calls"),
        "[DONE]",
    ]);
    let events = decode(&s);
    check_grammar(&events);
    let calls: Vec<_> = tool_calls(&events).into_iter().map(|(id, _, args)| (id, args)).collect();
    assert_eq!(
        calls,
        [
            ("g1".into(), r#"{"a":1}"#.into()),
            ("g2".into(), r#"{"b":2}"#.into()),
            ("z1".into(), r#"{"c":3}"#.into()),
            ("z2".into(), "{}".into()),
        ]
    );
}

#[test]
fn text_after_a_tool_call_opens_a_new_block() {
    let s = sse(&[
        &delta(r#"{"content":"Let me look."}"#),
        &tools_delta(&[tc(0, "a", "f", "{}")]),
        &delta(r#"{"content":"Done."}"#),
        &finish("tool_calls"),
        "[DONE]",
    ]);
    let events = decode(&s);
    check_grammar(&events);
    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart { block, .. } => Some(std::mem::discriminant(block)),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 3, "text, tool, new text");
    assert_eq!(starts[0], starts[2]);
}

#[test]
fn a_fragment_for_a_closed_call_is_an_error_not_a_misassignment() {
    let s = sse(&[
        &tools_delta(&[tc(0, "a", "f", r#"{\"x\":"#)]),
        &delta(r#"{"content":"text"}"#),
        &tools_delta(&[frag(0, "1}")]),
        &finish("tool_calls"),
        "[DONE]",
    ]);
    let events = decode(&s);
    check_grammar(&events);
    assert!(error_of(&events).1.contains("\"a\""));
}

#[test]
fn length_cut_mid_arguments_keeps_max_tokens() {
    let s = sse(&[
        &tools_delta(&[tc(0, "a", "write", r#"{\"text\": \"half"#)]),
        &finish("length"),
        &usage_chunk(),
        "[DONE]",
    ]);
    let events = decode(&s);
    check_grammar(&events);
    assert_eq!(tool_calls(&events)[0].2, r#"{"text": "half"#);
    let (stop, usage) = end_of(&events);
    assert_eq!(stop, Some(StopReason::MaxTokens), "not turned into tool_use (32)");
    assert_eq!(
        usage,
        Usage {
            web_search_requests: 0,
            input_tokens: 6,
            output_tokens: 5,
            cache_read_tokens: 4,
            cache_write_tokens: 0
        }
    );
}

#[test]
fn refusals_and_content_filter() {
    let events =
        decode(&sse(&[&delta(r#"{"content":"I can"}"#), &finish("content_filter"), "[DONE]"]));
    assert_eq!(end_of(&events).0, Some(StopReason::Refusal), "not stop_sequence (31)");

    let events = decode(&sse(&[
        &delta(r#"{"refusal":"I can't help with that."}"#),
        &finish("stop"),
        "[DONE]",
    ]));
    check_grammar(&events);
    assert!(
        matches!(&events[2], StreamEvent::BlockDelta { delta: Delta::Text(t), .. } if t == "I can't help with that.")
    );
    assert_eq!(end_of(&events).0, Some(StopReason::Refusal));
}

#[test]
fn finish_reason_is_made_consistent_with_tool_calls() {
    // A provider saying `stop` after a tool call (32).
    let events = decode(&sse(&[&tools_delta(&[tc(0, "a", "f", "{}")]), &finish("stop"), "[DONE]"]));
    assert_eq!(end_of(&events).0, Some(StopReason::ToolUse));
    // `tool_calls` with no call is an ordinary end (luthien #721).
    let events = decode(&sse(&[&delta(r#"{"content":"hi"}"#), &finish("tool_calls"), "[DONE]"]));
    assert_eq!(end_of(&events).0, Some(StopReason::EndTurn));
}

#[test]
fn the_end_waits_for_usage_and_never_fakes_one() {
    // Content and the finish reason in one chunk, empty `tool_calls` (vercel/ai #20203 shape).
    let s = sse(&[
        &chunk(
            r#"{"index":0,"delta":{"role":"assistant","content":"Hello","tool_calls":[]},"finish_reason":"stop"}"#,
        ),
        &usage_chunk(),
    ]);
    let events = decode(&s);
    check_grammar(&events);
    assert_eq!(
        end_of(&events),
        (
            Some(StopReason::EndTurn),
            Usage {
                web_search_requests: 0,
                input_tokens: 6,
                output_tokens: 5,
                cache_read_tokens: 4,
                cache_write_tokens: 0
            }
        )
    );

    // The end is held after the finish reason: nothing ends before the usage chunk.
    let mut d = Decoder::new();
    let mut events = Vec::new();
    d.decode(&SseFrame::new(None, delta(r#"{"content":"x"}"#)), &mut events);
    d.decode(&SseFrame::new(None, finish("stop")), &mut events);
    assert!(!events.iter().any(|e| matches!(e, StreamEvent::MessageDelta { .. })));
    d.decode(&SseFrame::new(None, usage_chunk()), &mut events);
    assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));

    // `[DONE]` without a finish reason, and a stream that breaks off: errors (26).
    let events = decode(&sse(&[&delta(r#"{"content":"x"}"#), "[DONE]"]));
    check_grammar(&events);
    assert!(error_of(&events).1.contains("finish_reason"));
    let events = decode(&sse(&[&delta(r#"{"content":"x"}"#)]));
    check_grammar(&events);
    assert_eq!(error_of(&events).0, "api_error");
    assert_eq!(error_of(&decode("")).0, "api_error");

    // A finish reason and then the end of the stream without `[DONE]`: the model did finish.
    let events = decode(&sse(&[&delta(r#"{"content":"x"}"#), &finish("stop")]));
    check_grammar(&events);
    assert_eq!(end_of(&events).0, Some(StopReason::EndTurn));
}

#[test]
fn errors_mid_stream_map_to_anthropic_types() {
    let cases = [
        (
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
            "rate_limit_error",
        ),
        (r#"{"error":{"message":"busy","code":529}}"#, "overloaded_error"),
        (
            r#"{"error":{"message":"no","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            "invalid_request_error",
        ),
        (
            r#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
            "billing_error",
        ),
        (r#"{"error":{"message":"?","type":"brand_new_error"}}"#, "api_error"),
        (r#"{"error":"plain"}"#, "api_error"),
    ];
    for (payload, kind) in cases {
        let events = decode(&sse(&[&delta(r#"{"content":"partial"}"#), payload, "[DONE]"]));
        check_grammar(&events);
        assert_eq!(error_of(&events).0, kind, "{payload}");
    }
    let events = decode(&sse(&[&delta(r#"{"content":"partial"}"#), "{not json"]));
    assert!(error_of(&events).1.contains("not valid JSON"));
}

fn encode(events: &[StreamEvent], options: EncoderOptions) -> String {
    let mut e = Encoder::with_options(options);
    let mut out = Vec::new();
    for ev in events {
        e.encode(ev, &mut out);
    }
    e.finish(&mut out);
    String::from_utf8(out).unwrap()
}

fn opts(include_usage: bool) -> EncoderOptions {
    EncoderOptions { include_usage, created: 1_754_318_400, model_override: None }
}

/// A canonical stream as an Anthropic provider would give it: thinking, text, two tool calls.
fn anthropic_like_events() -> Vec<StreamEvent> {
    let tool = |id: &str, name: &str| {
        Block::ToolUse(ToolUse {
            id: id.into(),
            name: name.into(),
            input: serde_json::json!({}),
            cache_control: None,
        })
    };
    vec![
        StreamEvent::MessageStart {
            id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
            model: "claude-sonnet-4-5".into(),
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 20,
                output_tokens: 1,
                cache_read_tokens: 100,
                cache_write_tokens: 30,
            },
        },
        StreamEvent::Ping,
        StreamEvent::BlockStart { index: 0, block: Block::Thinking(ThinkingBlock::default()) },
        StreamEvent::BlockDelta { index: 0, delta: Delta::Thinking("Let me check both.".into()) },
        StreamEvent::BlockDelta { index: 0, delta: Delta::Signature("EqQBCgIYAhIM".into()) },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart { index: 1, block: Block::Text(TextBlock::new("")) },
        StreamEvent::BlockDelta { index: 1, delta: Delta::Text("Checking".into()) },
        StreamEvent::BlockDelta { index: 1, delta: Delta::Text(" now.".into()) },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::BlockStart { index: 2, block: tool("toolu_01A", "get_weather") },
        StreamEvent::BlockDelta { index: 2, delta: Delta::InputJson(r#"{"city": "#.into()) },
        StreamEvent::BlockDelta { index: 2, delta: Delta::InputJson(r#""Paris"}"#.into()) },
        StreamEvent::BlockStop { index: 2 },
        StreamEvent::BlockStart { index: 3, block: tool("toolu_01B", "get_time") },
        StreamEvent::BlockDelta { index: 3, delta: Delta::InputJson(r#"{"tz": "CET"}"#.into()) },
        StreamEvent::BlockStop { index: 3 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 20,
                output_tokens: 89,
                cache_read_tokens: 100,
                cache_write_tokens: 30,
            },
        },
        StreamEvent::MessageStop,
    ]
}

#[test]
fn canonical_events_encode_as_chat_chunks() {
    let with_usage = encode(&anthropic_like_events(), opts(true));
    insta::assert_snapshot!("encode_thinking_text_two_tools_with_usage", with_usage);
    assert!(!with_usage.contains("Let me check"), "thinking stays out (11)");
    assert!(with_usage.ends_with("data: [DONE]\n\n"));
    assert!(with_usage.contains(": ping\n\n"));
    // The usage chunk counts cached input in prompt_tokens (33) and follows the finish chunk.
    assert!(with_usage.contains(r#""choices":[],"usage":{"prompt_tokens":150,"completion_tokens":89,"total_tokens":239,"prompt_tokens_details":{"cached_tokens":100}}"#));

    let without = encode(&anthropic_like_events(), opts(false));
    assert!(!without.contains("usage"));
    assert!(!without.contains(r#""choices":[]"#));

    // What we write, a Chat decoder reads back: same text, calls and stop.
    let events = decode(&with_usage);
    check_grammar(&events);
    assert_eq!(
        tool_calls(&events),
        [
            ("toolu_01A".into(), "get_weather".into(), r#"{"city": "Paris"}"#.into()),
            ("toolu_01B".into(), "get_time".into(), r#"{"tz": "CET"}"#.into()),
        ]
    );
    assert!(
        matches!(&events[0], StreamEvent::MessageStart { id, .. } if id == "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL")
    );
    let (stop, usage) = end_of(&events);
    assert_eq!(stop, Some(StopReason::ToolUse));
    assert_eq!(usage.total_input(), 150);
}

#[test]
fn finish_reason_never_shares_a_chunk_with_content() {
    for line in encode(&anthropic_like_events(), opts(true))
        .lines()
        .filter(|l| l.contains(r#""finish_reason":""#))
    {
        assert!(line.contains(r#""delta":{}"#), "{line}");
    }
}

#[test]
fn chat_streams_round_trip_through_the_canonical_model() {
    for (name, text) in STREAMS {
        let events = decode(text);
        if matches!(events.last(), Some(StreamEvent::Error { .. })) {
            continue;
        }
        let again = decode(&encode(&events, opts(true)));
        let strip = |evs: &[StreamEvent]| -> Vec<StreamEvent> {
            // Thinking is not standard Chat and does not come back (11).
            let thinking: Vec<usize> = evs
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::BlockStart { index, block: Block::Thinking(_) } => Some(*index),
                    _ => None,
                })
                .collect();
            evs.iter()
                .filter(|e| match e {
                    StreamEvent::BlockStart { index, .. }
                    | StreamEvent::BlockDelta { index, .. }
                    | StreamEvent::BlockStop { index } => !thinking.contains(index),
                    StreamEvent::MessageStart { .. } => false,
                    _ => true,
                })
                .map(|e| match e {
                    StreamEvent::BlockStart { block, .. } => {
                        StreamEvent::BlockStart { index: 0, block: block.clone() }
                    }
                    StreamEvent::BlockDelta { delta, .. } => {
                        StreamEvent::BlockDelta { index: 0, delta: delta.clone() }
                    }
                    StreamEvent::BlockStop { .. } => StreamEvent::BlockStop { index: 0 },
                    other => other.clone(),
                })
                .collect()
        };
        assert_eq!(strip(&again), strip(&events), "{name}");
    }
}

#[test]
fn errors_end_the_chat_stream_without_done() {
    let events = [
        StreamEvent::MessageStart {
            id: "chatcmpl-x".into(),
            model: "m".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart { index: 0, block: Block::Text(TextBlock::new("")) },
        StreamEvent::BlockDelta { index: 0, delta: Delta::Text("par".into()) },
        StreamEvent::Error { kind: "overloaded_error".into(), message: "Overloaded".into() },
        StreamEvent::MessageStop,
    ];
    let out = encode(&events, opts(false));
    insta::assert_snapshot!("encode_error_mid_stream", out);
    assert!(out.ends_with(
        "data: {\"error\":{\"code\":\"overloaded\",\"message\":\"Overloaded\",\"param\":null,\"type\":\"server_error\"}}\n\n"
    ));
    assert!(!out.contains("[DONE]"));
}

#[test]
fn odd_field_shapes_do_not_fail_the_chunk() {
    // OpenRouter-style `reasoning` objects are skipped; an arguments object is taken whole.
    let s = sse(&[
        &delta(r#"{"reasoning":{"summary":"x"},"content":"ok"}"#),
        &tools_delta(&[
            r#"{"index":0,"id":"a","function":{"name":"f","arguments":{"x":1}}}"#.to_owned()
        ]),
        &finish("tool_calls"),
        "[DONE]",
    ]);
    let events = decode(&s);
    check_grammar(&events);
    assert_eq!(tool_calls(&events), [("a".into(), "f".into(), r#"{"x":1}"#.into())]);
    assert_eq!(end_of(&events).0, Some(StopReason::ToolUse));
}

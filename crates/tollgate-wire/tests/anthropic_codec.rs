//! The Anthropic stream codec against recorded and documented streams: golden event snapshots,
//! encode-then-decode round trips, any byte split, and the decoder's edge rules.

use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_wire::Usage;
use tollgate_wire::anthropic::codec::{Decoder, Encoder};
use tollgate_wire::canonical::{
    Block, Delta, Opaque, Origin, StopReason, StreamDecoder, StreamEncoder, StreamEvent, TextBlock,
    ThinkingBlock,
};
use tollgate_wire::dialect::Dialect;
use tollgate_wire::sse::{SseDecoder, SseFrame};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../../tollgate-testkit/fixtures/anthropic/", $name)) as &[u8],
        )
    };
    (wire $name:literal) => {
        ($name, include_bytes!(concat!("fixtures/", $name)) as &[u8])
    };
}

/// Every Anthropic stream we hold: the docs' examples, API recordings, and the wire crate's own
/// redacted-thinking / web-search / cut-off streams.
const STREAMS: &[(&str, &[u8])] = &[
    fixture!("messages_stream_text.sse"),
    fixture!("messages_stream_tool_use.sse"),
    fixture!("messages_stream_thinking.sse"),
    fixture!("messages_stream_error.sse"),
    fixture!("messages_stream_signature_only_thinking.sse"),
    fixture!("messages_stream_tool_search.sse"),
    fixture!("messages_stream_usage_in_delta.sse"),
    fixture!(wire "anthropic_thinking_tools.sse"),
    fixture!(wire "anthropic_web_search.sse"),
    fixture!(wire "anthropic_cut_off.sse"),
];

fn frames(chunks: &[&[u8]]) -> Vec<SseFrame> {
    let mut sse = SseDecoder::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        sse.feed(chunk, &mut frames);
    }
    frames
}

fn decode_chunks(chunks: &[&[u8]]) -> Vec<StreamEvent> {
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    for frame in frames(chunks) {
        decoder.decode(&frame, &mut events);
    }
    decoder.finish(&mut events);
    events
}

fn decode(bytes: &[u8]) -> Vec<StreamEvent> {
    decode_chunks(&[bytes])
}

fn encode(events: &[StreamEvent]) -> Vec<u8> {
    let mut encoder = Encoder::new();
    let mut out = Vec::new();
    for event in events {
        encoder.encode(event, &mut out);
    }
    encoder.finish(&mut out);
    out
}

fn frame(event: &str, data: Value) -> SseFrame {
    SseFrame::new(Some(event), data.to_string())
}

fn decode_frames(frames: &[SseFrame]) -> Vec<StreamEvent> {
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    for f in frames {
        decoder.decode(f, &mut events);
    }
    decoder.finish(&mut events);
    events
}

fn start() -> SseFrame {
    frame(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "content": [], "model": "claude-x", "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": 10, "cache_creation_input_tokens": 3,
            "cache_read_input_tokens": 100, "output_tokens": 1}}}),
    )
}

#[test]
fn fixture_streams_decode_to_the_golden_events() {
    for (name, bytes) in STREAMS {
        insta::assert_debug_snapshot!(format!("decode_{name}"), decode(bytes));
    }
}

#[test]
fn encoded_events_decode_back_to_the_same_events() {
    for (name, bytes) in STREAMS {
        let events = decode(bytes);
        let again = decode(&encode(&events));
        assert_eq!(again, events, "{name}");
    }
}

#[test]
fn every_fixture_ends_in_a_terminal_event() {
    for (name, bytes) in STREAMS {
        let events = decode(bytes);
        let last = events.last().unwrap();
        assert!(
            matches!(last, StreamEvent::MessageStop | StreamEvent::Error { .. }),
            "{name}: {last:?}"
        );
        let terminals = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::MessageStop | StreamEvent::Error { .. }))
            .count();
        assert_eq!(terminals, 1, "{name}");
    }
}

/// The encoder writes the documented shapes: the docs' tool-use stream, re-encoded, has the same
/// frames with the same JSON, save the usage objects, which gain the cache counters.
#[test]
fn encoding_reproduces_the_documented_frames() {
    for (name, bytes) in
        [fixture!("messages_stream_tool_use.sse"), fixture!("messages_stream_text.sse")]
    {
        let original = frames(&[bytes]);
        let encoded = encode(&decode(bytes));
        let written = frames(&[&encoded]);
        assert_eq!(written.len(), original.len(), "{name}");
        for (a, b) in original.iter().zip(&written) {
            assert_eq!(a.event, b.event, "{name}");
            let mut a: Value = serde_json::from_str(&a.data).unwrap();
            let mut b: Value = serde_json::from_str(&b.data).unwrap();
            let usage = |v: &mut Value| {
                let holder = if v["type"] == "message_start" { &mut v["message"] } else { v };
                holder.as_object_mut().and_then(|o| o.remove("usage"))
            };
            match (usage(&mut a), usage(&mut b)) {
                (Some(Value::Object(documented)), Some(Value::Object(written))) => {
                    for (key, value) in documented {
                        assert_eq!(written.get(&key), Some(&value), "{name}: usage {key}");
                    }
                }
                (None, None) => {}
                other => panic!("{name}: usage mismatch {other:?}"),
            }
            assert_eq!(a, b, "{name}");
        }
    }
    let ping = encode(&[StreamEvent::Ping]);
    assert_eq!(ping, b"event: ping\ndata: {\"type\": \"ping\"}\n\n");
}

#[test]
fn message_delta_usage_is_cumulative_and_merges_with_the_start() {
    let events = decode_frames(&[
        start(),
        frame(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                   "usage": {"output_tokens": 15}}),
        ),
        frame(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                   "usage": {"input_tokens": 12, "output_tokens": 20}}),
        ),
        frame("message_stop", json!({"type": "message_stop"})),
    ]);
    let usages: Vec<Usage> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::MessageDelta { usage, .. } => Some(*usage),
            _ => None,
        })
        .collect();
    let expected = |input, output| Usage {
        web_search_requests: 0,
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: 100,
        cache_write_tokens: 3,
    };
    assert_eq!(usages, vec![expected(10, 15), expected(12, 20)]);
    assert_eq!(
        events[0],
        StreamEvent::MessageStart {
            id: "msg_1".into(),
            model: "claude-x".into(),
            usage: expected(10, 1)
        }
    );
}

#[test]
fn frames_without_an_event_name_and_unknown_events_are_ignored() {
    let events = decode_frames(&[
        start(),
        SseFrame::new(None, r#"{"type":"message_stop"}"#),
        frame("some_future_event", json!({"type": "some_future_event"})),
        frame(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        frame(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "future_delta", "x": 1}}),
        ),
        frame("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        frame("message_stop", json!({"type": "message_stop"})),
    ]);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[3], StreamEvent::MessageStop);
}

#[test]
fn malformed_data_is_an_error_and_the_rest_is_ignored() {
    let events = decode_frames(&[
        start(),
        SseFrame::new(Some("content_block_start"), "{not json"),
        frame("message_stop", json!({"type": "message_stop"})),
    ]);
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[1], StreamEvent::Error { kind, message }
        if kind == "api_error" && message.contains("content_block_start")));
}

#[test]
fn a_stream_without_message_stop_ends_in_an_error_never_a_fake_end_turn() {
    let events = decode_frames(&[start()]);
    assert!(matches!(events.last(), Some(StreamEvent::Error { kind, .. }) if kind == "api_error"));
    assert!(!events.iter().any(|e| matches!(e, StreamEvent::MessageDelta { .. })));
    let events = decode_frames(&[frame(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    )]);
    assert_eq!(events.len(), 1, "content before message_start is an error, and only one");
    assert!(
        matches!(&events[0], StreamEvent::Error { message, .. } if message.contains("before `message_start`"))
    );
}

#[test]
fn mid_stream_errors_keep_their_type_and_message() {
    let events = decode_frames(&[
        start(),
        frame(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
    ]);
    assert_eq!(
        events[1],
        StreamEvent::Error { kind: "overloaded_error".into(), message: "Overloaded".into() }
    );
    let written = encode(&events[1..]);
    assert_eq!(
        written,
        b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
    );
}

#[test]
fn opaque_blocks_arrive_whole_with_their_streamed_input() {
    let events = decode(fixture!("messages_stream_tool_search.sse").1);
    let StreamEvent::BlockStart { index: 0, block: Block::Opaque(opaque) } = &events[1] else {
        panic!("{:?}", events[1]);
    };
    assert_eq!(opaque.dialect, Dialect::Anthropic);
    assert_eq!(opaque.value["type"], "server_tool_use");
    assert_eq!(
        opaque.value["input"],
        json!({"pattern": "weather|SF|San Francisco|forecast|temperature|climate", "limit": 10})
    );
    assert_eq!(events[2], StreamEvent::BlockStop { index: 0 });
}

#[test]
fn block_starts_carrying_content_become_deltas() {
    let events = decode_frames(&[
        start(),
        frame(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block":
                {"type": "text", "text": "pre", "citations": [{"type": "char_location"}]}}),
        ),
        frame("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        frame(
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block":
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}}),
        ),
        frame("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
    ]);
    assert_eq!(
        events[1],
        StreamEvent::BlockStart { index: 0, block: Block::Text(TextBlock::new("")) }
    );
    assert_eq!(events[2], StreamEvent::BlockDelta { index: 0, delta: Delta::Text("pre".into()) });
    assert_eq!(
        events[3],
        StreamEvent::BlockDelta {
            index: 0,
            delta: Delta::Citation(json!({"type": "char_location"}))
        }
    );
    assert_eq!(
        events[6],
        StreamEvent::BlockDelta { index: 1, delta: Delta::InputJson(r#"{"a":1}"#.into()) }
    );
}

#[test]
fn blocks_anthropic_cannot_answer_with_are_left_out_and_indices_renumbered() {
    let foreign = Block::Opaque(Opaque {
        dialect: Dialect::OpenAiResponses,
        value: json!({"type": "reasoning"}),
    });
    let events = vec![
        StreamEvent::MessageStart {
            id: "resp_1".into(),
            model: "m".into(),
            usage: Usage::default(),
        },
        StreamEvent::BlockStart { index: 0, block: foreign },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart { index: 1, block: Block::Text(TextBlock::new("")) },
        StreamEvent::BlockDelta { index: 1, delta: Delta::Text("hi".into()) },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::EndTurn),
            stop_sequence: None,
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 5,
                output_tokens: 2,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            },
        },
        StreamEvent::MessageStop,
    ];
    let written = encode(&events);
    let frames = frames(&[&written]);
    let data: Vec<Value> = frames.iter().map(|f| serde_json::from_str(&f.data).unwrap()).collect();
    assert_eq!(data[0]["message"]["id"], "msg_resp_1");
    assert_eq!(
        data[1],
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(data[2]["index"], 0);
    assert_eq!(
        data[4],
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"input_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 2}})
    );
    assert_eq!(frames.len(), 6);
}

#[test]
fn a_decoder_that_knows_its_provider_stamps_thinking_with_its_issuer() {
    let mut decoder = Decoder::with_provider("anthropic");
    let mut events = Vec::new();
    for frame in frames(&[fixture!(wire "anthropic_thinking_tools.sse").1]) {
        decoder.decode(&frame, &mut events);
    }
    let origin = Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() };
    assert_eq!(decoder.origin(), Some(&origin));
    let stamped: Vec<Option<&Origin>> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart { block: Block::Thinking(t), .. } => Some(t.origin.as_ref()),
            StreamEvent::BlockStart { block: Block::RedactedThinking(r), .. } => {
                Some(r.origin.as_ref())
            }
            _ => None,
        })
        .collect();
    assert_eq!(stamped, vec![Some(&origin); 3]);
    let plain = decode(fixture!(wire "anthropic_thinking_tools.sse").1);
    assert!(plain.iter().all(|e| !matches!(
        e,
        StreamEvent::BlockStart {
            block: Block::Thinking(ThinkingBlock { origin: Some(_), .. }),
            ..
        }
    )));
}

proptest! {
    #[test]
    fn any_byte_split_decodes_to_the_same_events(
        which in 0..STREAMS.len(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let (_, bytes) = STREAMS[which];
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            chunks.push(&bytes[prev..c]);
            prev = c;
        }
        prop_assert_eq!(decode_chunks(&chunks), decode(bytes));
    }
}

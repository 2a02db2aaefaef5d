//! Recorded Responses streams decoded into canonical events (25, 34, 44), and the same events
//! whatever byte chunks the stream arrives in.

use proptest::prelude::*;
use serde_json::Value;
use tollgate_wire::canonical::{Delta, StopReason, StreamDecoder, StreamEvent};
use tollgate_wire::responses::codec::Decoder;
use tollgate_wire::sse::{SseDecoder, SseFrame};

use crate::fixture;
use crate::summary;

const STREAMS: [(&str, &str); 6] = [
    ("text", fixture!("stream_text.sse")),
    ("function_call", fixture!("stream_function_call.sse")),
    ("reasoning_function_call", fixture!("stream_reasoning_function_call.sse")),
    ("custom_tool_call", fixture!("stream_custom_tool_call.sse")),
    ("error", fixture!("stream_error.sse")),
    ("failed", fixture!("stream_failed.sse")),
];

/// Feeds `chunks` through the SSE decoder and the Responses decoder.
fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<StreamEvent> {
    let mut sse = SseDecoder::new();
    let mut decoder = Decoder::new();
    let mut frames: Vec<SseFrame> = Vec::new();
    let mut events = Vec::new();
    for chunk in chunks {
        sse.feed(chunk, &mut frames);
        for frame in frames.drain(..) {
            decoder.decode(&frame, &mut events);
        }
    }
    decoder.finish(&mut events);
    events
}

fn decode(stream: &str) -> Vec<StreamEvent> {
    decode_chunks([stream.as_bytes()])
}

fn snapshot(events: &[StreamEvent]) -> Value {
    Value::Array(events.iter().map(summary::event).collect())
}

/// The tool-use input a stream assembles for block `index`.
fn input_json(events: &[StreamEvent], index: usize) -> Value {
    let json: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta { index: i, delta: Delta::InputJson(s) } if *i == index => {
                Some(s.as_str())
            }
            _ => None,
        })
        .collect();
    serde_json::from_str(&json).unwrap()
}

#[test]
fn text_stream() {
    let events = decode(STREAMS[0].1);
    assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));
    insta::assert_json_snapshot!(snapshot(&events));
}

#[test]
fn function_call_stream() {
    let events = decode(STREAMS[1].1);
    assert_eq!(input_json(&events, 0), serde_json::json!({"city": "Beijing"}));
    insta::assert_json_snapshot!(snapshot(&events));
}

#[test]
fn reasoning_stream_gives_thinking_then_the_opaque_item() {
    let events = decode(STREAMS[2].1);
    let StreamEvent::BlockStart { block: tollgate_wire::canonical::Block::Opaque(item), .. } =
        &events.iter().filter(|e| matches!(e, StreamEvent::BlockStart { .. })).nth(1).unwrap()
    else {
        panic!("the reasoning item follows its summary");
    };
    assert!(item.value["encrypted_content"].as_str().unwrap().starts_with("gAAAAABpPDIVOKrs"));
    assert_eq!(input_json(&events, 2), serde_json::json!({"a": 12, "b": 7, "op": "add"}));
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), usage, .. }
            if usage.input_tokens == 134 && usage.output_tokens == 28
    )));
    insta::assert_json_snapshot!(snapshot(&events));
}

#[test]
fn custom_tool_call_input_assembles_to_the_canonical_object() {
    let events = decode(STREAMS[3].1);
    assert_eq!(
        input_json(&events, 0),
        serde_json::json!({"input": "SELECT * FROM users WHERE age > 25"})
    );
    insta::assert_json_snapshot!(snapshot(&events));
}

#[test]
fn errors_end_the_stream() {
    let events = decode(STREAMS[4].1);
    assert_eq!(events.iter().filter(|e| matches!(e, StreamEvent::Error { .. })).count(), 1);
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Error { kind, .. }) if kind == "billing_error"
    ));
    let events = decode(STREAMS[5].1);
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Error { kind, message }) if kind == "rate_limit_error" && message.starts_with("Request too large")
    ));
    insta::assert_json_snapshot!(snapshot(&decode(STREAMS[4].1)));
}

#[test]
fn a_stream_without_its_terminal_event_is_an_error() {
    let text = STREAMS[0].1;
    let cut = text.find("event: response.completed").unwrap();
    let events = decode(&text[..cut]);
    assert!(matches!(events.last(), Some(StreamEvent::Error { kind, .. }) if kind == "api_error"));
    assert!(!events.iter().any(|e| matches!(e, StreamEvent::MessageStop)));
}

#[test]
fn malformed_data_is_an_error_not_a_panic() {
    let events = decode("event: response.created\ndata: {not json\n\n");
    assert!(matches!(events.as_slice(), [StreamEvent::Error { .. }]));
}

#[test]
fn whole_items_without_deltas_still_arrive() {
    // A minimal server that only sends `done` items and the terminal event.
    let stream = concat!(
        "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"model\":\"m\"}}\n\n",
        "data: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\"}]}}\n\n",
        "data: {\"type\":\"response.output_item.done\",\"output_index\":1,\"item\":{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}\n\n",
        "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"model\":\"m\",\"status\":\"completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}}\n\n",
    );
    let events = decode(stream);
    assert_eq!(input_json(&events, 1), serde_json::json!({"a": 1}));
    assert!(
        events.iter().any(
            |e| matches!(e, StreamEvent::BlockDelta { delta: Delta::Text(t), .. } if t == "Hi")
        )
    );
    // Only the terminal response: its `output` is the answer.
    let stream = "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_2\",\"model\":\"m\",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hel\"}]}]}}\n\n";
    let events = decode(stream);
    assert!(
        events.iter().any(
            |e| matches!(e, StreamEvent::BlockDelta { delta: Delta::Text(t), .. } if t == "Hel")
        )
    );
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::MaxTokens), .. }
    )));
}

proptest! {
    #[test]
    fn any_byte_split_decodes_the_same(
        which in 0..STREAMS.len(),
        cuts in proptest::collection::vec(0usize..25_000, 0..16),
    ) {
        let bytes = STREAMS[which].1.as_bytes();
        let whole = decode_chunks([bytes]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for cut in cuts {
            chunks.push(&bytes[last..cut]);
            last = cut;
        }
        chunks.push(&bytes[last..]);
        prop_assert_eq!(decode_chunks(chunks), whole);
    }
}

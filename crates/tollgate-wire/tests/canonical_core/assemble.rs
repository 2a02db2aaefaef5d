//! The assembler (stream events to a whole response) and `events_of` (back), with the round
//! trip between them.

use proptest::prelude::*;
use serde_json::json;
use tollgate_wire::canonical::assemble::{Assembler, StreamFailure, events_of};
use tollgate_wire::canonical::builder::CUT_SHORT;
use tollgate_wire::canonical::{
    Block, Delta, Document, Image, Opaque, Origin, RedactedThinking, Response, Source, StopReason,
    StreamEvent, TextBlock, ThinkingBlock, ToolUse,
};
use tollgate_wire::{Dialect, Usage};

use crate::arb::arb_response;
use crate::ev::*;

fn assemble(events: &[StreamEvent]) -> Result<Response, StreamFailure> {
    let mut a = Assembler::new();
    events.iter().for_each(|e| a.push(e));
    a.finish()
}

#[expect(clippy::unwrap_used, reason = "a test helper: a failed assembly fails the test")]
fn tool_input(fragments: &[&str]) -> (serde_json::Value, Vec<String>) {
    let mut events = vec![start(), tool_start(0, "toolu_1")];
    events.extend(fragments.iter().map(|f| json_frag(0, f)));
    events.extend([stop(0), end(Some(StopReason::ToolUse)), StreamEvent::MessageStop]);
    let mut a = Assembler::new();
    events.iter().for_each(|e| a.push(e));
    let notes = a.notes().iter().map(|n| n.0.clone()).collect();
    match a.finish().unwrap().content.as_slice() {
        [Block::ToolUse(t)] => (t.input.clone(), notes),
        other => panic!("{other:?}"),
    }
}

#[test]
fn text_thinking_and_tool_calls_are_folded() {
    let events = vec![
        start(),
        StreamEvent::Ping,
        thinking_start(0),
        think(0, "Let me "),
        think(0, "think."),
        sig(0, "EqQBCgIYAhIM"),
        stop(0),
        text_start(1),
        text(1, "Hello"),
        text(1, ", world"),
        stop(1),
        tool_start(2, "toolu_1"),
        json_frag(2, "{\"cmd\": "),
        json_frag(2, "\"ls -la\"}"),
        stop(2),
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 10,
                output_tokens: 42,
                cache_read_tokens: 3,
                cache_write_tokens: 4,
            },
        },
        StreamEvent::MessageStop,
    ];
    let r = assemble(&events).unwrap();
    assert_eq!(
        r,
        Response {
            id: "msg_1".into(),
            model: "m".into(),
            content: vec![
                Block::Thinking(ThinkingBlock {
                    thinking: "Let me think.".into(),
                    signature: Some("EqQBCgIYAhIM".into()),
                    origin: None,
                }),
                Block::Text(TextBlock::new("Hello, world")),
                tool("toolu_1", json!({"cmd": "ls -la"})),
            ],
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 10,
                output_tokens: 42,
                cache_read_tokens: 3,
                cache_write_tokens: 4
            },
        }
    );
}

#[test]
fn tool_input_json_is_repaired_at_the_block_stop() {
    assert_eq!(tool_input(&[]), (json!({}), vec![]));
    assert_eq!(tool_input(&["", "  "]), (json!({}), vec![]));
    assert_eq!(tool_input(&["{\"a\":", "[1,2]}"]).0, json!({"a": [1, 2]}));
    // Cut off by max_tokens: `{}` and a note, and the stream goes on.
    let (input, notes) = tool_input(&["{\"path\": \"/tmp/fi"]);
    assert_eq!(input, json!({}));
    assert!(notes[0].contains("not valid JSON"), "{notes:?}");
    // Not an object: wrapped.
    assert_eq!(tool_input(&["[1, 2]"]).0, json!({"value": [1, 2]}));
    assert_eq!(tool_input(&["\"just text\""]).0, json!({"value": "just text"}));
}

#[test]
fn a_tool_start_with_an_input_and_no_fragments_keeps_it() {
    let events = vec![
        start(),
        StreamEvent::BlockStart { index: 0, block: tool("toolu_1", json!({"q": 1})) },
        stop(0),
        end(Some(StopReason::ToolUse)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(assemble(&events).unwrap().content, vec![tool("toolu_1", json!({"q": 1}))]);
}

#[test]
fn citations_are_collected_into_the_text_block() {
    let c1 = json!({"type": "char_location", "cited_text": "a", "document_index": 0});
    let c2 = json!({"type": "page_location", "cited_text": "b", "start_page_number": 1});
    let events = vec![
        start(),
        text_start(0),
        delta(0, Delta::Citation(c1.clone())),
        text(0, "the grass is green"),
        delta(0, Delta::Citation(c2.clone())),
        stop(0),
        end(Some(StopReason::EndTurn)),
        StreamEvent::MessageStop,
    ];
    let r = assemble(&events).unwrap();
    assert_eq!(
        r.content,
        vec![Block::Text(TextBlock {
            text: "the grass is green".into(),
            cache_control: None,
            citations: Some(json!([c1, c2])),
        })]
    );
}

#[test]
fn the_message_delta_sets_stop_reason_sequence_and_usage() {
    let events = vec![
        StreamEvent::MessageStart {
            id: "msg_1".into(),
            model: "m".into(),
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 100,
                output_tokens: 1,
                cache_read_tokens: 50,
                cache_write_tokens: 7,
            },
        },
        text_start(0),
        text(0, "x"),
        stop(0),
        // Output only, as Anthropic's message_delta often says: the start's input counts stay.
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::StopSequence),
            stop_sequence: Some("END".into()),
            usage: usage(0, 30),
        },
        StreamEvent::MessageStop,
    ];
    let r = assemble(&events).unwrap();
    assert_eq!(r.stop_reason, Some(StopReason::StopSequence));
    assert_eq!(r.stop_sequence.as_deref(), Some("END"));
    assert_eq!(
        r.usage,
        Usage {
            web_search_requests: 0,
            input_tokens: 100,
            output_tokens: 30,
            cache_read_tokens: 50,
            cache_write_tokens: 7
        }
    );
}

#[test]
fn an_error_or_a_missing_stop_fails() {
    let failed =
        assemble(&[start(), text_start(0), text(0, "a"), error(), StreamEvent::MessageStop]);
    assert_eq!(
        failed,
        Err(StreamFailure { kind: "overloaded_error".into(), message: "Overloaded".into() })
    );
    let cut =
        assemble(&[start(), text_start(0), text(0, "a"), stop(0), end(Some(StopReason::EndTurn))]);
    assert_eq!(cut, Err(StreamFailure { kind: "api_error".into(), message: CUT_SHORT.into() }));
    assert!(assemble(&[]).is_err());
}

#[test]
fn events_for_unknown_blocks_are_ignored() {
    let events = vec![
        start(),
        text(3, "x"),
        stop(9),
        text_start(0),
        text(0, "a"),
        json_frag(0, "{"),
        stop(0),
        end(None),
        StreamEvent::MessageStop,
    ];
    assert_eq!(assemble(&events).unwrap().content, vec![Block::Text(TextBlock::new("a"))]);
}

fn every_kind_of_block() -> Response {
    let origin = Some(Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() });
    Response {
        id: "msg_01".into(),
        model: "claude-sonnet-4-5-20250929".into(),
        content: vec![
            Block::Thinking(ThinkingBlock {
                thinking: String::new(),
                signature: Some("SIGONLY".into()),
                origin: origin.clone(),
            }),
            Block::RedactedThinking(RedactedThinking { data: "EmwKAhgB".into(), origin }),
            Block::Opaque(Opaque {
                dialect: Dialect::Anthropic,
                value: json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}),
            }),
            Block::Text(TextBlock {
                text: "cited".into(),
                cache_control: None,
                citations: Some(
                    json!([{"type": "web_search_result_location", "url": "https://a"}]),
                ),
            }),
            Block::Text(TextBlock {
                text: String::new(),
                cache_control: None,
                citations: Some(json!([])),
            }),
            Block::Image(Image {
                source: Source::Url("https://a/b.png".into()),
                detail: Some("low".into()),
                cache_control: None,
            }),
            Block::Document(Document {
                context: None,
                citations: None,
                source: Source::Text { media_type: "text/plain".into(), data: "doc".into() },
                title: Some("t".into()),
                filename: None,
                cache_control: None,
            }),
            Block::ToolUse(ToolUse {
                id: "toolu_1".into(),
                name: "bash".into(),
                input: json!({}),
                cache_control: None,
            }),
            Block::ToolUse(ToolUse {
                id: "toolu_2".into(),
                name: "edit".into(),
                input: json!({"path": "a\"b", "n": [1, 2.5, null]}),
                cache_control: None,
            }),
        ],
        stop_reason: Some(StopReason::ToolUse),
        stop_sequence: None,
        usage: Usage {
            web_search_requests: 0,
            input_tokens: 5,
            output_tokens: 6,
            cache_read_tokens: 7,
            cache_write_tokens: 8,
        },
    }
}

#[test]
fn events_of_streams_a_response_as_the_grammar_says() {
    let r = every_kind_of_block();
    let events = events_of(&r);
    assert_eq!(
        events[0],
        StreamEvent::MessageStart {
            id: "msg_01".into(),
            model: "claude-sonnet-4-5-20250929".into(),
            usage: Usage {
                web_search_requests: 0,
                input_tokens: 5,
                output_tokens: 0,
                cache_read_tokens: 7,
                cache_write_tokens: 8
            },
        }
    );
    // Signature-only thinking: an empty start and the signature delta, nothing else.
    assert!(
        matches!(&events[1], StreamEvent::BlockStart { index: 0, block: Block::Thinking(t) } if t.signature.is_none() && t.origin.is_some())
    );
    assert_eq!(events[2], sig(0, "SIGONLY"));
    assert_eq!(events[3], stop(0));
    // Redacted thinking whole in its start.
    assert!(matches!(
        &events[4],
        StreamEvent::BlockStart { index: 1, block: Block::RedactedThinking(_) }
    ));
    assert_eq!(events[5], stop(1));
    assert_eq!(events.last(), Some(&StreamEvent::MessageStop));
    assert_eq!(
        events[events.len() - 2],
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: r.usage,
        }
    );
}

#[test]
fn every_kind_of_block_round_trips() {
    let r = every_kind_of_block();
    assert_eq!(assemble(&events_of(&r)).unwrap(), r);
    assert_eq!(assemble(&events_of(&Response::default())).unwrap(), Response::default());
}

proptest! {
    #[test]
    fn assembling_events_of_a_response_gives_it_back(r in arb_response()) {
        prop_assert_eq!(assemble(&events_of(&r)).unwrap(), r);
    }
}

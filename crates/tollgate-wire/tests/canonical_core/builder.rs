//! The stream builder and validator: for each invariant, a stream that breaks it, what the
//! builder makes of it, and the validator flagging the raw stream. Then `fix_response`, and
//! properties over arbitrary input.

use proptest::prelude::*;
use serde_json::json;
use tollgate_wire::canonical::assemble::{Assembler, events_of};
use tollgate_wire::canonical::builder::{CUT_SHORT, NO_CONTENT, Validator, fix_response, validate};
use tollgate_wire::canonical::{
    Block, Delta, RedactedThinking, Response, StopReason, StreamBuilder, StreamEvent, TextBlock,
    ThinkingBlock,
};

use crate::arb::{arb_events, arb_response};
use crate::ev::*;

/// The position and message of the raw stream's first violation.
fn violation(events: &[StreamEvent]) -> (usize, String) {
    match validate(events) {
        Ok(()) => panic!("expected a violation in {events:#?}"),
        Err(v) => (v.position, v.message),
    }
}

fn stop_reason_of(events: &[StreamEvent]) -> Option<StopReason> {
    events.iter().find_map(|e| match e {
        StreamEvent::MessageDelta { stop_reason, .. } => Some(stop_reason.clone()),
        _ => None,
    })?
}

fn simple_text_stream() -> Vec<StreamEvent> {
    vec![
        start(),
        text_start(0),
        text(0, "Hello"),
        stop(0),
        end(Some(StopReason::EndTurn)),
        StreamEvent::MessageStop,
    ]
}

#[test]
fn a_well_formed_stream_passes_unchanged() {
    let raw = vec![
        start(),
        StreamEvent::Ping,
        thinking_start(0),
        think(0, "hmm"),
        sig(0, "SIG"),
        stop(0),
        text_start(1),
        text(1, "Let me look."),
        stop(1),
        tool_start(2, "toolu_1"),
        json_frag(2, "{\"cmd\":"),
        json_frag(2, "\"ls\"}"),
        stop(2),
        end(Some(StopReason::ToolUse)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(validate(&raw), Ok(()));
    let (out, notes) = build(raw.clone());
    assert_eq!(out, raw);
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn message_start_must_come_first() {
    let raw = vec![text_start(0), text(0, "hi"), stop(0), end(None), StreamEvent::MessageStop];
    assert_eq!(violation(&raw).0, 0);
    let (out, notes) = build(raw);
    assert!(
        matches!(&out[..], [StreamEvent::Error { kind, .. }] if kind == "api_error"),
        "{out:?}"
    );
    assert!(has_note(&notes, "did not begin with a message start"));
}

#[test]
fn pings_before_the_start_are_dropped_and_pass_after_it() {
    let mut raw = vec![StreamEvent::Ping];
    raw.extend(simple_text_stream());
    raw.insert(3, StreamEvent::Ping);
    assert_eq!(violation(&raw), (0, "ping before message start".into()));
    let (out, _) = build(raw);
    assert_eq!(out[0], start());
    assert_eq!(out.iter().filter(|e| **e == StreamEvent::Ping).count(), 1);
}

#[test]
fn an_error_may_be_the_first_and_only_event() {
    assert_eq!(validate(&[error()]), Ok(()));
    let (out, _) = build(vec![error()]);
    assert_eq!(out, vec![error()]);
}

#[test]
fn nothing_passes_after_message_stop() {
    let mut raw = simple_text_stream();
    raw.extend([StreamEvent::Ping, text_start(1), text(1, "late"), stop(1), error()]);
    assert_eq!(violation(&raw), (6, "event after the end of the stream".into()));
    let (out, notes) = build(raw);
    assert_eq!(out, simple_text_stream());
    assert!(has_note(&notes, "after the end of the stream ignored"));
}

#[test]
fn nothing_passes_after_an_error() {
    let raw = vec![start(), text_start(0), text(0, "a"), error(), text(0, "b"), stop(0)];
    assert_eq!(violation(&raw).0, 4);
    let (out, _) = build(raw);
    assert_eq!(out, vec![start(), text_start(0), text(0, "a"), error()]);
}

#[test]
fn indices_are_renumbered_in_start_order() {
    let raw = vec![
        start(),
        thinking_start(7),
        sig(7, "S"),
        stop(7),
        text_start(3),
        text(3, "x"),
        stop(3),
        end(Some(StopReason::EndTurn)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(violation(&raw), (1, "block index 7, expected 0".into()));
    let (out, _) = build(raw);
    assert_eq!(out[1], thinking_start(0));
    assert_eq!(out[2], sig(0, "S"));
    assert_eq!(out[3], stop(0));
    assert_eq!(&out[4..7], &[text_start(1), text(1, "x"), stop(1)]);
}

#[test]
fn a_block_start_closes_the_open_block() {
    let raw = vec![
        start(),
        text_start(0),
        text(0, "a"),
        text_start(1),
        text(1, "b"),
        stop(1),
        stop(0),
        end(Some(StopReason::EndTurn)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(violation(&raw).0, 3);
    let (out, notes) = build(raw);
    assert_eq!(
        &out[1..7],
        &[text_start(0), text(0, "a"), stop(0), text_start(1), text(1, "b"), stop(1)]
    );
    assert!(has_note(&notes, "stop for block 0, which is not open"));
}

#[test]
fn deltas_and_stops_for_unknown_or_closed_blocks_are_dropped() {
    let raw = vec![
        start(),
        text(4, "nowhere"),
        text_start(0),
        text(0, "a"),
        stop(0),
        text(0, "after stop"),
        stop(0),
        end(Some(StopReason::EndTurn)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(violation(&raw), (1, "delta for block 4, which is not open".into()));
    let (out, notes) = build(raw);
    assert_eq!(
        out,
        simple_text_stream()
            .into_iter()
            .map(|e| match e {
                StreamEvent::BlockDelta { .. } => text(0, "a"),
                e => e,
            })
            .collect::<Vec<_>>()
    );
    assert!(has_note(&notes, "delta for block 4, which is not open, dropped"));
    assert!(has_note(&notes, "delta for block 0, which is not open, dropped"));
}

#[test]
fn deltas_of_the_wrong_type_are_dropped() {
    for (block, bad) in [
        (text_start(0), Delta::InputJson("{}".into())),
        (text_start(0), Delta::Signature("S".into())),
        (thinking_start(0), Delta::Text("t".into())),
        (tool_start(0, "toolu_1"), Delta::Thinking("t".into())),
        (
            StreamEvent::BlockStart {
                index: 0,
                block: Block::RedactedThinking(RedactedThinking { data: "D".into(), origin: None }),
            },
            Delta::Thinking("t".into()),
        ),
    ] {
        let raw = vec![
            start(),
            block,
            delta(0, bad.clone()),
            stop(0),
            end(None),
            StreamEvent::MessageStop,
        ];
        assert!(violation(&raw).1.contains("delta on"), "{bad:?}");
        let (out, notes) = build(raw);
        assert!(!out.contains(&delta(0, bad.clone())), "{bad:?} kept");
        assert!(has_note(&notes, "dropped"));
    }
    // Citations belong on text.
    let cite = Delta::Citation(json!({"type": "char_location"}));
    let raw = vec![
        start(),
        text_start(0),
        delta(0, cite.clone()),
        text(0, "x"),
        stop(0),
        end(None),
        StreamEvent::MessageStop,
    ];
    assert_eq!(validate(&raw), Ok(()));
}

#[test]
fn text_after_a_tool_call_goes_out_before_it() {
    let raw = vec![
        start(),
        tool_start(0, "toolu_1"),
        json_frag(0, "{\"cmd\":\"ls\"}"),
        stop(0),
        text_start(1),
        text(1, "Running it."),
        stop(1),
        end(Some(StopReason::ToolUse)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(violation(&raw), (4, "text block 1 after a tool_use block".into()));

    // Streams with no delay: each text event goes out as it comes; the tool call waits.
    let mut b = StreamBuilder::new();
    let mut out = Vec::new();
    for e in raw[..6].iter().cloned() {
        b.push(e, &mut out);
    }
    assert_eq!(out, vec![start(), text_start(0), text(0, "Running it.")]);
    for e in raw[6..].iter().cloned() {
        b.push(e, &mut out);
    }
    b.finish(&mut out);
    assert_eq!(validate(&out), Ok(()));
    assert_eq!(
        &out[3..7],
        &[stop(0), tool_start(1, "toolu_1"), json_frag(1, "{\"cmd\":\"ls\"}"), stop(1)]
    );
    assert_eq!(stop_reason_of(&out), Some(StopReason::ToolUse));
}

#[test]
fn parallel_tool_calls_keep_their_order_around_interleaved_text() {
    let raw = vec![
        start(),
        text_start(0),
        text(0, "a"),
        tool_start(1, "toolu_A"),
        json_frag(1, "{}"),
        text_start(2),
        text(2, "b"),
        tool_start(3, "toolu_B"),
        json_frag(3, "{\"x\":1}"),
        end(Some(StopReason::ToolUse)),
        StreamEvent::MessageStop,
    ];
    let (out, _) = build(raw);
    let starts: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart { index, block: Block::ToolUse(t) } => {
                Some((*index, t.id.clone()))
            }
            StreamEvent::BlockStart { index, .. } => Some((*index, "text".into())),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        vec![(0, "text".into()), (1, "text".into()), (2, "toolu_A".into()), (3, "toolu_B".into())]
    );
    assert!(out.contains(&json_frag(3, "{\"x\":1}")));
}

#[test]
fn an_error_discards_held_tool_calls() {
    let raw = vec![
        start(),
        text_start(0),
        text(0, "a"),
        tool_start(1, "toolu_1"),
        json_frag(1, "{\"cm"),
        error(),
    ];
    assert_eq!(
        validate(&raw),
        Err(tollgate_wire::canonical::Violation {
            position: 3,
            message: "block 1 starts while block 0 is open".into()
        })
    );
    let (out, notes) = build(raw);
    assert_eq!(out, vec![start(), text_start(0), text(0, "a"), stop(0), error()]);
    assert!(has_note(&notes, "1 unfinished tool call(s) discarded"));
}

#[test]
fn thinking_after_text_is_dropped() {
    for late in [
        thinking_start(1),
        StreamEvent::BlockStart {
            index: 1,
            block: Block::RedactedThinking(RedactedThinking { data: "D".into(), origin: None }),
        },
    ] {
        let raw = vec![
            start(),
            text_start(0),
            text(0, "a"),
            stop(0),
            late,
            think(1, "late thought"),
            sig(1, "S"),
            stop(1),
            end(Some(StopReason::EndTurn)),
            StreamEvent::MessageStop,
        ];
        assert!(violation(&raw).1.ends_with("after a text block"));
        let (out, notes) = build(raw);
        assert_eq!(
            out,
            simple_text_stream()
                .into_iter()
                .map(|e| match e {
                    StreamEvent::BlockDelta { .. } => text(0, "a"),
                    e => e,
                })
                .collect::<Vec<_>>()
        );
        assert!(has_note(&notes, "after text dropped"));
        assert_eq!(notes.len(), 1, "the dropped block's deltas are silent: {notes:?}");
    }
}

#[test]
fn tool_use_without_a_tool_call_becomes_end_turn() {
    let mut raw = simple_text_stream();
    raw[4] = end(Some(StopReason::ToolUse));
    assert_eq!(violation(&raw), (4, "stop reason tool_use without a tool call".into()));
    let (out, notes) = build(raw);
    assert_eq!(stop_reason_of(&out), Some(StopReason::EndTurn));
    assert!(has_note(&notes, "changed to end_turn"));
}

#[test]
fn tool_calls_make_the_stop_reason_tool_use() {
    for reason in [None, Some(StopReason::EndTurn), Some(StopReason::StopSequence)] {
        let raw = vec![
            start(),
            tool_start(0, "toolu_1"),
            stop(0),
            StreamEvent::MessageDelta {
                stop_reason: reason.clone(),
                stop_sequence: Some("STOP".into()),
                usage: usage(10, 5),
            },
            StreamEvent::MessageStop,
        ];
        assert!(violation(&raw).1.contains("with tool calls"), "{reason:?}");
        let (out, _) = build(raw);
        assert!(out.contains(&StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: usage(10, 5),
        }));
    }
}

#[test]
fn other_stop_reasons_are_kept() {
    for reason in [
        StopReason::MaxTokens,
        StopReason::Refusal,
        StopReason::PauseTurn,
        StopReason::Other("x".into()),
    ] {
        let with_tool = vec![
            start(),
            tool_start(0, "toolu_1"),
            json_frag(0, "{\"cmd\":\"l"),
            stop(0),
            end(Some(reason.clone())),
            StreamEvent::MessageStop,
        ];
        assert_eq!(validate(&with_tool), Ok(()));
        let (out, notes) = build(with_tool);
        assert_eq!(stop_reason_of(&out), Some(reason.clone()));
        assert!(notes.is_empty());
        let mut plain = simple_text_stream();
        plain[4] = end(Some(reason.clone()));
        assert_eq!(stop_reason_of(&build(plain).0), Some(reason));
    }
}

#[test]
fn an_empty_turn_gets_the_placeholder_text() {
    let raw = vec![start(), end(Some(StopReason::EndTurn)), StreamEvent::MessageStop];
    assert_eq!(violation(&raw), (1, "empty turn: message delta without any block".into()));
    let (out, notes) = build(raw);
    assert_eq!(&out[1..4], &[text_start(0), text(0, NO_CONTENT), stop(0)]);
    assert!(has_note(&notes, "empty turn"));
    // The only block dropped (a stray delta) still leaves an empty turn.
    let (out, _) = build(vec![start(), text(0, "x"), end(None), StreamEvent::MessageStop]);
    assert!(out.contains(&text(0, NO_CONTENT)));
}

#[test]
fn an_empty_text_block_is_not_an_empty_turn() {
    let raw = vec![
        start(),
        text_start(0),
        stop(0),
        end(Some(StopReason::EndTurn)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(validate(&raw), Ok(()));
    assert_eq!(build(raw.clone()).0, raw);
}

#[test]
fn blocks_close_before_the_message_delta() {
    let raw = vec![
        start(),
        text_start(0),
        text(0, "a"),
        end(Some(StopReason::MaxTokens)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(violation(&raw), (3, "message delta while block 0 is open".into()));
    let (out, _) = build(raw);
    assert_eq!(out[3], stop(0));
}

#[test]
fn blocks_after_the_message_delta_are_dropped() {
    let raw = vec![
        start(),
        text_start(0),
        text(0, "a"),
        stop(0),
        end(Some(StopReason::EndTurn)),
        text_start(1),
        text(1, "late"),
        stop(1),
        StreamEvent::MessageStop,
    ];
    assert_eq!(violation(&raw), (5, "block start after message delta".into()));
    let (out, notes) = build(raw);
    assert_eq!(
        out,
        simple_text_stream()
            .into_iter()
            .map(|e| match e {
                StreamEvent::BlockDelta { .. } => text(0, "a"),
                e => e,
            })
            .collect::<Vec<_>>()
    );
    assert!(has_note(&notes, "after the end of the turn dropped"));
}

#[test]
fn several_message_deltas_become_one_with_the_latest_values() {
    let mut raw = simple_text_stream();
    raw.insert(
        5,
        StreamEvent::MessageDelta { stop_reason: None, stop_sequence: None, usage: usage(10, 9) },
    );
    assert_eq!(violation(&raw), (5, "second message delta".into()));
    let (out, _) = build(raw);
    let deltas: Vec<_> =
        out.iter().filter(|e| matches!(e, StreamEvent::MessageDelta { .. })).collect();
    assert_eq!(
        deltas,
        vec![&StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::EndTurn),
            stop_sequence: None,
            usage: usage(10, 9),
        }]
    );
}

#[test]
fn a_message_stop_without_a_delta_gets_one() {
    let raw = vec![start(), text_start(0), text(0, "a"), stop(0), StreamEvent::MessageStop];
    assert_eq!(violation(&raw), (4, "message stop without message delta".into()));
    let (out, notes) = build(raw);
    assert_eq!(
        out[4],
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::EndTurn),
            stop_sequence: None,
            usage: usage(10, 0),
        }
    );
    assert!(has_note(&notes, "without a message delta"));
    let (out, _) =
        build(vec![start(), tool_start(0, "toolu_1"), stop(0), StreamEvent::MessageStop]);
    assert_eq!(stop_reason_of(&out), Some(StopReason::ToolUse));
}

#[test]
fn a_delta_without_input_counts_keeps_those_of_the_start() {
    let mut raw = simple_text_stream();
    raw[4] = StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::EndTurn),
        stop_sequence: None,
        usage: usage(0, 7),
    };
    let (out, _) = build(raw);
    assert!(out.contains(&StreamEvent::MessageDelta {
        stop_reason: Some(StopReason::EndTurn),
        stop_sequence: None,
        usage: usage(10, 7),
    }));
}

#[test]
fn a_stream_cut_short_ends_in_an_error() {
    let raw = vec![start(), text_start(0), text(0, "a"), tool_start(1, "toolu_1")];
    let mut v = Validator::new();
    raw.iter().try_for_each(|e| v.push(e)).unwrap_err();
    let (out, notes) = build(raw);
    assert_eq!(
        out.last(),
        Some(&StreamEvent::Error { kind: "api_error".into(), message: CUT_SHORT.into() })
    );
    assert!(
        !out.iter().any(|e| matches!(e, StreamEvent::MessageDelta { .. })),
        "no faked end_turn"
    );
    assert!(has_note(&notes, "discarded"));

    // Cut after the message delta: the delta (usage) goes out, then the error.
    let mut raw = simple_text_stream();
    raw.pop();
    let mut v = Validator::new();
    raw.iter().try_for_each(|e| v.push(e)).unwrap();
    assert_eq!(v.finish().unwrap_err().position, 5);
    let (out, _) = build(raw);
    assert!(matches!(out[out.len() - 2], StreamEvent::MessageDelta { .. }));
    assert!(matches!(out[out.len() - 1], StreamEvent::Error { .. }));

    // Nothing at all.
    assert!(validate(&[]).is_err());
    let (out, _) = build(vec![]);
    assert!(matches!(&out[..], [StreamEvent::Error { .. }]));
}

#[test]
fn block_starts_are_emptied_into_deltas() {
    let raw = vec![
        start(),
        StreamEvent::BlockStart {
            index: 0,
            block: Block::Thinking(ThinkingBlock {
                thinking: "t".into(),
                signature: Some("S".into()),
                origin: None,
            }),
        },
        stop(0),
        StreamEvent::BlockStart { index: 1, block: Block::Text(TextBlock::new("whole")) },
        stop(1),
        StreamEvent::BlockStart { index: 2, block: tool("toolu_1", json!({"cmd": "ls"})) },
        stop(2),
        end(Some(StopReason::ToolUse)),
        StreamEvent::MessageStop,
    ];
    assert_eq!(violation(&raw), (1, "thinking block 0 does not start empty".into()));
    let (out, _) = build(raw);
    assert_eq!(
        &out[1..12],
        &[
            thinking_start(0),
            think(0, "t"),
            sig(0, "S"),
            stop(0),
            text_start(1),
            text(1, "whole"),
            stop(1),
            tool_start(2, "toolu_1"),
            json_frag(2, "{\"cmd\":\"ls\"}"),
            stop(2),
            end(Some(StopReason::ToolUse)),
        ]
    );
}

#[test]
fn a_second_message_start_is_ignored() {
    let mut raw = simple_text_stream();
    raw.insert(1, start());
    assert_eq!(violation(&raw), (1, "second message start".into()));
    assert_eq!(build(raw).0, simple_text_stream());
}

fn text_block(s: &str) -> Block {
    Block::Text(TextBlock::new(s))
}

fn thinking(s: &str) -> Block {
    Block::Thinking(ThinkingBlock { thinking: s.into(), signature: Some("S".into()), origin: None })
}

#[test]
fn fix_response_moves_tool_calls_last_and_drops_late_thinking() {
    let mut r = Response {
        content: vec![
            thinking("first"),
            tool("toolu_1", json!({})),
            text_block(""),
            text_block("after the call"),
            thinking("late"),
        ],
        stop_reason: Some(StopReason::EndTurn),
        ..Response::default()
    };
    let mut notes = Vec::new();
    fix_response(&mut r, &mut notes);
    assert_eq!(
        r.content,
        vec![thinking("first"), text_block("after the call"), tool("toolu_1", json!({}))]
    );
    assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
    assert!(has_note(&notes, "thinking block(s) after text dropped"));
    assert!(has_note(&notes, "tool calls moved"));
    assert_eq!(validate(&events_of(&r)), Ok(()));
}

#[test]
fn fix_response_fills_an_empty_answer_and_fixes_tool_use() {
    let mut r = Response {
        content: vec![text_block("")],
        stop_reason: Some(StopReason::ToolUse),
        ..Response::default()
    };
    let mut notes = Vec::new();
    fix_response(&mut r, &mut notes);
    assert_eq!(r.content, vec![text_block(NO_CONTENT)]);
    assert_eq!(r.stop_reason, Some(StopReason::EndTurn));
    assert!(has_note(&notes, "empty answer"));

    let mut r = Response {
        content: vec![text_block("ok")],
        stop_reason: Some(StopReason::MaxTokens),
        ..Response::default()
    };
    let before = r.clone();
    let mut notes = Vec::new();
    fix_response(&mut r, &mut notes);
    assert_eq!(r, before);
    assert!(notes.is_empty());
}

proptest! {
    /// Whatever a decoder emits, the builder's output satisfies the invariants (checked inside
    /// `build`) and the builder never panics.
    #[test]
    fn any_input_gives_a_valid_stream(events in arb_events()) {
        let (out, _) = build(events);
        prop_assert!(!out.is_empty());
    }

    /// The builder loses nothing `fix_response` would keep: a response streamed in any block
    /// order comes out of the builder as the same answer, once both are fixed. (Empty text
    /// blocks are left out: a stream cannot know a text block stays empty when it starts, so
    /// thinking after one is dropped there but kept in a whole response.)
    #[test]
    fn the_builder_keeps_what_fix_response_keeps(mut r in arb_response()) {
        r.content.retain(|b| !matches!(b, Block::Text(t) if t.text.is_empty()));
        let (out, _) = build(events_of(&r));
        let mut asm = Assembler::new();
        out.iter().for_each(|e| asm.push(e));
        let mut streamed = asm.finish().unwrap();
        fix_response(&mut streamed, &mut Vec::new());
        fix_response(&mut r, &mut Vec::new());
        prop_assert_eq!(streamed, r);
    }

    /// A response that already satisfies the invariants streams through the builder unchanged.
    #[test]
    fn valid_streams_pass_unchanged(mut r in arb_response()) {
        fix_response(&mut r, &mut Vec::new());
        let events = events_of(&r);
        prop_assert_eq!(validate(&events), Ok(()));
        let (out, notes) = build(events.clone());
        prop_assert_eq!(out, events);
        prop_assert!(notes.is_empty(), "{:?}", notes);
    }

    /// The incremental validator agrees with `validate`.
    #[test]
    fn the_validator_agrees_with_validate(events in arb_events()) {
        let mut v = Validator::new();
        let incremental = events.iter().try_for_each(|e| v.push(e)).and_then(|()| v.finish());
        prop_assert_eq!(incremental, validate(&events));
    }
}

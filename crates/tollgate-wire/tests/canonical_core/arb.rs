//! Proptest strategies: whole responses (for round trips) and arbitrary event sequences (for the
//! builder's guarantee that whatever comes in, a valid stream goes out).

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tollgate_wire::canonical::{
    Block, Delta, Image, Opaque, Origin, RedactedThinking, Response, Source, StopReason,
    StreamEvent, TextBlock, ThinkingBlock, ToolUse,
};
use tollgate_wire::{Dialect, Usage};

fn arb_usage() -> impl Strategy<Value = Usage> {
    (0..1000u64, 0..1000u64, 0..100u64, 0..100u64).prop_map(|(i, o, r, w)| Usage {
        web_search_requests: 0,
        input_tokens: i,
        output_tokens: o,
        cache_read_tokens: r,
        cache_write_tokens: w,
    })
}

fn arb_stop() -> impl Strategy<Value = Option<StopReason>> {
    prop_oneof![
        Just(None),
        Just(Some(StopReason::EndTurn)),
        Just(Some(StopReason::MaxTokens)),
        Just(Some(StopReason::StopSequence)),
        Just(Some(StopReason::ToolUse)),
        Just(Some(StopReason::PauseTurn)),
        Just(Some(StopReason::Refusal)),
        Just(Some(StopReason::Other("weird".into()))),
    ]
}

fn arb_origin() -> impl Strategy<Value = Option<Origin>> {
    proptest::option::of(
        ("[a-z]{1,6}", "[a-z0-9-]{1,10}")
            .prop_map(|(provider, family)| Origin { provider, family }),
    )
}

fn arb_input() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(
        "[a-z]{1,5}",
        prop_oneof![
            any::<i32>().prop_map(Value::from),
            "[ -~]{0,8}".prop_map(Value::from),
            Just(json!([1, {"a": null}])),
        ],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>()))
}

pub fn arb_block() -> impl Strategy<Value = Block> {
    prop_oneof![
        (
            "[ -~\n]{0,12}",
            proptest::option::of(proptest::collection::vec(
                "[a-z]{1,6}".prop_map(|t| json!({"type": "char_location", "cited_text": t})),
                0..3
            ))
        )
            .prop_map(|(text, cites)| Block::Text(TextBlock {
                text,
                cache_control: None,
                citations: cites.map(Value::Array),
            })),
        ("[ -~]{0,12}", proptest::option::of("[A-Za-z0-9+/=]{1,16}"), arb_origin()).prop_map(
            |(thinking, signature, origin)| Block::Thinking(ThinkingBlock {
                thinking,
                signature,
                origin
            })
        ),
        ("[A-Za-z0-9]{1,12}", arb_origin())
            .prop_map(|(data, origin)| Block::RedactedThinking(RedactedThinking { data, origin })),
        ("toolu_[a-z0-9]{1,8}", "[a-z_]{1,8}", arb_input()).prop_map(|(id, name, input)| {
            Block::ToolUse(ToolUse { id, name, input, cache_control: None })
        }),
        "[a-z]{1,8}".prop_map(|q| Block::Opaque(Opaque {
            dialect: Dialect::Anthropic,
            value: json!({"type": "server_tool_use", "id": "srvtoolu_1", "input": {"query": q}}),
        })),
        Just(Block::Image(Image {
            source: Source::Url("https://example.com/a.png".into()),
            detail: None,
            cache_control: None,
        })),
    ]
}

pub fn arb_response() -> impl Strategy<Value = Response> {
    (
        "msg_[a-z0-9]{1,8}",
        "[a-z0-9-]{1,12}",
        proptest::collection::vec(arb_block(), 0..6),
        arb_stop(),
        proptest::option::of("[A-Z]{1,4}"),
        arb_usage(),
    )
        .prop_map(|(id, model, content, stop_reason, stop_sequence, usage)| Response {
            id,
            model,
            content,
            stop_reason,
            stop_sequence,
            usage,
        })
}

fn arb_delta() -> impl Strategy<Value = Delta> {
    prop_oneof![
        "[a-z ]{0,4}".prop_map(Delta::Text),
        "[{}\":a-z0-9]{0,6}".prop_map(Delta::InputJson),
        "[a-z ]{0,4}".prop_map(Delta::Thinking),
        "[a-z]{1,4}".prop_map(Delta::Signature),
        Just(Delta::Citation(json!({"type": "char_location"}))),
    ]
}

/// Any sequence of events, well-formed or not, with small indices so they collide.
pub fn arb_events() -> impl Strategy<Value = Vec<StreamEvent>> {
    let event = prop_oneof![
        2 => arb_usage().prop_map(|usage| StreamEvent::MessageStart {
            id: "msg_x".into(),
            model: "m".into(),
            usage
        }),
        6 => (0..4usize, arb_block()).prop_map(|(index, block)| StreamEvent::BlockStart { index, block }),
        8 => (0..4usize, arb_delta()).prop_map(|(index, delta)| StreamEvent::BlockDelta { index, delta }),
        4 => (0..4usize).prop_map(|index| StreamEvent::BlockStop { index }),
        2 => (arb_stop(), arb_usage()).prop_map(|(stop_reason, usage)| StreamEvent::MessageDelta {
            stop_reason,
            stop_sequence: None,
            usage
        }),
        1 => Just(StreamEvent::MessageStop),
        1 => Just(StreamEvent::Ping),
        1 => Just(StreamEvent::Error { kind: "api_error".into(), message: "x".into() }),
    ];
    // Mostly starting well, so that the interesting states are reached.
    (any::<bool>(), proptest::collection::vec(event, 0..30)).prop_map(|(lead, mut events)| {
        if lead {
            events.insert(
                0,
                StreamEvent::MessageStart {
                    id: "msg_x".into(),
                    model: "m".into(),
                    usage: Usage::default(),
                },
            );
        }
        events
    })
}

/// Messy histories: any roles in any order, empty and whitespace text, calls and results with
/// ids that repeat, do not match or break Anthropic's grammar, thinking from several issuers,
/// with and without signatures.
pub fn arb_history() -> impl Strategy<Value = Vec<tollgate_wire::canonical::Message>> {
    use tollgate_wire::canonical::{Message, Role, ToolResult};
    let id = prop_oneof![Just("toolu_1"), Just("toolu_2"), Just("call.3"), Just("fn:4"), Just("")];
    let block = prop_oneof![
        prop_oneof![Just(""), Just(" \n"), Just("hello")]
            .prop_map(|s| Block::Text(TextBlock::new(s))),
        id.clone().prop_map(|id| Block::ToolUse(ToolUse {
            id: id.into(),
            name: "bash".into(),
            input: json!({}),
            cache_control: None,
        })),
        (id, any::<bool>()).prop_map(|(id, empty)| Block::ToolResult(ToolResult {
            tool_use_id: id.into(),
            content: vec![Block::Text(TextBlock::new(if empty { "" } else { "out" }))],
            is_error: false,
            cache_control: None,
        })),
        (
            prop_oneof![
                Just(None),
                Just(Some(("anthropic", "claude-sonnet-4-5"))),
                Just(Some(("openai", "gpt-5")))
            ],
            proptest::option::of(Just("SIG")),
            prop_oneof![Just(""), Just("thought")],
        )
            .prop_map(|(origin, signature, thinking)| Block::Thinking(ThinkingBlock {
                thinking: thinking.into(),
                signature: signature.map(Into::into),
                origin: origin.map(|(p, f)| Origin { provider: p.into(), family: f.into() }),
            })),
        Just(Block::RedactedThinking(RedactedThinking { data: "D".into(), origin: None })),
    ];
    let message =
        (any::<bool>(), proptest::collection::vec(block, 0..5)).prop_map(|(u, content)| Message {
            role: if u { Role::User } else { Role::Assistant },
            content,
        });
    proptest::collection::vec(message, 0..7)
}

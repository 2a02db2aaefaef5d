//! Short constructors for canonical stream events, blocks and the builder run.

use serde_json::{Value, json};
use tollgate_wire::Usage;
use tollgate_wire::canonical::builder::validate;
use tollgate_wire::canonical::{
    Block, Delta, Note, StopReason, StreamBuilder, StreamEvent, TextBlock, ThinkingBlock, ToolUse,
};

pub fn usage(input: u64, output: u64) -> Usage {
    Usage {
        web_search_requests: 0,
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
    }
}

pub fn start() -> StreamEvent {
    StreamEvent::MessageStart { id: "msg_1".into(), model: "m".into(), usage: usage(10, 0) }
}

pub fn text_start(index: usize) -> StreamEvent {
    StreamEvent::BlockStart { index, block: Block::Text(TextBlock::new("")) }
}

pub fn thinking_start(index: usize) -> StreamEvent {
    StreamEvent::BlockStart { index, block: Block::Thinking(ThinkingBlock::default()) }
}

pub fn tool_start(index: usize, id: &str) -> StreamEvent {
    StreamEvent::BlockStart { index, block: tool(id, json!({})) }
}

pub fn tool(id: &str, input: Value) -> Block {
    Block::ToolUse(ToolUse { id: id.into(), name: "bash".into(), input, cache_control: None })
}

pub fn delta(index: usize, delta: Delta) -> StreamEvent {
    StreamEvent::BlockDelta { index, delta }
}

pub fn text(index: usize, s: &str) -> StreamEvent {
    delta(index, Delta::Text(s.into()))
}

pub fn json_frag(index: usize, s: &str) -> StreamEvent {
    delta(index, Delta::InputJson(s.into()))
}

pub fn think(index: usize, s: &str) -> StreamEvent {
    delta(index, Delta::Thinking(s.into()))
}

pub fn sig(index: usize, s: &str) -> StreamEvent {
    delta(index, Delta::Signature(s.into()))
}

pub fn stop(index: usize) -> StreamEvent {
    StreamEvent::BlockStop { index }
}

pub fn end(reason: Option<StopReason>) -> StreamEvent {
    StreamEvent::MessageDelta { stop_reason: reason, stop_sequence: None, usage: usage(10, 5) }
}

pub fn error() -> StreamEvent {
    StreamEvent::Error { kind: "overloaded_error".into(), message: "Overloaded".into() }
}

/// Runs events through a builder (with `finish`), checks the output validates, and returns it
/// with the builder's notes.
pub fn build(events: Vec<StreamEvent>) -> (Vec<StreamEvent>, Vec<Note>) {
    let mut b = StreamBuilder::new();
    let mut out = Vec::new();
    for e in events {
        b.push(e, &mut out);
    }
    b.finish(&mut out);
    if let Err(v) = validate(&out) {
        panic!("builder output violates the invariants: {v:?}\n{out:#?}");
    }
    (out, b.notes().to_vec())
}

pub fn has_note(notes: &[Note], part: &str) -> bool {
    notes.iter().any(|n| n.0.contains(part))
}

//! The stream invariants (ARCHITECTURE principle 4), enforced by [`StreamBuilder`], checked by
//! [`Validator`] and [`validate`], and applied to whole responses by [`fix_response`]. A builder
//! sits between every provider decoder and client encoder of a translated stream, so no decoder
//! quirk and no policy can put a malformed stream on the wire. The validator never fixes: tests run
//! it on what the gateway emits.
//!
//! The invariants: `MessageStart` first; blocks `BlockStart` -> `BlockDelta`* -> `BlockStop`, one
//! at a time, indexed 0, 1, 2.. in order, deltas of the block's own type, text and thinking
//! starting empty and tool calls with an empty input; thinking never after text; tool calls last;
//! at least one block; then exactly one `MessageDelta` whose stop reason agrees with the tool calls
//! emitted, and `MessageStop`. `Ping` anywhere after the start; `Error` ends a stream anywhere;
//! nothing after the end.

use std::collections::HashSet;

use serde_json::Value;

use super::{Block, Delta, Note, Response, StopReason, StreamEvent, TextBlock};
use crate::Usage;

/// The text of the one block an otherwise empty turn gets: the placeholder Claude Code itself
/// uses, so replaying the turn as history stays valid.
pub const NO_CONTENT: &str = "(no content)";

/// The error a stream gets when it ends without `MessageStop` or `Error`.
pub const CUT_SHORT: &str = "the provider's stream ended before the message was complete";

const NOT_STARTED: &str = "the provider's stream did not begin with a message";

/// What a block accepts as deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    ToolUse,
    Thinking,
    /// Redacted thinking, opaque, image, document, tool result: whole in `BlockStart`.
    Whole,
}

impl Kind {
    fn of(block: &Block) -> Kind {
        match block {
            Block::Text(_) => Kind::Text,
            Block::ToolUse(_) => Kind::ToolUse,
            Block::Thinking(_) => Kind::Thinking,
            _ => Kind::Whole,
        }
    }

    fn accepts(self, delta: &Delta) -> bool {
        matches!(
            (self, delta),
            (Kind::Text, Delta::Text(_) | Delta::Citation(_))
                | (Kind::ToolUse, Delta::InputJson(_))
                | (Kind::Thinking, Delta::Thinking(_) | Delta::Signature(_))
        )
    }
}

fn is_thinking(block: &Block) -> bool {
    matches!(block, Block::Thinking(_) | Block::RedactedThinking(_))
}

fn block_name(block: &Block) -> &'static str {
    match block {
        Block::Text(_) => "text",
        Block::Image(_) => "image",
        Block::Document(_) => "document",
        Block::ToolUse(_) => "tool_use",
        Block::ToolResult(_) => "tool_result",
        Block::Thinking(_) => "thinking",
        Block::RedactedThinking(_) => "redacted_thinking",
        Block::Opaque(_) => "opaque",
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "text",
        Kind::ToolUse => "tool_use",
        Kind::Thinking => "thinking",
        Kind::Whole => "whole",
    }
}

fn delta_name(delta: &Delta) -> &'static str {
    match delta {
        Delta::Text(_) => "text",
        Delta::InputJson(_) => "input_json",
        Delta::Thinking(_) => "thinking",
        Delta::Signature(_) => "signature",
        Delta::Citation(_) => "citation",
    }
}

/// A block's start in the shape encoders rely on (text and thinking empty, a tool call's input
/// `{}`), and the deltas that carry what the decoder put in the start instead.
fn split_start(block: Block) -> (Block, Vec<Delta>) {
    match block {
        Block::Text(mut t) if !t.text.is_empty() => {
            let text = std::mem::take(&mut t.text);
            (Block::Text(t), vec![Delta::Text(text)])
        }
        Block::Thinking(mut t) if !t.thinking.is_empty() || t.signature.is_some() => {
            let mut deltas = Vec::new();
            if !t.thinking.is_empty() {
                deltas.push(Delta::Thinking(std::mem::take(&mut t.thinking)));
            }
            if let Some(sig) = t.signature.take() {
                deltas.push(Delta::Signature(sig));
            }
            (Block::Thinking(t), deltas)
        }
        Block::ToolUse(mut t) if !is_empty_input(&t.input) => {
            let json = std::mem::replace(&mut t.input, Value::Object(Default::default()));
            (Block::ToolUse(t), vec![Delta::InputJson(json.to_string())])
        }
        Block::ToolUse(mut t) => {
            t.input = Value::Object(Default::default());
            (Block::ToolUse(t), Vec::new())
        }
        other => (other, Vec::new()),
    }
}

fn is_empty_input(input: &Value) -> bool {
    match input {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Whether a block starts the way [`split_start`] leaves it.
fn start_is_empty(block: &Block) -> bool {
    match block {
        Block::Text(t) => t.text.is_empty(),
        Block::Thinking(t) => t.thinking.is_empty() && t.signature.is_none(),
        Block::ToolUse(t) => matches!(&t.input, Value::Object(m) if m.is_empty()),
        _ => true,
    }
}

/// The stop reason the blocks emitted allow (catalogue 31/32): `tool_use` only with a tool call,
/// and a tool call always with `tool_use`; every other reason (`max_tokens` above all) unchanged.
fn consistent_stop(
    reason: Option<StopReason>,
    stop_sequence: &mut Option<String>,
    has_tools: bool,
    notes: &mut Vec<Note>,
) -> Option<StopReason> {
    match reason {
        Some(StopReason::ToolUse) if !has_tools => {
            notes.push(Note::new("stop reason tool_use without a tool call changed to end_turn"));
            Some(StopReason::EndTurn)
        }
        None | Some(StopReason::EndTurn | StopReason::StopSequence) if has_tools => {
            let was = reason.as_ref().map_or("none", StopReason::as_anthropic);
            notes.push(Note::new(format!("stop reason {was} with tool calls changed to tool_use")));
            *stop_sequence = None;
            Some(StopReason::ToolUse)
        }
        other => other,
    }
}

fn push_note(notes: &mut Vec<Note>, note: String) {
    // A broken decoder can repeat one mistake per delta; one line in the log says enough.
    if !notes.iter().any(|n| n.0 == note) {
        notes.push(Note(note));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// Before `MessageStart`.
    #[default]
    Waiting,
    /// Blocks may come.
    Blocks,
    /// `MessageDelta` seen (the builder holds it until `MessageStop`).
    Ending,
    /// `MessageStop` or `Error` emitted.
    Done,
}

#[derive(Debug)]
enum Dest {
    /// Emitted under this index.
    Out(usize),
    /// Held with the tool calls, at this position.
    Held(usize),
}

#[derive(Debug)]
struct OpenBlock {
    upstream: usize,
    kind: Kind,
    dest: Dest,
}

#[derive(Debug)]
struct HeldTool {
    start: Block,
    deltas: Vec<Delta>,
}

#[derive(Debug)]
struct FinalDelta {
    stop_reason: Option<StopReason>,
    stop_sequence: Option<String>,
    usage: Usage,
}

/// Enforces the stream invariants on one stream: push the decoder's events in, take a stream that
/// satisfies [`validate`] out. Text streams through with no delay; tool calls are held until the
/// turn ends, so text a provider sends after a tool call goes out before it.
#[derive(Debug, Default)]
pub struct StreamBuilder {
    notes: Vec<Note>,
    phase: Phase,
    start_usage: Usage,
    next_index: usize,
    open: Option<OpenBlock>,
    held: Vec<HeldTool>,
    /// Upstream indices of blocks dropped at their start: their deltas and stop go silently.
    dropped: HashSet<usize>,
    emitted: usize,
    tools_emitted: usize,
    text_seen: bool,
    final_delta: Option<FinalDelta>,
}

impl StreamBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, event: StreamEvent, out: &mut Vec<StreamEvent>) {
        match (self.phase, event) {
            (Phase::Done, _) => {
                push_note(&mut self.notes, "events after the end of the stream ignored".into());
            }
            (Phase::Waiting, StreamEvent::Ping) => {}
            (_, StreamEvent::Ping) => out.push(StreamEvent::Ping),
            (_, StreamEvent::Error { kind, message }) => self.fail(kind, message, out),
            (Phase::Waiting, StreamEvent::MessageStart { id, model, usage }) => {
                self.start_usage = usage;
                self.phase = Phase::Blocks;
                out.push(StreamEvent::MessageStart { id, model, usage });
            }
            (Phase::Waiting, _) => {
                self.notes.push(Note::new("the stream did not begin with a message start"));
                self.fail("api_error".into(), NOT_STARTED.into(), out);
            }
            (_, StreamEvent::MessageStart { .. }) => {
                push_note(&mut self.notes, "second message start ignored".into());
            }
            (Phase::Blocks, StreamEvent::BlockStart { index, block }) => {
                self.start_block(index, block, out);
            }
            (_, StreamEvent::BlockStart { index, block }) => {
                self.notes.push(Note::new(format!(
                    "{} block {index} after the end of the turn dropped",
                    block_name(&block)
                )));
                self.dropped.insert(index);
            }
            (_, StreamEvent::BlockDelta { index, delta }) => self.delta(index, delta, out),
            (_, StreamEvent::BlockStop { index }) => self.stop_block(index, out),
            (_, StreamEvent::MessageDelta { stop_reason, stop_sequence, usage }) => {
                self.message_delta(stop_reason, stop_sequence, usage, out);
            }
            (_, StreamEvent::MessageStop) => {
                if self.final_delta.is_none() {
                    self.notes.push(Note::new("message stop without a message delta: one added"));
                    let has_tools = self.tools_emitted > 0 || !self.held.is_empty();
                    let reason = if has_tools { StopReason::ToolUse } else { StopReason::EndTurn };
                    self.message_delta(Some(reason), None, Usage::default(), out);
                }
                self.emit_final_delta(out);
                out.push(StreamEvent::MessageStop);
                self.phase = Phase::Done;
            }
        }
    }

    /// The decoder is done. A stream that never reached `MessageStop` or `Error` gets an `Error`
    /// (never a faked `end_turn`).
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.phase != Phase::Done {
            self.notes.push(Note::new("the stream ended before the message was complete"));
            self.fail("api_error".into(), CUT_SHORT.into(), out);
        }
    }

    /// What the builder changed or dropped, for the log and the history record.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// Ends the stream with an error. Held tool calls are incomplete and of no use to anyone; a
    /// held `MessageDelta` still goes out first for the usage it carries.
    fn fail(&mut self, kind: String, message: String, out: &mut Vec<StreamEvent>) {
        if !self.held.is_empty() {
            self.notes.push(Note::new(format!(
                "{} unfinished tool call(s) discarded: the stream failed",
                self.held.len()
            )));
            self.held.clear();
        }
        self.emit_final_delta(out);
        out.push(StreamEvent::Error { kind, message });
        self.phase = Phase::Done;
    }

    fn start_block(&mut self, index: usize, block: Block, out: &mut Vec<StreamEvent>) {
        self.close_open(out);
        self.dropped.remove(&index);
        if is_thinking(&block) && self.text_seen {
            self.notes.push(Note::new(format!(
                "{} block {index} after text dropped: a turn must begin with its thinking",
                block_name(&block)
            )));
            self.dropped.insert(index);
            return;
        }
        let kind = Kind::of(&block);
        let (start, deltas) = split_start(block);
        if kind == Kind::ToolUse {
            self.held.push(HeldTool { start, deltas });
            let dest = Dest::Held(self.held.len() - 1);
            self.open = Some(OpenBlock { upstream: index, kind, dest });
            return;
        }
        self.text_seen |= kind == Kind::Text;
        let at = self.next_index;
        self.next_index += 1;
        self.emitted += 1;
        out.push(StreamEvent::BlockStart { index: at, block: start });
        out.extend(deltas.into_iter().map(|delta| StreamEvent::BlockDelta { index: at, delta }));
        self.open = Some(OpenBlock { upstream: index, kind, dest: Dest::Out(at) });
    }

    fn delta(&mut self, index: usize, delta: Delta, out: &mut Vec<StreamEvent>) {
        if self.dropped.contains(&index) {
            return;
        }
        let Some(open) = self.open.as_ref().filter(|o| o.upstream == index) else {
            push_note(
                &mut self.notes,
                format!(
                    "{} delta for block {index}, which is not open, dropped",
                    delta_name(&delta)
                ),
            );
            return;
        };
        if !open.kind.accepts(&delta) {
            push_note(
                &mut self.notes,
                format!(
                    "{} delta on {} block {index} dropped",
                    delta_name(&delta),
                    kind_name(open.kind)
                ),
            );
            return;
        }
        match open.dest {
            Dest::Out(at) => out.push(StreamEvent::BlockDelta { index: at, delta }),
            Dest::Held(pos) => {
                if let Some(h) = self.held.get_mut(pos) {
                    h.deltas.push(delta);
                }
            }
        }
    }

    fn stop_block(&mut self, index: usize, out: &mut Vec<StreamEvent>) {
        if self.dropped.contains(&index) {
            return;
        }
        if self.open.as_ref().is_some_and(|o| o.upstream == index) {
            self.close_open(out);
        } else {
            push_note(
                &mut self.notes,
                format!("stop for block {index}, which is not open, dropped"),
            );
        }
    }

    fn close_open(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(OpenBlock { dest: Dest::Out(at), .. }) = self.open.take() {
            out.push(StreamEvent::BlockStop { index: at });
        }
    }

    fn message_delta(
        &mut self,
        stop_reason: Option<StopReason>,
        stop_sequence: Option<String>,
        mut usage: Usage,
        out: &mut Vec<StreamEvent>,
    ) {
        if usage.total_input() == 0 {
            usage.input_tokens = self.start_usage.input_tokens;
            usage.cache_read_tokens = self.start_usage.cache_read_tokens;
            usage.cache_write_tokens = self.start_usage.cache_write_tokens;
        }
        if let Some(fd) = self.final_delta.as_mut() {
            // Anthropic allows several message deltas; clients get one, with the latest values.
            fd.stop_reason = stop_reason.or(fd.stop_reason.take());
            fd.stop_sequence = stop_sequence.or(fd.stop_sequence.take());
            fd.usage = usage;
            return;
        }
        self.close_open(out);
        for tool in std::mem::take(&mut self.held) {
            let at = self.next_index;
            self.next_index += 1;
            self.emitted += 1;
            self.tools_emitted += 1;
            out.push(StreamEvent::BlockStart { index: at, block: tool.start });
            out.extend(
                tool.deltas.into_iter().map(|delta| StreamEvent::BlockDelta { index: at, delta }),
            );
            out.push(StreamEvent::BlockStop { index: at });
        }
        if self.emitted == 0 {
            self.notes.push(Note::new(format!("empty turn: a \"{NO_CONTENT}\" text block added")));
            let at = self.next_index;
            self.next_index += 1;
            self.emitted += 1;
            out.push(StreamEvent::BlockStart { index: at, block: Block::Text(TextBlock::new("")) });
            out.push(StreamEvent::BlockDelta { index: at, delta: Delta::Text(NO_CONTENT.into()) });
            out.push(StreamEvent::BlockStop { index: at });
        }
        self.final_delta = Some(FinalDelta { stop_reason, stop_sequence, usage });
        self.phase = Phase::Ending;
    }

    fn emit_final_delta(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(FinalDelta { stop_reason, mut stop_sequence, usage }) = self.final_delta.take()
        {
            let has_tools = self.tools_emitted > 0;
            let stop_reason =
                consistent_stop(stop_reason, &mut stop_sequence, has_tools, &mut self.notes);
            out.push(StreamEvent::MessageDelta { stop_reason, stop_sequence, usage });
        }
    }
}

/// A broken invariant: where (the event's position in the stream, or the stream's length for an
/// end that is missing) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub position: usize,
    pub message: String,
}

/// Checks a whole stream against the invariants, without fixing anything.
pub fn validate(events: &[StreamEvent]) -> Result<(), Violation> {
    let mut v = Validator::new();
    events.iter().try_for_each(|e| v.push(e))?;
    v.finish()
}

/// Checks a stream against the invariants event by event, without fixing anything (for tests
/// that watch a live stream).
#[derive(Debug, Default)]
pub struct Validator {
    position: usize,
    phase: Phase,
    next_index: usize,
    open: Option<(usize, Kind)>,
    text_seen: bool,
    tool_seen: bool,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, event: &StreamEvent) -> Result<(), Violation> {
        let position = self.position;
        self.position += 1;
        let fail = |message: String| Err(Violation { position, message });
        match (self.phase, event) {
            (Phase::Done, _) => fail("event after the end of the stream".into()),
            (Phase::Waiting, StreamEvent::Ping) => fail("ping before message start".into()),
            (_, StreamEvent::Ping) => Ok(()),
            (_, StreamEvent::Error { .. }) => {
                self.phase = Phase::Done;
                Ok(())
            }
            (Phase::Waiting, StreamEvent::MessageStart { .. }) => {
                self.phase = Phase::Blocks;
                Ok(())
            }
            (Phase::Waiting, _) => fail("the stream does not begin with message start".into()),
            (_, StreamEvent::MessageStart { .. }) => fail("second message start".into()),
            (Phase::Ending, StreamEvent::BlockStart { .. }) => {
                fail("block start after message delta".into())
            }
            (_, StreamEvent::BlockStart { index, block }) => self.block_start(*index, block, fail),
            (_, StreamEvent::BlockDelta { index, delta }) => match self.open {
                Some((i, kind)) if i == *index => {
                    if kind.accepts(delta) {
                        Ok(())
                    } else {
                        fail(format!(
                            "{} delta on {} block {index}",
                            delta_name(delta),
                            kind_name(kind)
                        ))
                    }
                }
                _ => fail(format!("delta for block {index}, which is not open")),
            },
            (_, StreamEvent::BlockStop { index }) => match self.open {
                Some((i, _)) if i == *index => {
                    self.open = None;
                    Ok(())
                }
                _ => fail(format!("stop for block {index}, which is not open")),
            },
            (Phase::Ending, StreamEvent::MessageDelta { .. }) => {
                fail("second message delta".into())
            }
            (_, StreamEvent::MessageDelta { stop_reason, .. }) => {
                self.phase = Phase::Ending;
                if let Some((i, _)) = self.open {
                    return fail(format!("message delta while block {i} is open"));
                }
                if self.next_index == 0 {
                    return fail("empty turn: message delta without any block".into());
                }
                match stop_reason {
                    Some(StopReason::ToolUse) if !self.tool_seen => {
                        fail("stop reason tool_use without a tool call".into())
                    }
                    None | Some(StopReason::EndTurn | StopReason::StopSequence)
                        if self.tool_seen =>
                    {
                        fail(format!(
                            "stop reason {} with tool calls",
                            stop_reason.as_ref().map_or("none", StopReason::as_anthropic)
                        ))
                    }
                    _ => Ok(()),
                }
            }
            (Phase::Ending, StreamEvent::MessageStop) => {
                self.phase = Phase::Done;
                Ok(())
            }
            (_, StreamEvent::MessageStop) => fail("message stop without message delta".into()),
        }
    }

    fn block_start(
        &mut self,
        index: usize,
        block: &Block,
        fail: impl Fn(String) -> Result<(), Violation>,
    ) -> Result<(), Violation> {
        if let Some((i, _)) = self.open {
            return fail(format!("block {index} starts while block {i} is open"));
        }
        if index != self.next_index {
            return fail(format!("block index {index}, expected {}", self.next_index));
        }
        self.next_index += 1;
        self.open = Some((index, Kind::of(block)));
        let name = block_name(block);
        if self.tool_seen && !matches!(block, Block::ToolUse(_)) {
            return fail(format!("{name} block {index} after a tool_use block"));
        }
        if is_thinking(block) && self.text_seen {
            return fail(format!("{name} block {index} after a text block"));
        }
        self.tool_seen |= matches!(block, Block::ToolUse(_));
        self.text_seen |= matches!(block, Block::Text(_));
        if !start_is_empty(block) {
            return fail(format!("{name} block {index} does not start empty"));
        }
        Ok(())
    }

    /// The stream is over: it must have ended with `MessageStop` or `Error`.
    pub fn finish(&self) -> Result<(), Violation> {
        if self.phase == Phase::Done {
            Ok(())
        } else {
            Err(Violation {
                position: self.position,
                message: "the stream ended without message stop or error".into(),
            })
        }
    }
}

/// The stream invariants applied to a whole response, where blocks can move: empty text blocks
/// removed, thinking after text dropped (as a stream would), tool calls moved last, the stop
/// reason made consistent, an empty answer given the placeholder text.
pub fn fix_response(resp: &mut Response, notes: &mut Vec<Note>) {
    resp.content.retain(|b| match b {
        Block::Text(t) => !t.text.is_empty() || has_citations(t),
        _ => true,
    });
    let mut text_seen = false;
    let before = resp.content.len();
    resp.content.retain(|b| {
        text_seen |= matches!(b, Block::Text(_));
        !(text_seen && is_thinking(b))
    });
    if resp.content.len() < before {
        notes.push(Note::new(format!(
            "{} thinking block(s) after text dropped: a turn must begin with its thinking",
            before - resp.content.len()
        )));
    }
    let is_tool = |b: &Block| matches!(b, Block::ToolUse(_));
    if let Some(first_tool) = resp.content.iter().position(is_tool)
        && resp.content.iter().skip(first_tool).any(|b| !is_tool(b))
    {
        notes.push(Note::new("tool calls moved after the blocks that followed them"));
    }
    let (mut blocks, tools): (Vec<Block>, Vec<Block>) =
        std::mem::take(&mut resp.content).into_iter().partition(|b| !is_tool(b));
    let has_tools = !tools.is_empty();
    blocks.extend(tools);
    resp.content = blocks;
    if resp.content.is_empty() {
        notes.push(Note::new(format!("empty answer: a \"{NO_CONTENT}\" text block added")));
        resp.content.push(Block::Text(TextBlock::new(NO_CONTENT)));
    }
    let reason = resp.stop_reason.take();
    resp.stop_reason = consistent_stop(reason, &mut resp.stop_sequence, has_tools, notes);
}

fn has_citations(t: &TextBlock) -> bool {
    match &t.citations {
        None => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

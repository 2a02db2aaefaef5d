//! Between streams and whole responses: [`Assembler`] folds canonical stream events into a
//! [`Response`] (a non-streaming client served from a streamed upstream, principle 9), and
//! [`events_of`] replays a whole response as events. Assembling `events_of(r)` gives `r` back.
//!
//! The assembler trusts the event grammar the [`super::StreamBuilder`] guarantees but does not
//! depend on it: events for unknown blocks are ignored, never a panic.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::builder::CUT_SHORT;
use super::{Block, Delta, Note, Response, StreamEvent, TextBlock, ThinkingBlock, ToolUse};
use crate::Usage;

/// Folds one stream's events into the response it describes.
#[derive(Debug, Default)]
pub struct Assembler {
    response: Response,
    /// Stream index -> position in `response.content`.
    positions: HashMap<usize, usize>,
    /// A tool call's JSON fragments, by content position, parsed when its block stops.
    json: HashMap<usize, String>,
    started: bool,
    stopped: bool,
    failure: Option<StreamFailure>,
    notes: Vec<Note>,
}

/// How an assembled stream ended when it did not end well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFailure {
    /// Anthropic error type.
    pub kind: String,
    pub message: String,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, event: &StreamEvent) {
        if self.failure.is_some() || self.stopped {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                self.started = true;
                self.response.id.clone_from(id);
                self.response.model.clone_from(model);
                self.response.usage = *usage;
            }
            StreamEvent::BlockStart { index, block } => {
                let pos = self.response.content.len();
                self.response.content.push(block.clone());
                self.positions.insert(*index, pos);
                if matches!(block, Block::ToolUse(_)) {
                    self.json.insert(pos, String::new());
                }
            }
            StreamEvent::BlockDelta { index, delta } => {
                if let Some(&pos) = self.positions.get(index) {
                    self.delta(pos, delta);
                }
            }
            StreamEvent::BlockStop { index } => {
                if let Some(&pos) = self.positions.get(index) {
                    self.finish_tool(pos);
                }
            }
            StreamEvent::MessageDelta { stop_reason, stop_sequence, usage } => {
                self.response.stop_reason.clone_from(stop_reason);
                self.response.stop_sequence.clone_from(stop_sequence);
                self.response.usage = merged_usage(self.response.usage, *usage);
            }
            StreamEvent::MessageStop => {
                let pending: Vec<usize> = self.json.keys().copied().collect();
                pending.into_iter().for_each(|pos| self.finish_tool(pos));
                self.stopped = true;
            }
            StreamEvent::Ping => {}
            StreamEvent::Error { kind, message } => {
                self.failure = Some(StreamFailure { kind: kind.clone(), message: message.clone() });
            }
        }
    }

    /// What the assembler had to make up (a tool input that was not valid JSON).
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The response, or the failure that ended the stream (also when it ended without
    /// `MessageStop`).
    pub fn finish(self) -> Result<Response, StreamFailure> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        if !self.started || !self.stopped {
            return Err(StreamFailure { kind: "api_error".into(), message: CUT_SHORT.into() });
        }
        Ok(self.response)
    }

    fn delta(&mut self, pos: usize, delta: &Delta) {
        let Some(block) = self.response.content.get_mut(pos) else {
            return;
        };
        match (block, delta) {
            (Block::Text(t), Delta::Text(s)) => t.text.push_str(s),
            (Block::Text(t), Delta::Citation(c)) => match &mut t.citations {
                Some(Value::Array(list)) => list.push(c.clone()),
                slot => *slot = Some(Value::Array(vec![c.clone()])),
            },
            (Block::ToolUse(_), Delta::InputJson(s)) => {
                if let Some(buf) = self.json.get_mut(&pos) {
                    buf.push_str(s);
                }
            }
            (Block::Thinking(t), Delta::Thinking(s)) => t.thinking.push_str(s),
            (Block::Thinking(t), Delta::Signature(s)) => t.signature = Some(s.clone()),
            _ => {}
        }
    }

    /// Parses a tool call's collected JSON into its input: empty is `{}` (a call without
    /// arguments), JSON cut off (by `max_tokens`) or invalid is `{}` with a note, and a value
    /// that is not an object is wrapped as `{"value": v}`, because an input must be an object.
    fn finish_tool(&mut self, pos: usize) {
        let Some(json) = self.json.remove(&pos) else {
            return;
        };
        let Some(Block::ToolUse(tool)) = self.response.content.get_mut(pos) else {
            return;
        };
        if json.trim().is_empty() {
            if !tool.input.is_object() {
                tool.input = Value::Object(Map::new());
            }
            return;
        }
        tool.input = match serde_json::from_str::<Value>(&json) {
            Ok(Value::Object(m)) => Value::Object(m),
            Ok(other) => {
                self.notes.push(Note::new(format!(
                    "tool call {} input was not a JSON object: wrapped as {{\"value\": ...}}",
                    tool.id
                )));
                Value::Object(Map::from_iter([("value".to_owned(), other)]))
            }
            Err(e) => {
                self.notes.push(Note::new(format!(
                    "tool call {} input was not valid JSON ({e}): replaced with {{}}",
                    tool.id
                )));
                Value::Object(Map::new())
            }
        };
    }
}

/// A message delta's usage is cumulative. Some providers leave input and cache counts out of it
/// (they sent them at the start); zeros there mean "unchanged", not "none".
fn merged_usage(known: Usage, update: Usage) -> Usage {
    if update.total_input() == 0 {
        Usage {
            output_tokens: update.output_tokens,
            // Cumulative like the output count, but a delta may leave it out.
            web_search_requests: update.web_search_requests.max(known.web_search_requests),
            ..known
        }
    } else {
        update
    }
}

/// A whole response as the events a stream of it would carry: text, thinking and tool calls as a
/// start and their content in deltas (citations one delta each), every other block whole in its
/// start.
pub fn events_of(response: &Response) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::MessageStart {
        id: response.id.clone(),
        model: response.model.clone(),
        usage: Usage { output_tokens: 0, ..response.usage },
    }];
    for (index, block) in response.content.iter().enumerate() {
        let (start, deltas) = block_events(block);
        events.push(StreamEvent::BlockStart { index, block: start });
        events.extend(deltas.into_iter().map(|delta| StreamEvent::BlockDelta { index, delta }));
        events.push(StreamEvent::BlockStop { index });
    }
    events.push(StreamEvent::MessageDelta {
        stop_reason: response.stop_reason.clone(),
        stop_sequence: response.stop_sequence.clone(),
        usage: response.usage,
    });
    events.push(StreamEvent::MessageStop);
    events
}

fn block_events(block: &Block) -> (Block, Vec<Delta>) {
    match block {
        Block::Text(t) => {
            let mut deltas = Vec::new();
            // An array of citations streams one by one into an empty array; anything else (not
            // seen in practice) rides in the start as it is.
            let citations = match &t.citations {
                Some(Value::Array(list)) => {
                    deltas.extend(list.iter().cloned().map(Delta::Citation));
                    Some(Value::Array(Vec::new()))
                }
                other => other.clone(),
            };
            if !t.text.is_empty() {
                deltas.push(Delta::Text(t.text.clone()));
            }
            let start = TextBlock {
                text: String::new(),
                cache_control: t.cache_control.clone(),
                citations,
            };
            (Block::Text(start), deltas)
        }
        Block::Thinking(t) => {
            let mut deltas = Vec::new();
            if !t.thinking.is_empty() {
                deltas.push(Delta::Thinking(t.thinking.clone()));
            }
            if let Some(sig) = &t.signature {
                deltas.push(Delta::Signature(sig.clone()));
            }
            let start = ThinkingBlock {
                thinking: String::new(),
                signature: None,
                origin: t.origin.clone(),
            };
            (Block::Thinking(start), deltas)
        }
        Block::ToolUse(t) => {
            let empty = t.input.as_object().is_some_and(Map::is_empty);
            let deltas =
                if empty { Vec::new() } else { vec![Delta::InputJson(t.input.to_string())] };
            let start = ToolUse { input: Value::Object(Map::new()), ..t.clone() };
            (Block::ToolUse(start), deltas)
        }
        other => (other.clone(), Vec::new()),
    }
}

//! A provider's Chat Completions chunk stream -> canonical stream events (24, 26, 34, 44).
//!
//! Canonical events allow one open block at a time, while Chat sends tool-call fragments per
//! `index`, several indices per chunk, and some providers interleave them. So each call gets a
//! slot; a slot's block opens at its first argument fragment when no other call is open, or when
//! the open call's arguments already form complete JSON (the sequential case, as OpenAI streams
//! parallel calls). Otherwise its fragments are held and flushed, whole and in order, when the
//! turn ends. Nothing is dropped or given to the wrong call: a fragment for a call that was
//! already closed (only possible if a provider resumed a call after text) ends the stream with
//! an error.
//!
//! `finish_reason` arrives before usage, so the end of the turn is held until the usage chunk,
//! `[DONE]` or the end of the stream; a stream that ends without a finish reason is an error,
//! never a made-up `end_turn` (26).

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use crate::Usage;
use crate::canonical::{
    Block, Delta, StreamDecoder, StreamEvent, TextBlock, ThinkingBlock, ToolUse, ids,
};
use crate::openai::convert::response::finish_to_stop;
use crate::openai::response::WireUsage;
use crate::sse::SseFrame;

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<ChunkChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

/// Fields are read loosely (`Value`), because one provider's odd shape in one field must not
/// fail the whole chunk: Mistral streams `content` as an array of text and thinking parts,
/// OpenRouter's `reasoning` may be an object.
#[derive(Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    reasoning_content: Option<Value>,
    #[serde(default)]
    reasoning: Option<Value>,
    #[serde(default)]
    refusal: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaToolCall>>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    /// Gemini's compatibility layer leaves it out.
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    /// A string fragment; a few servers send the whole arguments object at once.
    #[serde(default)]
    arguments: Option<Value>,
}

fn as_text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Seen, block not opened yet; fragments are held.
    Pending,
    Open,
    Closed,
}

#[derive(Debug)]
struct Slot {
    /// The provider's `index`.
    key: Option<u64>,
    id: Option<String>,
    name: String,
    /// Every argument fragment so far, emitted or held.
    args: String,
    state: SlotState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    Tool(usize),
}

#[derive(Debug, Default)]
pub struct Decoder {
    started: bool,
    /// A terminal event (`MessageStop` or `Error`) went out; everything after is ignored.
    ended: bool,
    id: String,
    /// The open block: canonical index and kind.
    open: Option<(usize, Kind)>,
    next_index: usize,
    slots: Vec<Slot>,
    last_slot: Option<usize>,
    finish: Option<String>,
    refused: bool,
    usage: Option<Usage>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, kind: &str, message: impl Into<String>, out: &mut Vec<StreamEvent>) {
        out.push(StreamEvent::Error { kind: kind.to_owned(), message: message.into() });
        self.ended = true;
    }

    fn start(&mut self, id: Option<String>, model: Option<String>, out: &mut Vec<StreamEvent>) {
        self.started = true;
        self.id = id.unwrap_or_default();
        out.push(StreamEvent::MessageStart {
            id: self.id.clone(),
            model: model.unwrap_or_default(),
            usage: Usage::default(),
        });
    }

    fn close_open(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, kind)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
            if let Kind::Tool(slot) = kind
                && let Some(s) = self.slots.get_mut(slot)
            {
                s.state = SlotState::Closed;
            }
        }
    }

    fn open_block(&mut self, kind: Kind, block: Block, out: &mut Vec<StreamEvent>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart { index, block });
        self.open = Some((index, kind));
        index
    }

    /// Text or thinking: continues the open block of that kind, or closes what is open and
    /// starts a new one (text after a tool call is a new block, 26).
    fn prose(&mut self, kind: Kind, fragment: String, out: &mut Vec<StreamEvent>) {
        let index = match self.open {
            Some((index, k)) if k == kind => index,
            _ => {
                self.close_open(out);
                let block = match kind {
                    Kind::Thinking => Block::Thinking(ThinkingBlock::default()),
                    _ => Block::Text(TextBlock::new("")),
                };
                self.open_block(kind, block, out)
            }
        };
        let delta =
            if kind == Kind::Thinking { Delta::Thinking(fragment) } else { Delta::Text(fragment) };
        out.push(StreamEvent::BlockDelta { index, delta });
    }

    /// The slot a tool-call delta belongs to, created if new.
    fn slot_for(&mut self, index: Option<u64>, id: Option<&str>) -> usize {
        if let Some(id) = id
            && let Some(p) = self.slots.iter().position(|s| s.id.as_deref() == Some(id))
        {
            return p;
        }
        let existing = match index {
            Some(k) => self.slots.iter().rposition(|s| s.key == Some(k)),
            // No index: a new id is a new call; otherwise the call last written to.
            None if id.is_some() => None,
            None => self.last_slot,
        };
        match existing {
            // A different id under a known index is a new call (backends that number every
            // call 0).
            Some(p) if id.is_some() && self.slots.get(p).is_some_and(|s| s.id.is_some()) => {
                self.new_slot(index, id)
            }
            Some(p) => p,
            None => self.new_slot(index, id),
        }
    }

    fn new_slot(&mut self, key: Option<u64>, id: Option<&str>) -> usize {
        self.slots.push(Slot {
            key,
            id: id.map(str::to_owned),
            name: String::new(),
            args: String::new(),
            state: SlotState::Pending,
        });
        self.slots.len() - 1
    }

    fn tool_delta(&mut self, call: DeltaToolCall, out: &mut Vec<StreamEvent>) {
        let id = call.id.filter(|s| !s.is_empty());
        let pos = self.slot_for(call.index, id.as_deref());
        self.last_slot = Some(pos);
        let (name, args) = match call.function {
            Some(f) => {
                let args = match f.arguments {
                    Some(Value::String(s)) => Some(s),
                    Some(Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                };
                (f.name.filter(|s| !s.is_empty()), args.filter(|s| !s.is_empty()))
            }
            None => (None, None),
        };
        let Some(slot) = self.slots.get_mut(pos) else { return };
        if slot.id.is_none() {
            slot.id = id;
        }
        if let Some(name) = name
            && slot.state == SlotState::Pending
            && slot.name != name
        {
            // Repeated whole names are ignored; fragments of one are joined.
            slot.name.push_str(&name);
        }
        let Some(args) = args else { return };
        match slot.state {
            SlotState::Open => {
                slot.args.push_str(&args);
                if let Some((index, _)) = self.open {
                    out.push(StreamEvent::BlockDelta { index, delta: Delta::InputJson(args) });
                }
            }
            SlotState::Pending => {
                slot.args.push_str(&args);
                self.try_open(pos, out);
            }
            SlotState::Closed if args.trim().is_empty() => {}
            SlotState::Closed => {
                let id = slot.id.clone().unwrap_or_default();
                self.fail(
                    "api_error",
                    format!("upstream sent arguments for tool call {id:?} after it had ended"),
                    out,
                );
            }
        }
    }

    /// Opens a pending slot unless another call is open and may still be receiving arguments.
    fn try_open(&mut self, pos: usize, out: &mut Vec<StreamEvent>) {
        if let Some((_, Kind::Tool(current))) = self.open
            && current != pos
        {
            let complete = self
                .slots
                .get(current)
                .is_some_and(|s| serde_json::from_str::<IgnoredAny>(&s.args).is_ok());
            if !complete {
                return;
            }
        }
        self.close_open(out);
        self.open_slot(pos, out);
    }

    fn open_slot(&mut self, pos: usize, out: &mut Vec<StreamEvent>) {
        let Some(slot) = self.slots.get_mut(pos) else { return };
        slot.state = SlotState::Open;
        let id = slot.id.clone().unwrap_or_else(|| ids::fallback(&self.id, pos));
        let block = Block::ToolUse(ToolUse {
            id,
            name: slot.name.clone(),
            input: Value::Object(Map::new()),
            cache_control: None,
        });
        let held = (!slot.args.is_empty()).then(|| slot.args.clone());
        let index = self.open_block(Kind::Tool(pos), block, out);
        if let Some(args) = held {
            out.push(StreamEvent::BlockDelta { index, delta: Delta::InputJson(args) });
        }
    }

    /// The turn is over: held calls flushed, then the stop reason and final usage.
    fn end(&mut self, out: &mut Vec<StreamEvent>) {
        self.close_open(out);
        for pos in 0..self.slots.len() {
            if self.slots.get(pos).is_some_and(|s| s.state == SlotState::Pending) {
                self.open_slot(pos, out);
                self.close_open(out);
            }
        }
        let reason = self.finish.as_deref().unwrap_or("stop");
        let stop = finish_to_stop(reason, !self.slots.is_empty(), self.refused);
        out.push(StreamEvent::MessageDelta {
            stop_reason: Some(stop),
            stop_sequence: None,
            usage: self.usage.unwrap_or_default(),
        });
        out.push(StreamEvent::MessageStop);
        self.ended = true;
    }

    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<StreamEvent>) {
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            let (kind, message) = upstream_error(&error);
            self.fail(kind, message, out);
            return;
        }
        if !self.started {
            self.start(chunk.id, chunk.model, out);
        }
        let choices = chunk.choices.unwrap_or_default();
        let usage_only = choices.is_empty();
        // Only the first choice is translated; a request with n > 1 is refused at the edge.
        for choice in choices.into_iter().filter(|c| c.index.unwrap_or(0) == 0) {
            if let Some(delta) = choice.delta {
                self.delta(delta, out);
                if self.ended {
                    return;
                }
            }
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                self.finish = Some(reason);
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.to_usage());
            if usage_only && self.finish.is_some() {
                self.end(out);
            }
        }
    }

    fn delta(&mut self, delta: ChunkDelta, out: &mut Vec<StreamEvent>) {
        if let Some(r) = as_text(delta.reasoning_content).or_else(|| as_text(delta.reasoning)) {
            self.prose(Kind::Thinking, r, out);
        }
        match delta.content {
            Some(Value::Array(parts)) => {
                for (kind, text) in content_parts(&parts) {
                    self.prose(kind, text, out);
                }
            }
            other => {
                if let Some(t) = as_text(other) {
                    self.prose(Kind::Text, t, out);
                }
            }
        }
        if let Some(r) = as_text(delta.refusal) {
            self.refused = true;
            self.prose(Kind::Text, r, out);
        }
        for call in delta.tool_calls.into_iter().flatten() {
            self.tool_delta(call, out);
            if self.ended {
                return;
            }
        }
    }
}

/// Array content (Mistral): `text` parts, and `thinking` parts holding text parts.
fn content_parts(parts: &[Value]) -> Vec<(Kind, String)> {
    let text_of = |v: &Value| v.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut out = Vec::new();
    for part in parts {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => out.push((Kind::Text, text_of(part))),
            Some("thinking") => {
                for t in part.get("thinking").and_then(Value::as_array).into_iter().flatten() {
                    out.push((Kind::Thinking, text_of(t)));
                }
            }
            _ => {}
        }
    }
    out.retain(|(_, t)| !t.is_empty());
    out
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, frame: &SseFrame, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let data = frame.data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            if self.finish.is_some() {
                self.end(out);
            } else {
                self.fail("api_error", "upstream ended the stream without a finish_reason", out);
            }
            return;
        }
        match serde_json::from_str::<Chunk>(data) {
            Ok(chunk) => self.chunk(chunk, out),
            Err(e) => self.fail(
                "api_error",
                format!("upstream sent a chunk that is not valid JSON: {e}"),
                out,
            ),
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if self.finish.is_some() {
            // The model finished; only the trailer is missing, and nothing was lost.
            self.end(out);
        } else if self.started {
            self.fail("api_error", "upstream stream ended before the response was complete", out);
        } else {
            self.fail("api_error", "upstream closed the stream without sending anything", out);
        }
    }
}

/// A `data: {"error": ...}` payload as an Anthropic error type and a message (43, 44). The
/// `code` is more specific than the `type`, so it is read first.
fn upstream_error(error: &Value) -> (&'static str, String) {
    let message = match error {
        Value::String(s) => s.clone(),
        _ => error.get("message").and_then(Value::as_str).unwrap_or("upstream error").to_owned(),
    };
    let code = error.get("code");
    let by_code = match code {
        Some(Value::String(c)) => error_kind(c),
        Some(Value::Number(n)) => n.as_u64().and_then(status_kind),
        _ => None,
    };
    let kind = by_code
        .or_else(|| error.get("type").and_then(Value::as_str).and_then(error_kind))
        .unwrap_or("api_error");
    (kind, message)
}

fn error_kind(s: &str) -> Option<&'static str> {
    Some(match s {
        "invalid_request_error" | "context_length_exceeded" | "invalid_prompt" => {
            "invalid_request_error"
        }
        "authentication_error" | "invalid_api_key" => "authentication_error",
        "permission_error" | "permission_denied" => "permission_error",
        "not_found_error" | "model_not_found" => "not_found_error",
        "insufficient_quota" | "billing_error" => "billing_error",
        "rate_limit_error" | "rate_limit_exceeded" => "rate_limit_error",
        "overloaded" | "overloaded_error" | "server_overloaded" | "service_unavailable" => {
            "overloaded_error"
        }
        "timeout" | "timeout_error" => "timeout_error",
        "server_error" | "internal_error" | "api_error" => "api_error",
        _ => return None,
    })
}

/// OpenRouter and others put the HTTP status in `code`.
fn status_kind(status: u64) -> Option<&'static str> {
    Some(match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 | 504 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        500..=599 => "api_error",
        _ => return None,
    })
}

//! Anthropic's SSE stream, decoded into canonical events and encoded from them: sans-IO state
//! machines (catalogue 13, 23, 34, 44).
//!
//! The decoder dispatches on the `event:` name as the official SDKs do; frames without one, and
//! event names it does not know, are ignored (new event types may appear under the same API
//! version). Blocks of a type the canonical model has no shape for (`server_tool_use`,
//! `web_search_tool_result`, future ones) are held until their `content_block_stop` and
//! released whole as one [`Block::Opaque`], with any `input_json_delta` fragments folded into
//! their `input`, so nothing the client needs to replay is lost.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::convert::{OutUsage, message_id};
use super::error::UpstreamError;
use super::response::WireUsage;
use crate::Usage;
use crate::canonical::target::model_family;
use crate::canonical::{
    Block, Delta, Opaque, Origin, RedactedThinking, StopReason, StreamDecoder, StreamEncoder,
    StreamEvent, TextBlock, ThinkingBlock, ToolUse,
};
use crate::dialect::Dialect;
use crate::sse::{SseFrame, write_frame};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No `message_start` yet.
    #[default]
    Waiting,
    Open,
    /// `message_stop`, an error, or malformed data: the rest is ignored.
    Done,
}

/// An opaque block waiting for its `content_block_stop`.
#[derive(Debug)]
struct Pending {
    index: usize,
    value: Value,
    input_json: String,
}

#[derive(Debug, Default)]
pub struct Decoder {
    phase: Phase,
    /// Usage so far: `message_start`'s, updated field by field by each `message_delta`
    /// (whose counts are cumulative, not increments).
    usage: Usage,
    pending: Vec<Pending>,
    /// The provider's configured name, when known: thinking blocks are then stamped with their
    /// issuer (this provider and the family of the model `message_start` names), so history
    /// repair can tell them from another model's.
    provider: Option<String>,
    origin: Option<Origin>,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder for a stream from the named provider; see [`Decoder::origin`].
    pub fn with_provider(provider: impl Into<String>) -> Self {
        Self { provider: Some(provider.into()), ..Self::default() }
    }

    /// Who issued this stream's thinking signatures, once `message_start` has named the model
    /// (only for a decoder made [`with_provider`](Decoder::with_provider)).
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }
}

#[derive(Deserialize)]
struct WStart {
    message: WStartMessage,
}

#[derive(Deserialize)]
struct WStartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WBlockStart {
    index: usize,
    content_block: Box<RawValue>,
}

#[derive(Deserialize)]
struct WTag {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct WStartText {
    #[serde(default)]
    text: String,
    #[serde(default)]
    citations: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct WStartThinking {
    #[serde(default)]
    thinking: String,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
struct WStartToolUse {
    id: String,
    name: String,
    #[serde(default)]
    input: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct WStartRedacted {
    data: String,
}

#[derive(Deserialize)]
struct WBlockDelta {
    index: usize,
    delta: WDelta,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    CitationsDelta {
        citation: Value,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct WIndex {
    index: usize,
}

#[derive(Deserialize)]
struct WMessageDelta {
    #[serde(default)]
    delta: Option<WMessageDeltaBody>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WMessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
}

#[derive(Deserialize)]
struct WError {
    error: UpstreamError,
}

/// Why a frame could not be read.
struct Malformed(String);

impl<E: std::fmt::Display> From<E> for Malformed {
    fn from(e: E) -> Self {
        Malformed(e.to_string())
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, frame: &SseFrame, out: &mut Vec<StreamEvent>) {
        if self.phase == Phase::Done {
            return;
        }
        let Some(event) = frame.event.as_deref() else { return };
        if let Err(Malformed(why)) = self.dispatch(event, &frame.data, out) {
            self.phase = Phase::Done;
            out.push(StreamEvent::Error {
                kind: "api_error".into(),
                message: format!("malformed `{event}` event from the upstream: {why}"),
            });
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.phase != Phase::Done {
            self.phase = Phase::Done;
            out.push(StreamEvent::Error {
                kind: "api_error".into(),
                message: "the upstream stream ended before `message_stop`".into(),
            });
        }
    }
}

impl Decoder {
    fn dispatch(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Malformed> {
        match event {
            "ping" => out.push(StreamEvent::Ping),
            "error" => {
                self.phase = Phase::Done;
                out.push(match serde_json::from_str::<WError>(data) {
                    Ok(e) => {
                        StreamEvent::Error { kind: e.error.error_type, message: e.error.message }
                    }
                    Err(_) => {
                        StreamEvent::Error { kind: "api_error".into(), message: data.to_owned() }
                    }
                });
            }
            "message_start" => {
                let start: WStart = serde_json::from_str(data)?;
                if self.phase == Phase::Waiting {
                    self.phase = Phase::Open;
                    if let Some(provider) = &self.provider {
                        self.origin = Some(Origin {
                            provider: provider.clone(),
                            family: model_family(&start.message.model),
                        });
                    }
                    if let Some(usage) = &start.message.usage {
                        usage.merge_into(&mut self.usage);
                    }
                    out.push(StreamEvent::MessageStart {
                        id: start.message.id,
                        model: start.message.model,
                        usage: self.usage,
                    });
                }
            }
            "content_block_start"
            | "content_block_delta"
            | "content_block_stop"
            | "message_delta"
            | "message_stop"
                if self.phase == Phase::Waiting =>
            {
                return Err(Malformed("it came before `message_start`".into()));
            }
            "content_block_start" => {
                let start: WBlockStart = serde_json::from_str(data)?;
                self.block_start(start.index, &start.content_block, out)?;
            }
            "content_block_delta" => {
                let delta: WBlockDelta = serde_json::from_str(data)?;
                self.block_delta(delta.index, delta.delta, out);
            }
            "content_block_stop" => {
                let stop: WIndex = serde_json::from_str(data)?;
                if let Some(at) = self.pending.iter().position(|p| p.index == stop.index) {
                    let pending = self.pending.swap_remove(at);
                    out.push(StreamEvent::BlockStart {
                        index: pending.index,
                        block: Block::Opaque(Opaque {
                            dialect: Dialect::Anthropic,
                            value: with_input(pending.value, &pending.input_json),
                        }),
                    });
                }
                out.push(StreamEvent::BlockStop { index: stop.index });
            }
            "message_delta" => {
                let delta: WMessageDelta = serde_json::from_str(data)?;
                if let Some(usage) = &delta.usage {
                    usage.merge_into(&mut self.usage);
                }
                let (stop_reason, stop_sequence) = match delta.delta {
                    Some(body) => (body.stop_reason, body.stop_sequence),
                    None => (None, None),
                };
                out.push(StreamEvent::MessageDelta {
                    stop_reason: stop_reason.as_deref().map(StopReason::from_anthropic),
                    stop_sequence,
                    usage: self.usage,
                });
            }
            "message_stop" => {
                self.phase = Phase::Done;
                out.push(StreamEvent::MessageStop);
            }
            _ => {}
        }
        Ok(())
    }

    /// Text and thinking blocks open empty, a tool call with an empty input; anything a start
    /// already carries follows as deltas, so no content rides on a `BlockStart`.
    fn block_start(
        &mut self,
        index: usize,
        raw: &RawValue,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Malformed> {
        let tag: WTag = serde_json::from_str(raw.get())?;
        let mut deltas = Vec::new();
        let block = match tag.kind.as_str() {
            "text" => {
                let t: WStartText = serde_json::from_str(raw.get())?;
                if !t.text.is_empty() {
                    deltas.push(Delta::Text(t.text));
                }
                deltas.extend(t.citations.into_iter().flatten().map(Delta::Citation));
                Block::Text(TextBlock::new(""))
            }
            "thinking" => {
                let t: WStartThinking = serde_json::from_str(raw.get())?;
                if !t.thinking.is_empty() {
                    deltas.push(Delta::Thinking(t.thinking));
                }
                if let Some(signature) = t.signature.filter(|s| !s.is_empty()) {
                    deltas.push(Delta::Signature(signature));
                }
                Block::Thinking(ThinkingBlock {
                    origin: self.origin.clone(),
                    ..ThinkingBlock::default()
                })
            }
            "tool_use" => {
                let t: WStartToolUse = serde_json::from_str(raw.get())?;
                if let Some(input) = t.input.filter(|i| !i.is_empty()) {
                    deltas.push(Delta::InputJson(Value::Object(input).to_string()));
                }
                Block::ToolUse(ToolUse {
                    id: t.id,
                    name: t.name,
                    input: Value::Object(Map::new()),
                    cache_control: None,
                })
            }
            "redacted_thinking" => {
                let t: WStartRedacted = serde_json::from_str(raw.get())?;
                Block::RedactedThinking(RedactedThinking {
                    data: t.data,
                    origin: self.origin.clone(),
                })
            }
            _ => {
                let value: Value = serde_json::from_str(raw.get())?;
                self.pending.push(Pending { index, value, input_json: String::new() });
                return Ok(());
            }
        };
        out.push(StreamEvent::BlockStart { index, block });
        out.extend(deltas.into_iter().map(|delta| StreamEvent::BlockDelta { index, delta }));
        Ok(())
    }

    fn block_delta(&mut self, index: usize, delta: WDelta, out: &mut Vec<StreamEvent>) {
        if let Some(pending) = self.pending.iter_mut().find(|p| p.index == index) {
            if let WDelta::InputJsonDelta { partial_json } = delta {
                pending.input_json.push_str(&partial_json);
            }
            return;
        }
        let delta = match delta {
            WDelta::TextDelta { text } => Delta::Text(text),
            WDelta::InputJsonDelta { partial_json } => Delta::InputJson(partial_json),
            WDelta::ThinkingDelta { thinking } => Delta::Thinking(thinking),
            WDelta::SignatureDelta { signature } => Delta::Signature(signature),
            WDelta::CitationsDelta { citation } => Delta::Citation(citation),
            WDelta::Unknown => return,
        };
        out.push(StreamEvent::BlockDelta { index, delta });
    }
}

/// An opaque block's `input`, assembled from its streamed fragments when there were any.
fn with_input(mut value: Value, input_json: &str) -> Value {
    if !input_json.trim().is_empty()
        && let Ok(input) = serde_json::from_str::<Value>(input_json)
        && let Value::Object(map) = &mut value
    {
        map.insert("input".into(), input);
    }
    value
}

/// Writes canonical events as Anthropic's SSE, in the shapes the streaming docs show. Blocks
/// Anthropic cannot carry in an answer (images, documents, tool results, other dialects' opaque
/// blocks) are left out and the remaining blocks renumbered, so indices stay the positions in
/// the final `content` array.
#[derive(Debug, Default)]
pub struct Encoder {
    indices: HashMap<usize, usize>,
    dropped: HashSet<usize>,
    next_index: usize,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Serialize)]
struct OutStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: OutStartMessage<'a>,
}

#[derive(Serialize)]
struct OutStartMessage<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    content: [(); 0],
    model: &'a str,
    stop_reason: Option<()>,
    stop_sequence: Option<()>,
    usage: OutUsage,
}

#[derive(Serialize)]
struct OutBlockStart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    content_block: OutStartBlock<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutStartBlock<'a> {
    Typed(OutTypedStart<'a>),
    Raw(&'a Value),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum OutTypedStart<'a> {
    Text { text: &'static str },
    Thinking { thinking: &'static str },
    ToolUse { id: &'a str, name: &'a str, input: Map<String, Value> },
    RedactedThinking { data: &'a str },
}

#[derive(Serialize)]
struct OutBlockDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    delta: OutDelta<'a>,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum OutDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "citations_delta")]
    Citations { citation: &'a Value },
}

/// An event that is only its type (`message_stop`).
#[derive(Serialize)]
struct OutTypeOnly {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct OutIndex {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
}

#[derive(Serialize)]
struct OutMessageDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    delta: OutMessageDeltaBody<'a>,
    usage: OutUsage,
}

#[derive(Serialize)]
struct OutMessageDeltaBody<'a> {
    stop_reason: Option<&'a str>,
    stop_sequence: Option<&'a str>,
}

#[derive(Serialize)]
struct OutError<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: OutErrorBody<'a>,
}

#[derive(Serialize)]
struct OutErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

fn frame(out: &mut Vec<u8>, event: &str, data: &impl Serialize) {
    if let Ok(json) = serde_json::to_string(data) {
        write_frame(out, Some(event), &json);
    }
}

fn delta(out: &mut Vec<u8>, index: usize, delta: OutDelta<'_>) {
    frame(out, "content_block_delta", &OutBlockDelta { kind: "content_block_delta", index, delta });
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                let message = OutStartMessage {
                    id: message_id(id),
                    kind: "message",
                    role: "assistant",
                    content: [],
                    model,
                    stop_reason: None,
                    stop_sequence: None,
                    usage: (*usage).into(),
                };
                frame(out, "message_start", &OutStart { kind: "message_start", message });
            }
            StreamEvent::BlockStart { index, block } => self.block_start(*index, block, out),
            StreamEvent::BlockDelta { index, delta: d } => {
                let Some(&index) = self.indices.get(index) else { return };
                let d = match d {
                    Delta::Text(text) => OutDelta::Text { text },
                    Delta::InputJson(partial_json) => OutDelta::InputJson { partial_json },
                    Delta::Thinking(thinking) => OutDelta::Thinking { thinking },
                    Delta::Signature(signature) => OutDelta::Signature { signature },
                    Delta::Citation(citation) => OutDelta::Citations { citation },
                };
                delta(out, index, d);
            }
            StreamEvent::BlockStop { index } => {
                if let Some(&index) = self.indices.get(index) {
                    frame(
                        out,
                        "content_block_stop",
                        &OutIndex { kind: "content_block_stop", index },
                    );
                }
            }
            StreamEvent::MessageDelta { stop_reason, stop_sequence, usage } => {
                let body = OutMessageDeltaBody {
                    stop_reason: stop_reason.as_ref().map(StopReason::as_anthropic),
                    stop_sequence: stop_sequence.as_deref(),
                };
                let data =
                    OutMessageDelta { kind: "message_delta", delta: body, usage: (*usage).into() };
                frame(out, "message_delta", &data);
            }
            StreamEvent::MessageStop => {
                frame(out, "message_stop", &OutTypeOnly { kind: "message_stop" });
            }
            // Byte for byte the docs' ping, spacing included.
            StreamEvent::Ping => write_frame(out, Some("ping"), r#"{"type": "ping"}"#),
            StreamEvent::Error { kind, message } => {
                let data = OutError { kind: "error", error: OutErrorBody { kind, message } };
                frame(out, "error", &data);
            }
        }
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

impl Encoder {
    fn block_start(&mut self, index: usize, block: &Block, out: &mut Vec<u8>) {
        let mut deltas: Vec<OutDelta<'_>> = Vec::new();
        let owned_input;
        let start = match block {
            Block::Text(t) => {
                if !t.text.is_empty() {
                    deltas.push(OutDelta::Text { text: &t.text });
                }
                if let Some(Value::Array(citations)) = &t.citations {
                    deltas
                        .extend(citations.iter().map(|citation| OutDelta::Citations { citation }));
                }
                OutStartBlock::Typed(OutTypedStart::Text { text: "" })
            }
            Block::Thinking(t) => {
                if !t.thinking.is_empty() {
                    deltas.push(OutDelta::Thinking { thinking: &t.thinking });
                }
                if let Some(signature) = &t.signature {
                    deltas.push(OutDelta::Signature { signature });
                }
                OutStartBlock::Typed(OutTypedStart::Thinking { thinking: "" })
            }
            Block::ToolUse(call) => {
                owned_input = non_empty_input(&call.input);
                if let Some(json) = &owned_input {
                    deltas.push(OutDelta::InputJson { partial_json: json });
                }
                OutStartBlock::Typed(OutTypedStart::ToolUse {
                    id: &call.id,
                    name: &call.name,
                    input: Map::new(),
                })
            }
            Block::RedactedThinking(r) => {
                OutStartBlock::Typed(OutTypedStart::RedactedThinking { data: &r.data })
            }
            Block::Opaque(o) if o.dialect == Dialect::Anthropic => {
                return self.opaque_start(index, &o.value, out);
            }
            Block::Image(_) | Block::Document(_) | Block::ToolResult(_) | Block::Opaque(_) => {
                self.dropped.insert(index);
                return;
            }
        };
        let at = self.assign(index);
        let data = OutBlockStart { kind: "content_block_start", index: at, content_block: start };
        frame(out, "content_block_start", &data);
        for d in deltas {
            delta(out, at, d);
        }
    }

    /// Tool-call-like blocks (`server_tool_use`, `mcp_tool_use`) are streamed as the API streams
    /// them: an empty `input` at the start, the input as one `input_json_delta`.
    fn opaque_start(&mut self, index: usize, value: &Value, out: &mut Vec<u8>) {
        let at = self.assign(index);
        let streamed_input = value["type"].as_str().is_some_and(|t| t.ends_with("tool_use"))
            && value["input"].as_object().is_some_and(|input| !input.is_empty());
        if !streamed_input {
            let data = OutBlockStart {
                kind: "content_block_start",
                index: at,
                content_block: OutStartBlock::Raw(value),
            };
            frame(out, "content_block_start", &data);
            return;
        }
        let mut head = value.clone();
        head["input"] = Value::Object(Map::new());
        let data = OutBlockStart {
            kind: "content_block_start",
            index: at,
            content_block: OutStartBlock::Raw(&head),
        };
        frame(out, "content_block_start", &data);
        let json = value["input"].to_string();
        delta(out, at, OutDelta::InputJson { partial_json: &json });
    }

    fn assign(&mut self, index: usize) -> usize {
        let at = self.next_index;
        self.next_index += 1;
        self.indices.insert(index, at);
        at
    }
}

fn non_empty_input(input: &Value) -> Option<String> {
    match input {
        Value::Object(map) if map.is_empty() => None,
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

//! The `streamGenerateContent?alt=sse` stream <-> canonical events: sans-IO state machines.
//!
//! Gemini streams data-only SSE; every frame is a whole `GenerateContentResponse` with the parts
//! generated since the last one. Text and thought parts arrive in pieces and become deltas of one
//! block until the kind changes; a `functionCall` part arrives whole and becomes a whole tool_use
//! block. `usageMetadata` rides on the chunks, final in the last. Old models put
//! `finishReason: STOP` on every chunk, so the turn is closed when the stream ends, with the last
//! finish reason seen; a stream that ends without any is an error, never a made-up `end_turn`.

use serde_json::{Map, Value};

use super::convert::{
    block_of_part, error_kind, finish_reason, google_status, model_parts, stop_reason, tool_use,
    usage, usage_metadata,
};
use super::wire::{ApiError, Candidate, Content, ErrorBody, GenerateContentResponse, Part};
use crate::Usage;
use crate::canonical::{
    Block, Delta, StopReason, StreamDecoder, StreamEncoder, StreamEvent, ThinkingBlock,
};
use crate::sse::{SseFrame, write_frame};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
}

/// Gemini stream -> canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    started: bool,
    /// The stream is over (closed or failed): everything after is ignored.
    ended: bool,
    id: String,
    open: Option<(usize, Kind)>,
    next_index: usize,
    /// Function calls seen, for their fallback ids and the stop reason.
    calls: usize,
    usage: Usage,
    finish: Option<String>,
    blocked: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, kind: &str, message: String, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        out.push(StreamEvent::Error { kind: kind.to_owned(), message });
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    /// Makes sure a block of `kind` is open and returns its index.
    fn ensure(&mut self, kind: Kind, out: &mut Vec<StreamEvent>) -> usize {
        if let Some((index, open)) = self.open
            && open == kind
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        let block = match kind {
            Kind::Text => Block::Text(crate::canonical::TextBlock::new("")),
            Kind::Thinking => Block::Thinking(ThinkingBlock::default()),
        };
        out.push(StreamEvent::BlockStart { index, block });
        self.open = Some((index, kind));
        index
    }

    /// A block that arrives complete: start, its deltas, stop.
    fn whole(&mut self, block: Block, deltas: Vec<Delta>, out: &mut Vec<StreamEvent>) {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart { index, block });
        out.extend(deltas.into_iter().map(|delta| StreamEvent::BlockDelta { index, delta }));
        out.push(StreamEvent::BlockStop { index });
    }

    fn part(&mut self, mut part: Part, out: &mut Vec<StreamEvent>) {
        if part.is_thought() {
            let index = self.ensure(Kind::Thinking, out);
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::BlockDelta { index, delta: Delta::Thinking(text) });
            }
            if let Some(signature) = part.thought_signature {
                out.push(StreamEvent::BlockDelta { index, delta: Delta::Signature(signature) });
                self.close(out);
            }
            return;
        }
        if let Some(signature) = part.thought_signature.take() {
            self.whole(
                Block::Thinking(ThinkingBlock::default()),
                vec![Delta::Signature(signature)],
                out,
            );
        }
        if let Some(call) = part.function_call.take() {
            let mut call = tool_use(call, &self.id, &mut self.calls);
            let input = std::mem::replace(&mut call.input, Value::Object(Map::new()));
            self.whole(Block::ToolUse(call), vec![Delta::InputJson(input.to_string())], out);
            return;
        }
        if part.other.is_empty()
            && part.inline_data.is_none()
            && part.file_data.is_none()
            && part.function_response.is_none()
        {
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                let index = self.ensure(Kind::Text, out);
                out.push(StreamEvent::BlockDelta { index, delta: Delta::Text(text) });
            }
            return;
        }
        if let Some(block) = block_of_part(part, &self.id, &mut self.calls) {
            self.whole(block, Vec::new(), out);
        }
    }
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
        let chunk: GenerateContentResponse = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => {
                return self.fail("api_error", format!("malformed Gemini stream chunk: {e}"), out);
            }
        };
        if let Some(error) = chunk.error {
            let kind = error_kind(error.status.as_deref(), error.code);
            return self.fail(kind, error.message, out);
        }
        if !self.started {
            self.started = true;
            self.id = chunk.response_id.clone().unwrap_or_default();
            let mut start = chunk.usage_metadata.as_ref().map(usage).unwrap_or_default();
            start.output_tokens = 0;
            out.push(StreamEvent::MessageStart {
                id: self.id.clone(),
                model: chunk.model_version.clone().unwrap_or_default(),
                usage: start,
            });
        }
        if let Some(meta) = &chunk.usage_metadata {
            self.usage = usage(meta);
        }
        if chunk.prompt_feedback.and_then(|f| f.block_reason).is_some() {
            self.blocked = true;
        }
        let Some(candidate) = chunk.candidates.into_iter().next() else { return };
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            self.part(part, out);
        }
        if let Some(finish) = candidate.finish_reason {
            self.finish = Some(finish);
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if !self.started {
            return self.fail(
                "api_error",
                "the Gemini stream ended before any chunk".to_owned(),
                out,
            );
        }
        let stop = match &self.finish {
            Some(finish) => stop_reason(finish, self.calls > 0),
            None if self.blocked => StopReason::Refusal,
            None => {
                return self.fail(
                    "api_error",
                    "the Gemini stream ended without a finishReason".to_owned(),
                    out,
                );
            }
        };
        self.ended = true;
        self.close(out);
        out.push(StreamEvent::MessageDelta {
            stop_reason: Some(stop),
            stop_sequence: None,
            usage: self.usage,
        });
        out.push(StreamEvent::MessageStop);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool,
}

/// Canonical events -> a Gemini SSE stream (for a client speaking Gemini). Each text or thinking
/// delta is one chunk; a tool call goes out whole when its block stops; a signature rides the next
/// part, or the empty text part of the final chunk, as Gemini 3 sends it.
#[derive(Debug, Default)]
pub struct Encoder {
    id: String,
    model: String,
    /// Input counts as known at the start, repeated on every chunk as Gemini does.
    usage: Usage,
    open: Option<Open>,
    tool_name: String,
    tool_args: String,
    pending_signature: Option<String>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn write(
        &self,
        parts: Vec<Part>,
        finish: Option<String>,
        usage: Option<&Usage>,
        out: &mut Vec<u8>,
    ) {
        let usage = usage.unwrap_or(&self.usage);
        let chunk = GenerateContentResponse {
            candidates: vec![Candidate {
                content: Some(Content { parts, role: Some("model".to_owned()) }),
                finish_reason: finish,
                index: Some(0),
            }],
            prompt_feedback: None,
            usage_metadata: Some(usage_metadata(usage)),
            model_version: Some(self.model.clone()),
            response_id: Some(self.id.clone()),
            error: None,
        };
        if let Ok(json) = serde_json::to_string(&chunk) {
            write_frame(out, None, &json);
        }
    }

    fn signed(&mut self, mut part: Part) -> Part {
        if part.thought_signature.is_none() {
            part.thought_signature = self.pending_signature.take();
        }
        part
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                self.id.clone_from(id);
                self.model.clone_from(model);
                self.usage = *usage;
            }
            StreamEvent::BlockStart { block, .. } => match block {
                Block::Text(_) => self.open = Some(Open::Text),
                Block::Thinking(_) => self.open = Some(Open::Thinking),
                Block::ToolUse(call) => {
                    self.open = Some(Open::Tool);
                    self.tool_name.clone_from(&call.name);
                    self.tool_args.clear();
                }
                whole => {
                    self.open = None;
                    let mut notes = Vec::new();
                    let parts = model_parts(std::slice::from_ref(whole), &|_| true, &mut notes);
                    let parts: Vec<Part> = parts.into_iter().map(|p| self.signed(p)).collect();
                    if !parts.is_empty() {
                        self.write(parts, None, None, out);
                    }
                }
            },
            StreamEvent::BlockDelta { delta, .. } => match delta {
                Delta::Text(text) => {
                    let part = self.signed(Part::text(text.clone()));
                    self.write(vec![part], None, None, out);
                }
                Delta::Thinking(text) => {
                    let part =
                        Part { text: Some(text.clone()), thought: Some(true), ..Part::default() };
                    self.write(vec![part], None, None, out);
                }
                Delta::Signature(signature) => self.pending_signature = Some(signature.clone()),
                Delta::InputJson(fragment) => self.tool_args.push_str(fragment),
                Delta::Citation(_) => {}
            },
            StreamEvent::BlockStop { .. } => {
                if self.open.take() == Some(Open::Tool) {
                    let args = match serde_json::from_str::<Value>(&self.tool_args) {
                        Ok(Value::Object(args)) => Value::Object(args),
                        _ => Value::Object(Map::new()),
                    };
                    let part = Part {
                        function_call: Some(super::wire::FunctionCall {
                            id: None,
                            name: std::mem::take(&mut self.tool_name),
                            args: Some(args),
                        }),
                        ..Part::default()
                    };
                    let part = self.signed(part);
                    self.write(vec![part], None, None, out);
                }
            }
            StreamEvent::MessageDelta { stop_reason, usage, .. } => {
                let part = self.signed(Part::text(""));
                self.write(vec![part], Some(finish_reason(stop_reason.as_ref())), Some(usage), out);
            }
            StreamEvent::Error { kind, message } => {
                let (code, status) = google_status(kind);
                let body = ErrorBody {
                    error: ApiError {
                        code: Some(code),
                        message: message.clone(),
                        status: Some(status.to_owned()),
                    },
                };
                if let Ok(json) = serde_json::to_string(&body) {
                    write_frame(out, None, &json);
                }
            }
            StreamEvent::MessageStop | StreamEvent::Ping => {}
        }
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

//! The `/api/chat` NDJSON stream <-> canonical events: sans-IO state machines.
//!
//! Each line is a whole JSON object: `message.content` and `message.thinking` carry the text
//! generated since the previous line, `tool_calls` arrive whole, and the last line has
//! `"done": true` with `done_reason` and the token counts. A line `{"error": "..."}` ends the
//! stream; so does the end of input before `done`, as an error.

use serde_json::{Map, Value};

use super::convert::{EPOCH, done_reason, message_id, seed, stop_reason, tool_call, tool_use};
use super::wire::{ChatResponse, Message};
use crate::Usage;
use crate::canonical::{
    Block, Delta, StreamDecoder, StreamEncoder, StreamEvent, TextBlock, ThinkingBlock,
};
use crate::sse::SseFrame;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
}

/// Ollama NDJSON lines (one per [`SseFrame::data`]) -> canonical events.
#[derive(Debug, Default)]
pub struct Decoder {
    started: bool,
    ended: bool,
    seed: String,
    open: Option<(usize, Kind)>,
    next_index: usize,
    calls: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, message: String, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        out.push(StreamEvent::Error { kind: "api_error".to_owned(), message });
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn delta(&mut self, kind: Kind, text: String, out: &mut Vec<StreamEvent>) {
        let index = match self.open {
            Some((index, open)) if open == kind => index,
            _ => {
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                let block = match kind {
                    Kind::Text => Block::Text(TextBlock::new("")),
                    Kind::Thinking => Block::Thinking(ThinkingBlock::default()),
                };
                out.push(StreamEvent::BlockStart { index, block });
                self.open = Some((index, kind));
                index
            }
        };
        let delta = match kind {
            Kind::Text => Delta::Text(text),
            Kind::Thinking => Delta::Thinking(text),
        };
        out.push(StreamEvent::BlockDelta { index, delta });
    }

    fn message(&mut self, message: Message, out: &mut Vec<StreamEvent>) {
        if let Some(thinking) = message.thinking.filter(|t| !t.is_empty()) {
            self.delta(Kind::Thinking, thinking, out);
        }
        if !message.content.is_empty() {
            self.delta(Kind::Text, message.content, out);
        }
        for call in message.tool_calls.unwrap_or_default() {
            self.close(out);
            let mut call = tool_use(call, &self.seed, &mut self.calls);
            let input = std::mem::replace(&mut call.input, Value::Object(Map::new()));
            let index = self.next_index;
            self.next_index += 1;
            out.push(StreamEvent::BlockStart { index, block: Block::ToolUse(call) });
            out.push(StreamEvent::BlockDelta { index, delta: Delta::InputJson(input.to_string()) });
            out.push(StreamEvent::BlockStop { index });
        }
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, frame: &SseFrame, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let line = frame.data.trim();
        if line.is_empty() {
            return;
        }
        let chunk: ChatResponse = match serde_json::from_str(line) {
            Ok(chunk) => chunk,
            Err(e) => return self.fail(format!("malformed Ollama stream line: {e}"), out),
        };
        if let Some(error) = chunk.error {
            return self.fail(error, out);
        }
        if !self.started {
            self.started = true;
            self.seed = seed(&chunk.model, &chunk.created_at);
            out.push(StreamEvent::MessageStart {
                id: message_id(&chunk.created_at),
                model: chunk.model.clone(),
                usage: Usage::default(),
            });
        }
        if let Some(message) = chunk.message {
            self.message(message, out);
        }
        if chunk.done {
            self.ended = true;
            self.close(out);
            out.push(StreamEvent::MessageDelta {
                stop_reason: Some(stop_reason(chunk.done_reason.as_deref(), self.calls > 0)),
                stop_sequence: None,
                usage: Usage {
                    input_tokens: chunk.prompt_eval_count.unwrap_or_default(),
                    output_tokens: chunk.eval_count.unwrap_or_default(),
                    ..Usage::default()
                },
            });
            out.push(StreamEvent::MessageStop);
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let message = if self.started {
            "the Ollama stream ended before its done line"
        } else {
            "the Ollama stream ended before any line"
        };
        self.fail(message.to_owned(), out);
    }
}

/// Canonical events -> Ollama NDJSON lines (`{...}\n`), for a client speaking Ollama.
#[derive(Debug)]
pub struct Encoder {
    model: String,
    created_at: String,
    tool: Option<(String, String)>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder { model: String::new(), created_at: EPOCH.to_owned(), tool: None }
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stamps every line with `created_at` (RFC 3339) instead of the epoch; the caller has the
    /// clock.
    pub fn with_created_at(created_at: impl Into<String>) -> Self {
        Encoder { created_at: created_at.into(), ..Self::default() }
    }

    fn line(&self, message: Option<Message>, done: Option<(&str, &Usage)>, out: &mut Vec<u8>) {
        let chunk = ChatResponse {
            model: self.model.clone(),
            created_at: self.created_at.clone(),
            message,
            done_reason: done.map(|(reason, _)| reason.to_owned()),
            done: done.is_some(),
            prompt_eval_count: done.map(|(_, u)| u.total_input()),
            eval_count: done.map(|(_, u)| u.output_tokens),
            error: None,
        };
        if let Ok(json) = serde_json::to_vec(&chunk) {
            out.extend_from_slice(&json);
            out.push(b'\n');
        }
    }
}

fn assistant(content: String) -> Message {
    Message { role: "assistant".to_owned(), content, ..Message::default() }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::MessageStart { model, .. } => self.model.clone_from(model),
            StreamEvent::BlockStart { block: Block::ToolUse(call), .. } => {
                self.tool = Some((call.name.clone(), String::new()));
            }
            StreamEvent::BlockDelta { delta, .. } => match delta {
                Delta::Text(text) => self.line(Some(assistant(text.clone())), None, out),
                Delta::Thinking(text) => {
                    let mut message = assistant(String::new());
                    message.thinking = Some(text.clone());
                    self.line(Some(message), None, out);
                }
                Delta::InputJson(fragment) => {
                    if let Some((_, args)) = &mut self.tool {
                        args.push_str(fragment);
                    }
                }
                Delta::Signature(_) | Delta::Citation(_) => {}
            },
            StreamEvent::BlockStop { .. } => {
                if let Some((name, args)) = self.tool.take() {
                    let input = match serde_json::from_str::<Value>(&args) {
                        Ok(Value::Object(args)) => Value::Object(args),
                        _ => Value::Object(Map::new()),
                    };
                    let call = crate::canonical::ToolUse {
                        id: String::new(),
                        name,
                        input,
                        cache_control: None,
                    };
                    let mut message = assistant(String::new());
                    message.tool_calls = Some(vec![tool_call(&call)]);
                    self.line(Some(message), None, out);
                }
            }
            StreamEvent::MessageDelta { stop_reason, usage, .. } => {
                let reason = done_reason(stop_reason.as_ref());
                self.line(Some(assistant(String::new())), Some((reason, usage)), out);
            }
            StreamEvent::Error { message, .. } => {
                let body = serde_json::json!({ "error": message });
                out.extend_from_slice(body.to_string().as_bytes());
                out.push(b'\n');
            }
            StreamEvent::BlockStart { .. } | StreamEvent::MessageStop | StreamEvent::Ping => {}
        }
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

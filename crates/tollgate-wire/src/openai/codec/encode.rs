//! Canonical stream events -> a Chat Completions chunk stream for a client (27, 30).
//!
//! Every chunk has the fields the API reference shows (`id`, `object`, `created`, `model`,
//! `choices[{index, delta, logprobs, finish_reason}]`, and `usage: null` when the client asked
//! for usage); nothing else, because strict clients break on extension fields (30). Thinking has
//! no standard field and is left out (11). The finish reason gets a chunk of its own, never
//! beside content (27).

use serde::Serialize;

use crate::Usage;
use crate::canonical::{Block, Delta, StopReason, StreamEncoder, StreamEvent};
use crate::openai::convert::args::to_arguments;
use crate::openai::convert::chat_id;
use crate::openai::convert::response::{OutUsage, stop_to_finish};
use crate::openai::error::error_event;
use crate::sse::write_frame;

/// What a Chat client's stream needs that canonical events do not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncoderOptions {
    /// The client sent `stream_options: {"include_usage": true}`: every chunk carries
    /// `usage: null` and a `choices: []` chunk with the usage follows the finish reason.
    pub include_usage: bool,
    /// Unix seconds, from the caller's clock.
    pub created: u64,
    /// The model name to show instead of the provider's.
    pub model_override: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Streaming,
    /// `MessageStop` was written: `[DONE]` follows.
    Completed,
    /// An error was written: nothing follows.
    Failed,
}

#[derive(Debug, Default)]
pub struct Encoder {
    options: EncoderOptions,
    state: State,
    started: bool,
    id: String,
    model: String,
    /// Canonical block index -> Chat tool-call index, which counts tool calls only.
    tools: Vec<(usize, usize)>,
    finish_sent: bool,
    stop: Option<StopReason>,
    usage: Usage,
}

#[derive(Serialize)]
struct OutChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<OutChoice<'a>>,
    /// Absent unless the client asked for usage; then `null` except on the usage chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<OutUsage>>,
}

#[derive(Serialize)]
struct OutChoice<'a> {
    index: u32,
    delta: OutDelta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<String>,
}

#[derive(Serialize, Default)]
struct OutDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall<'a>>,
}

#[derive(Serialize)]
struct OutToolCall<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: OutFunction<'a>,
}

#[derive(Serialize)]
struct OutFunction<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

impl Encoder {
    /// No usage chunk, `created` 0, the provider's model name.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_options(options: EncoderOptions) -> Self {
        Self { options, ..Self::default() }
    }

    fn write(&self, delta: OutDelta<'_>, finish_reason: Option<String>, out: &mut Vec<u8>) {
        let chunk = OutChunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.options.created,
            model: &self.model,
            choices: vec![OutChoice { index: 0, delta, logprobs: None, finish_reason }],
            usage: self.options.include_usage.then_some(None),
        };
        if let Ok(json) = serde_json::to_string(&chunk) {
            write_frame(out, None, &json);
        }
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<u8>) {
        self.started = true;
        self.id = chat_id(id);
        self.model = self.options.model_override.clone().unwrap_or_else(|| model.to_owned());
        // As OpenAI opens every stream.
        self.write(
            OutDelta { role: Some("assistant"), content: Some(""), ..OutDelta::default() },
            None,
            out,
        );
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.start("", "", out);
        }
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        self.ensure_started(out);
        self.write(OutDelta { content: Some(text), ..OutDelta::default() }, None, out);
    }

    fn tool_index(&self, block: usize) -> Option<usize> {
        self.tools.iter().find(|(b, _)| *b == block).map(|(_, k)| *k)
    }

    fn finish_chunk(&mut self, out: &mut Vec<u8>) {
        if self.finish_sent {
            return;
        }
        self.ensure_started(out);
        self.finish_sent = true;
        let reason = stop_to_finish(self.stop.as_ref(), !self.tools.is_empty());
        self.write(OutDelta::default(), Some(reason), out);
    }

    fn usage_chunk(&self, out: &mut Vec<u8>) {
        let chunk = OutChunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.options.created,
            model: &self.model,
            choices: Vec::new(),
            usage: Some(Some(OutUsage::new(&self.usage))),
        };
        if let Ok(json) = serde_json::to_string(&chunk) {
            write_frame(out, None, &json);
        }
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.state != State::Streaming {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                self.usage = *usage;
                if !self.started {
                    self.start(id, model, out);
                }
            }
            StreamEvent::BlockStart { index, block } => match block {
                Block::Text(t) => self.text(&t.text, out),
                Block::ToolUse(u) => {
                    self.ensure_started(out);
                    let k = self.tools.len();
                    self.tools.push((*index, k));
                    let call = OutToolCall {
                        index: k,
                        id: Some(&u.id),
                        kind: Some("function"),
                        function: OutFunction { name: Some(&u.name), arguments: "" },
                    };
                    self.write(
                        OutDelta { tool_calls: vec![call], ..OutDelta::default() },
                        None,
                        out,
                    );
                    // A block replayed whole carries its input at the start.
                    if u.input.as_object().is_some_and(|o| !o.is_empty()) {
                        let args = to_arguments(&u.input);
                        let call = OutToolCall {
                            index: k,
                            id: None,
                            kind: None,
                            function: OutFunction { name: None, arguments: &args },
                        };
                        self.write(
                            OutDelta { tool_calls: vec![call], ..OutDelta::default() },
                            None,
                            out,
                        );
                    }
                }
                _ => {}
            },
            StreamEvent::BlockDelta { index, delta } => match delta {
                Delta::Text(t) => self.text(t, out),
                Delta::InputJson(args) if !args.is_empty() => {
                    if let Some(k) = self.tool_index(*index) {
                        let call = OutToolCall {
                            index: k,
                            id: None,
                            kind: None,
                            function: OutFunction { name: None, arguments: args },
                        };
                        self.write(
                            OutDelta { tool_calls: vec![call], ..OutDelta::default() },
                            None,
                            out,
                        );
                    }
                }
                _ => {}
            },
            StreamEvent::BlockStop { .. } => {}
            StreamEvent::MessageDelta { stop_reason, usage, .. } => {
                self.usage = *usage;
                if stop_reason.is_some() {
                    self.stop = stop_reason.clone();
                }
                self.finish_chunk(out);
            }
            StreamEvent::MessageStop => {
                self.finish_chunk(out);
                if self.options.include_usage {
                    self.usage_chunk(out);
                }
                self.state = State::Completed;
            }
            StreamEvent::Ping => out.extend_from_slice(b": ping\n\n"),
            StreamEvent::Error { kind, message } => {
                let (error_type, code) = openai_error(kind);
                out.extend_from_slice(&error_event(error_type, code, message));
                self.state = State::Failed;
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state == State::Completed {
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
    }
}

/// An Anthropic error type as OpenAI's `type` and `code` (43). 529 has no OpenAI type: it is a
/// `server_error` with code `overloaded`.
fn openai_error(kind: &str) -> (&str, Option<&'static str>) {
    match kind {
        "invalid_request_error" => ("invalid_request_error", None),
        "authentication_error" => ("authentication_error", None),
        "permission_error" => ("permission_error", None),
        "not_found_error" => ("invalid_request_error", Some("not_found")),
        "request_too_large" => ("invalid_request_error", Some("request_too_large")),
        "rate_limit_error" => ("rate_limit_error", Some("rate_limit_exceeded")),
        "billing_error" => ("insufficient_quota", Some("insufficient_quota")),
        "overloaded_error" => ("server_error", Some("overloaded")),
        "timeout_error" => ("server_error", Some("timeout")),
        "api_error" => ("server_error", None),
        other => (other, None),
    }
}

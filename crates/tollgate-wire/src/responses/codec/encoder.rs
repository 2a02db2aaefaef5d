//! Canonical events encoded as a Responses SSE stream for a client such as Codex.
//!
//! Every event is `event: <type>` + `data: {"type":..., ..., "sequence_number": n}`, numbers
//! increasing from 0. `response.created` and `response.in_progress` open the stream; each output
//! item goes `output_item.added` -> its part and delta events -> `output_item.done`; the turn
//! ends with `response.completed` (or `response.incomplete`) carrying the whole Response object,
//! or, on an error, an `error` event and `response.failed` (Codex ignores the first and fails the
//! turn on the second; the OpenAI SDKs raise on the first).
//!
//! Blocks to items: consecutive text blocks are one message item (a content part each);
//! consecutive thinking and redacted-thinking blocks are one reasoning item whose summary parts
//! stream the thinking text and whose `encrypted_content`, sent at `output_item.done`, seals the
//! blocks for replay ([`super::super::seal`]); a tool-use block is a `function_call`, or a
//! `custom_tool_call` for the client's freeform tools, whose raw text is unwrapped from the
//! canonical `{"input": ...}` once the block is complete (the client must see raw text, so the
//! JSON fragments are buffered); an OpenAI opaque item is passed through whole.

use serde_json::{Value, json};

use crate::Dialect;
use crate::Usage;
use crate::canonical::{
    Block, Delta, Note, RedactedThinking, StopReason, StreamEncoder, StreamEvent, ThinkingBlock,
};
use crate::responses::convert::ResponseOptions;
use crate::responses::convert::encode::custom_input;
use crate::responses::convert::response::reasoning_parts;
use crate::responses::object::{self, Call, Shell};
use crate::sse::{KEEPALIVE, write_frame};

/// The output item being written.
enum Open {
    Message {
        id: String,
        output_index: usize,
        /// Finished content parts.
        texts: Vec<String>,
        /// The part being streamed.
        current: Option<String>,
    },
    Reasoning {
        id: String,
        output_index: usize,
        blocks: Vec<Block>,
        summaries: Vec<String>,
        /// The thinking block being streamed, and whether its summary part was announced.
        current: Option<(ThinkingBlock, bool)>,
    },
    Call {
        id: String,
        output_index: usize,
        call_id: String,
        /// The canonical (flat) name.
        name: String,
        custom: bool,
        /// Input JSON so far (function: as streamed; custom: buffered).
        input: String,
        /// The input the block started with, used when no fragment follows.
        start_input: Value,
    },
}

#[derive(Debug, Default)]
pub struct Encoder {
    opts: ResponseOptions,
    seq: u64,
    response_id: String,
    model: String,
    started: bool,
    finished: bool,
    output: Vec<Value>,
    open: Option<OpenState>,
    /// An opaque block of another dialect is open: its stop closes nothing.
    skipping: bool,
    stop_reason: Option<StopReason>,
    usage: Usage,
    notes: Vec<Note>,
}

/// [`Open`] behind a newtype so the encoder can derive `Debug` without printing the text.
struct OpenState(Open);

impl std::fmt::Debug for OpenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenState")
    }
}

impl Encoder {
    /// An encoder with default options: no sealer (thinking is shown but not sealed), no custom
    /// or namespaced tools, ids derived from the upstream message id.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_options(opts: ResponseOptions) -> Self {
        Encoder { opts, ..Self::default() }
    }

    /// What was dropped or changed on purpose so far.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    fn emit(&mut self, kind: &str, fields: Vec<(&str, Value)>, out: &mut Vec<u8>) {
        let mut data = String::with_capacity(128);
        data.push_str("{\"type\":");
        data.push_str(&Value::from(kind).to_string());
        for (key, value) in fields {
            data.push(',');
            data.push_str(&Value::from(key).to_string());
            data.push(':');
            data.push_str(&value.to_string());
        }
        data.push_str(",\"sequence_number\":");
        data.push_str(&self.seq.to_string());
        data.push('}');
        self.seq += 1;
        write_frame(out, Some(kind), &data);
    }

    fn shell_object(&self, status: &str, reason: Option<&str>, error: Option<Value>) -> Value {
        let done = status != "in_progress";
        let shell = Shell {
            id: &self.response_id,
            model: &self.model,
            status,
            incomplete_reason: reason,
            error,
            output: if done { self.output.clone() } else { Vec::new() },
            usage: done.then(|| object::usage(&self.usage)),
        };
        object::response(shell, &self.opts)
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.response_id = object::response_id(&self.opts, id);
        self.model = model.to_owned();
        let response = self.shell_object("in_progress", None, None);
        self.emit("response.created", vec![("response", response.clone())], out);
        self.emit("response.in_progress", vec![("response", response)], out);
    }

    fn block_start(&mut self, block: &Block, out: &mut Vec<u8>) {
        self.skipping = false;
        match block {
            Block::Text(_) => {
                if !matches!(self.open, Some(OpenState(Open::Message { .. }))) {
                    self.close(out);
                    let id = object::item_id("msg", &self.response_id, self.output.len());
                    let item = object::message_item(&id, "in_progress", &[]);
                    self.item_added(item, out);
                    self.open = Some(OpenState(Open::Message {
                        id,
                        output_index: self.output.len(),
                        texts: Vec::new(),
                        current: None,
                    }));
                }
                let (item_id, output_index, content_index) = match &mut self.open {
                    Some(OpenState(Open::Message { id, output_index, texts, current })) => {
                        *current = Some(String::new());
                        (id.clone(), *output_index, texts.len())
                    }
                    _ => return,
                };
                self.emit(
                    "response.content_part.added",
                    vec![
                        ("item_id", json!(item_id)),
                        ("output_index", json!(output_index)),
                        ("content_index", json!(content_index)),
                        ("part", object::output_text("")),
                    ],
                    out,
                );
            }
            Block::Thinking(_) | Block::RedactedThinking(_) => {
                if !matches!(self.open, Some(OpenState(Open::Reasoning { .. }))) {
                    self.close(out);
                    let id = object::item_id("rs", &self.response_id, self.output.len());
                    self.item_added(object::reasoning_item(&id, &[], None), out);
                    self.open = Some(OpenState(Open::Reasoning {
                        id,
                        output_index: self.output.len(),
                        blocks: Vec::new(),
                        summaries: Vec::new(),
                        current: None,
                    }));
                }
                if let Some(OpenState(Open::Reasoning { blocks, current, .. })) = &mut self.open {
                    match block {
                        Block::Thinking(t) => {
                            let start = ThinkingBlock {
                                thinking: t.thinking.clone(),
                                signature: t.signature.clone(),
                                origin: t.origin.clone(),
                            };
                            *current = Some((start, false));
                        }
                        Block::RedactedThinking(RedactedThinking { data, origin }) => {
                            blocks.push(Block::RedactedThinking(RedactedThinking {
                                data: data.clone(),
                                origin: origin.clone(),
                            }));
                        }
                        _ => {}
                    }
                }
                if let Block::Thinking(t) = block
                    && !t.thinking.is_empty()
                {
                    // A block that started with text (a replayed whole response).
                    self.thinking_delta(&t.thinking.clone(), false, out);
                }
            }
            Block::ToolUse(call) => {
                self.close(out);
                let custom = self.opts.custom_tools.contains(&call.name);
                let output_index = self.output.len();
                let id = object::item_id(
                    if custom { "ctc" } else { "fc" },
                    &self.response_id,
                    output_index,
                );
                let (namespace, name) = object::call_name(&self.opts.namespaced_tools, &call.name);
                let item =
                    Call { id: &id, call_id: &call.id, namespace, name, status: "in_progress" };
                let item = if custom {
                    object::custom_call_item(&item, "")
                } else {
                    object::function_call_item(&item, "")
                };
                self.item_added(item, out);
                self.open = Some(OpenState(Open::Call {
                    id,
                    output_index,
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    custom,
                    input: String::new(),
                    start_input: call.input.clone(),
                }));
            }
            Block::Opaque(o) if o.dialect == Dialect::OpenAiResponses => {
                self.close(out);
                let item = o.value.clone();
                self.item_added(item.clone(), out);
                self.item_done(item, out);
            }
            Block::Opaque(o) => match crate::responses::convert::response::foreign_item(o) {
                Some(item) => {
                    self.close(out);
                    self.item_added(item.clone(), out);
                    self.item_done(item, out);
                }
                None => {
                    self.skipping = true;
                    self.notes.push(Note::new(format!(
                        "a {} block dropped: a Responses client cannot take it",
                        o.dialect
                    )));
                }
            },
            Block::Image(_) | Block::Document(_) | Block::ToolResult(_) => {
                self.skipping = true;
                self.notes.push(Note::new("a non-output block in the answer dropped"));
            }
        }
    }

    fn item_added(&mut self, item: Value, out: &mut Vec<u8>) {
        let output_index = self.output.len();
        self.emit(
            "response.output_item.added",
            vec![("output_index", json!(output_index)), ("item", item)],
            out,
        );
    }

    fn item_done(&mut self, item: Value, out: &mut Vec<u8>) {
        let output_index = self.output.len();
        self.emit(
            "response.output_item.done",
            vec![("output_index", json!(output_index)), ("item", item.clone())],
            out,
        );
        self.output.push(item);
    }

    fn delta(&mut self, delta: &Delta, out: &mut Vec<u8>) {
        if self.skipping {
            return;
        }
        match (delta, &mut self.open) {
            (
                Delta::Text(text),
                Some(OpenState(Open::Message { id, output_index, texts, current: Some(current) })),
            ) => {
                current.push_str(text);
                let fields = vec![
                    ("item_id", json!(id)),
                    ("output_index", json!(output_index)),
                    ("content_index", json!(texts.len())),
                    ("delta", json!(text)),
                    ("logprobs", json!([])),
                ];
                self.emit("response.output_text.delta", fields, out);
            }
            (Delta::Thinking(text), Some(OpenState(Open::Reasoning { .. }))) => {
                self.thinking_delta(text, true, out);
            }
            (
                Delta::Signature(sig),
                Some(OpenState(Open::Reasoning { current: Some((t, _)), .. })),
            ) => {
                t.signature = Some(sig.clone());
            }
            (
                Delta::InputJson(fragment),
                Some(OpenState(Open::Call { id, output_index, custom, input, .. })),
            ) => {
                input.push_str(fragment);
                if !*custom {
                    let fields = vec![
                        ("item_id", json!(id)),
                        ("output_index", json!(output_index)),
                        ("delta", json!(fragment)),
                    ];
                    self.emit("response.function_call_arguments.delta", fields, out);
                }
            }
            // Citations have no Responses delta event; anything else is out of place and
            // was already checked by the stream builder.
            _ => {}
        }
    }

    /// Streams thinking text as a summary part, announcing the part on its first text.
    fn thinking_delta(&mut self, text: &str, append: bool, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let Some(OpenState(Open::Reasoning {
            id,
            output_index,
            summaries,
            current: Some((t, announced)),
            ..
        })) = &mut self.open
        else {
            return;
        };
        if append {
            t.thinking.push_str(text);
        }
        let (id, output_index, summary_index) = (id.clone(), *output_index, summaries.len());
        let announce = !*announced;
        *announced = true;
        if announce {
            self.emit(
                "response.reasoning_summary_part.added",
                vec![
                    ("item_id", json!(id)),
                    ("output_index", json!(output_index)),
                    ("summary_index", json!(summary_index)),
                    ("part", json!({"type": "summary_text", "text": ""})),
                ],
                out,
            );
        }
        self.emit(
            "response.reasoning_summary_text.delta",
            vec![
                ("item_id", json!(id)),
                ("output_index", json!(output_index)),
                ("summary_index", json!(summary_index)),
                ("delta", json!(text)),
            ],
            out,
        );
    }

    fn block_stop(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.skipping) {
            return;
        }
        match self.open.as_mut().map(|o| &mut o.0) {
            Some(Open::Message { id, output_index, texts, current }) => {
                let Some(text) = current.take() else { return };
                let (id, output_index, content_index) = (id.clone(), *output_index, texts.len());
                texts.push(text.clone());
                self.emit(
                    "response.output_text.done",
                    vec![
                        ("item_id", json!(id)),
                        ("output_index", json!(output_index)),
                        ("content_index", json!(content_index)),
                        ("text", json!(text)),
                        ("logprobs", json!([])),
                    ],
                    out,
                );
                self.emit(
                    "response.content_part.done",
                    vec![
                        ("item_id", json!(id)),
                        ("output_index", json!(output_index)),
                        ("content_index", json!(content_index)),
                        ("part", object::output_text(&text)),
                    ],
                    out,
                );
            }
            Some(Open::Reasoning { id, output_index, blocks, summaries, current }) => {
                let Some((thinking, announced)) = current.take() else { return };
                let (id, output_index, summary_index) =
                    (id.clone(), *output_index, summaries.len());
                let text = thinking.thinking.clone();
                blocks.push(Block::Thinking(thinking));
                if announced {
                    summaries.push(text.clone());
                    self.emit(
                        "response.reasoning_summary_text.done",
                        vec![
                            ("item_id", json!(id)),
                            ("output_index", json!(output_index)),
                            ("summary_index", json!(summary_index)),
                            ("text", json!(text)),
                        ],
                        out,
                    );
                    self.emit(
                        "response.reasoning_summary_part.done",
                        vec![
                            ("item_id", json!(id)),
                            ("output_index", json!(output_index)),
                            ("summary_index", json!(summary_index)),
                            ("part", json!({"type": "summary_text", "text": text})),
                        ],
                        out,
                    );
                }
            }
            // A call is one block: its stop ends the item.
            Some(Open::Call { .. }) => self.close(out),
            None => {}
        }
    }

    /// Ends the open output item with its `done` events.
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(OpenState(open)) = self.open.take() else { return };
        match open {
            Open::Message { id, mut texts, current, .. } => {
                texts.extend(current);
                self.item_done(object::message_item(&id, "completed", &texts), out);
            }
            Open::Reasoning { id, mut blocks, summaries, current, .. } => {
                blocks.extend(current.map(|(t, _)| Block::Thinking(t)));
                let sealed = match &self.opts.sealer {
                    Some(sealer) => reasoning_parts(&blocks, sealer).1,
                    None => {
                        self.notes.push(Note::new(
                            "thinking not sealed: no sealer, the client cannot replay it",
                        ));
                        None
                    }
                };
                self.item_done(object::reasoning_item(&id, &summaries, sealed.as_deref()), out);
            }
            Open::Call { id, output_index, call_id, name, custom, input, start_input } => {
                let (namespace, client_name) =
                    object::call_name(&self.opts.namespaced_tools, &name);
                let (namespace, client_name) =
                    (namespace.map(str::to_owned), client_name.to_owned());
                let call = Call {
                    id: &id,
                    call_id: &call_id,
                    namespace: namespace.as_deref(),
                    name: &client_name,
                    status: "completed",
                };
                if custom {
                    let value = if input.trim().is_empty() {
                        start_input
                    } else {
                        serde_json::from_str(&input).unwrap_or(Value::String(input))
                    };
                    let text = match value {
                        Value::String(raw) => raw,
                        other => custom_input(&other),
                    };
                    if !text.is_empty() {
                        self.emit(
                            "response.custom_tool_call_input.delta",
                            vec![
                                ("item_id", json!(id)),
                                ("output_index", json!(output_index)),
                                ("delta", json!(text)),
                            ],
                            out,
                        );
                    }
                    self.emit(
                        "response.custom_tool_call_input.done",
                        vec![
                            ("item_id", json!(id)),
                            ("output_index", json!(output_index)),
                            ("input", json!(text)),
                        ],
                        out,
                    );
                    self.item_done(object::custom_call_item(&call, &text), out);
                } else {
                    let arguments = if !input.is_empty() {
                        input
                    } else {
                        let whole = match &start_input {
                            Value::Object(o) if o.is_empty() => "{}".to_owned(),
                            Value::Null => "{}".to_owned(),
                            other => other.to_string(),
                        };
                        if whole != "{}" {
                            self.emit(
                                "response.function_call_arguments.delta",
                                vec![
                                    ("item_id", json!(id)),
                                    ("output_index", json!(output_index)),
                                    ("delta", json!(whole)),
                                ],
                                out,
                            );
                        }
                        whole
                    };
                    self.emit(
                        "response.function_call_arguments.done",
                        vec![
                            ("item_id", json!(id)),
                            ("output_index", json!(output_index)),
                            ("arguments", json!(arguments)),
                        ],
                        out,
                    );
                    self.item_done(object::function_call_item(&call, &arguments), out);
                }
            }
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        self.close(out);
        let (status, reason) = object::status(self.stop_reason.as_ref());
        let response = self.shell_object(status, reason, None);
        let kind =
            if status == "incomplete" { "response.incomplete" } else { "response.completed" };
        self.emit(kind, vec![("response", response)], out);
        self.finished = true;
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        let code = object::error_code(kind);
        self.emit(
            "error",
            vec![(
                "error",
                json!({"type": kind_type(kind), "code": code, "message": message, "param": null}),
            )],
            out,
        );
        let response = self.shell_object("failed", None, Some(object::error(kind, message)));
        self.emit("response.failed", vec![("response", response)], out);
        self.finished = true;
    }
}

/// The OpenAI error `type` for an Anthropic error type.
fn kind_type(kind: &str) -> &'static str {
    match kind {
        "invalid_request_error" | "request_too_large" | "not_found_error" => {
            "invalid_request_error"
        }
        "rate_limit_error" => "rate_limit_error",
        "billing_error" => "insufficient_quota",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        _ => "server_error",
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>) {
        if self.finished {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                self.usage = *usage;
                self.start(id, model, out);
            }
            StreamEvent::BlockStart { block, .. } => {
                self.start("", "", out);
                self.block_start(block, out);
            }
            StreamEvent::BlockDelta { delta, .. } => self.delta(delta, out),
            StreamEvent::BlockStop { .. } => self.block_stop(out),
            StreamEvent::MessageDelta { stop_reason, usage, .. } => {
                if stop_reason.is_some() {
                    self.stop_reason.clone_from(stop_reason);
                }
                self.usage = merge_usage(self.usage, *usage);
            }
            StreamEvent::MessageStop => {
                self.start("", "", out);
                self.end(out);
            }
            // The Responses API has no ping event; a comment keeps idle proxies from closing
            // the connection through a long silence (29), and every SSE parser skips it.
            StreamEvent::Ping => out.extend_from_slice(KEEPALIVE),
            StreamEvent::Error { kind, message } => self.error(kind, message, out),
        }
    }

    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

/// `message_delta` usage is cumulative, but may leave out the input counts `message_start` gave.
fn merge_usage(start: Usage, delta: Usage) -> Usage {
    Usage {
        input_tokens: if delta.input_tokens == 0 { start.input_tokens } else { delta.input_tokens },
        output_tokens: delta.output_tokens.max(start.output_tokens),
        cache_read_tokens: if delta.cache_read_tokens == 0 {
            start.cache_read_tokens
        } else {
            delta.cache_read_tokens
        },
        cache_write_tokens: if delta.cache_write_tokens == 0 {
            start.cache_write_tokens
        } else {
            delta.cache_write_tokens
        },
        web_search_requests: delta.web_search_requests.max(start.web_search_requests),
    }
}

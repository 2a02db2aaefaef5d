//! A Responses provider's SSE stream decoded into canonical events.
//!
//! Output items map to blocks in arrival order: a message's content parts to text blocks, a
//! reasoning item's summary to one thinking block (parts joined by a blank line) followed, at
//! `output_item.done`, by the item itself as an opaque block (what OpenAI takes back), a
//! function call to a tool-use block with the `arguments` deltas as input JSON, a custom tool
//! call to a tool-use block whose input is `{"input": <text>}` (the text deltas are emitted as
//! JSON-escaped fragments of that object, so the assembled input parses), any other item to an
//! opaque block at its `done`. `response.completed`/`incomplete` end the turn; `response.failed`,
//! an `error` event, malformed data or an early end are a [`StreamEvent::Error`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::canonical::{
    Block, Delta, Opaque, StopReason, StreamDecoder, StreamEvent, TextBlock, ThinkingBlock, ToolUse,
};
use crate::responses::convert::response::{
    incomplete_reason, output_item, summary_origin, summary_text,
};
use crate::responses::wire::{
    self, CustomToolCallItem, ErrorBody, FunctionCallItem, ResponseBody, flat_name,
};
use crate::sse::SseFrame;
use crate::{Dialect, Usage};

#[derive(Deserialize)]
struct Event {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    response: Option<Box<RawValue>>,
    #[serde(default)]
    item: Option<Box<RawValue>>,
    #[serde(default)]
    output_index: Option<u64>,
    #[serde(default)]
    content_index: Option<u64>,
    #[serde(default)]
    delta: Option<String>,
    /// The `error` event: nested as the API sends it, or flat as its reference shows it.
    #[serde(default)]
    error: Option<ErrorBody>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What is open for one output item.
enum Item {
    Message {
        /// `(content_index, block)` of the text block being streamed.
        open: Option<(u64, usize)>,
        streamed: bool,
    },
    Reasoning {
        block: Option<usize>,
        parts: usize,
    },
    Function {
        block: usize,
        streamed: bool,
    },
    Custom {
        block: usize,
        /// Whether the `{"input":"` prefix has gone out.
        streamed: bool,
    },
    Other,
}

#[derive(Debug, Default)]
pub struct Decoder {
    started: bool,
    done: bool,
    next_block: usize,
    items: BTreeMap<u64, ItemState>,
    saw_tool_use: bool,
    /// Whether any output item event was seen (else the terminal response's `output` is used).
    saw_items: bool,
    /// The model `response.created` named, for the origin of reasoning summaries.
    model: String,
    /// The last item added, for events that leave out `output_index`.
    last_item: Option<u64>,
}

/// [`Item`] behind a newtype so the decoder can derive `Debug` without exposing it.
struct ItemState(Item);

impl std::fmt::Debug for ItemState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemState")
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, kind: &str, message: impl Into<String>, out: &mut Vec<StreamEvent>) {
        self.done = true;
        out.push(StreamEvent::Error { kind: kind.to_owned(), message: message.into() });
    }

    fn start(&mut self, id: String, model: String, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            self.model.clone_from(&model);
            out.push(StreamEvent::MessageStart { id, model, usage: Usage::default() });
        }
    }

    fn open(&mut self, block: Block, out: &mut Vec<StreamEvent>) -> usize {
        let index = self.next_block;
        self.next_block += 1;
        out.push(StreamEvent::BlockStart { index, block });
        index
    }

    /// A block that arrives whole (from a `done` item or the terminal response).
    fn whole(&mut self, block: Block, out: &mut Vec<StreamEvent>) {
        match block {
            Block::Text(t) => {
                let index = self.open(Block::Text(TextBlock::default()), out);
                out.push(StreamEvent::BlockDelta { index, delta: Delta::Text(t.text) });
                out.push(StreamEvent::BlockStop { index });
            }
            Block::Thinking(t) => {
                let start = ThinkingBlock { origin: t.origin, ..ThinkingBlock::default() };
                let index = self.open(Block::Thinking(start), out);
                out.push(StreamEvent::BlockDelta { index, delta: Delta::Thinking(t.thinking) });
                if let Some(signature) = t.signature {
                    out.push(StreamEvent::BlockDelta { index, delta: Delta::Signature(signature) });
                }
                out.push(StreamEvent::BlockStop { index });
            }
            Block::ToolUse(call) => {
                self.saw_tool_use = true;
                let input = call.input.to_string();
                let start = ToolUse { input: Value::Object(Default::default()), ..call };
                let index = self.open(Block::ToolUse(start), out);
                out.push(StreamEvent::BlockDelta { index, delta: Delta::InputJson(input) });
                out.push(StreamEvent::BlockStop { index });
            }
            other => {
                let index = self.open(other, out);
                out.push(StreamEvent::BlockStop { index });
            }
        }
    }

    fn event(&mut self, mut event: Event, out: &mut Vec<StreamEvent>) {
        let kind = event.kind.clone().unwrap_or_default();
        if event.output_index.is_none() {
            event.output_index = self.last_item;
        }
        match kind.as_str() {
            "response.created" | "response.in_progress" | "response.queued" => {
                let body = event.response.as_deref().map(response_body).unwrap_or_default();
                self.start(body.id, body.model, out);
            }
            "response.output_item.added" => {
                self.start(String::new(), String::new(), out);
                self.saw_items = true;
                if let (Some(index), Some(item)) = (event.output_index, event.item) {
                    self.last_item = Some(index);
                    self.item_added(index, &item, out);
                }
            }
            "response.content_part.added" => {
                if let Some(index) = event.output_index {
                    self.close_text(index, out);
                    self.text_block(index, event.content_index.unwrap_or(0), out);
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                if let (Some(index), Some(delta)) = (event.output_index, event.delta) {
                    let block = self.text_block(index, event.content_index.unwrap_or(0), out);
                    if let Some(block) = block {
                        out.push(StreamEvent::BlockDelta {
                            index: block,
                            delta: Delta::Text(delta),
                        });
                    }
                }
            }
            "response.content_part.done" => {
                if let Some(index) = event.output_index {
                    self.close_text(index, out);
                }
            }
            "response.reasoning_summary_part.added" => {
                if let Some(index) = event.output_index {
                    self.summary_part(index, out);
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let (Some(index), Some(delta)) = (event.output_index, event.delta) {
                    let block = self.thinking_block(index, out);
                    if let Some(block) = block {
                        out.push(StreamEvent::BlockDelta {
                            index: block,
                            delta: Delta::Thinking(delta),
                        });
                    }
                }
            }
            "response.function_call_arguments.delta" => {
                if let (Some(index), Some(delta)) = (event.output_index, event.delta)
                    && let Some(ItemState(Item::Function { block, streamed })) =
                        self.items.get_mut(&index)
                {
                    *streamed = true;
                    out.push(StreamEvent::BlockDelta {
                        index: *block,
                        delta: Delta::InputJson(delta),
                    });
                }
            }
            "response.custom_tool_call_input.delta" => {
                if let (Some(index), Some(delta)) = (event.output_index, event.delta)
                    && let Some(ItemState(Item::Custom { block, streamed })) =
                        self.items.get_mut(&index)
                {
                    let mut fragment = String::new();
                    if !*streamed {
                        fragment.push_str("{\"input\":\"");
                        *streamed = true;
                    }
                    fragment.push_str(&escape_json_fragment(&delta));
                    out.push(StreamEvent::BlockDelta {
                        index: *block,
                        delta: Delta::InputJson(fragment),
                    });
                }
            }
            "response.output_item.done" => {
                self.start(String::new(), String::new(), out);
                self.saw_items = true;
                if let (Some(index), Some(item)) = (event.output_index, event.item) {
                    self.item_done(index, &item, out);
                }
            }
            "response.completed" | "response.incomplete" => {
                let body = event.response.as_deref().map(response_body).unwrap_or_default();
                self.start(body.id.clone(), body.model.clone(), out);
                self.close_all(out);
                if !self.saw_items {
                    let mut blocks = Vec::new();
                    for (i, item) in body.output.iter().enumerate() {
                        if let Err(e) =
                            output_item(item, &format!("output[{i}]"), &body.model, &mut blocks)
                        {
                            self.fail("api_error", format!("malformed upstream output: {e}"), out);
                            return;
                        }
                    }
                    for block in blocks {
                        self.whole(block, out);
                    }
                }
                let stop_reason = if kind == "response.incomplete"
                    || body.status.as_deref() == Some("incomplete")
                {
                    incomplete_reason(body.incomplete_details.and_then(|d| d.reason).as_deref())
                } else if self.saw_tool_use {
                    StopReason::ToolUse
                } else {
                    StopReason::EndTurn
                };
                out.push(StreamEvent::MessageDelta {
                    stop_reason: Some(stop_reason),
                    stop_sequence: None,
                    usage: body.usage.map(|u| u.canonical()).unwrap_or_default(),
                });
                out.push(StreamEvent::MessageStop);
                self.done = true;
            }
            "response.failed" => {
                let body = event.response.as_deref().map(response_body).unwrap_or_default();
                let error = body.error.unwrap_or_default();
                self.fail(&error.anthropic_kind(), error.text(), out);
            }
            "error" => {
                let error = event.error.unwrap_or(ErrorBody {
                    code: event.code,
                    kind: None,
                    message: event.message,
                });
                self.fail(&error.anthropic_kind(), error.text(), out);
            }
            _ => {}
        }
    }

    fn item_added(&mut self, index: u64, raw: &RawValue, out: &mut Vec<StreamEvent>) {
        let state = match wire::head(raw).kind.as_deref() {
            Some("message") => Item::Message { open: None, streamed: false },
            Some("reasoning") => Item::Reasoning { block: None, parts: 0 },
            Some("function_call") => {
                let Ok(call) = wire::parse::<FunctionCallItem>(raw, "item") else {
                    return self.fail("api_error", "malformed upstream function_call item", out);
                };
                let name = flat_name(call.namespace.as_deref(), &call.name);
                let block = self.open(tool_use(call.call_id, name), out);
                self.saw_tool_use = true;
                Item::Function { block, streamed: false }
            }
            Some("custom_tool_call") => {
                let Ok(call) = wire::parse::<CustomToolCallItem>(raw, "item") else {
                    return self.fail("api_error", "malformed upstream custom_tool_call item", out);
                };
                let name = flat_name(call.namespace.as_deref(), &call.name);
                let block = self.open(tool_use(call.call_id, name), out);
                self.saw_tool_use = true;
                Item::Custom { block, streamed: false }
            }
            _ => Item::Other,
        };
        self.items.insert(index, ItemState(state));
    }

    fn item_done(&mut self, index: u64, raw: &RawValue, out: &mut Vec<StreamEvent>) {
        let state = self.items.remove(&index).map(|s| s.0);
        let item = wire::value(raw);
        match state {
            Some(Item::Message { open, streamed }) => {
                if let Some((_, block)) = open {
                    out.push(StreamEvent::BlockStop { index: block });
                }
                if !streamed {
                    // Text that never came as deltas.
                    let mut blocks = Vec::new();
                    if output_item(raw, "item", &self.model, &mut blocks).is_ok() {
                        blocks.into_iter().for_each(|b| self.whole(b, out));
                    }
                }
            }
            Some(Item::Reasoning { block, .. }) => {
                match block {
                    Some(block) => out.push(StreamEvent::BlockStop { index: block }),
                    None => {
                        let summary = summary_text(&item);
                        if !summary.is_empty() {
                            self.whole(
                                Block::Thinking(ThinkingBlock {
                                    thinking: summary,
                                    signature: None,
                                    origin: Some(summary_origin(&self.model)),
                                }),
                                out,
                            );
                        }
                    }
                }
                self.whole(
                    Block::Opaque(Opaque { dialect: Dialect::OpenAiResponses, value: item }),
                    out,
                );
            }
            Some(Item::Function { block, streamed }) => {
                let arguments = item.get("arguments").and_then(Value::as_str).unwrap_or_default();
                if !streamed && !arguments.is_empty() {
                    out.push(StreamEvent::BlockDelta {
                        index: block,
                        delta: Delta::InputJson(arguments.to_owned()),
                    });
                }
                out.push(StreamEvent::BlockStop { index: block });
            }
            Some(Item::Custom { block, streamed }) => {
                let fragment = if streamed {
                    "\"}".to_owned()
                } else {
                    let input = item.get("input").and_then(Value::as_str).unwrap_or_default();
                    serde_json::json!({ "input": input }).to_string()
                };
                out.push(StreamEvent::BlockDelta {
                    index: block,
                    delta: Delta::InputJson(fragment),
                });
                out.push(StreamEvent::BlockStop { index: block });
            }
            Some(Item::Other) | None => match wire::head(raw).kind.as_deref() {
                // A call whose `added` never came: take it whole.
                Some("function_call" | "custom_tool_call" | "message" | "reasoning") => {
                    let mut blocks = Vec::new();
                    if output_item(raw, "item", &self.model, &mut blocks).is_ok() {
                        blocks.into_iter().for_each(|b| self.whole(b, out));
                    }
                }
                _ => self.whole(
                    Block::Opaque(Opaque { dialect: Dialect::OpenAiResponses, value: item }),
                    out,
                ),
            },
        }
    }

    /// The text block for `(item, content_index)`, opened on first use.
    fn text_block(&mut self, item: u64, part: u64, out: &mut Vec<StreamEvent>) -> Option<usize> {
        let next = self.next_block;
        let Some(ItemState(Item::Message { open, streamed })) = self.items.get_mut(&item) else {
            return None;
        };
        *streamed = true;
        match open {
            Some((p, block)) if *p == part => Some(*block),
            Some((_, block)) => {
                let old = *block;
                *open = Some((part, next));
                out.push(StreamEvent::BlockStop { index: old });
                self.next_block += 1;
                out.push(StreamEvent::BlockStart {
                    index: next,
                    block: Block::Text(TextBlock::default()),
                });
                Some(next)
            }
            None => {
                *open = Some((part, next));
                self.next_block += 1;
                out.push(StreamEvent::BlockStart {
                    index: next,
                    block: Block::Text(TextBlock::default()),
                });
                Some(next)
            }
        }
    }

    fn close_text(&mut self, item: u64, out: &mut Vec<StreamEvent>) {
        if let Some(ItemState(Item::Message { open, .. })) = self.items.get_mut(&item)
            && let Some((_, block)) = open.take()
        {
            out.push(StreamEvent::BlockStop { index: block });
        }
    }

    fn summary_part(&mut self, item: u64, out: &mut Vec<StreamEvent>) {
        let had_block = matches!(
            self.items.get(&item),
            Some(ItemState(Item::Reasoning { block: Some(_), .. }))
        );
        let block = self.thinking_block(item, out);
        if let Some(ItemState(Item::Reasoning { parts, .. })) = self.items.get_mut(&item) {
            if *parts > 0
                && had_block
                && let Some(block) = block
            {
                out.push(StreamEvent::BlockDelta {
                    index: block,
                    delta: Delta::Thinking("\n\n".to_owned()),
                });
            }
            *parts += 1;
        }
    }

    fn thinking_block(&mut self, item: u64, out: &mut Vec<StreamEvent>) -> Option<usize> {
        let next = self.next_block;
        let Some(ItemState(Item::Reasoning { block, .. })) = self.items.get_mut(&item) else {
            return None;
        };
        if let Some(b) = block {
            return Some(*b);
        }
        *block = Some(next);
        self.next_block += 1;
        let origin = Some(summary_origin(&self.model));
        out.push(StreamEvent::BlockStart {
            index: next,
            block: Block::Thinking(ThinkingBlock { origin, ..ThinkingBlock::default() }),
        });
        Some(next)
    }

    /// Closes what a stream that ends without every `output_item.done` left open.
    fn close_all(&mut self, out: &mut Vec<StreamEvent>) {
        let mut open: Vec<usize> = Vec::new();
        for ItemState(item) in std::mem::take(&mut self.items).into_values() {
            match item {
                Item::Message { open: Some((_, b)), .. }
                | Item::Reasoning { block: Some(b), .. }
                | Item::Function { block: b, .. } => open.push(b),
                Item::Custom { block, streamed } => {
                    out.push(StreamEvent::BlockDelta {
                        index: block,
                        delta: Delta::InputJson(
                            if streamed { "\"}" } else { "{\"input\":\"\"}" }.to_owned(),
                        ),
                    });
                    open.push(block);
                }
                _ => {}
            }
        }
        open.sort_unstable();
        out.extend(open.into_iter().map(|index| StreamEvent::BlockStop { index }));
    }
}

fn tool_use(id: String, name: String) -> Block {
    Block::ToolUse(ToolUse {
        id,
        name,
        input: Value::Object(Default::default()),
        cache_control: None,
    })
}

fn response_body(raw: &RawValue) -> ResponseBody {
    wire::parse(raw, "response").unwrap_or_default()
}

/// `text` as it appears between the quotes of a JSON string.
fn escape_json_fragment(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or_default().to_owned()
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, frame: &SseFrame, out: &mut Vec<StreamEvent>) {
        if self.done {
            return;
        }
        let mut event: Event = match serde_json::from_str(&frame.data) {
            Ok(event) => event,
            Err(e) => return self.fail("api_error", format!("malformed upstream event: {e}"), out),
        };
        if event.kind.is_none() {
            event.kind = frame.event.clone();
        }
        self.event(event, out);
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.done {
            self.fail("api_error", "the upstream stream ended before response.completed", out);
        }
    }
}

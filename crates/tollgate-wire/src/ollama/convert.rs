//! Whole `/api/chat` requests and responses <-> the canonical model.
//!
//! Ollama's messages hold one `content` string, base64 `images`, `tool_calls` with object
//! arguments, and `thinking` text without any signature. Tool results are `role: "tool"` messages
//! named by `tool_name` right after the assistant message; their images follow in a user message,
//! since a tool message carries text only. Ollama sends no ids for messages or tool calls, so both
//! are derived deterministically from the model and `created_at`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::wire::{
    ChatRequest, ChatResponse, FunctionCall, FunctionDef, Message as WireMessage, Options,
    Tool as WireTool, ToolCall,
};
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Extra, Image, Message, Note, Request, Response, ResponseFormat,
    Role, Source, StopReason, Target, TextBlock, Thinking, ThinkingBlock, ThinkingMode, Tool,
    ToolChoice, ToolKind, ToolResult, ToolUse, ids, repair,
};
use crate::{Dialect, InvalidBody, Usage};

/// Written where Ollama needs a `created_at` and none is known: the wire code has no clock.
pub const EPOCH: &str = "1970-01-01T00:00:00Z";

/// A `/api/chat` request body, decoded.
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidBody> {
    let wire: ChatRequest = parse(body)?;
    let mut req = Request { model: wire.model, stream: wire.stream, ..Request::default() };
    let mut calls = 0usize;
    let mut open: Vec<(String, String)> = Vec::new();
    for (i, message) in wire.messages.into_iter().enumerate() {
        match message.role.as_str() {
            "system" => req.system.push(TextBlock::new(message.content)),
            "user" => {
                let mut content = images_of(message.images.unwrap_or_default());
                if !message.content.is_empty() {
                    content.insert(0, Block::Text(TextBlock::new(message.content)));
                }
                push(&mut req.messages, Role::User, content);
            }
            "assistant" => {
                let mut content = Vec::new();
                if let Some(thinking) = message.thinking.filter(|t| !t.is_empty()) {
                    content.push(Block::Thinking(ThinkingBlock {
                        thinking,
                        signature: None,
                        origin: None,
                    }));
                }
                if !message.content.is_empty() {
                    content.push(Block::Text(TextBlock::new(message.content)));
                }
                open.clear();
                for call in message.tool_calls.unwrap_or_default() {
                    let call = tool_use(call, "request", &mut calls);
                    open.push((call.id.clone(), call.name.clone()));
                    content.push(Block::ToolUse(call));
                }
                push(&mut req.messages, Role::Assistant, content);
            }
            "tool" => {
                let by_name = message
                    .tool_name
                    .as_ref()
                    .and_then(|name| open.iter().position(|(_, n)| n == name));
                let id = match by_name.or((!open.is_empty()).then_some(0)) {
                    Some(at) => open.remove(at).0,
                    None => {
                        calls += 1;
                        ids::fallback("request-orphan", calls)
                    }
                };
                let result = ToolResult {
                    tool_use_id: id,
                    content: vec![Block::Text(TextBlock::new(message.content))],
                    is_error: false,
                    cache_control: None,
                };
                push(&mut req.messages, Role::User, vec![Block::ToolResult(result)]);
            }
            other => {
                return Err(InvalidBody::new(
                    Some(format!("messages[{i}].role")),
                    format!("unknown role {other:?}: expected system, user, assistant or tool"),
                ));
            }
        }
    }
    req.tools = wire
        .tools
        .into_iter()
        .map(|t| Tool {
            name: t.function.name,
            description: t.function.description,
            kind: ToolKind::Function { parameters: t.function.parameters, strict: None },
            cache_control: None,
        })
        .collect();
    req.thinking = wire.think.as_ref().and_then(|think| match think {
        Value::Bool(true) => {
            Some(Thinking { mode: ThinkingMode::Adaptive, effort: None, display: None })
        }
        Value::Bool(false) => {
            Some(Thinking { mode: ThinkingMode::Disabled, effort: None, display: None })
        }
        Value::String(level) => Some(Thinking {
            mode: ThinkingMode::Adaptive,
            effort: Some(level.clone()),
            display: None,
        }),
        _ => None,
    });
    req.response_format = match wire.format {
        Some(Value::String(f)) if f == "json" => Some(ResponseFormat::Json),
        Some(schema @ Value::Object(_)) => {
            Some(ResponseFormat::JsonSchema { name: None, schema, strict: None })
        }
        _ => None,
    };
    let mut extra = wire.extra;
    if let Some(options) = wire.options {
        req.max_tokens = options.num_predict.and_then(|n| u64::try_from(n).ok());
        req.temperature = options.temperature;
        req.top_p = options.top_p;
        req.top_k = options.top_k;
        req.stop_sequences = options.stop;
        if !options.other.is_empty() {
            extra.insert("options".to_owned(), Value::Object(options.other));
        }
    }
    if !extra.is_empty() {
        req.extra = Extra { dialect: Some(Dialect::Ollama), fields: extra };
    }
    Ok(req)
}

/// A canonical request written as a `/api/chat` body for `target`. What Ollama cannot carry is
/// dropped and noted.
pub fn encode_request(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    // A final assistant message needs no note here: Ollama's `/api/chat` continues it
    // (ollama/ollama#6778).
    if let Some(n) = req.document_extras_note("Ollama") {
        notes.push(n);
    }
    let mut messages = req.messages.clone();
    repair::pair_tools(&mut messages, notes);
    let names: HashMap<&str, &str> = messages
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|b| match b {
            Block::ToolUse(u) => Some((u.id.as_str(), u.name.as_str())),
            _ => None,
        })
        .collect();
    let mut wire_messages: Vec<WireMessage> = repair::without_billing_header(&req.system, notes)
        .iter()
        .filter(|t| !t.text.is_empty())
        .map(|t| message("system", t.text.clone()))
        .collect();
    for m in &messages {
        match m.role {
            Role::User => user_messages(&m.content, &names, &mut wire_messages, notes),
            Role::Assistant => wire_messages.push(assistant_message(&m.content, target, notes)),
        }
    }
    let mut tools: Vec<WireTool> = req.tools.iter().filter_map(|t| tool(t, notes)).collect();
    match &req.tool_choice {
        Some(ToolChoice::None) if !tools.is_empty() => {
            notes.push(Note::new("tool_choice none: tools left out, Ollama has no tool_choice"));
            tools.clear();
        }
        Some(ToolChoice::Any | ToolChoice::Tool(_)) => {
            notes.push(Note::new("Ollama cannot force a tool call; tool_choice dropped"));
        }
        _ => {}
    }
    if req.parallel_tool_calls == Some(false) {
        notes
            .push(Note::new("parallel_tool_calls: false has no Ollama equivalent and was dropped"));
    }
    let mut wire = ChatRequest {
        model: target.model.clone(),
        messages: wire_messages,
        tools,
        stream: req.stream,
        think: req.thinking.as_ref().map(think),
        format: req.response_format.as_ref().map(|f| match f {
            ResponseFormat::Json => Value::String("json".to_owned()),
            ResponseFormat::JsonSchema { schema, .. } => schema.clone(),
        }),
        options: None,
        extra: Map::new(),
    };
    let mut options = options(req, target, notes);
    if req.extra.dialect == Some(Dialect::Ollama) {
        for (key, value) in &req.extra.fields {
            match (key.as_str(), value) {
                ("options", Value::Object(more)) => options.other.extend(more.clone()),
                _ => {
                    wire.extra.insert(key.clone(), value.clone());
                }
            }
        }
    } else if !req.extra.fields.is_empty() {
        let names: Vec<&str> = req.extra.fields.keys().map(String::as_str).collect();
        notes.push(Note::new(format!(
            "request fields with no Ollama equivalent were dropped: {}",
            names.join(", ")
        )));
    }
    if options != Options::default() {
        wire.options = Some(options);
    }
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// A whole `/api/chat` response (`"stream": false`), decoded.
pub fn decode_response(body: &[u8]) -> Result<Response, InvalidBody> {
    let wire: ChatResponse = parse(body)?;
    if let Some(error) = wire.error {
        return Err(InvalidBody::new(
            Some("error".to_owned()),
            format!("Ollama answered with an error: {error}"),
        ));
    }
    let seed = seed(&wire.model, &wire.created_at);
    let mut calls = 0usize;
    let mut content = Vec::new();
    if let Some(message) = wire.message {
        if let Some(thinking) = message.thinking.filter(|t| !t.is_empty()) {
            content.push(Block::Thinking(ThinkingBlock {
                thinking,
                signature: None,
                origin: None,
            }));
        }
        if !message.content.is_empty() {
            content.push(Block::Text(TextBlock::new(message.content)));
        }
        for call in message.tool_calls.unwrap_or_default() {
            content.push(Block::ToolUse(tool_use(call, &seed, &mut calls)));
        }
    }
    Ok(Response {
        id: message_id(&wire.created_at),
        stop_reason: wire.done.then(|| stop_reason(wire.done_reason.as_deref(), calls > 0)),
        stop_sequence: None,
        usage: Usage {
            input_tokens: wire.prompt_eval_count.unwrap_or_default(),
            output_tokens: wire.eval_count.unwrap_or_default(),
            ..Usage::default()
        },
        model: wire.model,
        content,
    })
}

/// A canonical response written as a whole `/api/chat` response.
pub fn encode_response(resp: &Response, notes: &mut Vec<Note>) -> Vec<u8> {
    let mut message = message("assistant", String::new());
    let mut texts = Vec::new();
    let mut thinking = Vec::new();
    let mut calls = Vec::new();
    for block in &resp.content {
        match block {
            Block::Text(t) => texts.push(t.text.as_str()),
            Block::Thinking(t) => thinking.push(t.thinking.as_str()),
            Block::ToolUse(u) => calls.push(tool_call(u)),
            other => notes.push(Note::new(format!(
                "{} block has no Ollama equivalent and was dropped",
                kind(other)
            ))),
        }
    }
    message.content = texts.concat();
    let thinking = thinking.concat();
    message.thinking = (!thinking.is_empty()).then_some(thinking);
    message.tool_calls = (!calls.is_empty()).then_some(calls);
    let wire = ChatResponse {
        model: resp.model.clone(),
        created_at: EPOCH.to_owned(),
        message: Some(message),
        done_reason: Some(done_reason(resp.stop_reason.as_ref()).to_owned()),
        done: true,
        prompt_eval_count: Some(resp.usage.total_input()),
        eval_count: Some(resp.usage.output_tokens),
        error: None,
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, InvalidBody> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(InvalidBody::from_serde)
}

/// What tool-call ids are derived from: the same response replayed gets the same ids.
pub(crate) fn seed(model: &str, created_at: &str) -> String {
    format!("{model}@{created_at}")
}

/// Ollama has no response id; the timestamp identifies the answer.
pub(crate) fn message_id(created_at: &str) -> String {
    format!("ollama-{created_at}")
}

pub(crate) fn tool_use(call: ToolCall, seed: &str, calls: &mut usize) -> ToolUse {
    let id = match call.id {
        Some(id) if !id.is_empty() => id,
        _ => ids::fallback(seed, *calls),
    };
    *calls += 1;
    let input = match call.function.arguments {
        Value::Object(args) => Value::Object(args),
        Value::Null => Value::Object(Map::new()),
        // Some models answer with the arguments as a JSON string.
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(args)) => Value::Object(args),
            _ => wrap(Value::String(s)),
        },
        other => wrap(other),
    };
    ToolUse { id, name: call.function.name, input, cache_control: None }
}

fn wrap(value: Value) -> Value {
    let mut wrapped = Map::new();
    wrapped.insert("value".to_owned(), value);
    Value::Object(wrapped)
}

pub(crate) fn tool_call(call: &ToolUse) -> ToolCall {
    ToolCall {
        id: None,
        function: FunctionCall { name: call.name.clone(), arguments: call.input.clone() },
    }
}

/// `done_reason` -> canonical: `length` is the token limit, even after a tool call (hiding
/// `max_tokens` breaks the client's continuation, catalogue 32); otherwise a tool call means
/// `tool_use`, whatever `done_reason` says.
pub(crate) fn stop_reason(done_reason: Option<&str>, saw_tool_call: bool) -> StopReason {
    match done_reason {
        Some("length") => StopReason::MaxTokens,
        _ if saw_tool_call => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

pub(crate) fn done_reason(stop: Option<&StopReason>) -> &'static str {
    match stop {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => "length",
        _ => "stop",
    }
}

fn message(role: &str, content: String) -> WireMessage {
    WireMessage { role: role.to_owned(), content, ..WireMessage::default() }
}

/// Canonical messages only change role at a real turn change; a tool message becomes its own
/// user message, merged with the ones around it.
fn push(messages: &mut Vec<Message>, role: Role, content: Vec<Block>) {
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(content),
        _ => messages.push(Message { role, content }),
    }
}

/// Decoded images: Ollama sends bare base64, so the media type comes from the magic bytes.
fn images_of(images: Vec<String>) -> Vec<Block> {
    images
        .into_iter()
        .map(|data| {
            let media_type = match data.get(..6) {
                Some(p) if p.starts_with("/9j/") => "image/jpeg",
                Some("R0lGOD") => "image/gif",
                Some("UklGRg") => "image/webp",
                _ => "image/png",
            };
            Block::Image(Image {
                source: Source::Base64 { media_type: media_type.to_owned(), data },
                detail: None,
                cache_control: None,
            })
        })
        .collect()
}

/// A user turn: its tool results as `tool` messages first, then one user message with the
/// results' images and the turn's own text and images.
fn user_messages(
    blocks: &[Block],
    names: &HashMap<&str, &str>,
    out: &mut Vec<WireMessage>,
    notes: &mut Vec<Note>,
) {
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for block in blocks {
        match block {
            Block::ToolResult(result) => {
                let mut text = Vec::new();
                for inner in &result.content {
                    match inner {
                        Block::Text(t) => text.push(t.text.as_str()),
                        Block::Image(image) => images.extend(image_data(&image.source, notes)),
                        other => notes.push(Note::new(format!(
                            "{} block in a tool result has no Ollama equivalent and was dropped",
                            kind(other)
                        ))),
                    }
                }
                let text = text.join("\n");
                let content = if result.is_error { format!("Error: {text}") } else { text };
                let mut tool = message("tool", content);
                match names.get(result.tool_use_id.as_str()) {
                    Some(name) => tool.tool_name = Some((*name).to_owned()),
                    None => notes.push(Note::new(format!(
                        "tool result {} answers no call in the conversation",
                        result.tool_use_id
                    ))),
                }
                out.push(tool);
            }
            Block::Text(t) => {
                if !t.text.is_empty() {
                    texts.push(t.text.clone());
                }
            }
            Block::Image(image) => images.extend(image_data(&image.source, notes)),
            Block::Document(doc) => match &doc.source {
                Source::Text { data, .. } => texts.push(data.clone()),
                _ => notes
                    .push(Note::new("a document was dropped: Ollama takes text and images only")),
            },
            other => notes.push(Note::new(format!(
                "{} block in a user turn has no Ollama equivalent and was dropped",
                kind(other)
            ))),
        }
    }
    if !texts.is_empty() || !images.is_empty() {
        let mut user = message("user", texts.join("\n"));
        user.images = (!images.is_empty()).then_some(images);
        out.push(user);
    }
}

fn image_data(source: &Source, notes: &mut Vec<Note>) -> Option<String> {
    match source {
        Source::Base64 { data, .. } => Some(data.clone()),
        _ => {
            notes.push(Note::new(
                "an image not sent inline was dropped: Ollama takes base64 images only",
            ));
            None
        }
    }
}

fn assistant_message(blocks: &[Block], target: &Target, notes: &mut Vec<Note>) -> WireMessage {
    let mut texts = Vec::new();
    let mut thinking = Vec::new();
    let mut calls = Vec::new();
    let mut foreign = 0usize;
    for block in blocks {
        match block {
            Block::Text(t) => texts.push(t.text.as_str()),
            Block::Thinking(t)
                if t.origin.as_ref().is_some_and(|o| {
                    o.provider == target.provider && o.family == target.family()
                }) =>
            {
                thinking.push(t.thinking.as_str());
            }
            Block::Thinking(_) | Block::RedactedThinking(_) => foreign += 1,
            Block::ToolUse(u) => calls.push(tool_call(u)),
            other => notes.push(Note::new(format!(
                "{} block in an assistant turn has no Ollama equivalent and was dropped",
                kind(other)
            ))),
        }
    }
    if foreign > 0 {
        notes.push(Note::new(format!(
            "{foreign} thinking block(s) from another model were dropped"
        )));
    }
    let mut m = message("assistant", texts.join("\n"));
    let thinking = thinking.concat();
    m.thinking = (!thinking.is_empty()).then_some(thinking);
    m.tool_calls = (!calls.is_empty()).then_some(calls);
    m
}

fn tool(tool: &Tool, notes: &mut Vec<Note>) -> Option<WireTool> {
    let parameters = match &tool.kind {
        ToolKind::Function { parameters, .. } => parameters.clone(),
        ToolKind::Custom { .. } => serde_json::json!({
            "type": "object",
            "properties": { CUSTOM_INPUT_FIELD: {"type": "string"} },
            "required": [CUSTOM_INPUT_FIELD],
        }),
        ToolKind::Hosted { dialect, .. } => {
            notes.push(Note::new(format!(
                "{dialect} hosted tool {:?} has no Ollama equivalent and was dropped",
                tool.name
            )));
            return None;
        }
    };
    Some(WireTool {
        kind: "function".to_owned(),
        function: FunctionDef {
            name: tool.name.clone(),
            description: tool.description.clone(),
            parameters,
        },
    })
}

/// `think`: a level where one was asked for and Ollama knows it, else on/off.
fn think(thinking: &Thinking) -> Value {
    match (&thinking.mode, thinking.effort.as_deref()) {
        (ThinkingMode::Disabled, _) => Value::Bool(false),
        (_, Some(level @ ("low" | "medium" | "high"))) => Value::String(level.to_owned()),
        _ => Value::Bool(true),
    }
}

fn options(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Options {
    let num_predict = match (req.max_tokens, target.quirks.max_output_tokens) {
        (Some(asked), Some(cap)) if asked > cap => {
            notes.push(Note::new(format!("max_tokens {asked} capped at the model's {cap}")));
            Some(cap)
        }
        (asked, _) => asked,
    };
    let sampling = !target.quirks.no_sampling;
    if !sampling && (req.temperature.is_some() || req.top_p.is_some()) {
        notes.push(Note::new("temperature and top_p dropped: the model rejects them"));
    }
    Options {
        num_predict: num_predict.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        temperature: req.temperature.filter(|_| sampling),
        top_p: req.top_p.filter(|_| sampling),
        top_k: req.top_k,
        stop: req.stop_sequences.clone(),
        other: Map::new(),
    }
}

fn kind(block: &Block) -> &'static str {
    match block {
        Block::Text(_) => "a text",
        Block::Image(_) => "an image",
        Block::Document(_) => "a document",
        Block::ToolUse(_) => "a tool_use",
        Block::ToolResult(_) => "a tool_result",
        Block::Thinking(_) => "a thinking",
        Block::RedactedThinking(_) => "a redacted_thinking",
        Block::Opaque(_) => "an opaque",
    }
}

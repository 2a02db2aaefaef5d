//! A canonical [`Request`] -> a Chat Completions body for an OpenAI-compatible provider.
//!
//! Chat cannot carry everything the canonical model holds. What does not fit is dropped and
//! noted once per kind: thinking (11), `is_error` becomes an `Error: ` prefix (19), images in tool
//! results move to a user message after the tool messages (20), cache breakpoints go (35),
//! `top_k` goes (40), hosted tools of other dialects go.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::args::to_arguments;
use crate::Dialect;
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Document, Image, Message, Note, Request, ResponseFormat, Role,
    Source, Target, ThinkingMode, ToolChoice, ToolKind, ToolResult, repair,
};

/// OpenAI takes at most four stop sequences.
const MAX_STOP: usize = 4;

#[derive(Serialize)]
struct OutRequest {
    model: String,
    messages: Vec<OutMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<OutTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<Value>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// Top-level keys this encoder writes itself (or must never take from `extra`).
const OWN_KEYS: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "reasoning_effort",
    "response_format",
    "user",
    "safety_identifier",
    "stream",
    "stream_options",
    "n",
    "functions",
    "function_call",
];

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum OutMessage {
    System {
        content: OutContent,
    },
    User {
        content: OutContent,
    },
    Assistant {
        /// `null` when the turn is only tool calls, as OpenAI writes it.
        content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<OutToolCall>,
        /// On a final assistant message for servers that continue it (`Quirks::assistant_prefix`).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        prefix: bool,
    },
    Tool {
        tool_call_id: String,
        content: String,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutContent {
    Text(String),
    Parts(Vec<OutPart>),
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutPart {
    Typed(TypedPart),
    /// A part that arrived from a Chat client as an opaque block, written back as it came.
    Raw(Value),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TypedPart {
    Text { text: String },
    ImageUrl { image_url: OutImageUrl },
    File { file: OutFile },
}

#[derive(Serialize)]
struct OutImageUrl {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Serialize)]
struct OutFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    file_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
}

#[derive(Serialize)]
struct OutToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: OutCall,
}

#[derive(Serialize)]
struct OutCall {
    name: String,
    arguments: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutTool {
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: OutFunction,
    },
    Raw(Value),
}

#[derive(Serialize)]
struct OutFunction {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    parameters: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

fn text_part(text: impl Into<String>) -> OutPart {
    OutPart::Typed(TypedPart::Text { text: text.into() })
}

/// What was dropped, counted so each kind is noted once.
#[derive(Default)]
struct Drops {
    thinking: usize,
    opaque: BTreeSet<String>,
    media: Vec<String>,
    misplaced: usize,
}

impl Drops {
    fn into_notes(self, notes: &mut Vec<Note>) {
        if self.thinking > 0 {
            notes.push(Note::new(format!(
                "{} thinking block(s) dropped: OpenAI Chat cannot carry reasoning back",
                self.thinking
            )));
        }
        if !self.opaque.is_empty() {
            let kinds: Vec<_> = self.opaque.into_iter().collect();
            notes.push(Note::new(format!(
                "blocks only their own dialect can carry were dropped: {}",
                kinds.join(", ")
            )));
        }
        for m in self.media {
            notes.push(Note::new(m));
        }
        if self.misplaced > 0 {
            notes.push(Note::new(format!(
                "{} block(s) in a role Chat has no place for were dropped",
                self.misplaced
            )));
        }
    }
}

pub(super) fn encode_request(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    let quirks = &target.quirks;
    let mut history = req.messages.clone();
    repair::pair_tools(&mut history, notes);

    let mut drops = Drops::default();
    let mut messages = Vec::with_capacity(history.len() + 1);
    let system = repair::without_billing_header(&req.system, notes);
    let system: Vec<&str> =
        system.iter().map(|t| t.text.as_str()).filter(|t| !t.is_empty()).collect();
    match system.as_slice() {
        [] => {}
        [one] => messages.push(OutMessage::System { content: OutContent::Text((*one).to_owned()) }),
        many => messages.push(OutMessage::System {
            content: OutContent::Parts(many.iter().map(|t| text_part(*t)).collect()),
        }),
    }
    let mut last_calls: Vec<String> = Vec::new();
    for m in &history {
        match m.role {
            Role::Assistant => {
                if let Some(out) = assistant_message(m, &mut drops) {
                    last_calls = match &out {
                        OutMessage::Assistant { tool_calls, .. } => {
                            tool_calls.iter().map(|c| c.id.clone()).collect()
                        }
                        _ => Vec::new(),
                    };
                    messages.push(out);
                }
            }
            Role::User => user_messages(m, &last_calls, &mut messages, &mut drops),
        }
    }
    drops.into_notes(notes);
    if req.ends_in_prefill() {
        match messages.last_mut() {
            Some(OutMessage::Assistant { prefix, .. }) if quirks.assistant_prefix => *prefix = true,
            _ => notes.push(crate::canonical::prefill_note("an OpenAI Chat provider")),
        }
    }
    if let Some(n) = req.document_extras_note("OpenAI Chat") {
        notes.push(n);
    }

    let mut tools = Vec::with_capacity(req.tools.len());
    for tool in &req.tools {
        match &tool.kind {
            ToolKind::Function { parameters, strict } => tools.push(function(
                &tool.name,
                tool.description.clone(),
                parameters.clone(),
                *strict,
            )),
            ToolKind::Custom { format } => tools.push(custom_as_function(
                &tool.name,
                tool.description.as_deref(),
                format.as_ref(),
            )),
            ToolKind::Hosted { dialect: Dialect::OpenAiChat, value } => {
                tools.push(OutTool::Raw(value.clone()))
            }
            ToolKind::Hosted { dialect, .. } => {
                notes.push(Note::new(format!(
                    "tool {:?} dropped: a {dialect} built-in tool has no OpenAI Chat equivalent",
                    tool.name
                )));
            }
        }
    }
    let tool_names: Vec<&str> = tools
        .iter()
        .filter_map(|t| match t {
            OutTool::Function { function, .. } => Some(function.name.as_str()),
            OutTool::Raw(v) => {
                v.get("function").and_then(|f| f.get("name")).and_then(Value::as_str)
            }
        })
        .collect();
    let (tool_choice, parallel_tool_calls) = if tools.is_empty() {
        // OpenAI rejects both without tools.
        if matches!(req.tool_choice, Some(ToolChoice::Any | ToolChoice::Tool(_))) {
            notes.push(Note::new("tool_choice dropped: no tool is left to call"));
        }
        (None, None)
    } else {
        let choice = req.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Any => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool(name) if tool_names.contains(&name.as_str()) => {
                json!({"type": "function", "function": {"name": name}})
            }
            // As the other encoders do: forcing some other tool could make the model call one
            // the client never meant.
            ToolChoice::Tool(name) => {
                notes.push(Note::new(format!(
                    "tool_choice {name:?} is not among the tools sent; auto instead"
                )));
                json!("auto")
            }
        });
        (choice, req.parallel_tool_calls)
    };

    let max_tokens = req.max_tokens.map(|m| match quirks.max_output_tokens {
        Some(cap) if m > cap => {
            notes.push(Note::new(format!("max_tokens {m} capped at the provider's {cap}")));
            cap
        }
        _ => m,
    });
    let (max_tokens, max_completion_tokens) =
        if quirks.max_completion_tokens { (None, max_tokens) } else { (max_tokens, None) };

    let (temperature, top_p) = if quirks.no_sampling {
        if req.temperature.is_some() || req.top_p.is_some() {
            notes.push(Note::new(
                "temperature and top_p dropped: the model takes no sampling parameters",
            ));
        }
        (None, None)
    } else {
        let t = req.temperature.map(|t| {
            let c = t.clamp(0.0, 2.0);
            if c != t {
                notes.push(Note::new(format!("temperature {t} clamped to {c}")));
            }
            c
        });
        (t, req.top_p)
    };
    if req.top_k.is_some() {
        notes.push(Note::new("top_k dropped: OpenAI Chat has no top_k"));
    }

    let mut stop: Vec<String> = Vec::new();
    for s in &req.stop_sequences {
        if s.trim().is_empty() {
            notes.push(Note::new("a whitespace-only stop sequence was dropped"));
        } else {
            stop.push(s.clone());
        }
    }
    if stop.len() > MAX_STOP {
        notes.push(Note::new(format!(
            "{} stop sequences beyond the first {MAX_STOP} dropped",
            stop.len() - MAX_STOP
        )));
        stop.truncate(MAX_STOP);
    }

    let reasoning_effort = match &req.thinking {
        None => None,
        Some(t) if quirks.reasoning_effort => {
            let effort = t.effort.clone().or_else(|| match t.mode {
                ThinkingMode::Enabled { budget_tokens } => {
                    Some(budget_effort(budget_tokens).to_owned())
                }
                ThinkingMode::Adaptive | ThinkingMode::Disabled => None,
            });
            // Anthropic's top effort; OpenAI's is `high`.
            effort.map(|e| if e == "max" { "high".to_owned() } else { e })
        }
        Some(t) => {
            if !matches!(t.mode, ThinkingMode::Disabled) {
                notes.push(Note::new("thinking dropped: the model takes no reasoning_effort"));
            }
            None
        }
    };

    let response_format = req.response_format.as_ref().map(|f| match f {
        ResponseFormat::Json => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema { name, schema, strict } => {
            let mut js = Map::new();
            js.insert("name".into(), json!(name.as_deref().unwrap_or("response")));
            js.insert("schema".into(), schema.clone());
            if let Some(strict) = strict {
                js.insert("strict".into(), json!(strict));
            }
            json!({"type": "json_schema", "json_schema": js})
        }
    });

    let mut extra = Map::new();
    let mut client_stream_options = None;
    let mut user = req.user.clone();
    match req.extra.dialect {
        Some(Dialect::OpenAiChat) => {
            for (k, v) in &req.extra.fields {
                if k == "stream_options" {
                    client_stream_options = Some(v.clone());
                } else if k == "user" && user.is_some() {
                    // The client sent both identity fields; the canonical user is the newer
                    // `safety_identifier`, and each goes back under its own name.
                    extra.insert("safety_identifier".into(), Value::from(user.take()));
                    user = v.as_str().map(str::to_owned);
                } else if !OWN_KEYS.contains(&k.as_str()) {
                    extra.insert(k.clone(), v.clone());
                }
            }
        }
        Some(dialect) if !req.extra.fields.is_empty() => {
            let keys: Vec<&str> = req.extra.fields.keys().map(String::as_str).collect();
            notes.push(Note::new(format!(
                "{dialect} fields with no OpenAI Chat meaning dropped: {}",
                keys.join(", ")
            )));
        }
        _ => {}
    }
    let (stream, stream_options) = if req.stream {
        // Usage arrives only in a trailing chunk, and only when asked for (34).
        let mut options = match client_stream_options {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        options.insert("include_usage".into(), Value::Bool(true));
        (Some(true), Some(Value::Object(options)))
    } else {
        (None, None)
    };

    let out = OutRequest {
        model: target.model.clone(),
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        stop,
        reasoning_effort,
        response_format,
        user,
        stream,
        stream_options,
        extra,
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

/// claude-code-router's table (10).
fn budget_effort(budget: u64) -> &'static str {
    match budget {
        0..=1024 => "low",
        1025..=8192 => "medium",
        _ => "high",
    }
}

fn function(
    name: &str,
    description: Option<String>,
    parameters: Value,
    strict: Option<bool>,
) -> OutTool {
    OutTool::Function {
        kind: "function",
        function: OutFunction { name: name.to_owned(), description, parameters, strict },
    }
}

/// A freeform tool as a function taking its text in one string property.
fn custom_as_function(name: &str, description: Option<&str>, format: Option<&Value>) -> OutTool {
    let mut description = description.unwrap_or_default().to_owned();
    if let Some(grammar) =
        format.and_then(|f| f.get("grammar").or(Some(f))).filter(|g| g.get("definition").is_some())
    {
        let syntax = grammar.get("syntax").and_then(Value::as_str).unwrap_or("grammar");
        let definition = grammar.get("definition").and_then(Value::as_str).unwrap_or_default();
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&format!(
            "The `{CUSTOM_INPUT_FIELD}` text must follow this {syntax} grammar:\n{definition}"
        ));
    }
    let parameters = json!({
        "type": "object",
        "properties": {CUSTOM_INPUT_FIELD: {"type": "string"}},
        "required": [CUSTOM_INPUT_FIELD],
        "additionalProperties": false,
    });
    function(name, (!description.is_empty()).then_some(description), parameters, None)
}

fn assistant_message(m: &Message, drops: &mut Drops) -> Option<OutMessage> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in &m.content {
        match block {
            Block::Text(t) => text.push_str(&t.text),
            Block::ToolUse(u) => tool_calls.push(OutToolCall {
                id: u.id.clone(),
                kind: "function",
                function: OutCall { name: u.name.clone(), arguments: to_arguments(&u.input) },
            }),
            Block::Thinking(_) | Block::RedactedThinking(_) => drops.thinking += 1,
            Block::Opaque(o) => {
                drops.opaque.insert(opaque_kind(&o.value, o.dialect));
            }
            Block::Image(_) | Block::Document(_) | Block::ToolResult(_) => drops.misplaced += 1,
        }
    }
    if text.is_empty() && tool_calls.is_empty() {
        return None;
    }
    Some(OutMessage::Assistant {
        content: (!text.is_empty()).then_some(text),
        tool_calls,
        prefix: false,
    })
}

/// A user turn: its tool results as tool messages in the order of the calls (18), then one user
/// message with the images the results carried (20) and the turn's own content.
fn user_messages(m: &Message, last_calls: &[String], out: &mut Vec<OutMessage>, drops: &mut Drops) {
    let mut results: Vec<&ToolResult> = Vec::new();
    let mut own = Vec::new();
    for block in &m.content {
        match block {
            Block::ToolResult(r) => results.push(r),
            Block::Text(t) => {
                if !t.text.is_empty() {
                    own.push(text_part(t.text.clone()));
                }
            }
            Block::Image(i) => own.extend(image_part(i, drops)),
            Block::Document(d) => own.extend(document_part(d, drops)),
            Block::Opaque(o) if o.dialect == Dialect::OpenAiChat => {
                own.push(OutPart::Raw(o.value.clone()))
            }
            Block::Opaque(o) => {
                drops.opaque.insert(opaque_kind(&o.value, o.dialect));
            }
            Block::Thinking(_) | Block::RedactedThinking(_) => drops.thinking += 1,
            Block::ToolUse(_) => drops.misplaced += 1,
        }
    }
    // A stable sort: results for calls of the previous turn in call order, others after.
    results.sort_by_key(|r| {
        last_calls.iter().position(|id| *id == r.tool_use_id).unwrap_or(usize::MAX)
    });

    let mut moved = Vec::new();
    for r in results {
        let mut texts = Vec::new();
        let mut media = Vec::new();
        for block in &r.content {
            match block {
                Block::Text(t) => texts.push(t.text.clone()),
                Block::Image(i) => media.extend(image_part(i, drops)),
                Block::Document(d) => match document_part(d, drops) {
                    Some(OutPart::Typed(TypedPart::Text { text })) => texts.push(text),
                    Some(part) => media.push(part),
                    None => {}
                },
                Block::Opaque(o) => {
                    drops.opaque.insert(opaque_kind(&o.value, o.dialect));
                }
                Block::Thinking(_) | Block::RedactedThinking(_) => drops.thinking += 1,
                Block::ToolUse(_) | Block::ToolResult(_) => drops.misplaced += 1,
            }
        }
        let mut content = texts.join("\n");
        if content.is_empty() && !media.is_empty() {
            content = "(returned as attachments in the next message)".to_owned();
        }
        if r.is_error {
            // Chat has no error flag (19).
            content =
                if content.is_empty() { "Error".to_owned() } else { format!("Error: {content}") };
        }
        out.push(OutMessage::Tool { tool_call_id: r.tool_use_id.clone(), content });
        if !media.is_empty() {
            let all_images =
                media.iter().all(|p| matches!(p, OutPart::Typed(TypedPart::ImageUrl { .. })));
            let what = if all_images { "Images" } else { "Files" };
            moved.push(text_part(format!("{what} returned by tool call {}:", r.tool_use_id)));
            moved.extend(media);
        }
    }

    moved.extend(own);
    if moved.is_empty() {
        return;
    }
    let content = match <[OutPart; 1]>::try_from(moved) {
        Ok([OutPart::Typed(TypedPart::Text { text })]) => OutContent::Text(text),
        Ok(one) => OutContent::Parts(Vec::from(one)),
        Err(many) => OutContent::Parts(many),
    };
    out.push(OutMessage::User { content });
}

fn image_part(i: &Image, drops: &mut Drops) -> Option<OutPart> {
    match &i.source {
        Source::Base64 { .. } | Source::Url(_) => i.source.to_url().map(|url| {
            OutPart::Typed(TypedPart::ImageUrl {
                image_url: OutImageUrl { url, detail: i.detail.clone() },
            })
        }),
        Source::File(id) => {
            drops
                .media
                .push(format!("image file {id:?} dropped: Chat images take a URL or inline data"));
            None
        }
        Source::Text { .. } => {
            drops.misplaced += 1;
            None
        }
    }
}

fn document_part(d: &Document, drops: &mut Drops) -> Option<OutPart> {
    let file = match &d.source {
        Source::Base64 { media_type, .. } => OutFile {
            file_data: d.source.to_url(),
            file_id: None,
            filename: Some(
                d.filename
                    .clone()
                    .or_else(|| d.title.clone())
                    .unwrap_or_else(|| default_filename(media_type)),
            ),
        },
        Source::File(id) => {
            OutFile { file_data: None, file_id: Some(id.clone()), filename: d.filename.clone() }
        }
        Source::Text { data, .. } => {
            let text = match &d.title {
                Some(title) => format!("{title}\n\n{data}"),
                None => data.clone(),
            };
            return Some(text_part(text));
        }
        Source::Url(url) => {
            drops.media.push(format!(
                "document {url:?} dropped: Chat file parts take inline data or a file id"
            ));
            return None;
        }
    };
    Some(OutPart::Typed(TypedPart::File { file }))
}

fn default_filename(media_type: &str) -> String {
    match media_type {
        "application/pdf" => "document.pdf".to_owned(),
        "text/plain" => "document.txt".to_owned(),
        _ => "document".to_owned(),
    }
}

fn opaque_kind(value: &Value, dialect: Dialect) -> String {
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("unknown");
    format!("{dialect} {kind}")
}

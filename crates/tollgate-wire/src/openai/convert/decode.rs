//! A client's Chat Completions request body -> canonical [`Request`].
//!
//! `system` and `developer` messages are hoisted wherever they are (1); consecutive `tool`
//! messages become one user turn of tool results, and a user message right after them joins that
//! turn (18); `arguments` strings become objects (22). Content parts this model has no block for
//! (`input_audio`, future types) become [`Opaque`] blocks, written back only to Chat providers.
//! Top-level fields with no canonical meaning go to [`Extra`] for a Chat provider.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::args::parse_arguments;
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Document, Extra, Image, Message, Opaque, Request, ResponseFormat,
    Role, Source, TextBlock, Thinking, ThinkingBlock, ThinkingMode, Tool, ToolChoice, ToolKind,
    ToolResult, ToolUse,
};
use crate::{Dialect, InvalidBody};

#[derive(Deserialize)]
struct WireRequest {
    model: String,
    messages: Vec<WireMessage>,
    #[serde(default)]
    tools: Option<Vec<WireTool>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    /// Deprecated predecessors of `tools` and `tool_choice`.
    #[serde(default)]
    functions: Option<Vec<WireFunction>>,
    #[serde(default)]
    function_call: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    /// Not OpenAI's, but vLLM, OpenRouter and others take it.
    #[serde(default)]
    top_k: Option<u64>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    reasoning_effort: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    safety_identifier: Option<String>,
    #[serde(default)]
    response_format: Option<WireResponseFormat>,
    #[serde(default)]
    n: Option<u64>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: WireJsonSchema },
}

#[derive(Deserialize)]
struct WireJsonSchema {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    /// DeepSeek's and others' reasoning text, sent back by clients that keep it.
    #[serde(default)]
    reasoning_content: Option<String>,
    /// OpenRouter's name for the same.
    #[serde(default)]
    reasoning: Option<Value>,
    /// Deprecated single call of an assistant message; its answer is a `function` message.
    #[serde(default)]
    function_call: Option<WireFunctionCall>,
    #[serde(default)]
    name: Option<String>,
}

/// A tool call on an assistant message, in a request or a whole response.
#[derive(Deserialize)]
pub(super) struct WireToolCall {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(rename = "type", default)]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) function: Option<WireFunctionCall>,
    #[serde(default)]
    pub(super) custom: Option<WireCustomCall>,
}

#[derive(Deserialize)]
pub(super) struct WireFunctionCall {
    #[serde(default)]
    pub(super) name: String,
    /// A JSON string per the API; some clients send the object itself.
    #[serde(default)]
    pub(super) arguments: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct WireCustomCall {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) input: String,
}

#[derive(Deserialize)]
struct WireTool {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
    #[serde(default)]
    custom: Option<WireCustomTool>,
    /// The rest of a tool of another type, kept whole.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct WireCustomTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    format: Option<Value>,
}

#[derive(Deserialize)]
struct WirePart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    /// `{url, detail}`; some clients send the URL string itself.
    #[serde(default)]
    image_url: Option<Value>,
    #[serde(default)]
    file: Option<WireFile>,
}

#[derive(Deserialize)]
struct WireFile {
    #[serde(default)]
    file_data: Option<String>,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

fn invalid(path: impl Into<String>, what: impl std::fmt::Display) -> InvalidBody {
    let path = path.into();
    let message = format!("{path}: {what}");
    InvalidBody::new(Some(path), message)
}

pub(super) fn decode_request(body: &[u8]) -> Result<Request, InvalidBody> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let wire: WireRequest =
        serde_path_to_error::deserialize(de).map_err(InvalidBody::from_serde)?;
    if let Some(n) = wire.n
        && n > 1
    {
        return Err(invalid("n", "only one choice (n = 1) can be translated to another provider"));
    }

    let mut req = Request {
        model: wire.model,
        parallel_tool_calls: wire.parallel_tool_calls,
        max_tokens: wire.max_completion_tokens.or(wire.max_tokens),
        temperature: wire.temperature,
        top_p: wire.top_p,
        top_k: wire.top_k,
        stream: wire.stream.unwrap_or(false),
        ..Request::default()
    };
    req.stop_sequences = match wire.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    req.thinking = wire.reasoning_effort.map(|effort| Thinking {
        mode: if effort == "none" { ThinkingMode::Disabled } else { ThinkingMode::Adaptive },
        effort: Some(effort),
        display: None,
    });
    req.response_format = match wire.response_format {
        None | Some(WireResponseFormat::Text) => None,
        Some(WireResponseFormat::JsonObject) => Some(ResponseFormat::Json),
        Some(WireResponseFormat::JsonSchema { json_schema }) => Some(ResponseFormat::JsonSchema {
            name: json_schema.name,
            schema: json_schema.schema.unwrap_or_else(|| Value::Object(Map::new())),
            strict: json_schema.strict,
        }),
    };

    let mut extra = wire.extra;
    req.user = match (wire.safety_identifier, wire.user) {
        (Some(id), Some(user)) => {
            // Both identify the end user; the newer field wins and the other stays for a
            // Chat provider.
            extra.insert("user".into(), Value::String(user));
            Some(id)
        }
        (id, user) => id.or(user),
    };
    req.extra = Extra { dialect: Some(Dialect::OpenAiChat), fields: extra };

    let mut messages = Messages::default();
    for (i, m) in wire.messages.into_iter().enumerate() {
        messages.push(i, m, &mut req.system)?;
    }
    req.messages = messages.out;

    for (i, tool) in wire.tools.into_iter().flatten().enumerate() {
        req.tools.push(decode_tool(tool, i)?);
    }
    for f in wire.functions.into_iter().flatten() {
        req.tools.push(function_tool(f));
    }

    let choice = match (wire.tool_choice, wire.function_call) {
        (Some(c), _) => Some(("tool_choice", c)),
        (None, Some(c)) => Some(("function_call", c)),
        (None, None) => None,
    };
    if let Some((path, choice)) = choice {
        req.tool_choice = decode_tool_choice(&choice, path, &mut req.tools)?;
    }
    Ok(req)
}

/// Builds the canonical message list: hoists system text, groups tool results.
#[derive(Default)]
struct Messages {
    out: Vec<Message>,
    /// The last message is a user turn opened by tool results (a following user message joins
    /// it, a following tool message adds to it).
    open_results: bool,
    /// Legacy `function_call`s: (id, name, answered).
    legacy_calls: Vec<(String, String, bool)>,
}

impl Messages {
    fn push(
        &mut self,
        i: usize,
        m: WireMessage,
        system: &mut Vec<TextBlock>,
    ) -> Result<(), InvalidBody> {
        let path = format!("messages[{i}]");
        match m.role.as_str() {
            "system" | "developer" => {
                system.extend(system_parts(m.content, &format!("{path}.content"))?);
            }
            "user" => {
                let blocks = user_blocks(m.content, &format!("{path}.content"))?;
                match self.out.last_mut() {
                    Some(last) if self.open_results => last.content.extend(blocks),
                    _ => self.out.push(Message { role: Role::User, content: blocks }),
                }
                self.open_results = false;
            }
            "assistant" => {
                let blocks = self.assistant_blocks(i, m, &path)?;
                self.out.push(Message { role: Role::Assistant, content: blocks });
                self.open_results = false;
            }
            "tool" => {
                let id = m
                    .tool_call_id
                    .ok_or_else(|| invalid(format!("{path}.tool_call_id"), "field required"))?;
                let content = tool_content(m.content, &format!("{path}.content"))?;
                self.push_result(id, content);
            }
            "function" => {
                let name = m.name.unwrap_or_default();
                let id = match self
                    .legacy_calls
                    .iter_mut()
                    .find(|(_, n, answered)| *n == name && !answered)
                {
                    Some((id, _, answered)) => {
                        *answered = true;
                        id.clone()
                    }
                    None => format!("call_fn_{i}"),
                };
                let content = tool_content(m.content, &format!("{path}.content"))?;
                self.push_result(id, content);
            }
            other => {
                return Err(invalid(
                    format!("{path}.role"),
                    format!(
                        "unknown role {other:?} (expected system, developer, user, assistant or tool)"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn push_result(&mut self, tool_use_id: String, content: Vec<Block>) {
        let block = Block::ToolResult(ToolResult {
            tool_use_id,
            content,
            is_error: false,
            cache_control: None,
        });
        match self.out.last_mut() {
            Some(last) if self.open_results => last.content.push(block),
            _ => {
                self.out.push(Message { role: Role::User, content: vec![block] });
                self.open_results = true;
            }
        }
    }

    fn assistant_blocks(
        &mut self,
        i: usize,
        m: WireMessage,
        path: &str,
    ) -> Result<Vec<Block>, InvalidBody> {
        let mut blocks = Vec::new();
        let reasoning = match (m.reasoning_content, m.reasoning) {
            (Some(r), _) | (None, Some(Value::String(r))) => Some(r),
            _ => None,
        };
        if let Some(thinking) = reasoning.filter(|s| !s.is_empty()) {
            // Chat has no signature; the block is only good for a provider that takes unsigned
            // reasoning back (repair strips it for the others).
            blocks.push(Block::Thinking(ThinkingBlock { thinking, signature: None, origin: None }));
        }
        blocks.extend(assistant_text(m.content, &format!("{path}.content"))?);
        if let Some(refusal) = m.refusal.filter(|s| !s.is_empty()) {
            blocks.push(Block::Text(TextBlock::new(refusal)));
        }
        for (j, call) in m.tool_calls.into_iter().flatten().enumerate() {
            let id = call.id.filter(|s| !s.is_empty()).unwrap_or_else(|| format!("call_{i}_{j}"));
            let (name, input) = match (call.kind.as_deref(), call.function, call.custom) {
                (Some("custom"), _, Some(c)) => {
                    let mut input = Map::new();
                    input.insert(CUSTOM_INPUT_FIELD.to_owned(), Value::String(c.input));
                    (c.name, Value::Object(input))
                }
                (None | Some("function"), Some(f), _) => (f.name, arguments_value(f.arguments)),
                _ => {
                    return Err(invalid(
                        format!("{path}.tool_calls[{j}]"),
                        "expected a function or custom tool call",
                    ));
                }
            };
            blocks.push(Block::ToolUse(ToolUse { id, name, input, cache_control: None }));
        }
        if let Some(f) = m.function_call {
            let id = format!("call_fn_{i}");
            self.legacy_calls.push((id.clone(), f.name.clone(), false));
            let input = arguments_value(f.arguments);
            blocks.push(Block::ToolUse(ToolUse { id, name: f.name, input, cache_control: None }));
        }
        Ok(blocks)
    }
}

pub(super) fn arguments_value(arguments: Option<Value>) -> Value {
    match arguments {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::String(s)) => parse_arguments(&s),
        Some(v @ Value::Object(_)) => v,
        Some(other) => parse_arguments(&other.to_string()),
    }
}

/// One content part: its JSON path, its known fields, and the part as sent.
type Part = (String, WirePart, Value);

/// The parts of a `content` field: `None` for null or absent, one text part for a string.
fn parts(content: Option<Value>, path: &str) -> Result<Option<Vec<Part>>, InvalidBody> {
    match content {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(vec![(
            path.to_owned(),
            WirePart {
                kind: "text".into(),
                text: Some(text),
                refusal: None,
                image_url: None,
                file: None,
            },
            Value::Null,
        )])),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(j, item)| {
                let p = format!("{path}[{j}]");
                match WirePart::deserialize(&item) {
                    Ok(part) => Ok((p, part, item)),
                    Err(e) => Err(invalid(p, e)),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid(path, "expected a string or an array of content parts")),
    }
}

fn part_text(path: &str, part: WirePart) -> Result<String, InvalidBody> {
    part.text.ok_or_else(|| invalid(format!("{path}.text"), "field required"))
}

fn system_parts(content: Option<Value>, path: &str) -> Result<Vec<TextBlock>, InvalidBody> {
    let mut out = Vec::new();
    for (p, part, _) in parts(content, path)?.into_iter().flatten() {
        if part.kind != "text" {
            return Err(invalid(
                p,
                format!("system and developer messages take text parts only, not {:?}", part.kind),
            ));
        }
        let text = part_text(&p, part)?;
        if !text.is_empty() {
            out.push(TextBlock::new(text));
        }
    }
    Ok(out)
}

fn assistant_text(content: Option<Value>, path: &str) -> Result<Vec<Block>, InvalidBody> {
    let mut out = Vec::new();
    for (p, part, _) in parts(content, path)?.into_iter().flatten() {
        let text = match part.kind.as_str() {
            "text" => part_text(&p, part)?,
            "refusal" => part.refusal.unwrap_or_default(),
            other => {
                return Err(invalid(
                    p,
                    format!("assistant messages take text and refusal parts, not {other:?}"),
                ));
            }
        };
        // An empty string beside tool calls is not a block (3).
        if !text.is_empty() {
            out.push(Block::Text(TextBlock::new(text)));
        }
    }
    Ok(out)
}

fn user_blocks(content: Option<Value>, path: &str) -> Result<Vec<Block>, InvalidBody> {
    let mut out = Vec::new();
    for (p, part, raw) in parts(content, path)?.into_iter().flatten() {
        if let Some(block) = media_block(&p, part, raw)? {
            out.push(block);
        }
    }
    Ok(out)
}

/// Tool messages take text per the API; images are accepted too, as real clients send them.
fn tool_content(content: Option<Value>, path: &str) -> Result<Vec<Block>, InvalidBody> {
    user_blocks(content, path)
}

/// One user content part as a block; `None` for empty text.
fn media_block(path: &str, part: WirePart, raw: Value) -> Result<Option<Block>, InvalidBody> {
    let block = match part.kind.as_str() {
        "text" => {
            let text = part_text(path, part)?;
            if text.is_empty() {
                return Ok(None);
            }
            Block::Text(TextBlock::new(text))
        }
        "image_url" => {
            let (url, detail) = match part.image_url {
                Some(Value::String(url)) => (url, None),
                Some(Value::Object(mut o)) => {
                    let url = match o.remove("url") {
                        Some(Value::String(url)) => url,
                        _ => {
                            return Err(invalid(format!("{path}.image_url.url"), "field required"));
                        }
                    };
                    let detail = match o.remove("detail") {
                        Some(Value::String(d)) => Some(d),
                        _ => None,
                    };
                    (url, detail)
                }
                _ => return Err(invalid(format!("{path}.image_url"), "field required")),
            };
            Block::Image(Image { source: Source::from_url(&url), detail, cache_control: None })
        }
        "file" => {
            let file =
                part.file.ok_or_else(|| invalid(format!("{path}.file"), "field required"))?;
            let source = match (file.file_data, file.file_id) {
                (Some(data), _) => match Source::from_url(&data) {
                    src @ Source::Base64 { .. } => src,
                    // The API takes a data URI; a bare base64 payload is what some clients send.
                    Source::Url(raw) => {
                        Source::Base64 { media_type: media_type_for(&file.filename), data: raw }
                    }
                    other => other,
                },
                (None, Some(id)) => Source::File(id),
                (None, None) => {
                    return Err(invalid(format!("{path}.file"), "file_data or file_id required"));
                }
            };
            Block::Document(Document {
                context: None,
                citations: None,
                source,
                title: None,
                filename: file.filename,
                cache_control: None,
            })
        }
        _ => {
            // input_audio and types this version does not know: kept whole for a Chat provider.
            return Ok(Some(Block::Opaque(Opaque { dialect: Dialect::OpenAiChat, value: raw })));
        }
    };
    Ok(Some(block))
}

/// A bare base64 payload has no media type; the filename may say, PDF is what Chat files mostly are.
fn media_type_for(filename: &Option<String>) -> String {
    match filename
        .as_deref()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
    {
        Some(ext) if ext == "txt" => "text/plain".into(),
        _ => "application/pdf".into(),
    }
}

fn function_tool(f: WireFunction) -> Tool {
    Tool {
        name: f.name,
        description: f.description,
        kind: ToolKind::Function {
            // No `parameters` means a function without arguments.
            parameters: f
                .parameters
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            strict: f.strict,
        },
        cache_control: None,
    }
}

fn decode_tool(tool: WireTool, i: usize) -> Result<Tool, InvalidBody> {
    match (tool.kind.as_deref(), tool.function, tool.custom) {
        (None | Some("function"), Some(f), _) => Ok(function_tool(f)),
        (Some("custom"), _, Some(c)) => Ok(Tool {
            name: c.name,
            description: c.description,
            kind: ToolKind::Custom { format: c.format },
            cache_control: None,
        }),
        (None | Some("function"), None, _) => {
            Err(invalid(format!("tools[{i}].function"), "field required"))
        }
        (Some("custom"), _, None) => Err(invalid(format!("tools[{i}].custom"), "field required")),
        (Some(kind), _, _) => {
            let mut value = tool.rest;
            value.insert("type".into(), Value::String(kind.to_owned()));
            // A tool type Chat may grow: kept for a Chat provider, dropped elsewhere.
            let name = value.get("name").and_then(Value::as_str).unwrap_or(kind).to_owned();
            Ok(Tool {
                name,
                description: None,
                kind: ToolKind::Hosted {
                    dialect: Dialect::OpenAiChat,
                    value: Value::Object(value),
                },
                cache_control: None,
            })
        }
    }
}

fn decode_tool_choice(
    choice: &Value,
    path: &str,
    tools: &mut Vec<Tool>,
) -> Result<Option<ToolChoice>, InvalidBody> {
    let named = |v: &Value, key: &str| {
        v.get(key).and_then(|f| f.get("name")).and_then(Value::as_str).map(str::to_owned)
    };
    let choice = match choice {
        Value::Null => return Ok(None),
        Value::String(s) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "required" | "any" => ToolChoice::Any,
            "none" => ToolChoice::None,
            other => return Err(invalid(path, format!("unknown tool choice {other:?}"))),
        },
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("function") => ToolChoice::Tool(
                named(choice, "function")
                    .ok_or_else(|| invalid(format!("{path}.function.name"), "field required"))?,
            ),
            Some("custom") => ToolChoice::Tool(
                named(choice, "custom")
                    .ok_or_else(|| invalid(format!("{path}.custom.name"), "field required"))?,
            ),
            Some("allowed_tools") => {
                let allowed = o
                    .get("allowed_tools")
                    .ok_or_else(|| invalid(format!("{path}.allowed_tools"), "field required"))?;
                let names: Vec<String> = allowed
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| named(t, "function").or_else(|| named(t, "custom")))
                    .collect();
                // The canonical model has no "these tools, but keep the list": the list itself
                // is narrowed, which means the same to the model.
                tools.retain(|t| names.contains(&t.name));
                match allowed.get("mode").and_then(Value::as_str) {
                    Some("required") => ToolChoice::Any,
                    _ => ToolChoice::Auto,
                }
            }
            // The legacy `function_call: {"name": ...}`.
            None if o.contains_key("name") => ToolChoice::Tool(
                o.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            ),
            _ => {
                return Err(invalid(
                    path,
                    "expected \"auto\", \"required\", \"none\" or a named tool",
                ));
            }
        },
        _ => return Err(invalid(path, "expected a string or an object")),
    };
    Ok(Some(choice))
}

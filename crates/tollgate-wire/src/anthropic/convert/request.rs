//! `POST /v1/messages` bodies to and from [`Request`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::blocks::{Out, OutBlock, Place, decode_content, encode_block};
use super::{note, parse_at};
use crate::InvalidBody;
use crate::anthropic::request::parse_envelope;
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Extra, Message, Note, Request, ResponseFormat, Role, Target,
    TextBlock, Thinking, ThinkingMode, Tool, ToolChoice, ToolKind, repair,
};
use crate::dialect::Dialect;

/// Top-level fields read into typed canonical fields; everything else goes to `extra`.
const KNOWN: &[&str] = &[
    "model",
    "messages",
    "system",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "metadata",
    "tools",
    "tool_choice",
    "thinking",
    "output_config",
    "output_format",
];

/// Body fields that need an `anthropic-beta` header (see the module docs of `convert`).
const BETA_FIELDS: &[&str] =
    &["context_management", "mcp_servers", "container", "output_format", "cache_control", "speed"];

/// Used when the source dialect left `max_tokens` out, which Anthropic requires.
pub(crate) const DEFAULT_MAX_TOKENS: u64 = 8192;

#[derive(Deserialize)]
struct WMessage {
    role: String,
    content: Box<RawValue>,
}

#[derive(Deserialize)]
struct WToolHead {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct WCustomTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    input_schema: Value,
    #[serde(default)]
    cache_control: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct WToolChoice {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
struct WThinkingConfig {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    budget_tokens: Option<u64>,
    #[serde(default)]
    display: Option<String>,
}

type Fields = BTreeMap<String, Box<RawValue>>;

fn get<T: serde::de::DeserializeOwned>(
    fields: &Fields,
    key: &str,
) -> Result<Option<T>, InvalidBody> {
    match fields.get(key) {
        Some(raw) => parse_at::<Option<T>>(raw.get(), key),
        None => Ok(None),
    }
}

pub(super) fn decode(body: &[u8]) -> Result<Request, InvalidBody> {
    let fields: Fields = parse_envelope(body)?;
    let required =
        |key: &str| InvalidBody::new(Some(key.to_owned()), format!("{key}: field required"));
    let mut req = Request {
        model: get(&fields, "model")?.ok_or_else(|| required("model"))?,
        max_tokens: get(&fields, "max_tokens")?,
        temperature: get(&fields, "temperature")?,
        top_p: get(&fields, "top_p")?,
        top_k: get(&fields, "top_k")?,
        stop_sequences: get(&fields, "stop_sequences")?.unwrap_or_default(),
        stream: get(&fields, "stream")?.unwrap_or(false),
        ..Request::default()
    };
    let mut extra = Map::new();

    if let Some(raw) = fields.get("system").filter(|raw| raw.get() != "null") {
        req.system = system_text(decode_content(raw, "system")?, "system")?;
    }
    let messages: Vec<Box<RawValue>> =
        get(&fields, "messages")?.ok_or_else(|| required("messages"))?;
    for (i, raw) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let message: WMessage = parse_at(raw.get(), &path)?;
        let content = decode_content(&message.content, &format!("{path}.content"))?;
        let role = match message.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => {
                let parts = system_text(content, &format!("{path}.content"))?;
                req.system.extend(parts);
                continue;
            }
            other => {
                return Err(InvalidBody::new(
                    Some(format!("{path}.role")),
                    format!(
                        "{path}.role: expected \"user\", \"assistant\" or \"system\", got {other:?}"
                    ),
                ));
            }
        };
        req.messages.push(Message { role, content });
    }

    if let Some(mut metadata) = get::<Map<String, Value>>(&fields, "metadata")? {
        req.user = match metadata.remove("user_id") {
            Some(Value::String(user)) => Some(user),
            Some(Value::Null) | None => None,
            Some(_) => {
                return Err(InvalidBody::new(
                    Some("metadata.user_id".into()),
                    "metadata.user_id: expected a string",
                ));
            }
        };
        if !metadata.is_empty() {
            extra.insert("metadata".into(), Value::Object(metadata));
        }
    }

    if let Some(tools) = get::<Vec<Box<RawValue>>>(&fields, "tools")? {
        for (i, raw) in tools.iter().enumerate() {
            req.tools.push(tool(raw, &format!("tools[{i}]"))?);
        }
    }
    if let Some(choice) = get::<WToolChoice>(&fields, "tool_choice")? {
        req.tool_choice = Some(match choice.kind.as_str() {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Any,
            "none" => ToolChoice::None,
            "tool" => ToolChoice::Tool(choice.name.ok_or_else(|| required("tool_choice.name"))?),
            other => {
                return Err(InvalidBody::new(
                    Some("tool_choice.type".into()),
                    format!("tool_choice.type: unknown tool choice {other:?}"),
                ));
            }
        });
        req.parallel_tool_calls = choice.disable_parallel_tool_use.map(|disable| !disable);
    }

    if let Some(config) = get::<WThinkingConfig>(&fields, "thinking")? {
        let mode = match config.kind.as_str() {
            "enabled" => ThinkingMode::Enabled {
                budget_tokens: config
                    .budget_tokens
                    .ok_or_else(|| required("thinking.budget_tokens"))?,
            },
            "adaptive" => ThinkingMode::Adaptive,
            "disabled" => ThinkingMode::Disabled,
            other => {
                return Err(InvalidBody::new(
                    Some("thinking.type".into()),
                    format!("thinking.type: unknown thinking mode {other:?}"),
                ));
            }
        };
        req.thinking = Some(Thinking { mode, effort: None, display: config.display });
    }

    if let Some(mut config) = get::<Map<String, Value>>(&fields, "output_config")? {
        // Effort only has a canonical home next to a thinking mode; alone it stays Anthropic's.
        if let Some(thinking) = req.thinking.as_mut()
            && let Some(Value::String(effort)) = config.get("effort")
        {
            thinking.effort = Some(effort.clone());
            config.remove("effort");
        }
        if let Some(format) = config.get("format").and_then(json_schema_format) {
            req.response_format = Some(format);
            config.remove("format");
        }
        if !config.is_empty() {
            extra.insert("output_config".into(), Value::Object(config));
        }
    }
    if let Some(raw) = fields.get("output_format") {
        let value: Value = parse_at(raw.get(), "output_format")?;
        match json_schema_format(&value) {
            Some(format) if req.response_format.is_none() => req.response_format = Some(format),
            Some(_) => {}
            None if value.is_null() => {}
            None => {
                extra.insert("output_format".into(), value);
            }
        }
    }

    for (key, raw) in &fields {
        if !KNOWN.contains(&key.as_str()) {
            extra.insert(key.clone(), parse_at(raw.get(), key)?);
        }
    }
    req.extra = Extra { dialect: Some(Dialect::Anthropic), fields: extra };
    Ok(req)
}

/// System content may only be text.
fn system_text(blocks: Vec<Block>, path: &str) -> Result<Vec<TextBlock>, InvalidBody> {
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, block)| match block {
            Block::Text(text) => Ok(text),
            _ => Err(InvalidBody::new(
                Some(format!("{path}[{i}]")),
                format!("{path}[{i}]: system content may only hold text blocks"),
            )),
        })
        .collect()
}

fn tool(raw: &RawValue, path: &str) -> Result<Tool, InvalidBody> {
    let head: WToolHead = parse_at(raw.get(), path)?;
    if head.kind.as_deref().is_none_or(|kind| kind == "custom") {
        let t: WCustomTool = parse_at(raw.get(), path)?;
        return Ok(Tool {
            name: t.name,
            description: t.description,
            kind: ToolKind::Function { parameters: t.input_schema, strict: t.strict },
            cache_control: t.cache_control,
        });
    }
    let value: Value = parse_at(raw.get(), path)?;
    Ok(Tool {
        name: value["name"].as_str().unwrap_or_default().to_owned(),
        description: None,
        cache_control: value.get("cache_control").filter(|v| !v.is_null()).cloned(),
        kind: ToolKind::Hosted { dialect: Dialect::Anthropic, value },
    })
}

/// `{"type":"json_schema","schema":{...}}`, the one structured-output format Anthropic has.
fn json_schema_format(format: &Value) -> Option<ResponseFormat> {
    if format["type"] != "json_schema" {
        return None;
    }
    let schema = format.get("schema")?.clone();
    Some(ResponseFormat::JsonSchema { name: None, schema, strict: None })
}

#[derive(Serialize)]
struct OutRequest<'a> {
    model: &'a str,
    max_tokens: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Out<'a>>,
    messages: Vec<OutMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<OutTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<OutToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<OutThinking<'a>>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    output_config: Map<String, Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u64>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Serialize)]
struct OutMessage<'a> {
    role: &'static str,
    content: Vec<Out<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutTool<'a> {
    Custom {
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<&'a str>,
        input_schema: Cow<'a, Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a Value>,
    },
    Hosted(Cow<'a, Value>),
}

#[derive(Serialize)]
struct OutToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Serialize)]
struct OutThinking<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    budget_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

pub(super) fn encode(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    let mut req = req.clone();
    repair::for_anthropic(&mut req, target, notes);
    let same_dialect = req.extra.dialect == Some(Dialect::Anthropic);

    // Repair has set and capped it; the default only guards a caller that skipped repair.
    let max_tokens = req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    let mut extra_fields = if same_dialect { req.extra.fields.clone() } else { Map::new() };
    if !same_dialect && !req.extra.fields.is_empty() {
        let keys: Vec<&str> = req.extra.fields.keys().map(String::as_str).collect();
        let dialect = req.extra.dialect.map_or("another dialect", Dialect::as_str);
        note(notes, format!("{dialect} fields dropped: {}", keys.join(", ")));
    }
    for field in BETA_FIELDS {
        if extra_fields.remove(*field).is_some() {
            note(notes, format!("`{field}` dropped: it needs an anthropic-beta header"));
        }
    }
    let mut output_config = match extra_fields.remove("output_config") {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let mut metadata = match extra_fields.remove("metadata") {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    extra_fields.retain(|key, _| !KNOWN.contains(&key.as_str()));
    if let Some(user) = &req.user {
        metadata.insert("user_id".into(), Value::String(user.clone()));
    }

    let thinking = thinking(&req, &mut output_config, same_dialect, notes);
    let (temperature, top_p, top_k) = sampling(&req, target, notes);
    if let Some(format) = &req.response_format {
        match format {
            ResponseFormat::JsonSchema { schema, .. } => {
                let mut map = Map::new();
                map.insert("type".into(), Value::String("json_schema".into()));
                map.insert("schema".into(), schema.clone());
                output_config.insert("format".into(), Value::Object(map));
            }
            ResponseFormat::Json => {
                note(notes, "JSON mode dropped: Anthropic only takes a JSON schema");
            }
        }
    }

    let out = OutRequest {
        model: &target.model,
        max_tokens,
        system: system(&req.system, notes),
        messages: messages(&req.messages, notes),
        tools: tools(&req.tools, same_dialect, notes),
        tool_choice: tool_choice(&req, notes),
        thinking,
        output_config,
        stop_sequences: &req.stop_sequences,
        temperature,
        top_p,
        top_k,
        metadata,
        stream: req.stream,
        extra: extra_fields,
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

fn system<'a>(parts: &'a [TextBlock], notes: &mut Vec<Note>) -> Vec<Out<'a>> {
    parts
        .iter()
        .filter(|part| {
            let keep = !part.text.trim().is_empty();
            if !keep {
                note(notes, "empty system text dropped: Anthropic rejects it");
            }
            keep
        })
        .map(|part| {
            Out::Block(OutBlock::Text {
                text: Cow::Borrowed(&part.text),
                citations: None,
                cache_control: part.cache_control.as_ref(),
            })
        })
        .collect()
}

fn messages<'a>(messages: &'a [Message], notes: &mut Vec<Note>) -> Vec<OutMessage<'a>> {
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let content: Vec<Out<'a>> = message
            .content
            .iter()
            .filter_map(|block| encode_block(block, Place::Request, notes))
            .collect();
        if content.is_empty() {
            note(notes, "a message with no content Anthropic can carry was removed");
            continue;
        }
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        out.push(OutMessage { role, content });
    }
    out
}

fn tools<'a>(tools: &'a [Tool], same_dialect: bool, notes: &mut Vec<Note>) -> Vec<OutTool<'a>> {
    let mut out = Vec::with_capacity(tools.len());
    for tool in tools {
        match &tool.kind {
            ToolKind::Function { parameters, strict } => {
                // Strict schemas are only known to work on the models the client chose itself.
                let strict = if same_dialect {
                    *strict
                } else {
                    if strict.is_some() {
                        note(notes, "tool `strict` dropped");
                    }
                    None
                };
                out.push(OutTool::Custom {
                    name: &tool.name,
                    description: tool.description.as_deref(),
                    input_schema: Cow::Borrowed(parameters),
                    strict,
                    cache_control: tool.cache_control.as_ref(),
                });
            }
            ToolKind::Custom { format } => {
                if format.is_some() {
                    note(notes, format!("grammar of freeform tool `{}` dropped", tool.name));
                }
                out.push(OutTool::Custom {
                    name: &tool.name,
                    description: tool.description.as_deref(),
                    input_schema: Cow::Owned(custom_schema()),
                    strict: None,
                    cache_control: tool.cache_control.as_ref(),
                });
            }
            ToolKind::Hosted { dialect: Dialect::Anthropic, value } => {
                let mut value = Cow::Borrowed(value);
                if let (Some(cache), None) = (&tool.cache_control, value.get("cache_control"))
                    && let Value::Object(map) = value.to_mut()
                {
                    map.insert("cache_control".into(), cache.clone());
                }
                out.push(OutTool::Hosted(value));
            }
            ToolKind::Hosted { dialect, .. } => {
                note(notes, format!("{dialect} hosted tool `{}` dropped", tool.name));
            }
        }
    }
    out
}

/// A freeform tool as a function: one required string property holding the raw text.
fn custom_schema() -> Value {
    let mut string = Map::new();
    string.insert("type".into(), Value::String("string".into()));
    let mut properties = Map::new();
    properties.insert(CUSTOM_INPUT_FIELD.into(), Value::Object(string));
    let mut schema = Map::new();
    schema.insert("type".into(), Value::String("object".into()));
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("required".into(), Value::Array(vec![Value::String(CUSTOM_INPUT_FIELD.into())]));
    Value::Object(schema)
}

fn tool_choice<'a>(req: &'a Request, notes: &mut Vec<Note>) -> Option<OutToolChoice<'a>> {
    if req.tools.is_empty() {
        if matches!(req.tool_choice, Some(ToolChoice::Any | ToolChoice::Tool(_))) {
            note(notes, "tool_choice dropped: the request has no tools");
        }
        return None;
    }
    let disable = req.parallel_tool_calls.map(|parallel| !parallel);
    let (kind, name) = match &req.tool_choice {
        Some(ToolChoice::Any) => ("any", None),
        Some(ToolChoice::Tool(name)) => ("tool", Some(name.as_str())),
        // `none` takes no other field.
        Some(ToolChoice::None) => ("none", None),
        Some(ToolChoice::Auto) => ("auto", None),
        None if disable.is_some() => ("auto", None),
        None => return None,
    };
    let disable = if kind == "none" { None } else { disable };
    Some(OutToolChoice { kind, name, disable_parallel_tool_use: disable })
}

/// The thinking config (its budget already fitted by repair), with effort written where the
/// model takes it.
fn thinking<'a>(
    req: &'a Request,
    output_config: &mut Map<String, Value>,
    same_dialect: bool,
    notes: &mut Vec<Note>,
) -> Option<OutThinking<'a>> {
    let thinking = req.thinking.as_ref()?;
    let display = thinking.display.as_deref();
    let out = match thinking.mode {
        // Repair keeps the budget within Anthropic's rules (at least 1,024, below max_tokens).
        ThinkingMode::Enabled { budget_tokens } => {
            OutThinking { kind: "enabled", budget_tokens: Some(budget_tokens), display }
        }
        ThinkingMode::Adaptive => OutThinking { kind: "adaptive", budget_tokens: None, display },
        ThinkingMode::Disabled => {
            OutThinking { kind: "disabled", budget_tokens: None, display: None }
        }
    };
    if let Some(effort) = &thinking.effort {
        // Models with adaptive thinking take `effort`; older ones reject it. An Anthropic client
        // chose its model, so its effort goes through as sent.
        if same_dialect || matches!(thinking.mode, ThinkingMode::Adaptive) {
            output_config.insert("effort".into(), Value::String(effort.clone()));
        } else {
            note(notes, format!("effort {effort:?} dropped: only adaptive thinking takes it"));
        }
    }
    Some(out)
}

/// Sampling for Anthropic. Repair has already clamped temperature and dropped what thinking
/// forbids; a model that takes no sampling parameters at all loses them here.
fn sampling(
    req: &Request,
    target: &Target,
    notes: &mut Vec<Note>,
) -> (Option<f64>, Option<f64>, Option<u64>) {
    if target.quirks.no_sampling && (req.temperature.is_some() || req.top_p.is_some()) {
        note(notes, "temperature and top_p dropped: the model rejects them");
        return (None, None, req.top_k);
    }
    (req.temperature, req.top_p, req.top_k)
}

//! A Responses request body decoded into the canonical request: `instructions` and
//! system/developer messages hoisted into system parts, items grouped into alternating turns,
//! calls and outputs paired by `call_id`, Tollgate-sealed reasoning unpacked, everything else the
//! canonical model has no field for kept in `extra` or as opaque blocks.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::DecodeOptions;
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Document, Extra, Image, Message, Opaque, Request, ResponseFormat,
    Role, Source, TextBlock, Thinking, ThinkingMode, Tool, ToolChoice, ToolKind, ToolResult,
    ToolUse,
};
use crate::responses::seal::Sealer;
use crate::responses::wire::{
    self, CallOutputItem, CustomTool, CustomToolCallItem, FilePart, FunctionCallItem, FunctionTool,
    ImagePart, MessageItem, NamespaceTool, ReasoningParam, StrOrList, TextPart, flat_name, parse,
};
use crate::{Dialect, InvalidBody};

/// Top-level fields with a canonical meaning; every other field goes to `extra`.
const KNOWN: [&str; 13] = [
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "reasoning",
    "text",
    "user",
    "stream",
];

pub(super) fn decode(body: &[u8], opts: &DecodeOptions) -> Result<Request, InvalidBody> {
    let text = std::str::from_utf8(body)
        .map_err(|_| InvalidBody::new(None, "request body is not valid UTF-8"))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let fields: BTreeMap<String, Box<RawValue>> =
        serde_path_to_error::deserialize(&mut de).map_err(InvalidBody::from_serde)?;
    let get = |k: &str| fields.get(k).filter(|raw| raw.get().trim() != "null");

    let mut req = Request {
        extra: Extra { dialect: Some(Dialect::OpenAiResponses), fields: Map::new() },
        ..Request::default()
    };
    if let Some(raw) = get("model") {
        req.model = parse(raw, "model")?;
    }
    if let Some(raw) = get("instructions") {
        let instructions: String = parse(raw, "instructions")?;
        if !instructions.is_empty() {
            req.system.push(TextBlock::new(instructions));
        }
    }
    if let Some(raw) = get("input") {
        Items::new(opts.sealer.as_ref()).decode(raw, &mut req)?;
    }
    if let Some(raw) = get("tools") {
        req.tools = tools(raw)?;
    }
    if let Some(raw) = get("tool_choice") {
        match tool_choice(raw)? {
            Some(choice) => req.tool_choice = Some(choice),
            None => {
                req.extra.fields.insert("tool_choice".into(), wire::value(raw));
            }
        }
    }
    if let Some(raw) = get("parallel_tool_calls") {
        req.parallel_tool_calls = Some(parse(raw, "parallel_tool_calls")?);
    }
    if let Some(raw) = get("max_output_tokens") {
        req.max_tokens = Some(parse(raw, "max_output_tokens")?);
    }
    if let Some(raw) = get("temperature") {
        req.temperature = Some(parse(raw, "temperature")?);
    }
    if let Some(raw) = get("top_p") {
        req.top_p = Some(parse(raw, "top_p")?);
    }
    if let Some(raw) = get("stream") {
        req.stream = parse(raw, "stream")?;
    }
    if let Some(raw) = get("user") {
        req.user = Some(parse(raw, "user")?);
    }
    if let Some(raw) = get("reasoning") {
        reasoning(raw, &mut req)?;
    }
    if let Some(raw) = get("text") {
        text_param(raw, &mut req)?;
    }
    for (key, raw) in &fields {
        if !KNOWN.contains(&key.as_str()) {
            req.extra.fields.insert(key.clone(), wire::value(raw));
        }
    }
    if req.user.is_none()
        && let Some(Value::String(id)) = req.extra.fields.get("safety_identifier")
    {
        req.user = Some(id.clone());
    }
    Ok(req)
}

/// `reasoning: {effort, summary}`: the effort becomes canonical thinking; the rest of the object
/// (summary included) stays in `extra` for a Responses target. A summary asks for visible
/// thinking, Anthropic's `display: "summarized"`.
fn reasoning(raw: &RawValue, req: &mut Request) -> Result<(), InvalidBody> {
    let param: ReasoningParam = parse(raw, "reasoning")?;
    let mode = match param.effort.as_deref() {
        Some("none") => ThinkingMode::Disabled,
        _ => ThinkingMode::Adaptive,
    };
    let display = match param.summary.as_deref() {
        Some("auto" | "concise" | "detailed") => Some("summarized".to_owned()),
        _ => None,
    };
    if param.effort.is_some() || display.is_some() {
        req.thinking = Some(Thinking { mode, effort: param.effort, display });
    }
    if let Value::Object(mut rest) = wire::value(raw) {
        rest.remove("effort");
        if !rest.is_empty() {
            req.extra.fields.insert("reasoning".into(), Value::Object(rest));
        }
    }
    Ok(())
}

/// `text: {format, verbosity}`: the format becomes `response_format`; the rest stays in `extra`.
fn text_param(raw: &RawValue, req: &mut Request) -> Result<(), InvalidBody> {
    let Value::Object(mut text) = wire::value(raw) else {
        return Err(InvalidBody::new(
            Some("text".into()),
            "Invalid type for 'text': expected an object.",
        ));
    };
    if let Some(format) = text.remove("format") {
        req.response_format = match format.get("type").and_then(Value::as_str) {
            Some("json_object") => Some(ResponseFormat::Json),
            Some("json_schema") => Some(ResponseFormat::JsonSchema {
                name: format.get("name").and_then(Value::as_str).map(str::to_owned),
                schema: format.get("schema").cloned().unwrap_or(Value::Null),
                strict: format.get("strict").and_then(Value::as_bool),
            }),
            _ => None,
        };
    }
    if !text.is_empty() {
        req.extra.fields.insert("text".into(), Value::Object(text));
    }
    Ok(())
}

/// `tool_choice`; `None` for choices with no canonical form (`allowed_tools`, hosted tools),
/// which the caller keeps in `extra`.
fn tool_choice(raw: &RawValue) -> Result<Option<ToolChoice>, InvalidBody> {
    Ok(match wire::value(raw) {
        Value::String(s) => match s.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "required" => Some(ToolChoice::Any),
            "none" => Some(ToolChoice::None),
            other => {
                return Err(InvalidBody::new(
                    Some("tool_choice".into()),
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'none', 'auto', and \
                         'required'."
                    ),
                ));
            }
        },
        Value::Object(o) => match (o.get("type").and_then(Value::as_str), o.get("name")) {
            (Some("function" | "custom"), Some(Value::String(name))) => {
                Some(ToolChoice::Tool(flat_name(o.get("namespace").and_then(Value::as_str), name)))
            }
            _ => None,
        },
        _ => None,
    })
}

/// Tool definitions. Function and custom tools become canonical tools; a `namespace` tool's
/// functions are flattened to `<namespace>__<name>` (see [`super::ClientTools`] for the way
/// back); every other type (`web_search`, `tool_search`, `file_search`, `mcp`, ...) is kept as a
/// hosted tool for Responses targets only.
fn tools(raw: &RawValue) -> Result<Vec<Tool>, InvalidBody> {
    let list: Vec<Box<RawValue>> = parse(raw, "tools")?;
    let mut out = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        tool(raw, &format!("tools[{i}]"), None, &mut out)?;
    }
    Ok(out)
}

fn tool(
    raw: &RawValue,
    path: &str,
    namespace: Option<&str>,
    out: &mut Vec<Tool>,
) -> Result<(), InvalidBody> {
    match wire::head(raw).kind.as_deref() {
        Some("function") => {
            let f: FunctionTool = parse(raw, path)?;
            out.push(Tool {
                name: flat_name(namespace, &f.name),
                description: f.description,
                kind: ToolKind::Function {
                    parameters: f.parameters.unwrap_or_else(empty_schema),
                    strict: f.strict,
                },
                cache_control: None,
            });
        }
        Some("custom") => {
            let c: CustomTool = parse(raw, path)?;
            out.push(Tool {
                name: flat_name(namespace, &c.name),
                description: c.description,
                kind: ToolKind::Custom { format: c.format },
                cache_control: None,
            });
        }
        Some("namespace") if namespace.is_none() => {
            let ns: NamespaceTool = parse(raw, path)?;
            for (j, inner) in ns.tools.iter().enumerate() {
                let inner_path = format!("{path}.tools[{j}]");
                match wire::head(inner).kind.as_deref() {
                    Some("function" | "custom") => {
                        tool(inner, &inner_path, Some(&ns.name), out)?;
                    }
                    _ => out.push(hosted(inner)),
                }
            }
        }
        _ => out.push(hosted(raw)),
    }
    Ok(())
}

fn hosted(raw: &RawValue) -> Tool {
    let value = wire::value(raw);
    let name = value
        .get("name")
        .or_else(|| value.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("hosted")
        .to_owned();
    Tool {
        name,
        description: None,
        kind: ToolKind::Hosted { dialect: Dialect::OpenAiResponses, value },
        cache_control: None,
    }
}

fn empty_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// Folds `input` items into alternating canonical messages.
struct Items<'a> {
    sealer: Option<&'a Sealer>,
}

impl<'a> Items<'a> {
    fn new(sealer: Option<&'a Sealer>) -> Self {
        Items { sealer }
    }

    fn decode(&self, raw: &RawValue, req: &mut Request) -> Result<(), InvalidBody> {
        let items = match wire::str_or_list(raw, "input")? {
            StrOrList::Str(text) => {
                push(&mut req.messages, Role::User, vec![Block::Text(TextBlock::new(text))]);
                return Ok(());
            }
            StrOrList::List(items) => items,
            StrOrList::Null => return Ok(()),
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("input[{i}]");
            let head = wire::head(item);
            match head.kind.as_deref() {
                None | Some("message") if head.role.is_some() => {
                    self.message(item, &path, req)?;
                }
                None | Some("message") => {
                    return Err(InvalidBody::new(
                        Some(format!("{path}.role")),
                        format!("Missing required parameter: '{path}.role'."),
                    ));
                }
                Some("function_call") => {
                    let call: FunctionCallItem = parse(item, &path)?;
                    let input = arguments(&call.arguments);
                    let name = flat_name(call.namespace.as_deref(), &call.name);
                    push(
                        &mut req.messages,
                        Role::Assistant,
                        vec![tool_use(call.call_id, name, input)],
                    );
                }
                Some("custom_tool_call") => {
                    let call: CustomToolCallItem = parse(item, &path)?;
                    let mut input = Map::new();
                    input.insert(CUSTOM_INPUT_FIELD.into(), Value::String(call.input));
                    let name = flat_name(call.namespace.as_deref(), &call.name);
                    push(
                        &mut req.messages,
                        Role::Assistant,
                        vec![tool_use(call.call_id, name, Value::Object(input))],
                    );
                }
                Some("function_call_output" | "custom_tool_call_output") => {
                    let output: CallOutputItem = parse(item, &path)?;
                    let content = self.output(&output.output, &format!("{path}.output"))?;
                    let result = Block::ToolResult(ToolResult {
                        tool_use_id: output.call_id,
                        content,
                        is_error: false,
                        cache_control: None,
                    });
                    push(&mut req.messages, Role::User, vec![result]);
                }
                Some("reasoning") => {
                    let blocks = self.reasoning(item);
                    push(&mut req.messages, Role::Assistant, blocks);
                }
                Some(kind) => {
                    // Items only a Responses provider understands (`web_search_call`,
                    // `tool_search_call`/`_output`, `image_generation_call`, `compaction`,
                    // `item_reference`, ...). Outputs sit with the user's side of the turn,
                    // everything else with the model's, so order survives the grouping.
                    let role = if kind.ends_with("_output") { Role::User } else { Role::Assistant };
                    let opaque = Block::Opaque(Opaque {
                        dialect: Dialect::OpenAiResponses,
                        value: wire::value(item),
                    });
                    push(&mut req.messages, role, vec![opaque]);
                }
            }
        }
        Ok(())
    }

    fn message(&self, item: &RawValue, path: &str, req: &mut Request) -> Result<(), InvalidBody> {
        let message: MessageItem = parse(item, path)?;
        let role = match message.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" | "developer" => {
                for block in self.content(&message.content, &format!("{path}.content"))? {
                    if let Block::Text(text) = block {
                        req.system.push(text);
                    }
                }
                return Ok(());
            }
            other => {
                return Err(InvalidBody::new(
                    Some(format!("{path}.role")),
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'assistant', 'system', \
                         'developer', and 'user'."
                    ),
                ));
            }
        };
        let content = self.content(&message.content, &format!("{path}.content"))?;
        push(&mut req.messages, role, content);
        Ok(())
    }

    /// Message content: a string, or parts.
    fn content(&self, raw: &RawValue, path: &str) -> Result<Vec<Block>, InvalidBody> {
        match wire::str_or_list(raw, path)? {
            StrOrList::Str(text) => Ok(vec![Block::Text(TextBlock::new(text))]),
            StrOrList::Null => Ok(Vec::new()),
            StrOrList::List(parts) => {
                let mut out = Vec::with_capacity(parts.len());
                for (j, part) in parts.iter().enumerate() {
                    out.push(self.part(part, &format!("{path}[{j}]"))?);
                }
                Ok(out)
            }
        }
    }

    fn part(&self, raw: &RawValue, path: &str) -> Result<Block, InvalidBody> {
        Ok(match wire::head(raw).kind.as_deref() {
            Some("input_text" | "output_text" | "text" | "summary_text" | "reasoning_text") => {
                let part: TextPart = parse(raw, path)?;
                Block::Text(TextBlock::new(part.text.unwrap_or_default()))
            }
            Some("refusal") => {
                let part: TextPart = parse(raw, path)?;
                Block::Text(TextBlock::new(part.refusal.unwrap_or_default()))
            }
            Some("input_image") => {
                let part: ImagePart = parse(raw, path)?;
                let source = match (part.image_url, part.file_id) {
                    (Some(url), _) => Source::from_url(&url),
                    (None, Some(id)) => Source::File(id),
                    (None, None) => {
                        return Err(InvalidBody::new(
                            Some(path.to_owned()),
                            format!("{path}: an input_image needs an image_url or a file_id"),
                        ));
                    }
                };
                Block::Image(Image { source, detail: part.detail, cache_control: None })
            }
            Some("input_file") => {
                let part: FilePart = parse(raw, path)?;
                let source = match (part.file_data, part.file_url, part.file_id) {
                    (Some(data), _, _) => file_data_source(&data),
                    (None, Some(url), _) => Source::Url(url),
                    (None, None, Some(id)) => Source::File(id),
                    _ => {
                        return Err(InvalidBody::new(
                            Some(path.to_owned()),
                            format!("{path}: an input_file needs file_data, file_url or file_id"),
                        ));
                    }
                };
                Block::Document(Document {
                    context: None,
                    citations: None,
                    source,
                    title: None,
                    filename: part.filename,
                    cache_control: None,
                })
            }
            _ => {
                Block::Opaque(Opaque { dialect: Dialect::OpenAiResponses, value: wire::value(raw) })
            }
        })
    }

    /// A call output: a string, or `input_text`/`input_image`/`input_file` parts.
    fn output(&self, raw: &RawValue, path: &str) -> Result<Vec<Block>, InvalidBody> {
        match wire::str_or_list(raw, path)? {
            StrOrList::Str(text) if text.is_empty() => Ok(Vec::new()),
            _ => self.content(raw, path),
        }
    }

    /// A reasoning item: the blocks Tollgate sealed into it, or the item itself, which only an
    /// OpenAI Responses provider can take back.
    fn reasoning(&self, item: &RawValue) -> Vec<Block> {
        let value = wire::value(item);
        if let (Some(sealer), Some(blob)) =
            (self.sealer, value.get("encrypted_content").and_then(Value::as_str))
            && let Some(blocks) = sealer.open(blob)
        {
            return blocks;
        }
        vec![Block::Opaque(Opaque { dialect: Dialect::OpenAiResponses, value })]
    }
}

/// `file_data` is a data URI (`data:application/pdf;base64,...`) or, as some clients send it,
/// bare base64 (taken as a PDF, the only type the API accepts there).
fn file_data_source(data: &str) -> Source {
    match Source::from_url(data) {
        Source::Url(bare) => {
            Source::Base64 { media_type: "application/pdf".to_owned(), data: bare }
        }
        source => source,
    }
}

fn tool_use(id: String, name: String, input: Value) -> Block {
    Block::ToolUse(ToolUse { id, name, input, cache_control: None })
}

/// Function-call `arguments` (a JSON string) as a canonical input object: `""` is `{}`, an
/// object is taken as is, anything else (a weak model's broken JSON, a bare value) is wrapped
/// so the input stays an object and nothing is lost.
pub(crate) fn arguments(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(o)) => Value::Object(o),
        Ok(other) => serde_json::json!({ "value": other }),
        Err(_) => serde_json::json!({ "arguments": arguments }),
    }
}

/// Appends blocks to the last message when it has the same role (consecutive items of one side
/// are one turn: Codex sends all calls, then all outputs), else starts a message.
fn push(messages: &mut Vec<Message>, role: Role, blocks: Vec<Block>) {
    if blocks.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(Message { role, content: blocks }),
    }
}

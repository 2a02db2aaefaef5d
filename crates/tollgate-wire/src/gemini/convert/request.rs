//! `generateContent` request bodies <-> canonical requests.
//!
//! Encoding follows what the API enforces: roles `user`/`model` only, same-role turns merged,
//! no empty `parts`, a `functionResponse` named after its call (Gemini matches results to calls by
//! name and order, not by id), schemas in Gemini's dialect, and on Gemini 3 a `thoughtSignature`
//! on the first function call of every step of the current turn.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{blocks_of_parts, media_part, model_parts, parse};
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Extra, Message, Note, Request, ResponseFormat, Role, Target,
    TextBlock, Thinking, ThinkingBlock, ThinkingMode, Tool, ToolChoice, ToolKind, ToolResult,
    repair,
};
use crate::gemini::schema;
use crate::gemini::wire::{
    Content, FunctionCallingConfig, FunctionDeclaration, FunctionResponse, GenerateContentRequest,
    GenerationConfig, Part, ThinkingConfig, Tool as WireTool, ToolConfig,
};
use crate::{Dialect, InvalidBody};

/// The documented placeholder for a function call Gemini did not produce itself (history from
/// another model): Gemini 3 then skips signature validation for that call
/// (ai.google.dev/gemini-api/docs/thought-signatures, FAQ).
pub(crate) const FOREIGN_CALL_SIGNATURE: &str = "skip_thought_signature_validator";

/// `generationConfig.stopSequences` takes at most five.
const MAX_STOP_SEQUENCES: usize = 5;

pub(super) fn encode(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    let mut messages = req.messages.clone();
    repair::pair_tools(&mut messages, notes);

    let names = call_names(&messages);
    let keep = |t: &ThinkingBlock| {
        t.origin
            .as_ref()
            .is_some_and(|o| o.provider == target.provider && o.family == target.family())
    };
    let mut contents: Vec<Content> = Vec::new();
    for message in &messages {
        let (role, parts) = match message.role {
            Role::User => ("user", user_parts(&message.content, &names, notes)),
            Role::Assistant => ("model", model_parts(&message.content, &keep, notes)),
        };
        match contents.last_mut() {
            Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
            _ => contents.push(Content { parts, role: Some(role.to_owned()) }),
        }
    }
    let before = contents.len();
    contents.retain(|c| !c.parts.is_empty());
    if contents.len() != before {
        notes.push(Note::new("turns left without content for Gemini were dropped"));
    }
    // Dropping an empty turn can leave two turns of one role side by side.
    let mut merged: Vec<Content> = Vec::with_capacity(contents.len());
    for content in contents {
        match merged.last_mut() {
            Some(last) if last.role == content.role => last.parts.extend(content.parts),
            _ => merged.push(content),
        }
    }
    let mut contents = merged;
    if enforces_signatures(&target.model) {
        sign_current_turn(&mut contents, notes);
    }

    let system: Vec<Part> = repair::without_billing_header(&req.system, notes)
        .iter()
        .filter(|t| !t.text.trim().is_empty())
        .map(|t| Part::text(t.text.clone()))
        .collect();
    let mut wire = GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content { parts: system, role: None }),
        tools: tools(&req.tools, notes),
        tool_config: None,
        generation_config: None,
        extra: Map::new(),
    };
    if !wire.tools.is_empty() {
        wire.tool_config = tool_config(req.tool_choice.as_ref(), &req.tools);
    }
    if req.parallel_tool_calls == Some(false) {
        notes
            .push(Note::new("parallel_tool_calls: false has no Gemini equivalent and was dropped"));
    }
    if req.user.is_some() {
        notes.push(Note::new("the end-user id has no Gemini field and was dropped"));
    }
    let mut config = generation_config(req, target, notes);
    extra(&req.extra, &mut wire.extra, &mut config.other, notes);
    if config != GenerationConfig::default() {
        wire.generation_config = Some(config);
    }
    serde_json::to_vec(&wire).unwrap_or_default()
}

/// Tool-call id -> tool name, over the whole conversation: a `functionResponse` carries the name.
fn call_names(messages: &[Message]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for message in messages {
        for block in &message.content {
            if let Block::ToolUse(call) = block {
                names.insert(call.id.clone(), call.name.clone());
            }
        }
    }
    names
}

/// A user turn: function responses first (Gemini counts them against the calls), then the images
/// and documents of the results, then the rest in order.
fn user_parts(
    blocks: &[Block],
    names: &HashMap<String, String>,
    notes: &mut Vec<Note>,
) -> Vec<Part> {
    let mut results = Vec::new();
    let mut media = Vec::new();
    let mut rest = Vec::new();
    for block in blocks {
        match block {
            Block::ToolResult(result) => match names.get(&result.tool_use_id) {
                Some(name) => {
                    let (response, result_media) = function_response(result, name, notes);
                    results.push(response);
                    media.extend(result_media);
                }
                None => notes.push(Note::new(format!(
                    "tool result for {} dropped: no call with that id precedes it, and Gemini \
                     needs the function's name",
                    result.tool_use_id
                ))),
            },
            Block::Text(text) => {
                if !text.text.trim().is_empty() {
                    rest.push(Part::text(text.text.clone()));
                }
            }
            Block::Image(image) => rest.extend(media_part(&image.source, "image", notes)),
            Block::Document(doc) => rest.extend(media_part(&doc.source, "document", notes)),
            Block::Thinking(_) | Block::RedactedThinking(_) => {
                notes.push(Note::new("a thinking block in a user turn was dropped"));
            }
            Block::ToolUse(call) => notes
                .push(Note::new(format!("tool call {} inside a user turn was dropped", call.id))),
            Block::Opaque(opaque) => notes.push(Note::new(format!(
                "a {} block in a user turn has no Gemini equivalent and was dropped",
                opaque.dialect
            ))),
        }
    }
    results.extend(media);
    results.extend(rest);
    results
}

/// `{"result": text}` or `{"error": text}`, plus the result's images and documents as parts.
fn function_response(result: &ToolResult, name: &str, notes: &mut Vec<Note>) -> (Part, Vec<Part>) {
    let mut texts = Vec::new();
    let mut media = Vec::new();
    for block in &result.content {
        match block {
            Block::Text(t) => texts.push(t.text.as_str()),
            Block::Image(image) => media.extend(media_part(&image.source, "image", notes)),
            Block::Document(doc) => media.extend(media_part(&doc.source, "document", notes)),
            _ => notes.push(Note::new("a non-text, non-media block in a tool result was dropped")),
        }
    }
    let key = if result.is_error { "error" } else { "result" };
    let response = json!({ key: texts.join("\n") });
    let part = Part {
        function_response: Some(FunctionResponse { id: None, name: name.to_owned(), response }),
        ..Part::default()
    };
    (part, media)
}

/// Whether the model rejects a current-turn function call replayed without its signature
/// (Gemini 3 and later; 2.x only degrades).
pub(crate) fn enforces_signatures(model: &str) -> bool {
    let base = model.rsplit('/').next().unwrap_or(model);
    let Some(version) = base.strip_prefix("gemini-") else { return false };
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    major.parse::<u32>().is_ok_and(|m| m >= 3)
}

/// Gemini's current turn starts after the last user content with standard content (text, not
/// only function responses); in it, the first function call of each model step must carry a
/// signature. Calls whose signature was dropped (another issuer) get the documented placeholder.
/// Only text counts as a turn start here: reading the turn as longer than Gemini does only signs
/// older calls, which Gemini does not check, while reading it as shorter would leave a checked
/// call unsigned.
fn sign_current_turn(contents: &mut [Content], notes: &mut Vec<Note>) {
    let start = contents
        .iter()
        .rposition(|c| {
            c.role.as_deref() == Some("user")
                && c.parts.iter().any(|p| p.text.as_deref().is_some_and(|t| !t.trim().is_empty()))
        })
        .map_or(0, |i| i + 1);
    let mut signed = 0;
    for content in contents[start..].iter_mut().filter(|c| c.role.as_deref() == Some("model")) {
        if let Some(first) = content.parts.iter_mut().find(|p| p.function_call.is_some())
            && first.thought_signature.is_none()
        {
            first.thought_signature = Some(FOREIGN_CALL_SIGNATURE.to_owned());
            signed += 1;
        }
    }
    if signed > 0 {
        notes.push(Note::new(format!(
            "{signed} function call(s) of the current turn had no signature from this model; \
             sent with Gemini's documented placeholder signature"
        )));
    }
}

fn tools(tools: &[Tool], notes: &mut Vec<Note>) -> Vec<WireTool> {
    let mut declarations = Vec::new();
    let mut built_in = Vec::new();
    for tool in tools {
        let parameters = match &tool.kind {
            ToolKind::Function { parameters, .. } => {
                let what = format!("tool {:?}", tool.name);
                let cleaned = schema::clean(parameters, &what, notes);
                schema::has_properties(&cleaned).then_some(cleaned)
            }
            ToolKind::Custom { .. } => Some(json!({
                "type": "object",
                "properties": { CUSTOM_INPUT_FIELD: {"type": "string"} },
                "required": [CUSTOM_INPUT_FIELD],
            })),
            // Gemini's own built-ins (`googleSearch`, `codeExecution`, ...) go back as they came.
            ToolKind::Hosted { dialect: Dialect::Gemini, value: Value::Object(value) } => {
                built_in.push(WireTool { function_declarations: Vec::new(), other: value.clone() });
                continue;
            }
            ToolKind::Hosted { dialect, .. } => {
                notes.push(Note::new(format!(
                    "{dialect} hosted tool {:?} has no Gemini equivalent and was dropped",
                    tool.name
                )));
                continue;
            }
        };
        declarations.push(FunctionDeclaration {
            name: tool.name.clone(),
            description: tool.description.clone(),
            parameters,
            parameters_json_schema: None,
        });
    }
    if !declarations.is_empty() {
        built_in.insert(0, WireTool { function_declarations: declarations, other: Map::new() });
    }
    built_in
}

fn tool_config(choice: Option<&ToolChoice>, tools: &[Tool]) -> Option<ToolConfig> {
    let (mode, allowed) = match choice? {
        ToolChoice::Auto => ("AUTO", Vec::new()),
        ToolChoice::Any => ("ANY", Vec::new()),
        ToolChoice::None => ("NONE", Vec::new()),
        ToolChoice::Tool(name) if tools.iter().any(|t| &t.name == name) => {
            ("ANY", vec![name.clone()])
        }
        ToolChoice::Tool(_) => ("ANY", Vec::new()),
    };
    Some(ToolConfig {
        function_calling_config: Some(FunctionCallingConfig {
            mode: Some(mode.to_owned()),
            allowed_function_names: allowed,
        }),
    })
}

fn generation_config(req: &Request, target: &Target, notes: &mut Vec<Note>) -> GenerationConfig {
    let quirks = &target.quirks;
    let max_output_tokens = match (req.max_tokens, quirks.max_output_tokens) {
        (Some(asked), Some(cap)) if asked > cap => {
            notes.push(Note::new(format!("max_tokens {asked} capped at the model's {cap}")));
            Some(cap)
        }
        (asked, _) => asked,
    };
    let (temperature, top_p) =
        if quirks.no_sampling && (req.temperature.is_some() || req.top_p.is_some()) {
            notes.push(Note::new("temperature and top_p dropped: the model rejects them"));
            (None, None)
        } else {
            (req.temperature, req.top_p)
        };
    let (response_mime_type, response_schema) = match &req.response_format {
        None => (None, None),
        Some(ResponseFormat::Json) => (Some("application/json".to_owned()), None),
        Some(ResponseFormat::JsonSchema { schema: s, .. }) => {
            (Some("application/json".to_owned()), Some(schema::clean(s, "response schema", notes)))
        }
    };
    let mut stop_sequences = req.stop_sequences.clone();
    if stop_sequences.len() > MAX_STOP_SEQUENCES {
        notes.push(Note::new(format!(
            "{} stop sequences cut to the {MAX_STOP_SEQUENCES} Gemini accepts",
            stop_sequences.len()
        )));
        stop_sequences.truncate(MAX_STOP_SEQUENCES);
    }
    GenerationConfig {
        max_output_tokens,
        temperature,
        top_p,
        top_k: req.top_k,
        stop_sequences,
        response_mime_type,
        response_schema,
        thinking_config: req
            .thinking
            .as_ref()
            .and_then(|t| thinking_config(t, &target.model, notes)),
        other: Map::new(),
    }
}

/// Canonical thinking -> `thinkingConfig`. Gemini 3 takes a `thinkingLevel` (a budget still works
/// there, but not both); 2.x takes a `thinkingBudget` (`-1` dynamic, `0` off where allowed).
/// Thoughts are always asked for, so they can be streamed as thinking.
fn thinking_config(
    thinking: &Thinking,
    model: &str,
    notes: &mut Vec<Note>,
) -> Option<ThinkingConfig> {
    let gemini3 = enforces_signatures(model);
    let pro = model.contains("pro");
    let level = |effort: &str| -> String {
        match effort {
            "none" | "minimal" if pro => "low",
            "none" | "minimal" => "minimal",
            "low" => "low",
            "medium" => "medium",
            _ => "high",
        }
        .to_owned()
    };
    let with_thoughts = |budget: Option<i64>, level: Option<String>| ThinkingConfig {
        thinking_budget: budget,
        thinking_level: level,
        include_thoughts: Some(true),
    };
    match (&thinking.mode, thinking.effort.as_deref()) {
        (ThinkingMode::Disabled, _) if gemini3 => {
            notes.push(Note::new(
                "thinking cannot be turned off on Gemini 3; the lowest level was asked for",
            ));
            Some(ThinkingConfig {
                thinking_level: Some(level("minimal")),
                ..ThinkingConfig::default()
            })
        }
        (ThinkingMode::Disabled, _) if pro => {
            notes.push(Note::new(
                "thinking cannot be turned off on this Gemini Pro model; left at its default",
            ));
            None
        }
        (ThinkingMode::Disabled, _) => {
            Some(ThinkingConfig { thinking_budget: Some(0), ..ThinkingConfig::default() })
        }
        (_, Some(effort)) if gemini3 => Some(with_thoughts(None, Some(level(effort)))),
        (ThinkingMode::Enabled { budget_tokens }, _) => {
            Some(with_thoughts(Some(i64::try_from(*budget_tokens).unwrap_or(i64::MAX)), None))
        }
        (ThinkingMode::Adaptive, Some(effort)) => {
            let budget = match effort {
                "none" | "minimal" | "low" => 1024,
                "medium" => 8192,
                _ => 24576,
            };
            Some(with_thoughts(Some(budget), None))
        }
        (ThinkingMode::Adaptive, None) => Some(with_thoughts(None, None)),
    }
}

/// Fields the source dialect kept: written back only for a Gemini source.
fn extra(
    extra: &Extra,
    top: &mut Map<String, Value>,
    config: &mut Map<String, Value>,
    notes: &mut Vec<Note>,
) {
    if extra.fields.is_empty() {
        return;
    }
    if extra.dialect != Some(Dialect::Gemini) {
        let names: Vec<&str> = extra.fields.keys().map(String::as_str).collect();
        notes.push(Note::new(format!(
            "request fields with no Gemini equivalent were dropped: {}",
            names.join(", ")
        )));
        return;
    }
    for (key, value) in &extra.fields {
        match (key.as_str(), value) {
            ("generationConfig", Value::Object(more)) => {
                config.extend(more.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            _ => {
                top.insert(key.clone(), value.clone());
            }
        }
    }
}

pub(super) fn decode(body: &[u8]) -> Result<Request, InvalidBody> {
    let wire: GenerateContentRequest = parse(body)?;
    let mut req = Request::default();
    if let Some(system) = wire.system_instruction {
        req.system = system.parts.into_iter().filter_map(|p| p.text).map(TextBlock::new).collect();
    }
    let mut calls = 0usize;
    // Calls of the latest model turn not answered yet, as (id, name): results match by name.
    let mut open: Vec<(String, String)> = Vec::new();
    for (i, content) in wire.contents.into_iter().enumerate() {
        let role = match content.role.as_deref() {
            None | Some("user") => Role::User,
            Some("model") => Role::Assistant,
            Some(other) => {
                return Err(InvalidBody::new(
                    Some(format!("contents[{i}].role")),
                    format!("Please use a valid role: user, model. (got {other:?})"),
                ));
            }
        };
        let content = match role {
            Role::Assistant => {
                let blocks = blocks_of_parts(content.parts, "request", &mut calls);
                open = blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolUse(u) => Some((u.id.clone(), u.name.clone())),
                        _ => None,
                    })
                    .collect();
                blocks
            }
            Role::User => user_blocks(content.parts, &mut open, &mut calls),
        };
        req.messages.push(Message { role, content });
    }
    for tool in wire.tools {
        for decl in tool.function_declarations {
            let parameters = decl
                .parameters
                .or(decl.parameters_json_schema)
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            req.tools.push(Tool {
                name: decl.name,
                description: decl.description,
                kind: ToolKind::Function { parameters, strict: None },
                cache_control: None,
            });
        }
        for (name, value) in tool.other {
            let mut hosted = Map::new();
            hosted.insert(name.clone(), value);
            req.tools.push(Tool {
                name,
                description: None,
                kind: ToolKind::Hosted { dialect: Dialect::Gemini, value: Value::Object(hosted) },
                cache_control: None,
            });
        }
    }
    if let Some(config) = wire.tool_config.and_then(|c| c.function_calling_config) {
        req.tool_choice = match config.mode.as_deref() {
            Some("ANY" | "VALIDATED") => match config.allowed_function_names.as_slice() {
                [one] => Some(ToolChoice::Tool(one.clone())),
                _ => Some(ToolChoice::Any),
            },
            Some("NONE") => Some(ToolChoice::None),
            Some("AUTO") => Some(ToolChoice::Auto),
            _ => None,
        };
    }
    let mut extra_fields = wire.extra;
    if let Some(config) = wire.generation_config {
        req.max_tokens = config.max_output_tokens;
        req.temperature = config.temperature;
        req.top_p = config.top_p;
        req.top_k = config.top_k;
        req.stop_sequences = config.stop_sequences;
        req.response_format = match (config.response_mime_type.as_deref(), config.response_schema) {
            (Some("application/json"), Some(schema)) => {
                Some(ResponseFormat::JsonSchema { name: None, schema, strict: None })
            }
            (Some("application/json"), None) => Some(ResponseFormat::Json),
            _ => None,
        };
        req.thinking = config.thinking_config.map(|t| thinking_of(&t));
        if !config.other.is_empty() {
            extra_fields.insert("generationConfig".to_owned(), Value::Object(config.other));
        }
    }
    if !extra_fields.is_empty() {
        req.extra = Extra { dialect: Some(Dialect::Gemini), fields: extra_fields };
    }
    Ok(req)
}

fn user_blocks(
    parts: Vec<Part>,
    open: &mut Vec<(String, String)>,
    calls: &mut usize,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut rest = Vec::new();
    for part in parts {
        let Some(response) = part.function_response else {
            rest.push(part);
            continue;
        };
        let id = match open.iter().position(|(_, name)| *name == response.name) {
            Some(i) => open.remove(i).0,
            None => response.id.clone().unwrap_or_else(|| {
                let id = crate::canonical::ids::fallback("request-orphan", *calls);
                *calls += 1;
                id
            }),
        };
        let (text, is_error) = match &response.response {
            Value::Object(o) if o.len() == 1 && o.contains_key("error") => {
                (text_of(&o["error"]), true)
            }
            Value::Object(o) if o.len() == 1 && o.contains_key("result") => {
                (text_of(&o["result"]), false)
            }
            other => (other.to_string(), false),
        };
        blocks.push(Block::ToolResult(ToolResult {
            tool_use_id: id,
            content: vec![Block::Text(TextBlock::new(text))],
            is_error,
            cache_control: None,
        }));
    }
    blocks.extend(blocks_of_parts(rest, "request", calls));
    blocks
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn thinking_of(config: &ThinkingConfig) -> Thinking {
    let mode = match (config.thinking_budget, &config.thinking_level) {
        (Some(0), _) => ThinkingMode::Disabled,
        (Some(n), _) if n > 0 => ThinkingMode::Enabled { budget_tokens: n.unsigned_abs() },
        _ => ThinkingMode::Adaptive,
    };
    Thinking { mode, effort: config.thinking_level.clone(), display: None }
}

//! A canonical request written for an OpenAI Responses provider: system parts as
//! `instructions`, turns as input items (messages, `function_call`/`custom_tool_call` and their
//! outputs, OpenAI reasoning items replayed as they came), tools flat, reasoning stateless
//! (`store: false` with encrypted reasoning included). What the API cannot carry is dropped and
//! noted: thinking from other providers, other dialects' hosted tools and opaque blocks,
//! `cache_control`, stop sequences, `top_k`.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::Dialect;
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Document, Image, Message, Note, Request, ResponseFormat, Role,
    Source, Target, ThinkingMode, Tool, ToolChoice, ToolKind, ToolResult, ToolUse, repair,
};

/// Freeform (`custom`) tools and the ids of their calls: their calls and outputs are
/// `custom_tool_call`/`custom_tool_call_output` items, not function ones.
struct Custom<'a> {
    tools: HashSet<&'a str>,
    calls: HashSet<&'a str>,
}

impl<'a> Custom<'a> {
    fn of(req: &'a Request) -> Self {
        let tools: HashSet<&str> = req
            .tools
            .iter()
            .filter(|t| matches!(t.kind, ToolKind::Custom { .. }))
            .map(|t| t.name.as_str())
            .collect();
        let calls = req
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .filter_map(|b| match b {
                Block::ToolUse(u) if tools.contains(u.name.as_str()) => Some(u.id.as_str()),
                _ => None,
            })
            .collect();
        Custom { tools, calls }
    }
}

/// What the encoder dropped, noted once per kind rather than once per block.
#[derive(Default)]
struct Dropped {
    thinking: bool,
    opaque: HashSet<&'static str>,
    cache_control: bool,
    citations: bool,
}

pub(super) fn encode(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    let custom = Custom::of(req);
    let mut dropped = Dropped::default();
    let mut body = Map::new();
    body.insert("model".into(), Value::String(target.model.clone()));

    let system = repair::without_billing_header(&req.system, notes);
    if !system.is_empty() {
        dropped.cache_control |= system.iter().any(|t| t.cache_control.is_some());
        let parts: Vec<&str> = system.iter().map(|t| t.text.as_str()).collect();
        body.insert("instructions".into(), Value::String(parts.join("\n\n")));
    }

    // The API answers a call without its output, or an output without its call, with a 400
    // (21).
    let mut history = req.messages.clone();
    repair::pair_tools(&mut history, notes);
    let mut input = Vec::new();
    for message in &history {
        items(message, &custom, &mut input, &mut dropped);
    }
    body.insert("input".into(), Value::Array(input));

    let tools: Vec<Value> = req.tools.iter().filter_map(|t| tool(t, &mut dropped, notes)).collect();
    if let Some(choice) = fit_tool_choice(req.tool_choice.as_ref(), &tools, notes) {
        body.insert("tool_choice".into(), tool_choice(&choice, &custom.tools));
    }
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(parallel) = req.parallel_tool_calls {
        body.insert("parallel_tool_calls".into(), Value::Bool(parallel));
    }
    if let Some(max) = req.max_tokens {
        let max = target.quirks.max_output_tokens.map_or(max, |cap| max.min(cap));
        body.insert("max_output_tokens".into(), json!(max));
    }
    if target.quirks.no_sampling {
        if req.temperature.is_some() || req.top_p.is_some() {
            notes.push(Note::new("temperature and top_p dropped: the model rejects sampling"));
        }
    } else {
        if let Some(t) = req.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(p) = req.top_p {
            body.insert("top_p".into(), json!(p));
        }
    }
    if req.top_k.is_some() {
        notes.push(Note::new("top_k dropped: the Responses API has no top_k"));
    }
    if !req.stop_sequences.is_empty() {
        notes.push(Note::new("stop_sequences dropped: the Responses API has no stop parameter"));
    }
    if req.stream {
        body.insert("stream".into(), Value::Bool(true));
    }
    if let Some(user) = &req.user {
        body.insert("user".into(), Value::String(user.clone()));
    }

    let same_dialect = req.extra.dialect == Some(Dialect::OpenAiResponses);
    let reasoning = reasoning(req, same_dialect);
    let reasoning_on = reasoning.is_some();
    if let Some(reasoning) = reasoning {
        body.insert("reasoning".into(), reasoning);
    }
    if let Some(text) = text(req, same_dialect) {
        body.insert("text".into(), text);
    }

    if same_dialect {
        for (key, value) in &req.extra.fields {
            if key == "safety_identifier"
                && req.user.as_ref() == value.as_str().map(str::to_owned).as_ref()
            {
                // It became the canonical `user`; send it under its own name only.
                body.remove("user");
            }
            body.entry(key.clone()).or_insert_with(|| value.clone());
        }
    } else if !req.extra.fields.is_empty() {
        let keys: Vec<&str> = req.extra.fields.keys().map(String::as_str).collect();
        notes.push(Note::new(format!(
            "dropped fields the Responses API does not take: {}",
            keys.join(", ")
        )));
    }

    // Tollgate keeps no server-side state at OpenAI: reasoning must come back encrypted in each
    // response so the client can replay it.
    body.entry("store").or_insert(Value::Bool(false));
    if reasoning_on && body.get("store") == Some(&Value::Bool(false)) {
        let include = body.entry("include").or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = include {
            let wanted = Value::String("reasoning.encrypted_content".into());
            if !list.contains(&wanted) {
                list.push(wanted);
            }
        }
    }

    if dropped.thinking {
        notes.push(Note::new(
            "thinking blocks dropped: only OpenAI's own reasoning items can be replayed to it",
        ));
    }
    for kind in &dropped.opaque {
        notes
            .push(Note::new(format!("{kind} blocks dropped: the Responses API cannot carry them")));
    }
    if dropped.cache_control {
        notes.push(Note::new("cache_control dropped: OpenAI caches prompts automatically"));
    }
    if dropped.citations {
        notes.push(Note::new("citations dropped from assistant text"));
    }
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

/// `reasoning: {effort, summary}` from canonical thinking; a Responses request's own extra
/// `reasoning` fields (its exact `summary`) win over the mapped ones.
fn reasoning(req: &Request, same_dialect: bool) -> Option<Value> {
    let thinking = req.thinking.as_ref()?;
    let effort = match (&thinking.mode, thinking.effort.as_deref()) {
        (_, Some(effort)) => effort.to_owned(),
        (ThinkingMode::Disabled, None) => return None,
        (ThinkingMode::Adaptive, None) => "medium".to_owned(),
        (ThinkingMode::Enabled { budget_tokens }, None) => effort_for_budget(*budget_tokens).into(),
    };
    let mut out = Map::new();
    out.insert("effort".into(), Value::String(effort));
    if thinking.display.as_deref() == Some("summarized") {
        out.insert("summary".into(), Value::String("auto".into()));
    }
    if same_dialect && let Some(Value::Object(extra)) = req.extra.fields.get("reasoning") {
        for (k, v) in extra {
            out.insert(k.clone(), v.clone());
        }
    }
    Some(Value::Object(out))
}

/// Anthropic's thinking budget as an OpenAI effort (CCR's table: up to 1024 low, up to 8192
/// medium, above high).
fn effort_for_budget(budget: u64) -> &'static str {
    match budget {
        0..=1024 => "low",
        1025..=8192 => "medium",
        _ => "high",
    }
}

fn text(req: &Request, same_dialect: bool) -> Option<Value> {
    let mut out = match req.extra.fields.get("text") {
        Some(Value::Object(extra)) if same_dialect => extra.clone(),
        _ => Map::new(),
    };
    match &req.response_format {
        Some(ResponseFormat::Json) => {
            out.insert("format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema { name, schema, strict }) => {
            let mut format = Map::new();
            format.insert("type".into(), json!("json_schema"));
            format.insert("name".into(), json!(name.as_deref().unwrap_or("response")));
            format.insert("schema".into(), schema.clone());
            if let Some(strict) = strict {
                format.insert("strict".into(), json!(strict));
            }
            out.insert("format".into(), Value::Object(format));
        }
        None => {}
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn tool(tool: &Tool, dropped: &mut Dropped, notes: &mut Vec<Note>) -> Option<Value> {
    dropped.cache_control |= tool.cache_control.is_some();
    let mut out = Map::new();
    match &tool.kind {
        ToolKind::Function { parameters, strict } => {
            out.insert("type".into(), json!("function"));
            out.insert("name".into(), json!(tool.name));
            if let Some(d) = &tool.description {
                out.insert("description".into(), json!(d));
            }
            out.insert("parameters".into(), parameters.clone());
            // The Responses API makes function tools strict by default, which rejects most
            // schemas written for other APIs; only a tool that asked for strict gets it.
            out.insert("strict".into(), json!(strict.unwrap_or(false)));
        }
        ToolKind::Custom { format } => {
            out.insert("type".into(), json!("custom"));
            out.insert("name".into(), json!(tool.name));
            if let Some(d) = &tool.description {
                out.insert("description".into(), json!(d));
            }
            if let Some(format) = format {
                out.insert("format".into(), format.clone());
            }
        }
        ToolKind::Hosted { dialect: Dialect::OpenAiResponses, value } => {
            return Some(value.clone());
        }
        ToolKind::Hosted { dialect, .. } => {
            notes.push(Note::new(format!(
                "tool {} dropped: a server tool of the {dialect} dialect has no Responses equivalent",
                tool.name
            )));
            return None;
        }
    }
    Some(Value::Object(out))
}

/// The choice the tools actually sent allow (16): none without tools, and `auto` for a named
/// tool that is not among them (a hosted tool of another dialect, dropped above), which the API
/// would refuse with "Tool choice 'function' not found in 'tools' parameter".
fn fit_tool_choice(
    choice: Option<&ToolChoice>,
    tools: &[Value],
    notes: &mut Vec<Note>,
) -> Option<ToolChoice> {
    let choice = choice?;
    if tools.is_empty() {
        if matches!(choice, ToolChoice::Any | ToolChoice::Tool(_)) {
            notes.push(Note::new("tool_choice dropped: no tool is left to call"));
        }
        return None;
    }
    if let ToolChoice::Tool(name) = choice
        && !tools.iter().any(|t| t.get("name").and_then(Value::as_str) == Some(name.as_str()))
    {
        notes.push(Note::new(format!(
            "tool_choice named tool {name:?}, which is not among the tools sent: relaxed to auto"
        )));
        return Some(ToolChoice::Auto);
    }
    Some(choice.clone())
}

fn tool_choice(choice: &ToolChoice, custom: &HashSet<&str>) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::Any => json!("required"),
        ToolChoice::None => json!("none"),
        ToolChoice::Tool(name) if custom.contains(name.as_str()) => {
            json!({"type": "custom", "name": name})
        }
        ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
    }
}

/// One canonical message as input items, in block order. Consecutive text, image and document
/// blocks share one message item.
fn items(message: &Message, custom: &Custom<'_>, out: &mut Vec<Value>, dropped: &mut Dropped) {
    let mut parts: Vec<Value> = Vec::new();
    let flush = |parts: &mut Vec<Value>, out: &mut Vec<Value>| {
        if !parts.is_empty() {
            let role = match message.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            out.push(json!({"type": "message", "role": role, "content": std::mem::take(parts)}));
        }
    };
    for block in &message.content {
        match block {
            Block::Text(t) => {
                dropped.cache_control |= t.cache_control.is_some();
                dropped.citations |= t.citations.is_some() && message.role == Role::Assistant;
                let kind = match message.role {
                    Role::User => "input_text",
                    Role::Assistant => "output_text",
                };
                parts.push(json!({"type": kind, "text": t.text}));
            }
            Block::Image(image) => {
                dropped.cache_control |= image.cache_control.is_some();
                parts.push(image_part(image));
            }
            Block::Document(doc) => {
                dropped.cache_control |= doc.cache_control.is_some();
                parts.push(document_part(doc));
            }
            Block::ToolUse(call) => {
                flush(&mut parts, out);
                dropped.cache_control |= call.cache_control.is_some();
                out.push(call_item(call, custom));
            }
            Block::ToolResult(result) => {
                flush(&mut parts, out);
                dropped.cache_control |= result.cache_control.is_some();
                out.push(output_item(result, custom));
            }
            Block::Thinking(_) | Block::RedactedThinking(_) => dropped.thinking = true,
            Block::Opaque(o) if o.dialect == Dialect::OpenAiResponses => {
                flush(&mut parts, out);
                out.push(o.value.clone());
            }
            Block::Opaque(o) => {
                dropped.opaque.insert(o.dialect.as_str());
            }
        }
    }
    flush(&mut parts, out);
}

fn call_item(call: &ToolUse, custom: &Custom<'_>) -> Value {
    if custom.tools.contains(call.name.as_str()) {
        json!({
            "type": "custom_tool_call",
            "call_id": call.id,
            "name": call.name,
            "input": custom_input(&call.input),
        })
    } else {
        json!({
            "type": "function_call",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.input.to_string(),
        })
    }
}

/// A freeform tool's raw text from its canonical `{"input": text}`; any other shape (a model
/// that answered a function-style object) is sent as its JSON text rather than lost.
pub(crate) fn custom_input(input: &Value) -> String {
    match input.get(CUSTOM_INPUT_FIELD) {
        Some(Value::String(text)) if input.as_object().is_some_and(|o| o.len() == 1) => {
            text.clone()
        }
        _ => input.to_string(),
    }
}

/// A tool result as a call output. `is_error` has no field in the Responses API, so it travels
/// as an `Error: ` prefix, never silently (19).
fn output_item(result: &ToolResult, custom: &Custom<'_>) -> Value {
    let kind = if custom.calls.contains(result.tool_use_id.as_str()) {
        "custom_tool_call_output"
    } else {
        "function_call_output"
    };
    let only_text = result.content.iter().all(|b| matches!(b, Block::Text(_)));
    let output = if only_text {
        let text: Vec<&str> = result
            .content
            .iter()
            .filter_map(|b| match b {
                Block::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        let text = text.join("\n");
        Value::String(if result.is_error { format!("Error: {text}") } else { text })
    } else {
        let mut parts = Vec::with_capacity(result.content.len() + 1);
        if result.is_error {
            parts.push(json!({"type": "input_text", "text": "Error:"}));
        }
        for block in &result.content {
            match block {
                Block::Text(t) => parts.push(json!({"type": "input_text", "text": t.text})),
                Block::Image(image) => parts.push(image_part(image)),
                Block::Document(doc) => parts.push(document_part(doc)),
                _ => {}
            }
        }
        Value::Array(parts)
    };
    json!({"type": kind, "call_id": result.tool_use_id, "output": output})
}

fn image_part(image: &Image) -> Value {
    let mut part = Map::new();
    part.insert("type".into(), json!("input_image"));
    match &image.source {
        Source::File(id) => {
            part.insert("file_id".into(), json!(id));
        }
        other => {
            part.insert("image_url".into(), json!(other.to_url().unwrap_or_default()));
        }
    }
    part.insert("detail".into(), json!(image.detail.as_deref().unwrap_or("auto")));
    Value::Object(part)
}

fn document_part(doc: &Document) -> Value {
    let filename = doc
        .filename
        .clone()
        .or_else(|| doc.title.clone())
        .unwrap_or_else(|| "document.pdf".to_owned());
    match &doc.source {
        Source::Base64 { .. } => json!({
            "type": "input_file",
            "filename": filename,
            "file_data": doc.source.to_url().unwrap_or_default(),
        }),
        Source::Url(url) => json!({"type": "input_file", "file_url": url}),
        Source::File(id) => json!({"type": "input_file", "file_id": id}),
        // A plain-text document is its text.
        Source::Text { data, .. } => json!({"type": "input_text", "text": data}),
    }
}

//! The OpenAI Responses dialect (`POST /v1/responses`): requests validated the way the API
//! validates them (role `tool`, outputs without their call, reasoning items whose
//! `encrypted_content` this mock did not issue, unknown tool and item types), Response objects
//! and event streams rendered from the `fixtures/responses` templates. The mock keeps no state:
//! `previous_response_id` is accepted and only relaxes the call/output pairing check.
//! What the mock answers is decided in `conversation`, not here; the headers and error object
//! are OpenAI's (`openai`).

use std::sync::LazyLock;

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::conversation::{
    Conversation, LastTurn, Plan, Tool, ToolChoice, Usage, json_fragments, text_deltas,
};
use super::ids;
use super::json::Json;
use super::server::Reply;
use super::sse::{self, SseEvent};

const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely \
    means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, \
    but what was sent was not valid JSON. If you have trouble figuring out how to fix this, \
    please contact us through our help center at help.openai.com.)";
const NO_KEY: &str = "You didn't provide an API key. You need to provide your API key in an \
    Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the \
    password field (with blank username) if you're accessing the API from your browser and are \
    prompted for a username and password. You can obtain an API key from \
    https://platform.openai.com/account/api-keys.";
const ROLES: [&str; 4] = ["assistant", "system", "developer", "user"];
/// Tool types the API takes (web search in its dated variants included).
const TOOL_TYPES: [&str; 18] = [
    "function",
    "custom",
    "namespace",
    "tool_search",
    "file_search",
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "computer",
    "computer_use_preview",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "shell",
    "mcp",
    "apply_patch",
    "programmatic_tool_calling",
];
/// Input item types the API takes besides messages.
const ITEM_TYPES: [&str; 22] = [
    "message",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "reasoning",
    "web_search_call",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "code_interpreter_call",
    "image_generation_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "mcp_call",
    "mcp_list_tools",
    "tool_search_call",
    "tool_search_output",
    "compaction",
    "item_reference",
];
/// What the mock's reasoning items carry as `encrypted_content`: this prefix and the item id in
/// hex, so a replayed item can be checked without state and anything else is refused.
const SEAL_PREFIX: &str = "gAAAAABmock";

struct Templates {
    created: Json,
    message_added: Json,
    content_part_added: Json,
    text_delta: Json,
    text_done: Json,
    content_part_done: Json,
    message_done: Json,
    call_added: Json,
    arguments_delta: Json,
    arguments_done: Json,
    call_done: Json,
    reasoning_added: Json,
    summary_part_added: Json,
    summary_delta: Json,
    summary_done: Json,
    summary_part_done: Json,
    reasoning_done: Json,
    completed: Json,
    failed: Json,
    response: Json,
    error: Json,
}

macro_rules! fixture {
    ($path:literal) => {
        ($path, include_str!(concat!("../../fixtures/responses/", $path)))
    };
}

fn templates() -> &'static Templates {
    static TEMPLATES: LazyLock<Templates> = LazyLock::new(load_compiled_in);
    &TEMPLATES
}

#[expect(
    clippy::expect_used,
    reason = "compiled-in fixtures; a unit test proves they load, so this cannot fail"
)]
fn load_compiled_in() -> Templates {
    load_templates().expect("the compiled-in Responses fixtures parse")
}

/// Whether the templates load (the test of the compiled-in fixtures).
#[cfg(test)]
pub(crate) fn load() -> Result<(), String> {
    load_templates().map(|_| ())
}

fn events_of(text: (&str, &str)) -> Result<Vec<Json>, String> {
    let (path, text) = text;
    sse::parse(text)
        .iter()
        .map(|e| Json::parse(&e.data).map_err(|err| format!("{path}: {err}")))
        .collect()
}

fn load_templates() -> Result<Templates, String> {
    let text = events_of(fixture!("stream_text.sse"))?;
    let call = events_of(fixture!("stream_function_call.sse"))?;
    let reasoning = events_of(fixture!("stream_reasoning_function_call.sse"))?;
    let error = events_of(fixture!("stream_error.sse"))?;
    let find = |events: &[Json], kind: &str, item: Option<&str>| {
        events
            .iter()
            .find(|e| e["type"] == kind && item.is_none_or(|t| e["item"]["type"] == t))
            .cloned()
            .ok_or_else(|| format!("no {kind} ({item:?}) in the Responses fixtures"))
    };
    let json = |(path, text): (&str, &str)| Json::parse(text).map_err(|e| format!("{path}: {e}"));
    Ok(Templates {
        created: find(&text, "response.created", None)?,
        message_added: find(&text, "response.output_item.added", Some("message"))?,
        content_part_added: find(&text, "response.content_part.added", None)?,
        text_delta: find(&text, "response.output_text.delta", None)?,
        text_done: find(&text, "response.output_text.done", None)?,
        content_part_done: find(&text, "response.content_part.done", None)?,
        message_done: find(&text, "response.output_item.done", Some("message"))?,
        call_added: find(&call, "response.output_item.added", Some("function_call"))?,
        arguments_delta: find(&call, "response.function_call_arguments.delta", None)?,
        arguments_done: find(&call, "response.function_call_arguments.done", None)?,
        call_done: find(&call, "response.output_item.done", Some("function_call"))?,
        reasoning_added: find(&reasoning, "response.output_item.added", Some("reasoning"))?,
        summary_part_added: find(&reasoning, "response.reasoning_summary_part.added", None)?,
        summary_delta: find(&reasoning, "response.reasoning_summary_text.delta", None)?,
        summary_done: find(&reasoning, "response.reasoning_summary_text.done", None)?,
        summary_part_done: find(&reasoning, "response.reasoning_summary_part.done", None)?,
        reasoning_done: find(&reasoning, "response.output_item.done", Some("reasoning"))?,
        completed: find(&text, "response.completed", None)?,
        failed: find(&error, "response.failed", None)?,
        response: json(fixture!("response.json"))?,
        error: json(fixture!("error.json"))?,
    })
}

/// `POST /v1/responses`.
pub(crate) fn responses(headers: &HeaderMap, body: &[u8]) -> Reply {
    match parse(headers, body) {
        Err(rejection) => rejection.render(),
        Ok(request) => {
            let plan = request.conversation.plan();
            if request.conversation.stream {
                Reply::Stream { events: stream(&request, &plan) }
            } else {
                Reply::pretty_json(StatusCode::OK, &whole(&request, &plan))
            }
        }
    }
}

/// `response.failed`: what the API sends when a stream fails after it started.
pub(crate) fn stream_error_event() -> SseEvent {
    let event = templates().failed.clone();
    SseEvent::named("response.failed", &event)
}

/// A refusal in the API's error object.
struct Rejection {
    status: StatusCode,
    message: String,
    param: Option<String>,
    code: Option<&'static str>,
}

impl Rejection {
    fn invalid(message: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    fn param(mut self, param: impl Into<String>, code: Option<&'static str>) -> Self {
        self.param = Some(param.into());
        self.code = code;
        self
    }

    fn render(&self) -> Reply {
        let mut body = templates().error.clone();
        body["error"]["message"] = self.message.clone().into();
        body["error"]["type"] = "invalid_request_error".into();
        body["error"]["param"] = self.param.clone().into();
        body["error"]["code"] = self.code.into();
        Reply::pretty_json(self.status, &body)
    }
}

/// A validated request: the dialect-neutral conversation plus what the echo needs.
struct Parsed {
    conversation: Conversation,
    request: Value,
}

fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Parsed, Rejection> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if token.is_empty() {
        return Err(Rejection { status: StatusCode::UNAUTHORIZED, ..Rejection::invalid(NO_KEY) });
    }
    let request: Value = serde_json::from_slice(body).map_err(|_| Rejection::invalid(BAD_JSON))?;
    if !request.is_object() {
        return Err(Rejection::invalid(BAD_JSON));
    }
    let model = match &request["model"] {
        Value::String(model) if !model.is_empty() => model.clone(),
        _ => {
            return Err(Rejection::invalid("Missing required parameter: 'model'.")
                .param("model", Some("missing_required_parameter")));
        }
    };
    let continues = request["previous_response_id"].is_string();
    let items: Vec<Value> = match &request["input"] {
        Value::String(text) => vec![serde_json::json!({"role": "user", "content": text})],
        Value::Array(items) => items.clone(),
        Value::Null if continues => Vec::new(),
        Value::Null => {
            return Err(Rejection::invalid("Missing required parameter: 'input'.")
                .param("input", Some("missing_required_parameter")));
        }
        _ => {
            return Err(Rejection::invalid(
                "Invalid type for 'input': expected one of a string or array of input items.",
            )
            .param("input", Some("invalid_type")));
        }
    };
    check_items(&items, continues, request["store"] == false)?;
    let tools = check_tools(&request["tools"])?;
    // A reasoning effort gets a reasoning item with a summary (the conversation's thinking).
    let reasoning = request["reasoning"]["effort"].as_str().is_some_and(|e| e != "none");
    Ok(Parsed {
        conversation: Conversation {
            model,
            stream: request["stream"] == true,
            thinking: reasoning,
            include_usage: false,
            tools,
            tool_choice: tool_choice(&request["tool_choice"]),
            last_turn: last_turn(&items),
            body_len: body.len(),
            cache_hint: request["prompt_cache_key"].is_string(),
        },
        request,
    })
}

fn check_items(items: &[Value], continues: bool, stateless: bool) -> Result<(), Rejection> {
    for (i, item) in items.iter().enumerate() {
        let kind = item["type"].as_str().unwrap_or("message");
        if !ITEM_TYPES.contains(&kind) {
            return Err(Rejection::invalid(format!(
                "Invalid value: '{kind}'. Supported values are: '{}'.",
                ITEM_TYPES.join("', '")
            ))
            .param(format!("input[{i}].type"), Some("invalid_value")));
        }
        match kind {
            "message" => match item["role"].as_str() {
                None => {
                    return Err(Rejection::invalid(format!(
                        "Missing required parameter: 'input[{i}].role'."
                    ))
                    .param(format!("input[{i}].role"), Some("missing_required_parameter")));
                }
                Some(role) if !ROLES.contains(&role) => {
                    return Err(Rejection::invalid(format!(
                        "Invalid value: '{role}'. Supported values are: 'assistant', 'system', \
                         'developer', and 'user'."
                    ))
                    .param(format!("input[{i}].role"), Some("invalid_value")));
                }
                Some(_) => {}
            },
            "function_call_output" | "custom_tool_call_output" => {
                let call_kind = kind.trim_end_matches("_output");
                let call_id = item["call_id"].as_str().unwrap_or_default();
                let called =
                    items[..i].iter().any(|c| c["type"] == call_kind && c["call_id"] == call_id);
                if !called && !continues {
                    let what =
                        if kind == "function_call_output" { "function" } else { "custom tool" };
                    return Err(Rejection::invalid(format!(
                        "No tool call found for {what} call output with call_id {call_id}."
                    ))
                    .param("input", None));
                }
            }
            "reasoning" => {
                let id = item["id"].as_str().unwrap_or_default();
                match item["encrypted_content"].as_str() {
                    Some(blob) if blob != seal(id) => {
                        return Err(Rejection::invalid(format!(
                            "The encrypted content for item {id} could not be verified. Reason: \
                             Encrypted content could not be decrypted or parsed."
                        ))
                        .param("input", Some("invalid_encrypted_content")));
                    }
                    None if stateless => {
                        return Err(Rejection::invalid(format!(
                            "Item with id '{id}' not found. Items are not persisted when `store` \
                             is set to false. Try again with `store` set to true, or remove this \
                             item from your input."
                        ))
                        .param("input", None));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Function tools, in order; every tool type must be one the API knows.
fn check_tools(tools: &Value) -> Result<Vec<Tool>, Rejection> {
    let mut out = Vec::new();
    for (i, tool) in tools.as_array().into_iter().flatten().enumerate() {
        let kind = tool["type"].as_str().unwrap_or_default();
        if !TOOL_TYPES.contains(&kind) {
            return Err(Rejection::invalid(format!(
                "Invalid value: '{kind}'. Supported values are: '{}'.",
                TOOL_TYPES.join("', '")
            ))
            .param(format!("tools[{i}].type"), Some("invalid_value")));
        }
        if kind == "function"
            && let Some(name) = tool["name"].as_str()
        {
            out.push(Tool::from_schema(name.to_owned(), &tool["parameters"]));
        }
    }
    Ok(out)
}

fn tool_choice(choice: &Value) -> ToolChoice {
    match choice {
        Value::String(choice) if choice == "none" => ToolChoice::None,
        Value::Object(_) => match choice["name"].as_str() {
            Some(name) => ToolChoice::Named(name.to_owned()),
            None => ToolChoice::Auto,
        },
        _ => ToolChoice::Auto,
    }
}

fn last_turn(items: &[Value]) -> LastTurn {
    let is_output = |i: &Value| i["type"].as_str().is_some_and(|t| t.ends_with("_output"));
    let Some(last) = items.last() else { return LastTurn::Other(String::new()) };
    if is_output(last) {
        let outputs: Vec<String> = items
            .iter()
            .rev()
            .take_while(|i| is_output(i))
            .map(|i| content_text(&i["output"]))
            .collect();
        return LastTurn::ToolResults(outputs.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    let user_text = || {
        items
            .iter()
            .rev()
            .filter(|i| i["role"] == "user")
            .map(|i| content_text(&i["content"]))
            .find(|t| !t.is_empty())
            .unwrap_or_default()
    };
    if last["role"] == "user" {
        LastTurn::User(content_text(&last["content"]))
    } else {
        LastTurn::Other(user_text())
    }
}

/// The text of a string, or of the text parts of a part list.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => {
            parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// The `encrypted_content` the mock issues for reasoning item `id`.
fn seal(id: &str) -> String {
    let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{SEAL_PREFIX}{hex}")
}

fn hex_id(prefix: &str) -> String {
    let request_id = ids::openai_request_id();
    format!("{prefix}_{}", request_id.trim_start_matches("req_"))
}

/// The ids, items and usage of one answer, shared by the stream and the whole response.
struct Answer {
    id: String,
    created_at: u64,
    items: Vec<Item>,
    usage: Json,
}

enum Item {
    Reasoning { id: String, summary: Vec<String> },
    Message { id: String, text: String },
    Call { id: String, call_id: String, name: String, arguments: String },
}

fn answer(plan: &Plan) -> Answer {
    let mut items = Vec::new();
    if let Some(thinking) = &plan.thinking {
        items.push(Item::Reasoning { id: hex_id("rs"), summary: vec![thinking.concat()] });
    }
    if let Some(text) = &plan.text {
        items.push(Item::Message { id: hex_id("msg"), text: text.clone() });
    }
    for call in &plan.tool_calls {
        items.push(Item::Call {
            id: hex_id("fc"),
            call_id: ids::openai_call_id(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        });
    }
    Answer { id: hex_id("resp"), created_at: ids::unix_seconds(), items, usage: usage(&plan.usage) }
}

fn usage(usage: &Usage) -> Json {
    let t = &templates().completed["response"]["usage"];
    let mut out = t.clone();
    out["input_tokens"] = usage.prompt_tokens().into();
    out["input_tokens_details"]["cached_tokens"] = usage.cache_read_input_tokens.into();
    out["output_tokens"] = usage.output_tokens.into();
    out["output_tokens_details"]["reasoning_tokens"] = 0_u64.into();
    out["total_tokens"] = (usage.prompt_tokens() + usage.output_tokens).into();
    out
}

impl Item {
    fn done(&self) -> Json {
        let t = templates();
        match self {
            Item::Reasoning { id, summary } => {
                let mut item = t.reasoning_done["item"].clone();
                item["id"] = id.clone().into();
                item["encrypted_content"] = seal(id).into();
                let part = item["summary"][0].clone();
                item["summary"] = Json::Array(
                    summary
                        .iter()
                        .map(|s| {
                            let mut p = part.clone();
                            p["text"] = s.clone().into();
                            p
                        })
                        .collect(),
                );
                item
            }
            Item::Message { id, text } => {
                let mut item = t.message_done["item"].clone();
                item["id"] = id.clone().into();
                item["content"][0]["text"] = text.clone().into();
                item
            }
            Item::Call { id, call_id, name, arguments } => {
                let mut item = t.call_done["item"].clone();
                item["id"] = id.clone().into();
                item["call_id"] = call_id.clone().into();
                item["name"] = name.clone().into();
                item["arguments"] = arguments.clone().into();
                item
            }
        }
    }
}

/// The Response object's common fields, with what the request asked for echoed.
fn response_object(template: &Json, parsed: &Parsed, answer: &Answer, status: &str) -> Json {
    let mut response = template.clone();
    response["id"] = answer.id.clone().into();
    response["created_at"] = answer.created_at.into();
    response["status"] = status.into();
    response["model"] = parsed.conversation.model.clone().into();
    for key in [
        "instructions",
        "max_output_tokens",
        "parallel_tool_calls",
        "previous_response_id",
        "store",
        "temperature",
        "tool_choice",
        "tools",
        "top_p",
        "prompt_cache_key",
        "metadata",
    ] {
        if let Some(value) = parsed.request.get(key) {
            response[key] = Json::from(value);
        }
    }
    if let Some(effort) = parsed.request["reasoning"]["effort"].as_str() {
        response["reasoning"]["effort"] = effort.into();
    }
    response
}

fn whole(parsed: &Parsed, plan: &Plan) -> Json {
    let answer = answer(plan);
    let mut response = response_object(&templates().response, parsed, &answer, "completed");
    response["output"] = Json::Array(answer.items.iter().map(Item::done).collect());
    response["usage"] = answer.usage.clone();
    response
}

/// The event stream: created, in_progress, each item's events, completed; `sequence_number`
/// counts from 0.
fn stream(parsed: &Parsed, plan: &Plan) -> Vec<SseEvent> {
    let t = templates();
    let answer = answer(plan);
    let mut events: Vec<Json> = Vec::new();
    let in_progress = response_object(&t.created["response"], parsed, &answer, "in_progress");
    for kind in ["response.created", "response.in_progress"] {
        let mut event = t.created.clone();
        event["type"] = kind.into();
        event["response"] = in_progress.clone();
        events.push(event);
    }
    for (index, item) in answer.items.iter().enumerate() {
        let at = |template: &Json, id: &str| {
            let mut event = template.clone();
            event["output_index"] = index.into();
            if !event["item_id"].is_null() {
                event["item_id"] = id.into();
            }
            event
        };
        match item {
            Item::Reasoning { id, summary } => {
                let mut added = at(&t.reasoning_added, id);
                added["item"]["id"] = id.clone().into();
                added["item"]["encrypted_content"] = seal(id).into();
                events.push(added);
                for (n, text) in summary.iter().enumerate() {
                    let mut part = at(&t.summary_part_added, id);
                    part["summary_index"] = n.into();
                    events.push(part);
                    for piece in text_deltas(text) {
                        let mut delta = at(&t.summary_delta, id);
                        delta["summary_index"] = n.into();
                        delta["delta"] = piece.into();
                        events.push(delta);
                    }
                    let mut done = at(&t.summary_done, id);
                    done["summary_index"] = n.into();
                    done["text"] = text.clone().into();
                    events.push(done);
                    let mut part_done = at(&t.summary_part_done, id);
                    part_done["summary_index"] = n.into();
                    part_done["part"]["text"] = text.clone().into();
                    events.push(part_done);
                }
            }
            Item::Message { id, text } => {
                let mut added = at(&t.message_added, id);
                added["item"]["id"] = id.clone().into();
                events.push(added);
                events.push(at(&t.content_part_added, id));
                for piece in text_deltas(text) {
                    let mut delta = at(&t.text_delta, id);
                    delta["delta"] = piece.into();
                    events.push(delta);
                }
                let mut done = at(&t.text_done, id);
                done["text"] = text.clone().into();
                events.push(done);
                let mut part = at(&t.content_part_done, id);
                part["part"]["text"] = text.clone().into();
                events.push(part);
            }
            Item::Call { id, call_id, name, arguments } => {
                let mut added = at(&t.call_added, id);
                added["item"]["id"] = id.clone().into();
                added["item"]["call_id"] = call_id.clone().into();
                added["item"]["name"] = name.clone().into();
                events.push(added);
                for fragment in json_fragments(arguments) {
                    let mut delta = at(&t.arguments_delta, id);
                    delta["delta"] = fragment.into();
                    delta.retain(|k| k != "obfuscation");
                    events.push(delta);
                }
                let mut done = at(&t.arguments_done, id);
                done["arguments"] = arguments.clone().into();
                events.push(done);
            }
        }
        let mut done = t.message_done.clone();
        done["output_index"] = index.into();
        done["item"] = item.done();
        events.push(done);
    }
    let mut completed = t.completed.clone();
    let mut response = response_object(&t.completed["response"], parsed, &answer, "completed");
    response["output"] = Json::Array(answer.items.iter().map(Item::done).collect());
    response["usage"] = answer.usage.clone();
    completed["response"] = response;
    events.push(completed);
    events
        .into_iter()
        .enumerate()
        .map(|(n, mut event)| {
            event["sequence_number"] = n.into();
            event.retain(|k| k != "obfuscation");
            let kind = event["type"].as_str().unwrap_or_default().to_owned();
            SseEvent::named(&kind, &event)
        })
        .collect()
}

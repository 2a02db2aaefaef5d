//! The OpenAI Chat Completions dialect: requests validated the way the API validates them (same
//! status and error object), completions and chunk streams rendered from the `fixtures/openai`
//! templates, and the headers every OpenAI response carries.
//! What the mock answers is decided in `conversation`, not here.

use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::conversation::{
    Conversation, LastTurn, Plan, Tool, ToolChoice, Usage, json_fragments, text_deltas,
};
use super::fixtures::fixtures;
use super::ids;
use super::json::Json;
use super::server::{Reply, insert_header};
use super::sse::SseEvent;

const ROLES: [&str; 6] = ["system", "assistant", "user", "function", "tool", "developer"];
const NO_KEY: &str = "You didn't provide an API key. You need to provide your API key in an \
    Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the \
    password field (with blank username) if you're accessing the API from your browser and are \
    prompted for a username and password. You can obtain an API key from \
    https://platform.openai.com/account/api-keys.";
const BAD_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely \
    means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, \
    but what was sent was not valid JSON. If you have trouble figuring out how to fix this, \
    please contact us through our help center at help.openai.com.)";

/// `POST /v1/chat/completions`.
pub(crate) fn chat_completions(headers: &HeaderMap, body: &[u8]) -> Reply {
    match parse(headers, body) {
        Err(rejection) => rejection.render(),
        Ok(conversation) => {
            let plan = conversation.plan();
            if conversation.stream {
                Reply::Stream { events: stream(&conversation, &plan) }
            } else {
                Reply::pretty_json(StatusCode::OK, &completion(&conversation, &plan))
            }
        }
    }
}

/// `GET /v1/models` without `anthropic-version`.
pub(crate) fn models(headers: &HeaderMap) -> Reply {
    match authenticate(headers) {
        Err(rejection) => rejection.render(),
        Ok(()) => Reply::pretty_json(StatusCode::OK, &fixtures().openai.models),
    }
}

pub(crate) fn not_found(method: &Method, path: &str) -> Reply {
    let message = format!("Invalid URL ({method} {path})");
    Rejection::new(StatusCode::NOT_FOUND, message).render()
}

/// What a non-streaming request gets when the API fails (HTTP 500, `server_error`).
pub(crate) fn overloaded() -> Reply {
    Reply::pretty_json(StatusCode::INTERNAL_SERVER_ERROR, &fixtures().openai.stream_error)
}

/// `data: {"error": ...}`, which the official SDKs raise as an API error mid-stream.
pub(crate) fn stream_error_event() -> SseEvent {
    SseEvent::unnamed(fixtures().openai.stream_error.to_string())
}

/// `x-request-id` and the `openai-*` headers on every response; rate-limit headers on successes.
pub(crate) fn response_headers(request_id: &str, status: StatusCode, streaming: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type =
        if streaming { "text/event-stream; charset=utf-8" } else { "application/json" };
    insert_header(&mut headers, "content-type", content_type);
    insert_header(&mut headers, "x-request-id", request_id);
    insert_header(&mut headers, "openai-organization", "tollgate-mock");
    insert_header(&mut headers, "openai-processing-ms", "5");
    insert_header(&mut headers, "openai-version", "2020-10-01");
    if status.is_success() {
        for (name, value) in [
            ("x-ratelimit-limit-requests", "10000"),
            ("x-ratelimit-limit-tokens", "30000000"),
            ("x-ratelimit-remaining-requests", "9999"),
            ("x-ratelimit-remaining-tokens", "29999000"),
            ("x-ratelimit-reset-requests", "6ms"),
            ("x-ratelimit-reset-tokens", "2ms"),
        ] {
            insert_header(&mut headers, name, value);
        }
    }
    headers
}

/// A refusal of the request in the API's error object.
struct Rejection {
    status: StatusCode,
    message: String,
    kind: &'static str,
    param: Option<String>,
    code: Option<&'static str>,
}

impl Rejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Rejection {
            status,
            message: message.into(),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn param(mut self, param: impl Into<String>, code: Option<&'static str>) -> Self {
        self.param = Some(param.into());
        self.code = code;
        self
    }

    fn render(&self) -> Reply {
        let mut body = fixtures().openai.error.clone();
        body["error"]["message"] = self.message.clone().into();
        body["error"]["type"] = self.kind.into();
        body["error"]["param"] = self.param.clone().into();
        body["error"]["code"] = self.code.into();
        Reply::pretty_json(self.status, &body)
    }
}

fn authenticate(headers: &HeaderMap) -> Result<(), Rejection> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if token.is_empty() { Err(Rejection::new(StatusCode::UNAUTHORIZED, NO_KEY)) } else { Ok(()) }
}

fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Conversation, Rejection> {
    authenticate(headers)?;
    let request: Value = serde_json::from_slice(body).map_err(|_| Rejection::invalid(BAD_JSON))?;
    if !request.is_object() {
        return Err(Rejection::invalid(BAD_JSON));
    }
    let model = match &request["model"] {
        Value::String(model) if !model.is_empty() => model.clone(),
        _ => return Err(Rejection::invalid("you must provide a model parameter")),
    };
    let messages = match &request["messages"] {
        Value::Null => {
            return Err(Rejection::invalid("Missing required parameter: 'messages'.")
                .param("messages", Some("missing_required_parameter")));
        }
        Value::Array(messages) if messages.is_empty() => {
            return Err(Rejection::invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but \
                 got an empty array instead.",
            )
            .param("messages", Some("empty_array")));
        }
        Value::Array(messages) => messages,
        _ => {
            return Err(Rejection::invalid(
                "Invalid type for 'messages': expected an array of objects.",
            )
            .param("messages", Some("invalid_type")));
        }
    };
    check_messages(messages)?;
    Ok(Conversation {
        model,
        stream: request["stream"] == true,
        thinking: false,
        include_usage: request["stream_options"]["include_usage"] == true,
        tools: tools(&request["tools"]),
        tool_choice: tool_choice(&request["tool_choice"]),
        last_turn: last_turn(messages),
        body_len: body.len(),
        cache_hint: body.windows(13).any(|w| w == b"cache_control"),
    })
}

fn check_messages(messages: &[Value]) -> Result<(), Rejection> {
    for (i, message) in messages.iter().enumerate() {
        let role = match message["role"].as_str() {
            None => {
                return Err(Rejection::invalid(format!(
                    "Missing required parameter: 'messages[{i}].role'."
                ))
                .param(format!("messages[{i}].role"), Some("missing_required_parameter")));
            }
            Some(role) if !ROLES.contains(&role) => {
                return Err(Rejection::invalid(format!(
                    "Invalid value: '{role}'. Supported values are: 'system', 'assistant', \
                     'user', 'function', 'tool', and 'developer'."
                ))
                .param(format!("messages[{i}].role"), Some("invalid_value")));
            }
            Some(role) => role,
        };
        if role == "assistant" {
            let calls = tool_call_ids(message);
            let answered: Vec<&str> = messages[i + 1..]
                .iter()
                .take_while(|m| m["role"] == "tool")
                .filter_map(|m| m["tool_call_id"].as_str())
                .collect();
            let missing: Vec<&str> =
                calls.iter().copied().filter(|id| !answered.contains(id)).collect();
            if !missing.is_empty() {
                return Err(Rejection::invalid(format!(
                    "An assistant message with 'tool_calls' must be followed by tool messages \
                     responding to each 'tool_call_id'. The following tool_call_ids did not have \
                     response messages: {}",
                    missing.join(", ")
                ))
                .param(format!("messages.[{i}].role"), None));
            }
        }
        if role == "tool" {
            let id = message["tool_call_id"].as_str().unwrap_or_default();
            let answers_a_call = messages[..i]
                .iter()
                .rev()
                .find(|m| m["role"] != "tool")
                .is_some_and(|m| m["role"] == "assistant" && tool_call_ids(m).contains(&id));
            if !answers_a_call {
                return Err(Rejection::invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a \
                     preceeding message with 'tool_calls'.",
                )
                .param(format!("messages.[{i}].role"), None));
            }
        }
    }
    Ok(())
}

fn tool_call_ids(message: &Value) -> Vec<&str> {
    message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|call| call["id"].as_str())
        .collect()
}

/// Function tools, in order.
fn tools(tools: &Value) -> Vec<Tool> {
    tools
        .as_array()
        .into_iter()
        .flatten()
        .filter(|tool| tool["type"] == "function")
        .filter_map(|tool| {
            let function = &tool["function"];
            let name = function["name"].as_str()?;
            Some(Tool::from_schema(name.to_owned(), &function["parameters"]))
        })
        .collect()
}

fn tool_choice(choice: &Value) -> ToolChoice {
    match choice {
        Value::String(choice) if choice == "none" => ToolChoice::None,
        Value::Object(_) => match choice["function"]["name"].as_str() {
            Some(name) => ToolChoice::Named(name.to_owned()),
            None => ToolChoice::Auto,
        },
        _ => ToolChoice::Auto,
    }
}

fn last_turn(messages: &[Value]) -> LastTurn {
    let Some(last) = messages.last() else { return LastTurn::Other(String::new()) };
    match last["role"].as_str().unwrap_or_default() {
        "tool" => {
            let results: Vec<String> = messages
                .iter()
                .rev()
                .take_while(|m| m["role"] == "tool")
                .map(|m| content_text(&m["content"]))
                .collect();
            LastTurn::ToolResults(results.into_iter().rev().collect::<Vec<_>>().join("\n"))
        }
        "assistant" => LastTurn::Other(
            messages
                .iter()
                .rev()
                .filter(|m| m["role"] == "user")
                .map(|m| content_text(&m["content"]))
                .find(|t| !t.is_empty())
                .unwrap_or_default(),
        ),
        _ => LastTurn::User(content_text(&last["content"])),
    }
}

/// The text of a string content or of the `text` parts of a part list.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn finish_reason(plan: &Plan) -> &'static str {
    if plan.tool_calls.is_empty() { "stop" } else { "tool_calls" }
}

/// The usage object of the template with the plan's numbers.
fn usage(template: &Json, usage: &Usage) -> Json {
    let mut out = template.clone();
    out["prompt_tokens"] = usage.prompt_tokens().into();
    out["completion_tokens"] = usage.output_tokens.into();
    out["total_tokens"] = (usage.prompt_tokens() + usage.output_tokens).into();
    out["prompt_tokens_details"]["cached_tokens"] = usage.cache_read_input_tokens.into();
    out["completion_tokens_details"]["reasoning_tokens"] = 0_u64.into();
    out
}

/// The non-streaming `chat.completion`.
fn completion(conversation: &Conversation, plan: &Plan) -> Json {
    let templates = &fixtures().openai;
    let mut completion = templates.completion.clone();
    completion["id"] = ids::openai_completion_id().into();
    completion["created"] = ids::unix_seconds().into();
    completion["model"] = conversation.model.clone().into();
    let choice = &mut completion["choices"][0];
    if plan.tool_calls.is_empty() {
        choice["message"]["content"] = plan.text.clone().into();
    } else {
        let mut message = templates.tool_calls_message.clone();
        let call_template = message["tool_calls"][0].clone();
        let calls = plan.tool_calls.iter().map(|call| {
            let mut out = call_template.clone();
            out["id"] = ids::openai_call_id().into();
            out["function"]["name"] = call.name.clone().into();
            out["function"]["arguments"] = call.arguments.clone().into();
            out
        });
        message["tool_calls"] = Json::Array(calls.collect());
        choice["message"] = message;
    }
    choice["finish_reason"] = finish_reason(plan).into();
    completion["usage"] = usage(&templates.completion["usage"], &plan.usage);
    completion
}

/// The chunk stream: a first chunk with `delta.role` (carrying the first tool call when the
/// answer is a tool call), content or argument chunks, a finish chunk with `delta: {}`, the
/// `choices: []` usage chunk when `include_usage` asked for it (and `"usage": null` on every
/// other chunk then), and `data: [DONE]`.
fn stream(conversation: &Conversation, plan: &Plan) -> Vec<SseEvent> {
    let templates = &fixtures().openai;
    let chunk = Chunker {
        id: ids::openai_completion_id(),
        created: ids::unix_seconds(),
        model: conversation.model.clone(),
        // The templates come from two recordings; one stream has one backend fingerprint.
        system_fingerprint: templates.role_chunk["system_fingerprint"].clone(),
        include_usage: conversation.include_usage,
    };
    let mut chunks = Vec::new();
    if plan.tool_calls.is_empty() {
        chunks.push(chunk.from(&templates.role_chunk));
        for part in text_deltas(plan.text.as_deref().unwrap_or_default()) {
            let mut content = chunk.from(&templates.content_chunk);
            content["choices"][0]["delta"]["content"] = part.into();
            chunks.push(content);
        }
    }
    for (index, call) in plan.tool_calls.iter().enumerate() {
        let mut first = chunk.from(&templates.tool_call_chunk);
        let delta = &mut first["choices"][0]["delta"];
        if index > 0 {
            // Only the very first chunk of the answer carries the role.
            delta.retain(|key| key == "tool_calls");
        }
        let tool_call = &mut delta["tool_calls"][0];
        tool_call["index"] = index.into();
        tool_call["id"] = ids::openai_call_id().into();
        tool_call["function"]["name"] = call.name.clone().into();
        tool_call["function"]["arguments"] = "".into();
        chunks.push(first);
        for fragment in json_fragments(&call.arguments) {
            let mut arguments = chunk.from(&templates.arguments_chunk);
            let tool_call = &mut arguments["choices"][0]["delta"]["tool_calls"][0];
            tool_call["index"] = index.into();
            tool_call["function"]["arguments"] = fragment.into();
            chunks.push(arguments);
        }
    }
    let mut finish = chunk.from(&templates.finish_chunk);
    finish["choices"][0]["finish_reason"] = finish_reason(plan).into();
    chunks.push(finish);
    if conversation.include_usage {
        let mut last = chunk.from(&templates.usage_chunk);
        last["usage"] = usage(&templates.usage_chunk["usage"], &plan.usage);
        chunks.push(last);
    }
    let mut events: Vec<SseEvent> =
        chunks.into_iter().map(|c| SseEvent::unnamed(c.to_string())).collect();
    events.push(SseEvent::unnamed(templates.done.clone()));
    events
}

/// Stamps the fields every chunk of one stream shares.
struct Chunker {
    id: String,
    created: u64,
    model: String,
    system_fingerprint: Json,
    include_usage: bool,
}

impl Chunker {
    fn from(&self, template: &Json) -> Json {
        let mut chunk = template.clone();
        chunk["id"] = self.id.clone().into();
        chunk["created"] = self.created.into();
        chunk["model"] = self.model.clone().into();
        chunk["system_fingerprint"] = self.system_fingerprint.clone();
        if self.include_usage {
            chunk["usage"] = Json::Null;
        } else {
            chunk.retain(|key| key != "usage");
        }
        chunk
    }
}

//! The Anthropic Messages API dialect: requests validated the way the API validates them (same
//! status, error type and message), answers and SSE streams rendered from the
//! `fixtures/anthropic` templates, and the headers every Anthropic response carries.
//! What the mock answers is decided in `conversation`, not here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::Sha256;

use super::conversation::{
    Conversation, LastTurn, Plan, Tool, ToolChoice, Usage, json_fragments, text_deltas,
    token_estimate,
};
use super::fixtures::fixtures;
use super::ids;
use super::json::Json;
use super::server::{Reply, insert_header};
use super::sse::SseEvent;

const VERSION_HEADER: &str = "anthropic-version";
const ORGANIZATION_ID: &str = "7c3f6d2e-5b1a-4e8f-9a0d-2b6c1e4f8a90";
const THINKING_DOCS: &str = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size";
const THINKING_CONSIDERATIONS: &str = "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking";
/// The key the mock seals its thinking with. A real signature is opaque and bound to Anthropic's
/// keys; this one only has to fail the same way when a block is altered or forged.
const THINKING_SEAL_KEY: &[u8] = b"tollgate-mock-upstream thinking seal";

/// The signature the mock puts on a thinking block it emits: base64 of HMAC-SHA256 over the
/// thinking text. A block replayed with any other signature (edited text, another provider's
/// seal, a placeholder) is rejected as the API rejects it.
pub(crate) fn thinking_signature(thinking: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(THINKING_SEAL_KEY) {
        Ok(mut mac) => {
            mac.update(thinking.as_bytes());
            BASE64.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm cannot run.
        Err(_) => String::new(),
    }
}

/// `POST /v1/messages`.
pub(crate) fn messages(headers: &HeaderMap, body: &[u8], request_id: &str) -> Reply {
    match parse(headers, body, Endpoint::Messages) {
        Err(rejection) => rejection.render(request_id),
        Ok(conversation) => {
            let plan = conversation.plan();
            if conversation.stream {
                Reply::Stream { events: stream(&conversation, &plan) }
            } else {
                Reply::json(StatusCode::OK, &message(&conversation, &plan))
            }
        }
    }
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, N a quarter of the body's bytes.
pub(crate) fn count_tokens(headers: &HeaderMap, body: &[u8], request_id: &str) -> Reply {
    match parse(headers, body, Endpoint::CountTokens) {
        Err(rejection) => rejection.render(request_id),
        Ok(_) => {
            let mut count = fixtures().anthropic.count_tokens.clone();
            count["input_tokens"] = token_estimate(body.len()).into();
            Reply::json(StatusCode::OK, &count)
        }
    }
}

/// `GET /v1/models` with `anthropic-version`.
pub(crate) fn models(headers: &HeaderMap, request_id: &str) -> Reply {
    match authenticate(headers) {
        Err(rejection) => rejection.render(request_id),
        Ok(()) => Reply::json(StatusCode::OK, &fixtures().anthropic.models),
    }
}

pub(crate) fn not_found(request_id: &str) -> Reply {
    let message = fixtures().anthropic.error["error"]["message"].as_str().unwrap_or("Not Found");
    error(StatusCode::NOT_FOUND, "not_found_error", message, request_id)
}

/// What a non-streaming request gets when the API is overloaded (HTTP 529).
pub(crate) fn overloaded(request_id: &str) -> Reply {
    let status = StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let data = &fixtures().anthropic.stream_error["error"];
    let message = data["message"].as_str().unwrap_or("Overloaded");
    error(status, "overloaded_error", message, request_id)
}

/// `event: error` with an `overloaded_error`, as the API sends mid-stream.
pub(crate) fn stream_error_event() -> SseEvent {
    SseEvent::named("error", &fixtures().anthropic.stream_error)
}

/// `request-id` on every response; rate-limit headers on successes, as the API sends them.
pub(crate) fn response_headers(request_id: &str, status: StatusCode, streaming: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type =
        if streaming { "text/event-stream; charset=utf-8" } else { "application/json" };
    insert_header(&mut headers, "content-type", content_type);
    insert_header(&mut headers, "request-id", request_id);
    insert_header(&mut headers, "anthropic-organization-id", ORGANIZATION_ID);
    if streaming {
        insert_header(&mut headers, "cache-control", "no-cache");
    }
    if status.is_success() {
        let reset = ids::rfc3339(ids::unix_seconds() + 1);
        for (kind, limit) in [
            ("requests", 4_000),
            ("input-tokens", 2_000_000),
            ("output-tokens", 400_000),
            ("tokens", 2_400_000),
        ] {
            let prefix = format!("anthropic-ratelimit-{kind}");
            insert_header(&mut headers, &format!("{prefix}-limit"), &limit.to_string());
            insert_header(&mut headers, &format!("{prefix}-remaining"), &(limit - 1).to_string());
            insert_header(&mut headers, &format!("{prefix}-reset"), &reset);
        }
    }
    headers
}

fn error(status: StatusCode, kind: &str, message: &str, request_id: &str) -> Reply {
    let mut body = fixtures().anthropic.error.clone();
    body["error"]["type"] = kind.into();
    body["error"]["message"] = message.into();
    body["request_id"] = request_id.into();
    Reply::json(status, &body)
}

/// A refusal of the request, rendered in the API's error shape once the request-id is known.
struct Rejection {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl Rejection {
    fn render(&self, request_id: &str) -> Reply {
        error(self.status, self.kind, &self.message, request_id)
    }
}

fn invalid(message: impl Into<String>) -> Rejection {
    Rejection {
        status: StatusCode::BAD_REQUEST,
        kind: "invalid_request_error",
        message: message.into(),
    }
}

fn unauthorized(message: &str) -> Rejection {
    Rejection {
        status: StatusCode::UNAUTHORIZED,
        kind: "authentication_error",
        message: message.to_owned(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Messages,
    CountTokens,
}

/// `x-api-key`, or `Authorization: Bearer` (the OAuth form Claude Code uses); any non-empty value.
fn authenticate(headers: &HeaderMap) -> Result<(), Rejection> {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or_default().trim());
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
    match (header("x-api-key"), bearer) {
        (Some(key), _) if !key.is_empty() => Ok(()),
        (_, Some(token)) if !token.trim().is_empty() => Ok(()),
        (None, None) => Err(unauthorized("x-api-key header is required")),
        _ => Err(unauthorized("invalid x-api-key")),
    }
}

fn parse(headers: &HeaderMap, body: &[u8], endpoint: Endpoint) -> Result<Conversation, Rejection> {
    authenticate(headers)?;
    if !headers.contains_key(VERSION_HEADER) {
        return Err(invalid("anthropic-version: header is required"));
    }
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("Request body is not valid JSON: {e}")))?;
    if !request.is_object() {
        return Err(invalid("Request body must be a JSON object"));
    }
    let model = match &request["model"] {
        Value::String(model) => model.clone(),
        Value::Null => return Err(invalid("model: Field required")),
        _ => return Err(invalid("model: Input should be a valid string")),
    };
    let max_tokens = match endpoint {
        Endpoint::CountTokens => None,
        Endpoint::Messages => Some(match &request["max_tokens"] {
            Value::Null => return Err(invalid("max_tokens: Field required")),
            value => match value.as_u64() {
                Some(0) => {
                    return Err(invalid("max_tokens: Input should be greater than or equal to 1"));
                }
                Some(n) => n,
                None => return Err(invalid("max_tokens: Input should be a valid integer")),
            },
        }),
    };
    let messages = match &request["messages"] {
        Value::Null => return Err(invalid("messages: Field required")),
        Value::Array(messages) if messages.is_empty() => {
            return Err(invalid("messages: at least one message is required"));
        }
        Value::Array(messages) => messages,
        _ => return Err(invalid("messages: Input should be a valid list")),
    };
    check_messages(messages)?;
    check_system(&request["system"])?;
    let tools = tools(&request["tools"])?;
    let thinking = thinking(&request["thinking"], max_tokens)?;
    if thinking {
        check_thinking_rules(&request, messages)?;
    }
    Ok(Conversation {
        model,
        stream: request["stream"] == true,
        thinking,
        include_usage: false,
        tools,
        tool_choice: tool_choice(&request["tool_choice"]),
        last_turn: last_turn(messages),
        body_len: body.len(),
        cache_hint: contains(body, b"cache_control"),
    })
}

fn check_messages(messages: &[Value]) -> Result<(), Rejection> {
    let last = messages.len() - 1;
    for (i, message) in messages.iter().enumerate() {
        let role = message["role"].as_str().unwrap_or_default();
        match role {
            "user" | "assistant" => {}
            "system" => check_system_message(messages, i)?,
            _ => {
                return Err(invalid(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'"
                )));
            }
        }
        let empty = match &message["content"] {
            Value::String(text) => {
                check_text(text)?;
                text.is_empty()
            }
            Value::Array(blocks) => {
                for (j, block) in blocks.iter().enumerate() {
                    check_block(i, j, block)?;
                }
                blocks.is_empty()
            }
            Value::Null => return Err(invalid(format!("messages.{i}.content: Field required"))),
            _ => {
                return Err(invalid(format!("messages.{i}.content: Input should be a valid list")));
            }
        };
        if empty && !(i == last && role == "assistant") {
            return Err(invalid(format!(
                "messages.{i}: all messages must have non-empty content except for the optional \
                 final assistant message"
            )));
        }
    }
    check_final_whitespace(messages)?;
    check_tool_order(messages)?;
    check_tool_pairing(messages)
}

/// Empty text, and (a separate rule) text that is only whitespace.
fn check_text(text: &str) -> Result<(), Rejection> {
    if text.is_empty() {
        return Err(invalid("messages: text content blocks must be non-empty"));
    }
    if text.trim().is_empty() {
        return Err(invalid("messages: text content blocks must contain non-whitespace text"));
    }
    Ok(())
}

fn check_block(i: usize, j: usize, block: &Value) -> Result<(), Rejection> {
    match block["type"].as_str() {
        Some("text") => check_text(block["text"].as_str().unwrap_or_default()),
        Some("tool_use") => {
            let id = block["id"].as_str().unwrap_or_default();
            let clean = !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if clean {
                Ok(())
            } else {
                Err(invalid(format!(
                    "messages.{i}.content.{j}.tool_use.id: String should match pattern \
                     '^[a-zA-Z0-9_-]+$'"
                )))
            }
        }
        Some("thinking") => {
            let thinking = block["thinking"].as_str().unwrap_or_default();
            if block["signature"].as_str() == Some(thinking_signature(thinking).as_str()) {
                Ok(())
            } else {
                Err(invalid(format!(
                    "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                )))
            }
        }
        _ => Ok(()),
    }
}

/// A mid-conversation `{"role": "system"}` message (newer models) goes right after a user turn
/// and holds text only. The API's wording for these two refusals is not documented; the
/// messages here are the mock's own.
fn check_system_message(messages: &[Value], i: usize) -> Result<(), Rejection> {
    let after_user = i.checked_sub(1).is_some_and(|p| messages[p]["role"] == "user");
    if !after_user {
        return Err(invalid(format!(
            "messages.{i}: a `system` message must immediately follow a `user` message"
        )));
    }
    for (j, block) in blocks(&messages[i]).iter().enumerate() {
        if block["type"] != "text" {
            return Err(invalid(format!(
                "messages.{i}.content.{j}: `system` messages may only contain text blocks"
            )));
        }
    }
    Ok(())
}

/// A final assistant message (a prefill) cannot end in whitespace.
fn check_final_whitespace(messages: &[Value]) -> Result<(), Rejection> {
    let Some(last) = messages.last().filter(|m| m["role"] == "assistant") else { return Ok(()) };
    let tail = match &last["content"] {
        Value::String(text) => Some(text.as_str()),
        Value::Array(blocks) => {
            blocks.last().filter(|b| b["type"] == "text").and_then(|b| b["text"].as_str())
        }
        _ => None,
    };
    if tail.is_some_and(|t| t.ends_with(char::is_whitespace)) {
        return Err(invalid(
            "messages: final assistant content cannot end with trailing whitespace",
        ));
    }
    Ok(())
}

/// In an assistant turn the `tool_use` blocks come last; in the user turn that answers them the
/// `tool_result` blocks come first. Either way round, the API reads the results as not being
/// "immediately after" the uses.
fn check_tool_order(messages: &[Value]) -> Result<(), Rejection> {
    for (i, message) in messages.iter().enumerate() {
        let blocks = blocks(message);
        let (first_kind, must_lead) = match message["role"].as_str() {
            Some("assistant") => ("tool_use", false),
            Some("user") => ("tool_result", true),
            _ => continue,
        };
        let misplaced = if must_lead {
            let first_other = blocks.iter().position(|b| b["type"] != first_kind);
            first_other.is_some_and(|at| blocks[at..].iter().any(|b| b["type"] == first_kind))
        } else {
            let first_use = blocks.iter().position(|b| b["type"] == first_kind);
            first_use.is_some_and(|at| blocks[at..].iter().any(|b| b["type"] != first_kind))
        };
        if misplaced {
            let (at, uses) = if must_lead {
                let previous = i.checked_sub(1).map(|p| &messages[p]);
                (i, previous.map(|m| ids_of(m, "tool_use", "id")).unwrap_or_default())
            } else {
                (i + 1, ids_of(message, "tool_use", "id"))
            };
            return Err(missing_results(at, &uses));
        }
    }
    Ok(())
}

fn missing_results(at: usize, ids: &[&str]) -> Rejection {
    invalid(format!(
        "messages.{at}: `tool_use` ids were found without `tool_result` blocks immediately \
         after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the \
         next message.",
        ids.join(", ")
    ))
}

/// With thinking on: temperature stays at 1, tool use is not forced, and in a tool loop the
/// last assistant turn starts with its thinking (catalogue 7, 10).
fn check_thinking_rules(request: &Value, messages: &[Value]) -> Result<(), Rejection> {
    if request["temperature"].as_f64().is_some_and(|t| t != 1.0) {
        return Err(invalid(format!(
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our \
             documentation at {THINKING_CONSIDERATIONS}"
        )));
    }
    if matches!(request["tool_choice"]["type"].as_str(), Some("any" | "tool")) {
        return Err(invalid("Thinking may not be enabled when tool_choice forces tool use."));
    }
    let Some(a) = messages.iter().rposition(|m| m["role"] == "assistant") else { return Ok(()) };
    let next = messages[a + 1..].iter().find(|m| m["role"] != "system");
    let in_loop = match next {
        None => true,
        Some(m) => m["role"] == "user" && !ids_of(m, "tool_result", "tool_use_id").is_empty(),
    };
    if !in_loop {
        return Ok(());
    }
    let first = match &messages[a]["content"] {
        Value::String(_) => "text",
        Value::Array(blocks) => blocks.first().and_then(|b| b["type"].as_str()).unwrap_or(""),
        _ => "",
    };
    if first == "thinking" || first == "redacted_thinking" || first.is_empty() {
        return Ok(());
    }
    Err(invalid(format!(
        "messages.{a}.content.0.type: Expected `thinking` or `redacted_thinking`, but found \
         `{first}`. When `thinking` is enabled, a final `assistant` message must start with a \
         thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). \
         We recommend you include thinking blocks from previous turns. To avoid this \
         requirement, disable `thinking`. Please consult our documentation at \
         https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking"
    )))
}

/// Every `tool_use` must be answered by a `tool_result` in the very next message, and every
/// `tool_result` must answer a `tool_use` of the message before.
fn check_tool_pairing(messages: &[Value]) -> Result<(), Rejection> {
    for (i, message) in messages.iter().enumerate() {
        if message["role"] == "assistant" {
            let uses = ids_of(message, "tool_use", "id");
            let next = messages.get(i + 1).filter(|m| m["role"] == "user");
            let answered =
                next.map(|m| ids_of(m, "tool_result", "tool_use_id")).unwrap_or_default();
            let missing: Vec<&str> =
                uses.iter().copied().filter(|id| !answered.contains(id)).collect();
            if !missing.is_empty() {
                // The API names the message that lacks the results, not the one with the uses.
                return Err(missing_results(i + 1, &missing));
            }
        } else if message["role"] == "user" {
            let previous = i.checked_sub(1).and_then(|p| messages.get(p));
            let uses = previous
                .filter(|m| m["role"] == "assistant")
                .map(|m| ids_of(m, "tool_use", "id"))
                .unwrap_or_default();
            for (j, block) in blocks(message).iter().enumerate() {
                if block["type"] != "tool_result" {
                    continue;
                }
                let id = block["tool_use_id"].as_str().unwrap_or_default();
                if !uses.contains(&id) {
                    return Err(invalid(format!(
                        "messages.{i}.content.{j}: unexpected `tool_use_id` found in \
                         `tool_result` blocks: {id}. Each `tool_result` block must have a \
                         corresponding `tool_use` block in the previous message."
                    )));
                }
            }
        }
    }
    Ok(())
}

fn check_system(system: &Value) -> Result<(), Rejection> {
    for block in system.as_array().into_iter().flatten().filter(|b| b["type"] == "text") {
        match block["text"].as_str() {
            None | Some("") => {
                return Err(invalid("system: text content blocks must be non-empty"));
            }
            Some(text) if text.trim().is_empty() => {
                return Err(invalid(
                    "system: text content blocks must contain non-whitespace text",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Client tools (those with an `input_schema`), in order; server tools only count for the
/// unique-name rule.
fn tools(tools: &Value) -> Result<Vec<Tool>, Rejection> {
    let mut names = Vec::new();
    let mut client_tools = Vec::new();
    for (i, tool) in tools.as_array().into_iter().flatten().enumerate() {
        let Some(name) = tool["name"].as_str() else {
            return Err(invalid(format!("tools.{i}.name: Field required")));
        };
        if names.contains(&name) {
            return Err(invalid("tools: Tool names must be unique."));
        }
        names.push(name);
        let is_custom = tool["type"].is_null() || tool["type"] == "custom";
        // The API's checks, in its order and words (the length first, then the pattern).
        if is_custom && name.chars().count() > 128 {
            return Err(invalid(format!(
                "tools.{i}.custom.name: String should have at most 128 characters"
            )));
        }
        if is_custom
            && (name.is_empty()
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(invalid(format!(
                "tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            )));
        }
        match tool.get("input_schema") {
            Some(schema) => client_tools.push(Tool::from_schema(name.to_owned(), schema)),
            None if is_custom => {
                return Err(invalid(format!("tools.{i}.custom.input_schema: Field required")));
            }
            None => {}
        }
    }
    Ok(client_tools)
}

fn tool_choice(choice: &Value) -> ToolChoice {
    match choice["type"].as_str() {
        Some("none") => ToolChoice::None,
        Some("tool") => ToolChoice::Named(choice["name"].as_str().unwrap_or_default().to_owned()),
        _ => ToolChoice::Auto,
    }
}

/// Whether thinking is on; `enabled` needs a budget of at least 1024 below `max_tokens`.
fn thinking(thinking: &Value, max_tokens: Option<u64>) -> Result<bool, Rejection> {
    match thinking["type"].as_str() {
        Some("enabled") => {
            let Some(budget) = thinking["budget_tokens"].as_u64() else {
                return Err(invalid("thinking.enabled.budget_tokens: Field required"));
            };
            if budget < 1024 {
                return Err(invalid(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                ));
            }
            if max_tokens.is_some_and(|max| budget >= max) {
                return Err(invalid(format!(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult \
                     our documentation at {THINKING_DOCS}"
                )));
            }
            Ok(true)
        }
        Some("adaptive") => Ok(true),
        _ => Ok(false),
    }
}

fn last_turn(messages: &[Value]) -> LastTurn {
    let Some(last) = messages.iter().rev().find(|m| m["role"] != "system") else {
        return LastTurn::Other(String::new());
    };
    if last["role"] == "user" {
        let results: Vec<String> = blocks(last)
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| content_text(&b["content"]))
            .collect();
        if results.is_empty() {
            return LastTurn::User(content_text(&last["content"]));
        }
        return LastTurn::ToolResults(results.join("\n"));
    }
    let user_text = messages
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .map(|m| content_text(&m["content"]))
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    LastTurn::Other(user_text)
}

fn blocks(message: &Value) -> &[Value] {
    message["content"].as_array().map_or(&[], Vec::as_slice)
}

fn ids_of<'a>(message: &'a Value, block_type: &str, field: &str) -> Vec<&'a str> {
    blocks(message)
        .iter()
        .filter(|b| b["type"] == block_type)
        .filter_map(|b| b[field].as_str())
        .collect()
}

/// The text of a string content or of the `text` blocks of a block list.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

fn stop_reason(plan: &Plan) -> &'static str {
    if plan.tool_calls.is_empty() { "end_turn" } else { "tool_use" }
}

/// The usage object as the API now sends it: cache counters and the cache-creation breakdown
/// included, even where the docs' older examples show only input and output tokens.
fn usage(usage: &Usage, output_tokens: u64) -> Json {
    Json::object([
        ("input_tokens", usage.input_tokens.into()),
        ("cache_creation_input_tokens", usage.cache_creation_input_tokens.into()),
        ("cache_read_input_tokens", usage.cache_read_input_tokens.into()),
        (
            "cache_creation",
            Json::object([
                ("ephemeral_5m_input_tokens", usage.cache_creation_input_tokens.into()),
                ("ephemeral_1h_input_tokens", 0_u64.into()),
            ]),
        ),
        ("output_tokens", output_tokens.into()),
        ("service_tier", "standard".into()),
    ])
}

/// The non-streaming `message`.
fn message(conversation: &Conversation, plan: &Plan) -> Json {
    let templates = &fixtures().anthropic;
    let mut content = Vec::new();
    if let Some(thinking) = &plan.thinking {
        let mut block = templates.thinking_block.clone();
        let text = thinking.concat();
        block["signature"] = thinking_signature(&text).into();
        block["thinking"] = text.into();
        content.push(block);
    }
    if let Some(text) = &plan.text {
        let mut block = templates.text_block.clone();
        block["text"] = text.clone().into();
        content.push(block);
    }
    for call in &plan.tool_calls {
        let mut block = templates.tool_use_block.clone();
        block["id"] = ids::anthropic_tool_use_id().into();
        block["name"] = call.name.clone().into();
        block["input"] = call.input.clone();
        content.push(block);
    }
    let mut message = templates.message.clone();
    message["id"] = ids::anthropic_message_id().into();
    message["model"] = conversation.model.clone().into();
    message["content"] = Json::Array(content);
    message["stop_reason"] = stop_reason(plan).into();
    message["stop_sequence"] = Json::Null;
    message["usage"] = usage(&plan.usage, plan.usage.output_tokens);
    message
}

/// The event stream: `message_start`, each block as start / deltas / stop (a `ping` after the
/// first start, a `signature_delta` closing a thinking block, an empty `input_json_delta`
/// opening a tool's input, as the API does), `message_delta` with cumulative usage,
/// `message_stop`.
fn stream(conversation: &Conversation, plan: &Plan) -> Vec<SseEvent> {
    let templates = &fixtures().anthropic;
    let mut out = Blocks { events: Vec::new(), index: 0, pinged: false };

    let mut start = templates.message_start.clone();
    start["message"]["id"] = ids::anthropic_message_id().into();
    start["message"]["model"] = conversation.model.clone().into();
    start["message"]["usage"] = usage(&plan.usage, 1);
    out.push(start);

    if let Some(thinking) = &plan.thinking {
        let deltas = thinking.iter().map(|part| {
            let mut delta = templates.thinking_delta.clone();
            delta["delta"]["thinking"] = part.clone().into();
            delta
        });
        let mut signature = templates.signature_delta.clone();
        signature["delta"]["signature"] = thinking_signature(&thinking.concat()).into();
        let signature = std::iter::once(signature);
        out.block(templates.thinking_block_start.clone(), deltas.chain(signature));
    }
    if let Some(text) = &plan.text {
        let deltas = text_deltas(text).into_iter().map(|part| {
            let mut delta = templates.text_delta.clone();
            delta["delta"]["text"] = part.into();
            delta
        });
        out.block(templates.text_block_start.clone(), deltas);
    }
    for call in &plan.tool_calls {
        let mut start = templates.tool_use_block_start.clone();
        start["content_block"]["id"] = ids::anthropic_tool_use_id().into();
        start["content_block"]["name"] = call.name.clone().into();
        start["content_block"]["input"] = Json::empty_object();
        let fragments = std::iter::once(String::new()).chain(json_fragments(&call.arguments));
        let deltas = fragments.map(|fragment| {
            let mut delta = templates.input_json_delta.clone();
            delta["delta"]["partial_json"] = fragment.into();
            delta
        });
        out.block(start, deltas);
    }

    let mut delta = templates.message_delta.clone();
    delta["delta"]["stop_reason"] = stop_reason(plan).into();
    delta["delta"]["stop_sequence"] = Json::Null;
    delta["usage"] = usage(&plan.usage, plan.usage.output_tokens);
    out.push(delta);
    out.push(templates.message_stop.clone());
    out.events
}

/// Numbers content blocks and inserts the one `ping`.
struct Blocks {
    events: Vec<SseEvent>,
    index: usize,
    pinged: bool,
}

impl Blocks {
    fn push(&mut self, data: Json) {
        let name = data["type"].as_str().unwrap_or("message").to_owned();
        self.events.push(SseEvent::named(&name, &data));
    }

    fn block(&mut self, mut start: Json, deltas: impl Iterator<Item = Json>) {
        start["index"] = self.index.into();
        self.push(start);
        if !self.pinged {
            self.pinged = true;
            self.push(fixtures().anthropic.ping.clone());
        }
        for mut delta in deltas {
            delta["index"] = self.index.into();
            self.push(delta);
        }
        let mut stop = fixtures().anthropic.block_stop.clone();
        stop["index"] = self.index.into();
        self.push(stop);
        self.index += 1;
    }
}

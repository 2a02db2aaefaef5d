//! The Response object and its output items as Tollgate writes them for a Responses client,
//! shared by the whole-response encoder and the stream encoder so both emit the same shapes:
//! ids, status, usage, message / function_call / custom_tool_call / reasoning items.

use serde_json::{Map, Value, json};

use super::convert::{NamespacedTool, ResponseOptions};
use crate::Usage;
use crate::canonical::StopReason;

/// Request fields a Response object echoes, with the value the API echoes when the request left
/// them out (the API reference's response object).
type Default = fn() -> Value;

const ECHO_DEFAULTS: [(&str, Default); 13] = [
    ("instructions", || Value::Null),
    ("max_output_tokens", || Value::Null),
    ("parallel_tool_calls", || Value::Bool(true)),
    ("previous_response_id", || Value::Null),
    ("reasoning", || json!({"effort": null, "summary": null})),
    ("store", || Value::Bool(true)),
    ("temperature", || json!(1.0)),
    ("text", || json!({"format": {"type": "text"}})),
    ("tool_choice", || json!("auto")),
    ("tools", || json!([])),
    ("top_p", || json!(1.0)),
    ("truncation", || json!("disabled")),
    ("metadata", || json!({})),
];

/// Echoed only when the request carried them.
pub(crate) const ECHO_IF_PRESENT: [&str; 7] = [
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "service_tier",
    "max_tool_calls",
    "top_logprobs",
    "background",
];

pub(crate) fn echo_keys() -> impl Iterator<Item = &'static str> {
    ECHO_DEFAULTS.iter().map(|(k, _)| *k).chain(ECHO_IF_PRESENT)
}

/// `resp_...`: the caller's id, or one derived from the upstream message id.
pub(crate) fn response_id(opts: &ResponseOptions, message_id: &str) -> String {
    if !opts.response_id.is_empty() {
        return opts.response_id.clone();
    }
    let bare = message_id.strip_prefix("resp_").unwrap_or(message_id);
    let bare: String = bare.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("resp_{bare}")
}

/// An output item's id: the API's prefix (`msg`, `fc`, `ctc`, `rs`) and a suffix unique within
/// the response and stable for it, so a replayed stream gets the same ids.
pub(crate) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    let bare = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{bare}{index:02x}")
}

/// Response `status` and `incomplete_details.reason` for a stop reason (31).
pub(crate) fn status(stop: Option<&StopReason>) -> (&'static str, Option<&'static str>) {
    match stop {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => {
            ("incomplete", Some("max_output_tokens"))
        }
        Some(StopReason::Refusal) => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// `usage` in the Responses shape: `input_tokens` includes cached and cache-write tokens (33).
/// `output_tokens_details.reasoning_tokens` is left out: other providers do not report it, and
/// a made-up zero would be a claim (14).
pub(crate) fn usage(u: &Usage) -> Value {
    json!({
        "input_tokens": u.total_input(),
        "input_tokens_details": {
            "cached_tokens": u.cache_read_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "output_tokens": u.output_tokens,
        "total_tokens": u.total_input() + u.output_tokens,
    })
}

pub(crate) struct Shell<'a> {
    pub id: &'a str,
    pub model: &'a str,
    pub status: &'a str,
    pub incomplete_reason: Option<&'a str>,
    pub error: Option<Value>,
    pub output: Vec<Value>,
    pub usage: Option<Value>,
}

/// The whole Response object.
pub(crate) fn response(shell: Shell<'_>, opts: &ResponseOptions) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(shell.id));
    out.insert("object".into(), json!("response"));
    out.insert("created_at".into(), json!(opts.created_at));
    out.insert("status".into(), json!(shell.status));
    out.insert("error".into(), shell.error.unwrap_or(Value::Null));
    out.insert(
        "incomplete_details".into(),
        shell.incomplete_reason.map_or(Value::Null, |r| json!({"reason": r})),
    );
    out.insert("model".into(), json!(shell.model));
    out.insert("output".into(), Value::Array(shell.output));
    out.insert("usage".into(), shell.usage.unwrap_or(Value::Null));
    for (key, default) in ECHO_DEFAULTS {
        out.insert(key.into(), opts.echo.get(key).cloned().unwrap_or_else(default));
    }
    for key in ECHO_IF_PRESENT {
        if let Some(v) = opts.echo.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(prev) = &opts.previous_response_id {
        out.insert("previous_response_id".into(), json!(prev));
    }
    Value::Object(out)
}

pub(crate) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": []})
}

pub(crate) fn message_item(id: &str, status: &str, texts: &[String]) -> Value {
    let content: Vec<Value> = texts.iter().map(|t| output_text(t)).collect();
    json!({
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

/// How a canonical tool name is written back: the client's `namespace` and inner name for a
/// flattened namespace function, else the name itself.
pub(crate) fn call_name<'a>(
    namespaced: &'a [NamespacedTool],
    flat: &'a str,
) -> (Option<&'a str>, &'a str) {
    match namespaced.iter().find(|t| t.flat == flat) {
        Some(t) => (Some(t.namespace.as_str()), t.name.as_str()),
        None => (None, flat),
    }
}

pub(crate) struct Call<'a> {
    pub id: &'a str,
    pub call_id: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub status: &'a str,
}

pub(crate) fn function_call_item(call: &Call<'_>, arguments: &str) -> Value {
    let mut item = json!({
        "type": "function_call",
        "id": call.id,
        "call_id": call.call_id,
        "name": call.name,
        "arguments": arguments,
        "status": call.status,
    });
    if let (Some(ns), Value::Object(o)) = (call.namespace, &mut item) {
        o.insert("namespace".into(), json!(ns));
    }
    item
}

pub(crate) fn custom_call_item(call: &Call<'_>, input: &str) -> Value {
    let mut item = json!({
        "type": "custom_tool_call",
        "id": call.id,
        "call_id": call.call_id,
        "name": call.name,
        "input": input,
        "status": call.status,
    });
    if let (Some(ns), Value::Object(o)) = (call.namespace, &mut item) {
        o.insert("namespace".into(), json!(ns));
    }
    item
}

/// A reasoning item: one `summary_text` per thinking text shown, and the sealed blocks.
pub(crate) fn reasoning_item(id: &str, summaries: &[String], sealed: Option<&str>) -> Value {
    let summary: Vec<Value> =
        summaries.iter().map(|text| json!({"type": "summary_text", "text": text})).collect();
    let mut item = json!({"type": "reasoning", "id": id, "summary": summary});
    if let (Some(blob), Value::Object(o)) = (sealed, &mut item) {
        o.insert("encrypted_content".into(), json!(blob));
    }
    item
}

/// The `error` of a failed response for a canonical (Anthropic-typed) stream error.
pub(crate) fn error(kind: &str, message: &str) -> Value {
    json!({"code": error_code(kind), "message": message})
}

/// OpenAI's error code for an Anthropic error type. Codex reads `rate_limit_exceeded` (and
/// retries after the delay in the message), `insufficient_quota`, `context_length_exceeded`;
/// anything else it retries as a generic stream failure.
pub(crate) fn error_code(kind: &str) -> &'static str {
    match kind {
        "rate_limit_error" => "rate_limit_exceeded",
        "billing_error" => "insufficient_quota",
        "overloaded_error" => "server_is_overloaded",
        "invalid_request_error" => "invalid_request_error",
        "authentication_error" => "invalid_api_key",
        "permission_error" => "permission_denied",
        "not_found_error" => "not_found",
        "request_too_large" => "request_too_large",
        "timeout_error" => "timeout",
        _ => "server_error",
    }
}

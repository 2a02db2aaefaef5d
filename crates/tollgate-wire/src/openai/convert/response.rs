//! `chat.completion` objects: a provider's decoded into a canonical [`Response`], a canonical one
//! written for a Chat client.
//!
//! Reasoning text (`reasoning_content`, `reasoning`) becomes a thinking block before the text;
//! `refusal` becomes text with a refusal stop; `prompt_tokens` is split into uncached and cached
//! input (33). Going to a client, only standard fields are written (11, 30): thinking is left
//! out, and `reasoning_tokens` is not invented (14).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::args::to_arguments;
use super::chat_id;
use super::decode::{WireFunctionCall, WireToolCall, arguments_value};
use crate::canonical::{
    Block, CUSTOM_INPUT_FIELD, Note, Response, StopReason, TextBlock, ThinkingBlock, ToolUse,
};
use crate::openai::response::WireUsage;
use crate::{InvalidBody, Usage};

/// What a response for a Chat client needs that the canonical response does not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseOptions {
    /// Unix seconds, from the caller's clock (the wire crate has none).
    pub created: u64,
    /// The model name to show the client instead of the provider's (the alias it asked for).
    pub model_override: Option<String>,
}

#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    /// A string per the API; Mistral's reasoning models send an array of parts.
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default)]
    function_call: Option<WireFunctionCall>,
}

pub(super) fn decode_response(body: &[u8]) -> Result<Response, InvalidBody> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    let wire: WireCompletion =
        serde_path_to_error::deserialize(de).map_err(InvalidBody::from_serde)?;
    let mut choices = wire.choices.into_iter();
    let Some(choice) = choices.next() else {
        return Err(InvalidBody::new(
            Some("choices".into()),
            "choices: the response has no choice",
        ));
    };
    let m = choice.message;
    let mut content = Vec::new();
    if let Some(thinking) = m.reasoning_content.or(m.reasoning).filter(|s| !s.is_empty()) {
        content.push(Block::Thinking(ThinkingBlock { thinking, signature: None, origin: None }));
    }
    let (text, part_thinking) = content_text(m.content);
    if !part_thinking.is_empty() && content.is_empty() {
        content.push(Block::Thinking(ThinkingBlock {
            thinking: part_thinking,
            signature: None,
            origin: None,
        }));
    }
    if !text.is_empty() {
        content.push(Block::Text(TextBlock::new(text)));
    }
    let refused = m.refusal.as_deref().is_some_and(|r| !r.is_empty());
    if let Some(refusal) = m.refusal.filter(|r| !r.is_empty()) {
        content.push(Block::Text(TextBlock::new(refusal)));
    }
    for (j, call) in m.tool_calls.into_iter().flatten().enumerate() {
        let id = call
            .id
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| crate::canonical::ids::fallback(&wire.id, j));
        let (name, input) = match (call.kind.as_deref(), call.function, call.custom) {
            (Some("custom"), _, Some(c)) => {
                (c.name, serde_json::json!({CUSTOM_INPUT_FIELD: c.input}))
            }
            (_, Some(f), _) => (f.name, arguments_value(f.arguments)),
            _ => continue,
        };
        content.push(Block::ToolUse(ToolUse { id, name, input, cache_control: None }));
    }
    if let Some(f) = m.function_call {
        let id = crate::canonical::ids::fallback(&wire.id, usize::MAX);
        let input = arguments_value(f.arguments);
        content.push(Block::ToolUse(ToolUse { id, name: f.name, input, cache_control: None }));
    }
    let has_tools = content.iter().any(|b| matches!(b, Block::ToolUse(_)));
    let stop_reason = choice.finish_reason.map(|r| finish_to_stop(&r, has_tools, refused));
    Ok(Response {
        id: wire.id,
        model: wire.model,
        content,
        stop_reason,
        stop_sequence: None,
        usage: wire.usage.map(|u| u.to_usage()).unwrap_or_default(),
    })
}

/// `finish_reason` with the consistency rules of (32): a tool call means `tool_use` even when the
/// provider says `stop`, and `tool_calls` without a call is an ordinary end.
pub(crate) fn finish_to_stop(reason: &str, has_tools: bool, refused: bool) -> StopReason {
    match StopReason::from_openai(reason) {
        StopReason::EndTurn if has_tools => StopReason::ToolUse,
        StopReason::EndTurn if refused => StopReason::Refusal,
        StopReason::ToolUse if !has_tools => StopReason::EndTurn,
        other => other,
    }
}

/// The text of a `content` field and, for array content, the text of any `thinking` parts.
fn content_text(content: Option<Value>) -> (String, String) {
    let mut text = String::new();
    let mut thinking = String::new();
    match content {
        Some(Value::String(s)) => text = s,
        Some(Value::Array(parts)) => {
            for part in &parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        text.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default())
                    }
                    Some("thinking") => {
                        for t in
                            part.get("thinking").and_then(Value::as_array).into_iter().flatten()
                        {
                            thinking.push_str(
                                t.get("text").and_then(Value::as_str).unwrap_or_default(),
                            );
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    (text, thinking)
}

#[derive(Serialize)]
struct OutCompletion<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [OutChoice; 1],
    usage: OutUsage,
}

#[derive(Serialize)]
struct OutChoice {
    index: u32,
    message: OutMessage,
    logprobs: Option<()>,
    finish_reason: String,
}

#[derive(Serialize)]
struct OutMessage {
    role: &'static str,
    content: Option<String>,
    refusal: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<OutToolCall>,
}

#[derive(Serialize)]
pub(crate) struct OutToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OutCall,
}

#[derive(Serialize)]
pub(crate) struct OutCall {
    pub name: String,
    pub arguments: String,
}

/// Chat's `usage`: `prompt_tokens` includes cached input (33).
#[derive(Serialize)]
pub(crate) struct OutUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: OutPromptDetails,
}

#[derive(Serialize)]
struct OutPromptDetails {
    cached_tokens: u64,
}

impl OutUsage {
    pub(crate) fn new(u: &Usage) -> OutUsage {
        let prompt = u.total_input();
        OutUsage {
            prompt_tokens: prompt,
            completion_tokens: u.output_tokens,
            total_tokens: prompt + u.output_tokens,
            prompt_tokens_details: OutPromptDetails { cached_tokens: u.cache_read_tokens },
        }
    }
}

/// Canonical stop -> `finish_reason`, consistent with whether a tool was called (32). A reason
/// this version does not know is passed on as the provider wrote it.
pub(crate) fn stop_to_finish(stop: Option<&StopReason>, has_tools: bool) -> String {
    match stop {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => "length".to_owned(),
        _ if has_tools => "tool_calls".to_owned(),
        None | Some(StopReason::ToolUse) => "stop".to_owned(),
        Some(other) => other.as_openai().to_owned(),
    }
}

pub(super) fn encode_response(
    resp: &Response,
    options: &ResponseOptions,
    notes: &mut Vec<Note>,
) -> Vec<u8> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let mut dropped_thinking = 0;
    let mut dropped_other = 0;
    for block in &resp.content {
        match block {
            Block::Text(t) => text.push_str(&t.text),
            Block::ToolUse(u) => tool_calls.push(OutToolCall {
                id: u.id.clone(),
                kind: "function",
                function: OutCall { name: u.name.clone(), arguments: to_arguments(&u.input) },
            }),
            Block::Thinking(_) | Block::RedactedThinking(_) => dropped_thinking += 1,
            _ => dropped_other += 1,
        }
    }
    if dropped_thinking > 0 {
        notes.push(Note::new(format!(
            "{dropped_thinking} thinking block(s) left out: Chat has no standard field for them"
        )));
    }
    if dropped_other > 0 {
        notes.push(Note::new(format!("{dropped_other} block(s) with no Chat equivalent left out")));
    }
    let finish_reason = stop_to_finish(resp.stop_reason.as_ref(), !tool_calls.is_empty());
    let out = OutCompletion {
        id: chat_id(&resp.id),
        object: "chat.completion",
        created: options.created,
        model: options.model_override.as_deref().unwrap_or(&resp.model),
        choices: [OutChoice {
            index: 0,
            message: OutMessage {
                role: "assistant",
                content: (!text.is_empty()).then_some(text),
                refusal: None,
                tool_calls,
            },
            logprobs: None,
            finish_reason,
        }],
        usage: OutUsage::new(&resp.usage),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

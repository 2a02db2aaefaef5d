//! The recorded examples of `fixtures/`, compiled in and parsed once into one template per kind of
//! object or event. Renderers clone a template and substitute ids, model, text and usage, so the
//! shape on the wire is always the documented one. No rendering logic lives here.

use std::sync::LazyLock;

use super::json::Json;
use super::sse::{self, SseEvent};

pub(crate) struct Fixtures {
    pub(crate) anthropic: AnthropicTemplates,
    pub(crate) openai: OpenAiTemplates,
}

pub(crate) struct AnthropicTemplates {
    /// A whole non-streaming `message`.
    pub(crate) message: Json,
    pub(crate) text_block: Json,
    pub(crate) tool_use_block: Json,
    pub(crate) thinking_block: Json,
    pub(crate) message_start: Json,
    pub(crate) text_block_start: Json,
    pub(crate) tool_use_block_start: Json,
    pub(crate) thinking_block_start: Json,
    pub(crate) ping: Json,
    pub(crate) text_delta: Json,
    pub(crate) input_json_delta: Json,
    pub(crate) thinking_delta: Json,
    pub(crate) signature_delta: Json,
    pub(crate) block_stop: Json,
    pub(crate) message_delta: Json,
    pub(crate) message_stop: Json,
    /// The `data` of `event: error` (an `overloaded_error`).
    pub(crate) stream_error: Json,
    pub(crate) error: Json,
    pub(crate) count_tokens: Json,
    pub(crate) models: Json,
}

pub(crate) struct OpenAiTemplates {
    /// A whole non-streaming `chat.completion` with a text answer.
    pub(crate) completion: Json,
    /// The `message` of a completion that calls tools.
    pub(crate) tool_calls_message: Json,
    /// The first chunk of a text answer (`delta.role`, empty `content`).
    pub(crate) role_chunk: Json,
    pub(crate) content_chunk: Json,
    pub(crate) finish_chunk: Json,
    /// The first chunk of a tool call (`delta.role` and the call's id, type and name).
    pub(crate) tool_call_chunk: Json,
    /// A chunk with one fragment of a tool call's arguments.
    pub(crate) arguments_chunk: Json,
    /// The `include_usage` chunk: `choices: []` and the usage.
    pub(crate) usage_chunk: Json,
    /// The `data` of the last event, `[DONE]`.
    pub(crate) done: String,
    pub(crate) stream_error: Json,
    pub(crate) error: Json,
    pub(crate) models: Json,
}

/// The templates. The fixtures are compiled in and `tests::fixtures_load` checks them, so a
/// failure here is a broken fixture file, not a runtime condition.
pub(crate) fn fixtures() -> &'static Fixtures {
    static FIXTURES: LazyLock<Fixtures> = LazyLock::new(load_compiled_in);
    &FIXTURES
}

#[expect(
    clippy::expect_used,
    reason = "compiled-in fixtures; a unit test proves they load, so this cannot fail"
)]
fn load_compiled_in() -> Fixtures {
    load().expect("the compiled-in mock fixtures parse")
}

macro_rules! fixture {
    ($path:literal) => {
        ($path, include_str!(concat!("../../fixtures/", $path)))
    };
}

pub(crate) fn load() -> Result<Fixtures, String> {
    Ok(Fixtures { anthropic: load_anthropic()?, openai: load_openai()? })
}

fn load_anthropic() -> Result<AnthropicTemplates, String> {
    let text = stream(fixture!("anthropic/messages_stream_text.sse"))?;
    let tool = stream(fixture!("anthropic/messages_stream_tool_use.sse"))?;
    let thinking = stream(fixture!("anthropic/messages_stream_thinking.sse"))?;
    let error = stream(fixture!("anthropic/messages_stream_error.sse"))?;
    let message = json(fixture!("anthropic/message.json"))?;
    let tool_message = json(fixture!("anthropic/message_tool_use.json"))?;
    let thinking_message = json(fixture!("anthropic/message_thinking.json"))?;

    let signature_delta = find(&thinking, "signature_delta", |d| {
        d["type"] == "content_block_delta" && d["delta"]["type"] == "signature_delta"
    })?;

    Ok(AnthropicTemplates {
        text_block: block(&message, "text")?,
        tool_use_block: block(&tool_message, "tool_use")?,
        thinking_block: block(&thinking_message, "thinking")?,
        message,
        message_start: find(&text, "message_start", |d| d["type"] == "message_start")?,
        text_block_start: find(&text, "text block start", |d| {
            d["type"] == "content_block_start" && d["content_block"]["type"] == "text"
        })?,
        tool_use_block_start: find(&tool, "tool_use block start", |d| {
            d["type"] == "content_block_start" && d["content_block"]["type"] == "tool_use"
        })?,
        thinking_block_start: find(&thinking, "thinking block start", |d| {
            d["type"] == "content_block_start" && d["content_block"]["type"] == "thinking"
        })?,
        ping: find(&text, "ping", |d| d["type"] == "ping")?,
        text_delta: find(&text, "text_delta", |d| d["delta"]["type"] == "text_delta")?,
        input_json_delta: find(&tool, "input_json_delta", |d| {
            d["delta"]["type"] == "input_json_delta"
        })?,
        thinking_delta: find(&thinking, "thinking_delta", |d| {
            d["delta"]["type"] == "thinking_delta"
        })?,
        signature_delta,
        block_stop: find(&text, "content_block_stop", |d| d["type"] == "content_block_stop")?,
        message_delta: find(&text, "message_delta", |d| d["type"] == "message_delta")?,
        message_stop: find(&text, "message_stop", |d| d["type"] == "message_stop")?,
        stream_error: find(&error, "error event", |d| d["type"] == "error")?,
        error: json(fixture!("anthropic/error.json"))?,
        count_tokens: json(fixture!("anthropic/count_tokens.json"))?,
        models: json(fixture!("anthropic/models.json"))?,
    })
}

fn load_openai() -> Result<OpenAiTemplates, String> {
    let text = stream(fixture!("openai/chat_completion_stream.sse"))?;
    let tools = stream(fixture!("openai/chat_completion_stream_tool_calls_usage.sse"))?;
    let error = stream(fixture!("openai/chat_completion_stream_error.sse"))?;
    let tool_completion = json(fixture!("openai/chat_completion_tool_calls.json"))?;
    let done = text
        .iter()
        .chain(&tools)
        .find(|e| e.data == "[DONE]")
        .map(|e| e.data.clone())
        .ok_or("no [DONE] event in the OpenAI streams")?;
    Ok(OpenAiTemplates {
        completion: json(fixture!("openai/chat_completion.json"))?,
        tool_calls_message: tool_completion["choices"][0]["message"].clone(),
        role_chunk: find(&text, "role chunk", |d| d["choices"][0]["delta"]["role"] == "assistant")?,
        content_chunk: find(&text, "content chunk", |d| {
            let delta = &d["choices"][0]["delta"];
            delta["role"].is_null() && delta["content"].is_string()
        })?,
        finish_chunk: find(&text, "finish chunk", |d| {
            d["choices"][0]["finish_reason"].is_string()
        })?,
        tool_call_chunk: find(&tools, "tool call chunk", |d| {
            d["choices"][0]["delta"]["tool_calls"][0]["id"].is_string()
        })?,
        arguments_chunk: find(&tools, "arguments chunk", |d| {
            let call = &d["choices"][0]["delta"]["tool_calls"][0];
            call["id"].is_null() && call["function"]["arguments"].is_string()
        })?,
        usage_chunk: find(&tools, "usage chunk", |d| {
            d["choices"].as_array().is_some_and(Vec::is_empty) && d["usage"].is_object()
        })?,
        done,
        stream_error: find(&error, "error data", |d| d["error"].is_object())?,
        error: json(fixture!("openai/error.json"))?,
        models: json(fixture!("openai/models.json"))?,
    })
}

fn stream((path, text): (&str, &str)) -> Result<Vec<SseEvent>, String> {
    let events = sse::parse(text);
    if events.is_empty() {
        return Err(format!("{path}: no events"));
    }
    for event in &events {
        if event.data != "[DONE]" {
            Json::parse(&event.data).map_err(|e| format!("{path}: event data: {e}"))?;
        }
    }
    Ok(events)
}

fn json((path, text): (&str, &str)) -> Result<Json, String> {
    Json::parse(text).map_err(|e| format!("{path}: {e}"))
}

fn find(events: &[SseEvent], what: &str, pred: impl Fn(&Json) -> bool) -> Result<Json, String> {
    events
        .iter()
        .filter_map(|event| Json::parse(&event.data).ok())
        .find(|data| pred(data))
        .ok_or_else(|| format!("no {what} in the fixture stream"))
}

fn block(message: &Json, kind: &str) -> Result<Json, String> {
    message["content"]
        .as_array()
        .and_then(|blocks| blocks.iter().find(|b| b["type"] == kind))
        .cloned()
        .ok_or_else(|| format!("no {kind} block in the fixture message"))
}

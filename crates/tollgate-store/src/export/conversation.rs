//! What an exchange says, as the pieces of two turns: the user's last turn, read from the
//! request body, and the assistant's answer, read from whichever form the response was stored
//! in (the reconstructed message, a whole JSON body, or the raw SSE stream, assembled here).
//!
//! Stored content can be anything (a cut-off stream, a provider's odd shape, bytes that are not
//! JSON), so everything here reads `serde_json::Value` by shape and gives up quietly: never a
//! panic, at worst an empty turn.

use serde_json::Value;
use tollgate_wire::reconstruct::{AnthropicAssembler, OpenAiAssembler};
use tollgate_wire::sse::SseDecoder;

use crate::ExchangeRecord;

/// One thing said in a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Words, as written (Markdown more often than not).
    Text(String),
    /// Text an agent wrapped in a tag (`<system-reminder>...</system-reminder>`), not typed by
    /// the user.
    Injected {
        tag: String,
        text: String,
    },
    /// A tool's output sent back to the model.
    ToolResult {
        id: Option<String>,
        is_error: bool,
        text: String,
    },
    /// A tool the model called, with its input (pretty JSON when it is JSON).
    ToolCall {
        name: String,
        id: Option<String>,
        input: String,
    },
    Thinking(String),
    RedactedThinking,
    Refusal(String),
    /// An image, document or other attachment, by kind.
    Attachment(String),
    /// A block of a kind not rendered as text (a server tool's result), as pretty JSON.
    Other {
        kind: String,
        json: String,
    },
}

/// What the response amounted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Message(Vec<Piece>),
    /// `count_tokens`: the count.
    TokenCount(i64),
    /// The response was an error body (or stream error event), with its message.
    Error(String),
    /// Nothing stored, or nothing readable.
    Missing,
}

/// The user's last turn in a request body: Anthropic's last `user` message (tool results are
/// in it); for OpenAI, the `user` and `tool` messages after the last assistant message, or the
/// last `user` message. `None` when the body is not a messages request.
pub(crate) fn user_turn(dialect: &str, request_body: &[u8]) -> Option<Vec<Piece>> {
    let body: Value = serde_json::from_slice(request_body).ok()?;
    let messages = body.get("messages")?.as_array()?;
    let role = |m: &Value| m.get("role").and_then(Value::as_str).unwrap_or_default().to_owned();
    let turn: Vec<&Value> = if is_openai(dialect) {
        let after = messages.iter().rposition(|m| role(m) == "assistant").map_or(0, |i| i + 1);
        let trailing: Vec<&Value> = messages
            .iter()
            .skip(after)
            .filter(|m| matches!(role(m).as_str(), "user" | "tool"))
            .collect();
        if trailing.is_empty() {
            messages.iter().rev().find(|m| role(m) == "user").into_iter().collect()
        } else {
            trailing
        }
    } else {
        messages.iter().rev().find(|m| role(m) == "user").into_iter().collect()
    };
    let mut pieces = Vec::new();
    for message in turn {
        let content = message.get("content");
        if role(message) == "tool" {
            pieces.push(Piece::ToolResult {
                id: str_of(message, "tool_call_id"),
                is_error: false,
                text: plain_text(content),
            });
            continue;
        }
        match content {
            Some(Value::String(text)) => push_text(&mut pieces, text),
            Some(Value::Array(blocks)) => {
                for block in blocks {
                    user_block(block, &mut pieces);
                }
            }
            _ => {}
        }
    }
    Some(pieces)
}

fn user_block(block: &Value, pieces: &mut Vec<Piece>) {
    match kind(block) {
        "text" | "input_text" => push_text(pieces, str_at(block, "text")),
        "tool_result" => pieces.push(Piece::ToolResult {
            id: str_of(block, "tool_use_id"),
            is_error: block.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            text: plain_text(block.get("content")),
        }),
        "image" | "image_url" | "input_image" => pieces.push(Piece::Attachment(media(block))),
        "" => {}
        other => pieces.push(Piece::Attachment(other.to_owned())),
    }
}

/// `image (image/png)`, from an Anthropic `source.media_type`, else the kind.
fn media(block: &Value) -> String {
    let kind = match kind(block) {
        "image_url" | "input_image" => "image",
        k => k,
    };
    match block.get("source").and_then(|s| s.get("media_type")).and_then(Value::as_str) {
        Some(m) => format!("{kind} ({m})"),
        None => kind.to_owned(),
    }
}

/// Text, split into what the user wrote and what an agent injected around it: a text that is
/// one `<tag>...</tag>` element is injected.
fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return;
    }
    match injected_tag(trimmed) {
        Some(tag) => pieces.push(Piece::Injected { tag: tag.to_owned(), text: trimmed.to_owned() }),
        None => pieces.push(Piece::Text(trimmed.to_owned())),
    }
}

/// `system-reminder` for `<system-reminder>...</system-reminder>`.
fn injected_tag(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('<')?;
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let well_formed = !tag.is_empty()
        && tag.len() <= 64
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (well_formed && text.ends_with(&format!("</{tag}>"))).then_some(tag)
}

/// The text of a tool result or message content: a string, or the text of its blocks, with
/// attachments named.
fn plain_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => {
            let parts: Vec<String> = blocks
                .iter()
                .map(|b| match kind(b) {
                    "text" | "input_text" | "output_text" => str_at(b, "text").to_owned(),
                    "" => String::new(),
                    _ => format!("[{}]", media(b)),
                })
                .filter(|s| !s.is_empty())
                .collect();
            parts.join("\n")
        }
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The assistant's answer, from the best form stored: the reconstructed message, else a whole
/// JSON body, else the SSE stream assembled here.
pub(crate) fn reply(e: &ExchangeRecord) -> Reply {
    let parsed = e
        .response_message
        .as_deref()
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .filter(Value::is_object)
        .or_else(|| {
            let body = e.response_body.as_deref()?;
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => Some(v),
                Err(_) => assemble(&e.client_dialect, body),
            }
        });
    let Some(v) = parsed else {
        return match stream_error(e.response_body.as_deref()) {
            Some(message) => Reply::Error(message),
            None => Reply::Missing,
        };
    };
    if let Some(error) = v.get("error").filter(|err| !err.is_null()) {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| error.to_string(), str::to_owned);
        return Reply::Error(message);
    }
    if e.endpoint == "count_tokens"
        && let Some(n) = v.get("input_tokens").and_then(Value::as_i64)
    {
        return Reply::TokenCount(n);
    }
    let mut pieces = Vec::new();
    if let Some(blocks) = v.get("content").and_then(Value::as_array) {
        for block in blocks {
            assistant_block(block, &mut pieces);
        }
    }
    let choices = v.get("choices").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for (i, choice) in choices.iter().enumerate() {
        if choices.len() > 1 {
            pieces.push(Piece::Text(format!("_Choice {}:_", i + 1)));
        }
        if let Some(message) = choice.get("message") {
            openai_message(message, &mut pieces);
        }
    }
    Reply::Message(pieces)
}

/// A stream's SSE bytes as the whole response, by the client's dialect.
fn assemble(dialect: &str, body: &[u8]) -> Option<Value> {
    let mut decoder = SseDecoder::new();
    let mut frames = Vec::new();
    decoder.feed(body, &mut frames);
    if is_openai(dialect) {
        let mut a = OpenAiAssembler::new();
        frames.iter().for_each(|f| a.push(f));
        a.finish()
    } else {
        let mut a = AnthropicAssembler::new();
        frames.iter().for_each(|f| a.push(f));
        a.finish()
    }
}

/// The message of an error event in a stream that carried nothing else.
fn stream_error(body: Option<&[u8]>) -> Option<String> {
    let mut decoder = SseDecoder::new();
    let mut frames = Vec::new();
    decoder.feed(body?, &mut frames);
    frames.iter().find_map(|f| {
        let v: Value = serde_json::from_str(&f.data).ok()?;
        let error = v.get("error")?;
        Some(
            error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned),
        )
    })
}

fn assistant_block(block: &Value, pieces: &mut Vec<Piece>) {
    match kind(block) {
        "text" => {
            let text = str_at(block, "text").trim();
            if !text.is_empty() {
                pieces.push(Piece::Text(text.to_owned()));
            }
        }
        "thinking" => {
            let text = str_at(block, "thinking").trim();
            if !text.is_empty() {
                pieces.push(Piece::Thinking(text.to_owned()));
            }
        }
        "redacted_thinking" => pieces.push(Piece::RedactedThinking),
        "tool_use" | "server_tool_use" | "mcp_tool_use" => pieces.push(Piece::ToolCall {
            name: str_at(block, "name").to_owned(),
            id: str_of(block, "id"),
            input: block.get("input").map(pretty).unwrap_or_default(),
        }),
        "" => {}
        other => pieces.push(Piece::Other { kind: other.to_owned(), json: pretty(block) }),
    }
}

fn openai_message(message: &Value, pieces: &mut Vec<Piece>) {
    for key in ["reasoning_content", "reasoning"] {
        let text = str_at(message, key).trim();
        if !text.is_empty() {
            pieces.push(Piece::Thinking(text.to_owned()));
        }
    }
    let text = plain_text(message.get("content"));
    if !text.trim().is_empty() {
        pieces.push(Piece::Text(text.trim().to_owned()));
    }
    let refusal = str_at(message, "refusal").trim();
    if !refusal.is_empty() {
        pieces.push(Piece::Refusal(refusal.to_owned()));
    }
    for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let function = call.get("function");
        let arguments = function.map_or("", |f| str_at(f, "arguments"));
        let input = match serde_json::from_str::<Value>(arguments) {
            Ok(v) => pretty(&v),
            Err(_) => arguments.to_owned(),
        };
        pieces.push(Piece::ToolCall {
            name: function.map_or("", |f| str_at(f, "name")).to_owned(),
            id: str_of(call, "id"),
            input,
        });
    }
}

pub(crate) fn is_openai(dialect: &str) -> bool {
    dialect.starts_with("openai")
}

fn kind(v: &Value) -> &str {
    str_at(v, "type")
}

fn str_at<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn anthropic_user_turn_keeps_tool_results_and_marks_injected_text() {
        let body = bytes(json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "fn main() {}"}], "is_error": true},
                {"type": "text", "text": "<system-reminder>be brief</system-reminder>"},
                {"type": "text", "text": "now add tests"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}},
            ]},
        ]}));
        assert_eq!(
            user_turn("anthropic", &body).unwrap(),
            [
                Piece::ToolResult {
                    id: Some("t1".into()),
                    is_error: true,
                    text: "fn main() {}".into()
                },
                Piece::Injected {
                    tag: "system-reminder".into(),
                    text: "<system-reminder>be brief</system-reminder>".into()
                },
                Piece::Text("now add tests".into()),
                Piece::Attachment("image (image/png)".into()),
            ]
        );
    }

    #[test]
    fn openai_user_turn_is_everything_after_the_last_assistant_message() {
        let body = bytes(json!({"messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.rs\nb.rs"},
            {"role": "user", "content": [{"type": "text", "text": "and then?"}]},
        ]}));
        assert_eq!(
            user_turn("openai-chat", &body).unwrap(),
            [
                Piece::ToolResult {
                    id: Some("c1".into()),
                    is_error: false,
                    text: "a.rs\nb.rs".into()
                },
                Piece::Text("and then?".into()),
            ]
        );
    }

    #[test]
    fn replies_come_from_the_message_the_body_or_the_stream() {
        let sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":3}}}\n\n\
                   event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
                   event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n\
                   event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n";
        let e = ExchangeRecord {
            client_dialect: "anthropic".into(),
            stream: true,
            response_body: Some(sse.as_bytes().to_vec().into()),
            ..Default::default()
        };
        assert_eq!(reply(&e), Reply::Message(vec![Piece::Text("Hi there".into())]));

        let e = ExchangeRecord {
            response_message: Some(
                bytes(json!({"content": [{"type": "text", "text": "from the message"}]})).into(),
            ),
            ..e
        };
        assert_eq!(reply(&e), Reply::Message(vec![Piece::Text("from the message".into())]));

        let e = ExchangeRecord {
            client_dialect: "openai-chat".into(),
            response_body: Some(
                bytes(json!({"choices": [{"message": {"content": "ok", "tool_calls": [
                    {"id": "c", "function": {"name": "f", "arguments": "{\"a\":1}"}},
                    {"id": "d", "function": {"name": "g", "arguments": "{not json"}},
                ]}}]}))
                .into(),
            ),
            ..Default::default()
        };
        assert_eq!(
            reply(&e),
            Reply::Message(vec![
                Piece::Text("ok".into()),
                Piece::ToolCall {
                    name: "f".into(),
                    id: Some("c".into()),
                    input: "{\n  \"a\": 1\n}".into()
                },
                Piece::ToolCall {
                    name: "g".into(),
                    id: Some("d".into()),
                    input: "{not json".into()
                },
            ])
        );

        let e = ExchangeRecord {
            response_body: Some(bytes(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})).into()),
            ..Default::default()
        };
        assert_eq!(reply(&e), Reply::Error("Overloaded".into()));
        let e = ExchangeRecord {
            client_dialect: "openai-chat".into(),
            response_body: Some(b"data: {\"error\":{\"message\":\"boom\"}}\n\n".to_vec().into()),
            ..Default::default()
        };
        assert_eq!(reply(&e), Reply::Error("boom".into()));
        assert_eq!(reply(&ExchangeRecord::default()), Reply::Missing);
    }

    #[test]
    fn tags_are_recognised_only_when_they_wrap_the_whole_text() {
        assert_eq!(injected_tag("<env>x</env>"), Some("env"));
        assert_eq!(injected_tag("<env>x</env> and more"), None);
        assert_eq!(injected_tag("<b>bold</b>"), Some("b"));
        assert_eq!(injected_tag("< x>"), None);
        assert_eq!(injected_tag("<"), None);
    }
}

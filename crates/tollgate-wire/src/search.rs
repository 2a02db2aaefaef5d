//! The plain text an exchange is found by in full-text search: what the user last said (tool
//! results included, shortened) and what the assistant answered (text, and the tools it called
//! with their arguments). Not what the agent injected, not images, not thinking.
//!
//! The text is built from the bodies as given: pass the masked request body (or mask the
//! result with [`crate::secrets::mask`]) so search never holds what the bodies do not.

use serde_json::Value;

use crate::Dialect;
use crate::session::{Content, Message, content_of, plain_text, truncate_chars, user_words};

/// The most search text kept per exchange, in bytes.
pub const MAX_BYTES: usize = 32 * 1024;
/// The most kept of each tool result, in characters.
pub const TOOL_RESULT_CHARS: usize = 2_000;

/// Search text for one exchange: the last user turn of `request_body`, then the text of
/// `response` (a whole Messages or Chat Completions response, or one rebuilt by
/// [`crate::reconstruct`]), joined by newlines and cut to [`MAX_BYTES`] on a char boundary.
pub fn searchable_text(dialect: Dialect, request_body: &[u8], response: Option<&Value>) -> String {
    let mut out = Text::default();
    last_user_turn(dialect, request_body, &mut out);
    if let Some(response) = response {
        response_text(response, &mut out);
    }
    out.0
}

/// Newline-joined pieces, stopping at [`MAX_BYTES`].
#[derive(Default)]
struct Text(String);

impl Text {
    fn push(&mut self, piece: &str) {
        let piece = piece.trim();
        if piece.is_empty() || self.0.len() >= MAX_BYTES {
            return;
        }
        if !self.0.is_empty() {
            self.0.push('\n');
        }
        let room = MAX_BYTES.saturating_sub(self.0.len());
        let mut cut = piece.len().min(room);
        while !piece.is_char_boundary(cut) {
            cut -= 1;
        }
        self.0.push_str(&piece[..cut]);
    }
}

#[derive(serde::Deserialize)]
struct Body<'a> {
    #[serde(default, borrow)]
    messages: Vec<Message<'a>>,
}

/// Anthropic: the last `user` message (its tool results are in it). OpenAI: every `user` and
/// `tool` message after the last assistant message, or the last user message.
fn last_user_turn(dialect: Dialect, body: &[u8], out: &mut Text) {
    let Ok(body) = serde_json::from_slice::<Body<'_>>(body) else { return };
    let messages = &body.messages;
    let turn: Vec<&Message<'_>> = match dialect {
        Dialect::Anthropic => {
            messages.iter().rev().find(|m| m.role() == "user").into_iter().collect()
        }
        Dialect::OpenAiChat => {
            let after = messages.iter().rposition(|m| m.role() == "assistant").map_or(0, |i| i + 1);
            let trailing: Vec<_> = messages
                .iter()
                .skip(after)
                .filter(|m| matches!(m.role(), "user" | "tool"))
                .collect();
            if trailing.is_empty() {
                messages.iter().rev().find(|m| m.role() == "user").into_iter().collect()
            } else {
                trailing
            }
        }
        // A Responses body has `input`, not `messages`: its search text is not extracted yet.
        Dialect::OpenAiResponses | Dialect::Gemini | Dialect::Ollama => Vec::new(),
    };
    for message in turn {
        if message.role() == "tool" {
            out.push(&truncate_chars(&plain_text(message.content), TOOL_RESULT_CHARS));
            continue;
        }
        match content_of(message.content) {
            Some(Content::Text(t)) => out.push(&user_words(&t)),
            Some(Content::Blocks(blocks)) => {
                for block in blocks {
                    match block.kind.as_deref() {
                        Some("text") => {
                            out.push(&user_words(block.text.as_deref().unwrap_or_default()))
                        }
                        Some("tool_result") => {
                            let text = plain_text(block.content);
                            out.push(&truncate_chars(&text, TOOL_RESULT_CHARS));
                        }
                        // Images, documents, search results: no text worth indexing.
                        _ => {}
                    }
                }
            }
            None => {}
        }
    }
}

/// The assistant's words in a whole response of either dialect, recognised by shape.
fn response_text(response: &Value, out: &mut Text) {
    if let Some(blocks) = response.get("content").and_then(Value::as_array) {
        for block in blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => out.push(str_at(block, "text")),
                Some("tool_use" | "server_tool_use" | "mcp_tool_use") => {
                    out.push(&call(str_at(block, "name"), block.get("input")));
                }
                // Thinking (and its signature), redacted thinking, tool results: skipped.
                _ => {}
            }
        }
    }
    for choice in response.get("choices").and_then(Value::as_array).into_iter().flatten() {
        let Some(message) = choice.get("message") else { continue };
        match message.get("content") {
            Some(Value::String(text)) => out.push(text),
            Some(Value::Array(parts)) => {
                for part in parts {
                    out.push(str_at(part, "text"));
                }
            }
            _ => {}
        }
        out.push(str_at(message, "refusal"));
        for tool_call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let function = tool_call.get("function");
            let name = function.map_or("", |f| str_at(f, "name"));
            let arguments = function.map_or("", |f| str_at(f, "arguments"));
            out.push(&format!("{name} {arguments}"));
        }
    }
}

fn str_at<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `name {"compact":"json"}`.
fn call(name: &str, input: Option<&Value>) -> String {
    match input {
        Some(input) => format!("{name} {input}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn anthropic_last_turn_and_response() {
        let request = bytes(json!({ "messages": [
            { "role": "user", "content": "first prompt, not searched" },
            { "role": "assistant", "content": [{ "type": "tool_use", "id": "t1", "name": "Read", "input": {} }] },
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "t1", "content": [{ "type": "text", "text": "fn main() {}" }, { "type": "image", "source": { "type": "base64", "data": "iVBORw0KGgo=" } }] },
                { "type": "tool_result", "tool_use_id": "t2", "content": "x".repeat(5_000) },
                { "type": "text", "text": "<system-reminder>CLAUDE.md says hi</system-reminder>" },
                { "type": "text", "text": "now add tests" },
                { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" } },
            ] },
        ] }));
        let response = json!({
            "type": "message",
            "content": [
                { "type": "thinking", "thinking": "private musings", "signature": "EqQBsig" },
                { "type": "redacted_thinking", "data": "EmwKAhgB" },
                { "type": "text", "text": "Adding a test module." },
                { "type": "tool_use", "id": "t3", "name": "Edit", "input": { "file_path": "src/lib.rs", "new": "#[test]" } },
            ],
        });
        let text = searchable_text(Dialect::Anthropic, &request, Some(&response));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "fn main() {}");
        assert_eq!(lines[1].chars().count(), TOOL_RESULT_CHARS);
        assert_eq!(
            &lines[2..],
            [
                "now add tests",
                "Adding a test module.",
                r##"Edit {"file_path":"src/lib.rs","new":"#[test]"}"##
            ]
        );
        for absent in
            ["first prompt", "CLAUDE.md", "private musings", "EqQBsig", "EmwKAhgB", "iVBORw0KGgo"]
        {
            assert!(!text.contains(absent), "{absent}");
        }
    }

    #[test]
    fn openai_trailing_tool_messages_and_response() {
        let request = bytes(json!({ "messages": [
            { "role": "system", "content": "You are helpful." },
            { "role": "user", "content": "list the files" },
            { "role": "assistant", "content": null, "tool_calls": [{ "id": "c1", "type": "function", "function": { "name": "ls", "arguments": "{}" } }] },
            { "role": "tool", "tool_call_id": "c1", "content": "Cargo.toml\nsrc" },
            { "role": "user", "content": [{ "type": "text", "text": "and the tests?" }, { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } }] },
        ] }));
        let response = json!({ "object": "chat.completion", "choices": [{ "index": 0, "message": {
            "role": "assistant", "content": "Here:", "reasoning_content": "thinking...",
            "tool_calls": [{ "id": "c2", "type": "function", "function": { "name": "ls", "arguments": "{\"dir\":\"tests\"}" } }],
        } }] });
        let text = searchable_text(Dialect::OpenAiChat, &request, Some(&response));
        assert_eq!(text, "Cargo.toml\nsrc\nand the tests?\nHere:\nls {\"dir\":\"tests\"}");
    }

    #[test]
    fn openai_without_trailing_user_turn_uses_the_last_user_message() {
        let request = bytes(json!({ "messages": [
            { "role": "user", "content": "hello" },
            { "role": "assistant", "content": "prefill" },
        ] }));
        assert_eq!(searchable_text(Dialect::OpenAiChat, &request, None), "hello");
    }

    #[test]
    fn capped_at_32_kib_on_a_char_boundary() {
        let request =
            bytes(json!({ "messages": [{ "role": "user", "content": "é".repeat(40_000) }] }));
        let response = json!({ "content": [{ "type": "text", "text": "tail" }] });
        let text = searchable_text(Dialect::Anthropic, &request, Some(&response));
        assert!(text.len() <= MAX_BYTES && text.len() > MAX_BYTES - 4);
        assert!(!text.contains("tail"));
    }

    #[test]
    fn garbage_gives_what_it_can() {
        assert_eq!(searchable_text(Dialect::Anthropic, b"", None), "");
        assert_eq!(searchable_text(Dialect::OpenAiChat, b"{\"messages\":5}", None), "");
        let odd = json!({ "content": "not an array", "choices": [{ "message": { "content": 5, "tool_calls": [{ "function": null }] } }] });
        assert_eq!(searchable_text(Dialect::Anthropic, b"[]", Some(&odd)), "");
        let weird = bytes(
            json!({ "messages": [{ "role": "user", "content": [{ "type": "tool_result", "content": { "a": 1 } }, 7] }] }),
        );
        assert_eq!(searchable_text(Dialect::Anthropic, &weird, None), "");
    }
}

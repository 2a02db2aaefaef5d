//! Whole Messages requests and responses between this dialect and the canonical model.
//!
//! Parsing is typed at the edge: the body is split into its top-level fields as raw JSON, and each
//! field, message and content block is parsed into a small serde struct with its JSON path, so a
//! bad block fails as `messages[2].content[0].source: ...`. Block types this version does not
//! know (`server_tool_use`, `web_search_tool_result`, future ones) are kept whole as
//! [`Block::Opaque`](crate::canonical::Block::Opaque), never rewritten.
//!
//! # Layout
//! - `blocks`: content blocks both ways (shared by requests, responses and tool results).
//! - `request`: `decode_request` / `encode_request`.
//! - `response`: `decode_response` / `encode_response`.
//!
//! # Beta body fields
//! Fields that only work with a matching `anthropic-beta` header (`context_management`,
//! `mcp_servers`, `container`, the legacy `output_format`, top-level `cache_control`, `speed`)
//! must travel with that header or not at all (catalogue 42). The encoder writes canonical
//! requests, which carry no headers, so it never writes them: a request translated for an
//! Anthropic provider comes from a client of another dialect and has no such fields anyway, and an
//! Anthropic client talking to an Anthropic provider is passed through byte for byte, headers
//! included. The legacy `output_format` is read as `response_format` and written back as the
//! generally available `output_config.format`.

mod blocks;
mod request;
mod response;

use serde::de::DeserializeOwned;

use crate::canonical::{Note, Request, Response, Target};
use crate::{InvalidBody, Usage};

/// A request body in this dialect, decoded. `role: "system"` messages inside `messages` (the
/// mid-conversation system messages newer models take) are hoisted into `system`, appended in
/// order after the top-level `system`.
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidBody> {
    request::decode(body)
}

/// A canonical request written for a provider of this dialect, after
/// [`repair::for_anthropic`](crate::canonical::repair::for_anthropic). Fields it cannot carry
/// are dropped and noted.
pub fn encode_request(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    request::encode(req, target, notes)
}

/// A whole response body in this dialect, decoded.
pub fn decode_response(body: &[u8]) -> Result<Response, InvalidBody> {
    response::decode(body)
}

/// A canonical response written for a client of this dialect.
pub fn encode_response(resp: &Response, notes: &mut Vec<Note>) -> Vec<u8> {
    response::encode(resp, notes)
}

/// Anthropic's usage with the cache counters always present: Claude Code's context accounting
/// reads them (catalogue 34).
#[derive(serde::Serialize, Clone, Copy)]
pub(crate) struct OutUsage {
    pub(crate) input_tokens: u64,
    pub(crate) cache_creation_input_tokens: u64,
    pub(crate) cache_read_input_tokens: u64,
    pub(crate) output_tokens: u64,
    /// Written only when the provider ran server-side web searches (catalogue 33).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) server_tool_use: Option<OutServerToolUse>,
}

#[derive(serde::Serialize, Clone, Copy)]
pub(crate) struct OutServerToolUse {
    pub(crate) web_search_requests: u64,
}

impl From<Usage> for OutUsage {
    fn from(u: Usage) -> Self {
        OutUsage {
            input_tokens: u.input_tokens,
            cache_creation_input_tokens: u.cache_write_tokens,
            cache_read_input_tokens: u.cache_read_tokens,
            output_tokens: u.output_tokens,
            server_tool_use: (u.web_search_requests > 0)
                .then_some(OutServerToolUse { web_search_requests: u.web_search_requests }),
        }
    }
}

/// A message id as Anthropic clients expect it: `msg_` first.
pub(crate) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") { id.to_owned() } else { format!("msg_{id}") }
}

/// Parses one JSON value found at `path` (as `messages[1].content[0]`), so that errors name
/// the full path.
pub(crate) fn parse_at<T: DeserializeOwned>(json: &str, path: &str) -> Result<T, InvalidBody> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let inner = err.path().to_string();
        let full = join(path, &inner);
        let message = strip_position(&err.into_inner().to_string());
        let shown = if full.is_empty() { "request body" } else { full.as_str() };
        InvalidBody::new((!full.is_empty()).then(|| full.clone()), format!("{shown}: {message}"))
    })
}

/// `messages[1]` + `content[0].text` -> `messages[1].content[0].text`.
pub(crate) fn join(path: &str, inner: &str) -> String {
    if inner == "." || inner.is_empty() {
        path.to_owned()
    } else if path.is_empty() {
        inner.to_owned()
    } else if inner.starts_with('[') {
        format!("{path}{inner}")
    } else {
        format!("{path}.{inner}")
    }
}

/// serde_json appends ` at line L column C`, which points into a sub-document here, not into the
/// body the user sent: the path says where instead.
fn strip_position(message: &str) -> String {
    match message.rsplit_once(" at line ") {
        Some((head, tail))
            if tail.split(" column ").all(|n| n.bytes().all(|b| b.is_ascii_digit())) =>
        {
            head.to_owned()
        }
        _ => message.to_owned(),
    }
}

/// Adds a note once: an encoder dropping the same kind of thing many times says so once.
pub(crate) fn note(notes: &mut Vec<Note>, text: impl Into<String>) {
    let text = text.into();
    if !notes.iter().any(|n| n.0 == text) {
        notes.push(Note(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_serde_path_to_error() {
        assert_eq!(join("messages[1]", "content[0].text"), "messages[1].content[0].text");
        assert_eq!(join("messages[1].content", "[2]"), "messages[1].content[2]");
        assert_eq!(join("tools[0]", "."), "tools[0]");
        assert_eq!(join("", "model"), "model");
    }

    #[test]
    fn parse_errors_name_the_full_path_without_a_sub_document_position() {
        let err = parse_at::<Vec<u64>>(r#"[1, "x"]"#, "stop").unwrap_err();
        assert_eq!(err.path.as_deref(), Some("stop[1]"));
        assert!(err.message.starts_with("stop[1]: invalid type: string \"x\""), "{}", err.message);
        assert!(!err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn message_ids_get_the_msg_prefix_once() {
        assert_eq!(message_id("msg_01"), "msg_01");
        assert_eq!(message_id("chatcmpl-1"), "msg_chatcmpl-1");
    }
}

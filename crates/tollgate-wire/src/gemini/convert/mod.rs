//! Whole Gemini requests and responses <-> the canonical model.
//!
//! Thought signatures: Gemini puts a `thoughtSignature` on the part it belongs to (a text part, a
//! `functionCall` part, or an empty text part at the end). Canonically it becomes a
//! signature-only thinking block placed right before that part's block, and encoding attaches it
//! back to the part that follows it. A thought-summary part (`thought: true`) is a thinking block
//! with its own text and, when it has one, its own signature.
//!
//! # Layout
//! - this file: the public converters and what requests and responses share (parts <-> blocks,
//!   finish reasons, usage, error kinds).
//! - `request`: `generateContent` bodies, both ways.
//! - `response`: `GenerateContentResponse` bodies, both ways.

mod request;
mod response;

use serde_json::{Map, Value};

use super::wire::{Blob, FileData, FunctionCall, Part, UsageMetadata};
use crate::canonical::{
    Block, Document, Image, Note, Opaque, Request, Response, Source, StopReason, Target, TextBlock,
    ThinkingBlock, ToolUse, ids,
};
use crate::{Dialect, InvalidBody, Usage};

/// A `generateContent` request body, decoded. The model is in the URL, so `model` is empty and
/// `stream` false: the caller fills them in from the path.
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidBody> {
    request::decode(body)
}

/// A canonical request written as a `generateContent` body for `target` (the model goes in the
/// URL, see [`super::path`]). What Gemini cannot carry is dropped and noted.
pub fn encode_request(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    if req.ends_in_prefill() {
        notes.push(crate::canonical::prefill_note("Gemini"));
    }
    if let Some(n) = req.document_extras_note("Gemini") {
        notes.push(n);
    }
    request::encode(req, target, notes)
}

/// A `GenerateContentResponse` body, decoded.
pub fn decode_response(body: &[u8]) -> Result<Response, InvalidBody> {
    response::decode(body)
}

/// A canonical response written as a `GenerateContentResponse`.
pub fn encode_response(resp: &Response, notes: &mut Vec<Note>) -> Vec<u8> {
    response::encode(resp, notes)
}

/// Parses a body at the edge, keeping the JSON path of what failed.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, InvalidBody> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(InvalidBody::from_serde)
}

/// Gemini `finishReason` -> canonical. `saw_tool_call` turns a `STOP` into `ToolUse`, since
/// Gemini ends a function-call turn with `STOP` too.
pub(crate) fn stop_reason(finish: &str, saw_tool_call: bool) -> StopReason {
    match finish {
        "STOP" if saw_tool_call => StopReason::ToolUse,
        "STOP" => StopReason::EndTurn,
        "MAX_TOKENS" => StopReason::MaxTokens,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => StopReason::Refusal,
        other => StopReason::Other(other.to_owned()),
    }
}

/// Canonical -> Gemini `finishReason`.
pub(crate) fn finish_reason(stop: Option<&StopReason>) -> String {
    match stop {
        None
        | Some(
            StopReason::EndTurn
            | StopReason::ToolUse
            | StopReason::StopSequence
            | StopReason::PauseTurn,
        ) => "STOP".to_owned(),
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => "MAX_TOKENS".to_owned(),
        Some(StopReason::Refusal) => "SAFETY".to_owned(),
        Some(StopReason::Other(s)) => s.clone(),
    }
}

/// Gemini usage -> canonical: `promptTokenCount` includes the cached part; thoughts are output.
pub(crate) fn usage(meta: &UsageMetadata) -> Usage {
    let cached = meta.cached_content_token_count.min(meta.prompt_token_count);
    Usage {
        input_tokens: meta.prompt_token_count - cached + meta.tool_use_prompt_token_count,
        output_tokens: meta.candidates_token_count + meta.thoughts_token_count,
        cache_read_tokens: cached,
        cache_write_tokens: 0,
        web_search_requests: 0,
    }
}

/// Canonical usage -> Gemini. Thinking tokens are not counted apart canonically, so they stay in
/// `candidatesTokenCount`.
pub(crate) fn usage_metadata(usage: &Usage) -> UsageMetadata {
    let prompt = usage.total_input();
    UsageMetadata {
        prompt_token_count: prompt,
        candidates_token_count: usage.output_tokens,
        total_token_count: prompt + usage.output_tokens,
        cached_content_token_count: usage.cache_read_tokens,
        ..UsageMetadata::default()
    }
}

/// Google's `status` -> an Anthropic error type, for a stream that fails after it started.
pub(crate) fn error_kind(status: Option<&str>, code: Option<i64>) -> &'static str {
    match (status, code) {
        (Some("RESOURCE_EXHAUSTED"), _) | (_, Some(429)) => "rate_limit_error",
        (Some("UNAVAILABLE"), _) | (_, Some(503)) => "overloaded_error",
        (Some("INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE"), _) | (_, Some(400)) => {
            "invalid_request_error"
        }
        (Some("UNAUTHENTICATED"), _) | (_, Some(401)) => "authentication_error",
        (Some("PERMISSION_DENIED"), _) | (_, Some(403)) => "permission_error",
        (Some("NOT_FOUND"), _) | (_, Some(404)) => "not_found_error",
        (Some("DEADLINE_EXCEEDED"), _) | (_, Some(504)) => "timeout_error",
        _ => "api_error",
    }
}

/// Anthropic error type -> Google's `code` and `status`.
pub(crate) fn google_status(kind: &str) -> (i64, &'static str) {
    match kind {
        "invalid_request_error" => (400, "INVALID_ARGUMENT"),
        "authentication_error" => (401, "UNAUTHENTICATED"),
        "permission_error" => (403, "PERMISSION_DENIED"),
        "not_found_error" => (404, "NOT_FOUND"),
        "rate_limit_error" => (429, "RESOURCE_EXHAUSTED"),
        "overloaded_error" => (503, "UNAVAILABLE"),
        "timeout_error" => (504, "DEADLINE_EXCEEDED"),
        _ => (500, "INTERNAL"),
    }
}

/// The blocks of a model (or decoded user) content's parts, in order. Function calls without an
/// id get [`ids::fallback`]`(seed, n)`, `n` counting calls across the whole response.
pub(crate) fn blocks_of_parts(parts: Vec<Part>, seed: &str, calls: &mut usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    for part in parts {
        if part.is_thought() {
            blocks.push(Block::Thinking(ThinkingBlock {
                thinking: part.text.unwrap_or_default(),
                signature: part.thought_signature,
                origin: None,
            }));
            continue;
        }
        if let Some(signature) = part.thought_signature.clone() {
            blocks.push(signature_only(signature));
        }
        if let Some(block) = block_of_part(part, seed, calls) {
            blocks.push(block);
        }
    }
    blocks
}

pub(crate) fn signature_only(signature: String) -> Block {
    Block::Thinking(ThinkingBlock {
        thinking: String::new(),
        signature: Some(signature),
        origin: None,
    })
}

/// The data of one non-thought part (its signature handled by the caller); `None` for an empty
/// text part.
pub(crate) fn block_of_part(part: Part, seed: &str, calls: &mut usize) -> Option<Block> {
    if let Some(call) = part.function_call {
        return Some(Block::ToolUse(tool_use(call, seed, calls)));
    }
    if let Some(blob) = part.inline_data {
        let source = Source::Base64 { media_type: blob.mime_type, data: blob.data };
        return Some(media_block(source));
    }
    if let Some(file) = part.file_data {
        let mime = file.mime_type.unwrap_or_default();
        let source = Source::Url(file.file_uri);
        return Some(if mime.starts_with("image/") {
            Block::Image(Image { source, detail: None, cache_control: None })
        } else {
            Block::Document(Document {
                context: None,
                citations: None,
                source,
                title: None,
                filename: None,
                cache_control: None,
            })
        });
    }
    if let Some(text) = part.text {
        if part.other.is_empty() {
            return (!text.is_empty()).then(|| Block::Text(TextBlock::new(text)));
        }
        let mut value = part.other;
        value.insert("text".to_owned(), Value::String(text));
        return Some(Block::Opaque(Opaque {
            dialect: Dialect::Gemini,
            value: Value::Object(value),
        }));
    }
    if let Some(response) = part.function_response {
        let mut value = Map::new();
        value.insert("functionResponse".to_owned(), function_response_value(response));
        return Some(Block::Opaque(Opaque {
            dialect: Dialect::Gemini,
            value: Value::Object(value),
        }));
    }
    if part.other.is_empty() {
        return None;
    }
    Some(Block::Opaque(Opaque { dialect: Dialect::Gemini, value: Value::Object(part.other) }))
}

fn function_response_value(response: super::wire::FunctionResponse) -> Value {
    let mut value = Map::new();
    if let Some(id) = response.id {
        value.insert("id".to_owned(), Value::String(id));
    }
    value.insert("name".to_owned(), Value::String(response.name));
    value.insert("response".to_owned(), response.response);
    Value::Object(value)
}

pub(crate) fn tool_use(call: FunctionCall, seed: &str, calls: &mut usize) -> ToolUse {
    let id = match call.id {
        Some(id) if !id.is_empty() => id,
        _ => ids::fallback(seed, *calls),
    };
    *calls += 1;
    let input = match call.args {
        Some(Value::Object(args)) => Value::Object(args),
        None | Some(Value::Null) => Value::Object(Map::new()),
        // Gemini's args is a Struct; anything else is wrapped so canonical input stays an object.
        Some(other) => {
            let mut wrapped = Map::new();
            wrapped.insert("value".to_owned(), other);
            Value::Object(wrapped)
        }
    };
    ToolUse { id, name: call.name, input, cache_control: None }
}

fn media_block(source: Source) -> Block {
    let is_image =
        matches!(&source, Source::Base64 { media_type, .. } if media_type.starts_with("image/"));
    if is_image {
        Block::Image(Image { source, detail: None, cache_control: None })
    } else {
        Block::Document(Document {
            context: None,
            citations: None,
            source,
            title: None,
            filename: None,
            cache_control: None,
        })
    }
}

/// A media source as a part: inline bytes, a URL as `fileData`, plain text as text. Provider file
/// ids from other APIs mean nothing to Gemini; only its own `files/...` names pass.
pub(crate) fn media_part(source: &Source, what: &str, notes: &mut Vec<Note>) -> Option<Part> {
    match source {
        Source::Base64 { media_type, data } => Some(Part {
            inline_data: Some(Blob { mime_type: media_type.clone(), data: data.clone() }),
            ..Part::default()
        }),
        // A data URI that is not base64 (`data:image/svg+xml,<svg ...>`) is no file URI.
        Source::Url(url) if url.starts_with("data:") => {
            notes.push(Note::new(format!("{what} given as a non-base64 data URI dropped")));
            None
        }
        Source::Url(url) => Some(Part {
            file_data: Some(FileData {
                mime_type: mime_from_url(url, what),
                file_uri: url.clone(),
            }),
            ..Part::default()
        }),
        Source::File(id)
            if id.starts_with("files/")
                || id.starts_with("https://generativelanguage.googleapis.com/") =>
        {
            Some(Part {
                file_data: Some(FileData { mime_type: None, file_uri: id.clone() }),
                ..Part::default()
            })
        }
        Source::File(id) => {
            notes.push(Note::new(format!(
                "{what} referring to file id {id:?} dropped: Gemini cannot read another provider's files"
            )));
            None
        }
        Source::Text { data, .. } => Some(Part::text(data.clone())),
    }
}

fn mime_from_url(url: &str, what: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    let mime = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ if what == "document" => "application/pdf",
        _ => return None,
    };
    Some(mime.to_owned())
}

/// Model-role parts for a canonical assistant turn (or response). `keep` decides which thinking
/// blocks may go back (signatures only to their issuer); a signature-only block's signature is
/// attached to the part that follows it, or rides an empty text part when nothing does.
pub(crate) fn model_parts(
    blocks: &[Block],
    keep: &dyn Fn(&ThinkingBlock) -> bool,
    notes: &mut Vec<Note>,
) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut pending: Option<String> = None;
    let mut foreign = 0usize;
    for block in blocks {
        match block {
            Block::Thinking(thinking) if !keep(thinking) => foreign += 1,
            Block::Thinking(thinking) if thinking.thinking.is_empty() => {
                if let Some(signature) = &thinking.signature {
                    flush(&mut parts, &mut pending);
                    pending = Some(signature.clone());
                }
            }
            Block::Thinking(thinking) => {
                flush(&mut parts, &mut pending);
                parts.push(Part {
                    text: Some(thinking.thinking.clone()),
                    thought: Some(true),
                    thought_signature: thinking.signature.clone(),
                    ..Part::default()
                });
            }
            Block::RedactedThinking(_) => foreign += 1,
            Block::Text(text) => {
                if text.text.is_empty() && pending.is_none() {
                    continue;
                }
                let mut part = Part::text(text.text.clone());
                part.thought_signature = pending.take();
                parts.push(part);
            }
            Block::ToolUse(call) => parts.push(Part {
                function_call: Some(FunctionCall {
                    id: None,
                    name: call.name.clone(),
                    args: Some(call.input.clone()),
                }),
                thought_signature: pending.take(),
                ..Part::default()
            }),
            Block::Image(image) => {
                if let Some(mut part) = media_part(&image.source, "image", notes) {
                    part.thought_signature = pending.take();
                    parts.push(part);
                }
            }
            Block::Document(doc) => {
                if let Some(mut part) = media_part(&doc.source, "document", notes) {
                    part.thought_signature = pending.take();
                    parts.push(part);
                }
            }
            Block::Opaque(opaque) if opaque.dialect == Dialect::Gemini => {
                if let Value::Object(value) = &opaque.value {
                    // Every named field of `Part` is optional, so the whole object can ride in
                    // `other` and serialise back as it came.
                    let mut part = Part { other: value.clone(), ..Part::default() };
                    if let Some(signature) = pending.take() {
                        part.other.insert("thoughtSignature".to_owned(), Value::String(signature));
                    }
                    parts.push(part);
                }
            }
            Block::Opaque(opaque) => notes.push(Note::new(format!(
                "a {} block in an assistant turn has no Gemini equivalent and was dropped",
                opaque.dialect
            ))),
            Block::ToolResult(_) => {
                notes.push(Note::new("a tool result inside an assistant turn was dropped"))
            }
        }
    }
    flush(&mut parts, &mut pending);
    if foreign > 0 {
        notes.push(Note::new(format!(
            "{foreign} thinking block(s) not issued by this Gemini model were dropped"
        )));
    }
    parts
}

/// A signature with no part after it rides an empty text part, as Gemini itself sends it.
fn flush(parts: &mut Vec<Part>, pending: &mut Option<String>) {
    if let Some(signature) = pending.take() {
        let mut part = Part::text("");
        part.thought_signature = Some(signature);
        parts.push(part);
    }
}

//! Canonical values as compact JSON for snapshots: long strings clipped (Codex's system prompt is
//! 20 KB), every field that matters kept.

use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Request, Response, Source, StreamEvent, ThinkingMode, ToolChoice, ToolKind,
};
use tollgate_wire::sse::{SseDecoder, SseFrame};

const CLIP: usize = 100;

pub fn clip(s: &str) -> String {
    if s.chars().count() <= CLIP + 20 {
        return s.to_owned();
    }
    let head: String = s.chars().take(CLIP).collect();
    format!("{head}…({} chars)", s.chars().count())
}

pub fn clip_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(clip(s)),
        Value::Array(a) => Value::Array(a.iter().map(clip_value).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), clip_value(v))).collect())
        }
        other => other.clone(),
    }
}

fn source(s: &Source) -> Value {
    match s {
        Source::Base64 { media_type, data } => {
            json!({"base64": {"media_type": media_type, "data": clip(data)}})
        }
        Source::Url(u) => json!({"url": u}),
        Source::File(f) => json!({"file": f}),
        Source::Text { media_type, data } => {
            json!({"text": {"media_type": media_type, "data": clip(data)}})
        }
    }
}

pub fn block(b: &Block) -> Value {
    match b {
        Block::Text(t) => json!({"text": clip(&t.text)}),
        Block::Image(i) => json!({"image": source(&i.source), "detail": i.detail}),
        Block::Document(d) => {
            json!({"document": source(&d.source), "title": d.title, "filename": d.filename})
        }
        Block::ToolUse(u) => {
            json!({"tool_use": {"id": u.id, "name": u.name, "input": clip_value(&u.input)}})
        }
        Block::ToolResult(r) => json!({"tool_result": {
            "tool_use_id": r.tool_use_id,
            "is_error": r.is_error,
            "content": r.content.iter().map(block).collect::<Vec<_>>(),
        }}),
        Block::Thinking(t) => json!({"thinking": {
            "text": clip(&t.thinking),
            "signature": t.signature.as_deref().map(clip),
            "origin": t.origin.as_ref().map(|o| format!("{}/{}", o.provider, o.family)),
        }}),
        Block::RedactedThinking(r) => json!({"redacted_thinking": {
            "data": clip(&r.data),
            "origin": r.origin.as_ref().map(|o| format!("{}/{}", o.provider, o.family)),
        }}),
        Block::Opaque(o) => {
            json!({"opaque": {"dialect": o.dialect.as_str(), "value": clip_value(&o.value)}})
        }
    }
}

pub fn request(r: &Request) -> Value {
    json!({
        "model": r.model,
        "system": r.system.iter().map(|t| clip(&t.text)).collect::<Vec<_>>(),
        "messages": r.messages.iter().map(|m| json!({
            "role": format!("{:?}", m.role),
            "content": m.content.iter().map(block).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "tools": r.tools.iter().map(|t| {
            let kind = match &t.kind {
                ToolKind::Function { strict, .. } => json!({"function": {"strict": strict}}),
                ToolKind::Custom { format } => json!({"custom": {"format": clip_value(&format.clone().unwrap_or(Value::Null))}}),
                ToolKind::Hosted { dialect, value } => json!({"hosted": {"dialect": dialect.as_str(), "value": clip_value(value)}}),
            };
            json!({"name": t.name, "kind": kind})
        }).collect::<Vec<_>>(),
        "tool_choice": r.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => "auto".to_owned(),
            ToolChoice::Any => "any".to_owned(),
            ToolChoice::None => "none".to_owned(),
            ToolChoice::Tool(n) => format!("tool:{n}"),
        }),
        "parallel_tool_calls": r.parallel_tool_calls,
        "max_tokens": r.max_tokens,
        "temperature": r.temperature,
        "stream": r.stream,
        "thinking": r.thinking.as_ref().map(|t| json!({
            "mode": match &t.mode {
                ThinkingMode::Enabled { budget_tokens } => format!("enabled:{budget_tokens}"),
                ThinkingMode::Adaptive => "adaptive".to_owned(),
                ThinkingMode::Disabled => "disabled".to_owned(),
            },
            "effort": t.effort,
            "display": t.display,
        })),
        "user": r.user,
        "response_format": r.response_format.as_ref().map(|f| format!("{f:?}")),
        "extra": {
            "dialect": r.extra.dialect.map(|d| d.as_str()),
            "fields": clip_value(&Value::Object(r.extra.fields.clone())),
        },
    })
}

pub fn response(r: &Response) -> Value {
    json!({
        "id": r.id,
        "model": r.model,
        "content": r.content.iter().map(block).collect::<Vec<_>>(),
        "stop_reason": r.stop_reason.as_ref().map(|s| s.as_anthropic().to_owned()),
        "usage": r.usage,
    })
}

pub fn event(e: &StreamEvent) -> Value {
    match e {
        StreamEvent::MessageStart { id, model, usage } => {
            json!({"message_start": {"id": id, "model": model, "usage": usage}})
        }
        StreamEvent::BlockStart { index, block: b } => {
            json!({"block_start": {"index": index, "block": block(b)}})
        }
        StreamEvent::BlockDelta { index, delta } => {
            json!({"block_delta": {"index": index, "delta": format!("{delta:?}")}})
        }
        StreamEvent::BlockStop { index } => json!({"block_stop": index}),
        StreamEvent::MessageDelta { stop_reason, usage, .. } => json!({"message_delta": {
            "stop_reason": stop_reason.as_ref().map(|s| s.as_anthropic().to_owned()),
            "usage": usage,
        }}),
        StreamEvent::MessageStop => json!("message_stop"),
        StreamEvent::Ping => json!("ping"),
        StreamEvent::Error { kind, message } => {
            json!({"error": {"kind": kind, "message": message}})
        }
    }
}

pub fn frames(bytes: &[u8]) -> Vec<SseFrame> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    decoder.feed(bytes, &mut out);
    decoder.finish();
    out
}

//! A local input-token estimate for `count_tokens` when the provider has no such endpoint.
//!
//! Conservative on purpose: clients (Claude Code above all) use the answer to decide when to
//! compact, and an estimate that runs low lets a context overflow. Text counts as one token per
//! 3.5 characters (code and JSON tokenise denser than prose), tool definitions by their JSON size,
//! each image as Anthropic's typical ~1,600 tokens, never the size of its base64. Never 0.

use serde_json::Value;

/// Tokens for one image: Anthropic's estimate for a ~1.15 megapixel image (the size they
/// resize to), `width * height / 750`.
const IMAGE_TOKENS: u64 = 1_600;
/// Per-message framing (role markers, separators).
const MESSAGE_OVERHEAD: u64 = 4;

pub fn input_tokens(body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (body.len() as u64 / 4).max(1);
    };
    let mut chars = 0u64;
    let mut fixed = 0u64;
    if let Some(system) = v.get("system") {
        walk(system, &mut chars, &mut fixed);
    }
    if let Some(messages) = v.get("messages").and_then(Value::as_array) {
        for m in messages {
            fixed += MESSAGE_OVERHEAD;
            if let Some(content) = m.get("content") {
                walk(content, &mut chars, &mut fixed);
            }
        }
    }
    if let Some(tools) = v.get("tools") {
        chars += tools.to_string().chars().count() as u64;
    }
    (chars * 2).div_ceil(7).saturating_add(fixed).max(1)
}

fn walk(v: &Value, chars: &mut u64, fixed: &mut u64) {
    match v {
        Value::String(s) => *chars += s.chars().count() as u64,
        Value::Array(items) => items.iter().for_each(|i| walk(i, chars, fixed)),
        Value::Object(map) => {
            match map.get("type").and_then(Value::as_str) {
                Some("image" | "image_url" | "input_image") => {
                    *fixed += IMAGE_TOKENS;
                    return;
                }
                // Signatures and redacted thinking are opaque and not billed as text.
                Some("redacted_thinking") => return,
                _ => {}
            }
            for (k, val) in map {
                if matches!(
                    k.as_str(),
                    "type" | "id" | "tool_use_id" | "signature" | "cache_control" | "media_type"
                ) {
                    continue;
                }
                if k == "input" {
                    *chars += val.to_string().chars().count() as u64;
                } else {
                    walk(val, chars, fixed);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_text_tools_and_images_never_zero() {
        assert_eq!(input_tokens(br#"{"messages":[]}"#), 1);
        let text = input_tokens(
            br#"{"messages":[{"role":"user","content":"hello world, how are you today?"}]}"#,
        );
        assert!((10..=20).contains(&text), "{text}");
        let big_image = format!(
            r#"{{"messages":[{{"role":"user","content":[{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"{}"}}}}]}}]}}"#,
            "A".repeat(100_000)
        );
        let n = input_tokens(big_image.as_bytes());
        assert!((IMAGE_TOKENS..IMAGE_TOKENS + 10).contains(&n), "{n}");
        let with_tools = input_tokens(br#"{"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"Bash","description":"Run a shell command","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}]}"#);
        assert!(with_tools > 30, "{with_tools}");
    }
}

//! Rebuilds a Messages response (`"type":"message"`) from its event stream.
//!
//! Content blocks are keyed by their `index` (the position in the final `content` array) and
//! filled by their deltas. Thinking text and signatures are concatenated as received, never
//! re-encoded, so a stored message can be replayed. Nothing here judges whether the stream was
//! well formed: whatever arrived is kept, and a cut-off stream gives a partial message.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::sse::SseFrame;

/// Push every frame of an Anthropic stream, then [`finish`](Self::finish) to get the message.
#[derive(Debug, Default)]
pub struct AnthropicAssembler {
    /// `message_start.message` without `content` and `usage`.
    message: Option<Map<String, Value>>,
    blocks: BTreeMap<usize, Block>,
    /// Every field of every `message_delta.delta` (`stop_reason`, `stop_sequence`, ...), last
    /// value wins.
    delta: Map<String, Value>,
    /// `message_start` usage overlaid field by field by each `message_delta` usage.
    usage: Map<String, Value>,
}

/// One content block: its `content_block_start` object plus what its deltas added.
#[derive(Debug)]
struct Block {
    start: Map<String, Value>,
    text: Option<String>,
    thinking: Option<String>,
    signature: Option<String>,
    partial_json: Option<String>,
    citations: Vec<Value>,
}

impl Block {
    fn new(start: Map<String, Value>) -> Self {
        Self {
            start,
            text: None,
            thinking: None,
            signature: None,
            partial_json: None,
            citations: Vec::new(),
        }
    }

    /// A block whose start never arrived, typed after the first delta it got.
    fn implied_by(delta_type: &str) -> Option<Self> {
        let kind = match delta_type {
            "text_delta" | "citations_delta" => "text",
            "thinking_delta" | "signature_delta" => "thinking",
            "input_json_delta" => "tool_use",
            _ => return None,
        };
        let mut start = Map::new();
        start.insert("type".into(), Value::String(kind.into()));
        Some(Self::new(start))
    }

    fn into_value(self) -> Value {
        let Block { mut start, text, thinking, signature, partial_json, citations } = self;
        if let Some(text) = text {
            start.insert("text".into(), Value::String(text));
        }
        if let Some(thinking) = thinking {
            start.insert("thinking".into(), Value::String(thinking));
        }
        if let Some(signature) = signature {
            start.insert("signature".into(), Value::String(signature));
        }
        if !citations.is_empty() {
            match start.get_mut("citations") {
                Some(Value::Array(existing)) => existing.extend(citations),
                _ => {
                    start.insert("citations".into(), Value::Array(citations));
                }
            }
        }
        let is_tool_call = matches!(
            start.get("type").and_then(Value::as_str),
            Some("tool_use" | "server_tool_use" | "mcp_tool_use")
        );
        match partial_json {
            Some(raw) if !raw.trim().is_empty() => match serde_json::from_str::<Value>(&raw) {
                Ok(input) => {
                    start.insert("input".into(), input);
                }
                Err(_) => {
                    // Cut off mid-arguments: keep what came, beside a valid `input`.
                    start.insert("input".into(), Value::Object(Map::new()));
                    start.insert("partial_input".into(), Value::String(raw));
                }
            },
            Some(_) => {
                start.insert("input".into(), Value::Object(Map::new()));
            }
            None if is_tool_call && !start.contains_key("input") => {
                start.insert("input".into(), Value::Object(Map::new()));
            }
            None => {}
        }
        Value::Object(start)
    }
}

/// Appends `piece` to an accumulator that starts from the block start's own value of `field`.
fn append(acc: &mut Option<String>, start: &Map<String, Value>, field: &str, piece: &str) {
    acc.get_or_insert_with(|| {
        start.get(field).and_then(Value::as_str).map(str::to_owned).unwrap_or_default()
    })
    .push_str(piece);
}

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
struct MessageStart {
    message: Map<String, Value>,
}

#[derive(Deserialize)]
struct BlockStart {
    index: usize,
    content_block: Map<String, Value>,
}

#[derive(Deserialize)]
struct BlockDelta<'a> {
    index: usize,
    #[serde(borrow)]
    delta: DeltaBody<'a>,
}

#[derive(Deserialize)]
struct DeltaBody<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    signature: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    partial_json: Option<Cow<'a, str>>,
    #[serde(default)]
    citation: Option<Value>,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    delta: Option<Map<String, Value>>,
    #[serde(default)]
    usage: Option<Map<String, Value>>,
}

impl AnthropicAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one frame of the stream. Frames that are not valid events are ignored.
    pub fn push(&mut self, frame: &SseFrame) {
        let data = frame.data.as_str();
        let named;
        let kind = match frame.event.as_deref() {
            Some(kind) => kind,
            // Servers that omit `event:` still put the event name in the JSON `type`.
            None => match serde_json::from_str::<TypeOnly<'_>>(data) {
                Ok(t) => {
                    named = t.kind;
                    &named
                }
                Err(_) => return,
            },
        };
        match kind {
            "content_block_delta" => {
                if let Ok(d) = serde_json::from_str::<BlockDelta<'_>>(data) {
                    self.on_delta(d);
                }
            }
            "content_block_start" => {
                if let Ok(s) = serde_json::from_str::<BlockStart>(data) {
                    // The first start for an index wins; indices only increase in a valid stream.
                    self.blocks.entry(s.index).or_insert_with(|| Block::new(s.content_block));
                }
            }
            "message_start" => {
                if let Ok(s) = serde_json::from_str::<MessageStart>(data) {
                    self.on_message_start(s.message);
                }
            }
            "message_delta" => {
                if let Ok(d) = serde_json::from_str::<MessageDelta>(data) {
                    self.delta.extend(d.delta.unwrap_or_default());
                    if let Some(usage) = d.usage {
                        overlay_usage(&mut self.usage, usage);
                    }
                }
            }
            // `ping`, `content_block_stop`, `message_stop`, `error`: nothing to keep. An error
            // leaves the message as assembled so far, with the stop reason it had.
            _ => {}
        }
    }

    fn on_message_start(&mut self, mut message: Map<String, Value>) {
        if let Some(Value::Object(usage)) = message.remove("usage") {
            overlay_usage(&mut self.usage, usage);
        }
        let content = message.remove("content");
        if self.message.is_none() {
            self.message = Some(message);
        }
        // `content` is `[]` in practice; blocks it does carry take their array positions.
        if let Some(Value::Array(blocks)) = content {
            for (index, block) in blocks.into_iter().enumerate() {
                if let Value::Object(start) = block {
                    self.blocks.entry(index).or_insert_with(|| Block::new(start));
                }
            }
        }
    }

    fn on_delta(&mut self, d: BlockDelta<'_>) {
        let delta = d.delta;
        let block = match self.blocks.entry(d.index) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => match Block::implied_by(&delta.kind) {
                Some(block) => e.insert(block),
                None => return,
            },
        };
        match &*delta.kind {
            "text_delta" => {
                if let Some(t) = &delta.text {
                    append(&mut block.text, &block.start, "text", t);
                }
            }
            "thinking_delta" => {
                if let Some(t) = &delta.thinking {
                    append(&mut block.thinking, &block.start, "thinking", t);
                }
            }
            "signature_delta" => {
                if let Some(s) = &delta.signature {
                    append(&mut block.signature, &block.start, "signature", s);
                }
            }
            "input_json_delta" => {
                if let Some(j) = &delta.partial_json {
                    block.partial_json.get_or_insert_with(String::new).push_str(j);
                }
            }
            "citations_delta" => {
                if let Some(c) = delta.citation {
                    block.citations.push(c);
                }
            }
            _ => {}
        }
    }

    /// The message as the non-streaming API would have returned it, or `None` when the stream
    /// carried nothing of a message.
    pub fn finish(self) -> Option<Value> {
        let AnthropicAssembler { message, blocks, delta, usage } = self;
        if message.is_none() && blocks.is_empty() && delta.is_empty() && usage.is_empty() {
            return None;
        }
        let mut msg = message.unwrap_or_default();
        msg.entry("id").or_insert(Value::Null);
        msg.entry("type").or_insert_with(|| Value::String("message".into()));
        msg.entry("role").or_insert_with(|| Value::String("assistant".into()));
        msg.entry("model").or_insert(Value::Null);
        let content = blocks.into_values().map(Block::into_value).collect();
        msg.insert("content".into(), Value::Array(content));
        msg.extend(delta);
        msg.entry("stop_reason").or_insert(Value::Null);
        msg.entry("stop_sequence").or_insert(Value::Null);
        msg.insert("usage".into(), Value::Object(usage));
        Some(Value::Object(msg))
    }
}

/// Overwrites (never adds) each usage field present; `message_delta` repeats cumulative
/// counts. A `null` does not erase a count already known.
fn overlay_usage(usage: &mut Map<String, Value>, update: Map<String, Value>) {
    for (key, value) in update {
        if !value.is_null() {
            usage.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconstruct::tests::frames_of;
    use serde_json::json;

    fn assemble(stream: &str) -> Option<Value> {
        let mut a = AnthropicAssembler::new();
        for f in frames_of(stream.as_bytes()) {
            a.push(&f);
        }
        a.finish()
    }

    const FULL: &str = include_str!("../../tests/fixtures/anthropic_thinking_tools.sse");
    const SEARCH: &str = include_str!("../../tests/fixtures/anthropic_web_search.sse");
    const CUT: &str = include_str!("../../tests/fixtures/anthropic_cut_off.sse");

    #[test]
    fn thinking_redacted_text_and_tool_use() {
        let msg = assemble(FULL).unwrap();
        assert_eq!(
            msg,
            json!({
                "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": "The user wants the weather in Paris. I should call get_weather.",
                        "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/Sdk0SjvMjB7C/fJs/9lFNGTI=",
                    },
                    {
                        "type": "redacted_thinking",
                        "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj",
                    },
                    { "type": "thinking", "thinking": "", "signature": "ErUBCkYIBhgCIkD/only-signature==" },
                    { "type": "text", "text": "I'll check the weather in Paris for you. ☀️" },
                    {
                        "type": "tool_use",
                        "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                        "name": "get_weather",
                        "input": { "location": "Paris, France", "unit": "celsius" },
                    },
                    {
                        "type": "tool_use",
                        "id": "toolu_01NoArgs",
                        "name": "list_cities",
                        "input": {},
                    },
                ],
                "stop_reason": "tool_use",
                "stop_sequence": null,
                "usage": {
                    "input_tokens": 472,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 2048,
                    "output_tokens": 89,
                    "service_tier": "standard",
                },
            })
        );
    }

    #[test]
    fn server_tool_result_and_citations() {
        let msg = assemble(SEARCH).unwrap();
        let content = msg["content"].as_array().unwrap();
        assert_eq!(content.len(), 4);
        assert_eq!(
            content[1],
            json!({
                "type": "server_tool_use",
                "id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
                "name": "web_search",
                "input": { "query": "rust 2024 edition release date" },
            })
        );
        // An unknown or whole-at-start block is copied as it came.
        assert_eq!(content[2]["type"], "web_search_tool_result");
        assert_eq!(content[2]["content"][0]["encrypted_content"], "EqgfCioIARgBIiQ3YTAwMjY1Mi1");
        assert_eq!(content[3]["text"], "Rust 2024 shipped with Rust 1.85.");
        assert_eq!(content[3]["citations"].as_array().unwrap().len(), 1);
        assert_eq!(
            content[3]["citations"][0]["cited_text"],
            "Rust 1.85.0 stabilises the 2024 edition"
        );
        assert_eq!(msg["usage"]["server_tool_use"], json!({ "web_search_requests": 1 }));
        assert_eq!(msg["stop_reason"], "end_turn");
    }

    #[test]
    fn cut_off_stream_keeps_partial_tool_input_and_null_stop_reason() {
        let msg = assemble(CUT).unwrap();
        assert_eq!(msg["stop_reason"], Value::Null);
        assert_eq!(msg["content"][0]["text"], "Running the tests now.");
        assert_eq!(msg["content"][1]["input"], json!({}));
        assert_eq!(msg["content"][1]["partial_input"], r#"{"command": "cargo test -p tollg"#);
        assert_eq!(msg["usage"]["input_tokens"], 1200);
    }

    #[test]
    fn message_delta_usage_overwrites_never_adds() {
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"x\",\"content\":[],\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_read_input_tokens\":5}}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":7}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":9,\"input_tokens\":10,\"cache_read_input_tokens\":null}}\n\n",
        );
        let msg = assemble(stream).unwrap();
        assert_eq!(
            msg["usage"],
            json!({ "input_tokens": 10, "output_tokens": 9, "cache_read_input_tokens": 5 })
        );
        assert_eq!(msg["stop_reason"], "max_tokens");
    }

    #[test]
    fn frames_without_event_names_and_deltas_without_starts() {
        let stream = concat!(
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"he\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"llo\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln\"}}\n\n",
            "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"mystery_delta\"}}\n\n",
        );
        let msg = assemble(stream).unwrap();
        assert_eq!(
            msg["content"],
            json!([{ "type": "text", "text": "hello" }, { "type": "thinking", "signature": "c2ln" }])
        );
        assert_eq!(msg["id"], Value::Null);
        assert_eq!(msg["type"], "message");
    }

    #[test]
    fn nothing_of_a_message_gives_none() {
        assert_eq!(assemble(""), None);
        assert_eq!(assemble("event: ping\ndata: {\"type\":\"ping\"}\n\n"), None);
        assert_eq!(assemble("data: not json\n\ndata: [DONE]\n\n"), None);
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        assert_eq!(assemble(error), None);
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            "event: content_block_delta\ndata: {\"index\":-1,\"delta\":{\"type\":\"text_delta\"}}\n\n",
            "event: content_block_delta\ndata: {\"index\":99999999999999999999}\n\n",
            "event: content_block_start\ndata: {\"index\":0,\"content_block\":[1,2]}\n\n",
            "event: message_start\ndata: {\"message\":{\"content\":[1,{\"type\":\"text\"}],\"usage\":7}}\n\n",
            "event: message_delta\ndata: {\"delta\":null,\"usage\":null}\n\n",
            "event: content_block_delta\ndata: {\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"   \"}}\n\n",
        ];
        for s in samples {
            let _ = assemble(s);
        }
        let msg = assemble(samples[5]).unwrap();
        assert_eq!(msg["content"][0], json!({ "type": "tool_use", "input": {} }));
    }
}

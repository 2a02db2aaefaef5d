//! Rebuilds a Chat Completions response (`"object":"chat.completion"`) from its chunk stream.
//!
//! Text, reasoning and refusal fragments are concatenated per choice; tool-call fragments are
//! gathered per tool `index` (several may arrive in one chunk, interleaved). Arguments stay the
//! string the model wrote, as in the non-streaming shape.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use crate::sse::SseFrame;

/// Push every frame of a Chat Completions stream, then [`finish`](Self::finish).
#[derive(Debug, Default)]
pub struct OpenAiAssembler {
    id: Option<String>,
    created: Option<Value>,
    model: Option<String>,
    system_fingerprint: Option<Value>,
    choices: BTreeMap<u64, ChoiceState>,
    usage: Option<Value>,
    seen: bool,
}

#[derive(Debug, Default)]
struct ChoiceState {
    role: Option<String>,
    content: Option<String>,
    reasoning_content: Option<String>,
    /// OpenRouter and some others name the reasoning text `reasoning`; kept under that name.
    reasoning: Option<String>,
    refusal: Option<String>,
    tool_calls: Vec<ToolCallState>,
    finish_reason: Option<Value>,
}

#[derive(Debug)]
struct ToolCallState {
    index: u64,
    id: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    arguments: String,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    created: Option<Value>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    system_fingerprint: Option<Value>,
    #[serde(default, borrow)]
    choices: Option<Vec<ChunkChoice<'a>>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    delta: Option<ChunkDelta<'a>>,
    #[serde(default)]
    finish_reason: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkDelta<'a> {
    #[serde(default)]
    role: Option<String>,
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default, borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Deserialize)]
struct FunctionDelta<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

fn append(acc: &mut Option<String>, piece: Option<Cow<'_, str>>) {
    if let Some(piece) = piece {
        acc.get_or_insert_with(String::new).push_str(&piece);
    }
}

impl OpenAiAssembler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one frame. `[DONE]`, error payloads and anything else that is
    /// not a chunk are ignored.
    pub fn push(&mut self, frame: &SseFrame) {
        let data = frame.data.trim();
        if data == "[DONE]" {
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Chunk<'_>>(data) else {
            return;
        };
        if chunk.error.is_some() {
            return;
        }
        self.seen = true;
        if self.id.is_none() {
            self.id = chunk.id.filter(|id| !id.is_empty());
        }
        if self.created.is_none() {
            self.created = chunk.created.filter(|v| !v.is_null());
        }
        if self.model.is_none() {
            self.model = chunk.model.filter(|m| !m.is_empty());
        }
        if self.system_fingerprint.is_none() {
            self.system_fingerprint = chunk.system_fingerprint.filter(|v| !v.is_null());
        }
        if let Some(usage) = chunk.usage.filter(|u| !u.is_null()) {
            self.usage = Some(usage);
        }
        for choice in chunk.choices.unwrap_or_default() {
            let state = self.choices.entry(choice.index.unwrap_or(0)).or_default();
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_null()) {
                state.finish_reason = Some(reason);
            }
            let Some(delta) = choice.delta else { continue };
            if state.role.is_none() {
                state.role = delta.role;
            }
            append(&mut state.content, delta.content);
            append(&mut state.reasoning_content, delta.reasoning_content);
            append(&mut state.reasoning, delta.reasoning);
            append(&mut state.refusal, delta.refusal);
            for call in delta.tool_calls.unwrap_or_default() {
                state.on_tool_call(call);
            }
        }
    }

    /// The response as the non-streaming API would have returned it, or `None` when no chunk
    /// arrived.
    pub fn finish(self) -> Option<Value> {
        if !self.seen {
            return None;
        }
        let mut out = Map::new();
        out.insert("id".into(), self.id.map_or(Value::Null, Value::String));
        out.insert("object".into(), Value::String("chat.completion".into()));
        out.insert("created".into(), self.created.unwrap_or(Value::Null));
        out.insert("model".into(), self.model.map_or(Value::Null, Value::String));
        if let Some(fp) = self.system_fingerprint {
            out.insert("system_fingerprint".into(), fp);
        }
        let choices = self.choices.into_iter().map(|(index, c)| c.into_value(index)).collect();
        out.insert("choices".into(), Value::Array(choices));
        out.insert("usage".into(), self.usage.unwrap_or(Value::Null));
        Some(Value::Object(out))
    }
}

impl ChoiceState {
    fn on_tool_call(&mut self, call: ToolCallDelta<'_>) {
        // Providers that omit `index` continue the call with the same id, or the last one.
        let position = match call.index {
            Some(index) => self.tool_calls.iter().position(|c| c.index == index),
            None => match &call.id {
                Some(id) => self.tool_calls.iter().position(|c| c.id.as_ref() == Some(id)),
                None => self.tool_calls.len().checked_sub(1),
            },
        };
        let slot = match position {
            Some(p) => p,
            None => {
                let index = call.index.unwrap_or(self.tool_calls.len() as u64);
                self.tool_calls.push(ToolCallState {
                    index,
                    id: None,
                    kind: None,
                    name: None,
                    arguments: String::new(),
                });
                self.tool_calls.len() - 1
            }
        };
        let Some(state) = self.tool_calls.get_mut(slot) else { return };
        if state.id.is_none() {
            state.id = call.id.filter(|id| !id.is_empty());
        }
        if state.kind.is_none() {
            state.kind = call.kind;
        }
        if let Some(function) = call.function {
            if state.name.is_none() {
                state.name = function.name.filter(|n| !n.is_empty());
            }
            if let Some(args) = function.arguments {
                state.arguments.push_str(&args);
            }
        }
    }

    fn into_value(self, index: u64) -> Value {
        let mut message = Map::new();
        message
            .insert("role".into(), Value::String(self.role.unwrap_or_else(|| "assistant".into())));
        let content = match self.content {
            Some(text) if !text.is_empty() || self.tool_calls.is_empty() => Value::String(text),
            _ => Value::Null,
        };
        message.insert("content".into(), content);
        if let Some(refusal) = self.refusal.filter(|r| !r.is_empty()) {
            message.insert("refusal".into(), Value::String(refusal));
        }
        if let Some(reasoning) = self.reasoning_content.filter(|r| !r.is_empty()) {
            message.insert("reasoning_content".into(), Value::String(reasoning));
        }
        if let Some(reasoning) = self.reasoning.filter(|r| !r.is_empty()) {
            message.insert("reasoning".into(), Value::String(reasoning));
        }
        if !self.tool_calls.is_empty() {
            let mut calls = self.tool_calls;
            calls.sort_by_key(|c| c.index);
            let calls = calls
                .into_iter()
                .map(|c| {
                    let mut function = Map::new();
                    function.insert("name".into(), c.name.map_or(Value::Null, Value::String));
                    function.insert("arguments".into(), Value::String(c.arguments));
                    let mut call = Map::new();
                    call.insert("id".into(), c.id.map_or(Value::Null, Value::String));
                    call.insert(
                        "type".into(),
                        Value::String(c.kind.unwrap_or_else(|| "function".into())),
                    );
                    call.insert("function".into(), Value::Object(function));
                    Value::Object(call)
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(calls));
        }
        let mut choice = Map::new();
        choice.insert("index".into(), Value::from(index));
        choice.insert("message".into(), Value::Object(message));
        choice.insert("finish_reason".into(), self.finish_reason.unwrap_or(Value::Null));
        Value::Object(choice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconstruct::tests::frames_of;
    use serde_json::json;

    fn assemble(stream: &str) -> Option<Value> {
        let mut a = OpenAiAssembler::new();
        for f in frames_of(stream.as_bytes()) {
            a.push(&f);
        }
        a.finish()
    }

    const TOOLS: &str = include_str!("../../tests/fixtures/openai_tools.sse");
    const REASONING: &str = include_str!("../../tests/fixtures/openai_reasoning_text.sse");

    #[test]
    fn parallel_tool_calls_accumulate_per_index() {
        assert_eq!(
            assemble(TOOLS).unwrap(),
            json!({
                "id": "chatcmpl-C1xSaB5rNmPq",
                "object": "chat.completion",
                "created": 1754318400,
                "model": "gpt-4o-2024-08-06",
                "system_fingerprint": "fp_07871e2ad8",
                "choices": [{
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": null,
                        "tool_calls": [
                            {
                                "id": "call_7pXq2",
                                "type": "function",
                                "function": { "name": "read_file", "arguments": "{\"path\":\"Cargo.toml\"}" },
                            },
                            {
                                "id": "call_9ZkR4",
                                "type": "function",
                                "function": { "name": "list_dir", "arguments": "{\"dir\":\"src\"}" },
                            },
                        ],
                    },
                    "finish_reason": "tool_calls",
                }],
                "usage": {
                    "prompt_tokens": 1834,
                    "completion_tokens": 41,
                    "total_tokens": 1875,
                    "prompt_tokens_details": { "cached_tokens": 1536, "audio_tokens": 0 },
                    "completion_tokens_details": {
                        "reasoning_tokens": 0,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                },
            })
        );
    }

    #[test]
    fn text_and_reasoning_content() {
        let msg = assemble(REASONING).unwrap();
        assert_eq!(
            msg["choices"][0]["message"],
            json!({
                "role": "assistant",
                "content": "2 + 2 = 4 ✅",
                "reasoning_content": "Two plus two is four.",
            })
        );
        assert_eq!(msg["choices"][0]["finish_reason"], "stop");
        assert_eq!(msg["usage"]["completion_tokens"], 30);
    }

    #[test]
    fn missing_indices_and_several_choices() {
        let stream = concat!(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"b\"}},{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"t1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n",
            "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"t2\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n",
        );
        let msg = assemble(stream).unwrap();
        let choices = msg["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 2);
        assert_eq!(choices[0]["message"]["content"], "a");
        assert_eq!(choices[1]["message"]["content"], "b");
        let calls = choices[0]["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls[0]["function"], json!({ "name": "f", "arguments": "{\"x\":1}" }));
        assert_eq!(calls[1]["id"], "t2");
        assert_eq!(msg["usage"], Value::Null);
        assert_eq!(msg["created"], Value::Null);
    }

    #[test]
    fn nothing_and_garbage() {
        assert_eq!(assemble(""), None);
        assert_eq!(assemble("data: [DONE]\n\n"), None);
        assert_eq!(assemble("data: {\"error\":{\"message\":\"boom\"}}\n\n"), None);
        for s in [
            "data: {\"choices\":[{\"index\":-3}]}\n\n",
            "data: {\"choices\":null,\"usage\":null}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":5},{\"index\":5}]}}]}\n\n",
            "data: [1,2,3]\n\n",
        ] {
            let _ = assemble(s);
        }
        let msg = assemble("data: {\"choices\":null,\"usage\":null}\n\n").unwrap();
        assert_eq!(msg["choices"], json!([]));
    }
}

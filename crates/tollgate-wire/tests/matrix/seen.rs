//! What a client actually got, read from its own wire format (not through Tollgate's decoders):
//! the stop reason, usage, thinking, text, tool calls and error in the client dialect's words.
//! Shape problems the reader notices on the way (an extension field in a Chat chunk, streamed
//! deltas that disagree with the final object) are collected in [`Seen::problems`].

use serde_json::Value;
use tollgate_wire::Dialect;
use tollgate_wire::canonical::Block;
use tollgate_wire::sse::SseFrame;

use super::pipeline::sealer;
use super::scenario::{Args, Call, Thought};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Seen {
    /// Anthropic `stop_reason`; Chat `finish_reason`; Responses `status` (with `/reason` when
    /// incomplete).
    pub stop: Option<String>,
    pub stop_sequence: Option<String>,
    /// The dialect's own usage fields, in a fixed order.
    pub usage: Option<Vec<(&'static str, u64)>>,
    /// Anthropic: the thinking and redacted blocks; Responses: the blocks sealed in
    /// `encrypted_content`, opened with the gateway's key; Chat: nothing (no standard field).
    pub thinking: Vec<Thought>,
    /// Responses: the sealed blocks' issuers (`provider/family`).
    pub origins: Vec<String>,
    /// Responses: the reasoning summary texts shown.
    pub summaries: Vec<String>,
    pub text: String,
    pub calls: Vec<Call>,
    /// Anthropic `error.type`; Chat `type/code`; Responses the `error` event's `code`.
    pub error: Option<String>,
    /// Responses: reasoning items that are not Tollgate's sealed ones.
    pub foreign_reasoning: usize,
    pub problems: Vec<String>,
}

impl Seen {
    /// The fields where `self` and `other` differ, as `field: want ≠ got` lines.
    pub fn diff(&self, got: &Seen) -> Vec<String> {
        let mut out = Vec::new();
        macro_rules! fields {
            ($($f:ident),*) => {$(
                if self.$f != got.$f {
                    out.push(format!("{}: want {:?}\n     got {:?}", stringify!($f), self.$f, got.$f));
                }
            )*};
        }
        fields!(
            stop,
            stop_sequence,
            usage,
            thinking,
            origins,
            summaries,
            text,
            calls,
            error,
            foreign_reasoning,
            problems
        );
        out
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(u64::MAX)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Reads a client's stream.
pub fn stream(c: Dialect, frames: &[SseFrame]) -> Seen {
    match c {
        Dialect::Anthropic => anthropic_stream(frames),
        Dialect::OpenAiChat => chat_stream(frames),
        _ => responses_stream(frames),
    }
}

/// Reads a client's whole response body.
pub fn whole(c: Dialect, body: &[u8]) -> Seen {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Seen { problems: vec![format!("body is not JSON: {e}")], ..Seen::default() };
        }
    };
    match c {
        Dialect::Anthropic => anthropic_message(&v),
        Dialect::OpenAiChat => chat_completion(&v),
        _ => {
            let mut seen = Seen::default();
            responses_object(&v, &mut seen);
            seen
        }
    }
}

fn data(f: &SseFrame) -> Value {
    serde_json::from_str(&f.data).unwrap_or(Value::Null)
}

fn anthropic_usage(v: &Value) -> Vec<(&'static str, u64)> {
    vec![
        ("input_tokens", u(&v["input_tokens"])),
        ("cache_creation_input_tokens", u(&v["cache_creation_input_tokens"])),
        ("cache_read_input_tokens", u(&v["cache_read_input_tokens"])),
        ("output_tokens", u(&v["output_tokens"])),
    ]
}

/// Anthropic content blocks (whole, or assembled from the stream) into the view.
fn anthropic_blocks(blocks: &[Value], seen: &mut Seen) {
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => seen.text.push_str(b["text"].as_str().unwrap_or_default()),
            Some("thinking") => seen.thinking.push(Thought::Thinking {
                text: s(&b["thinking"]),
                signature: opt(&b["signature"]),
            }),
            Some("redacted_thinking") => {
                seen.thinking.push(Thought::Redacted { data: s(&b["data"]) })
            }
            Some("tool_use") => seen.calls.push(Call {
                id: opt(&b["id"]),
                name: s(&b["name"]),
                args: match &b["input"] {
                    Value::String(raw) => Args::of(raw),
                    other => Args::Json(other.clone()),
                },
            }),
            other => seen.problems.push(format!("unexpected block type {other:?}")),
        }
    }
}

fn anthropic_message(v: &Value) -> Seen {
    let mut seen = Seen {
        stop: opt(&v["stop_reason"]),
        stop_sequence: opt(&v["stop_sequence"]),
        usage: Some(anthropic_usage(&v["usage"])),
        ..Seen::default()
    };
    anthropic_blocks(v["content"].as_array().map_or(&[], Vec::as_slice), &mut seen);
    seen
}

fn anthropic_stream(frames: &[SseFrame]) -> Seen {
    let mut seen = Seen::default();
    // Blocks as they would be assembled; a tool call's input stays the raw streamed JSON.
    let mut blocks: Vec<Value> = Vec::new();
    for f in frames {
        let d = data(f);
        let event = f.event.as_deref().unwrap_or_default();
        if d["type"].as_str() != Some(event) {
            seen.problems.push(format!("event {event} carries type {}", d["type"]));
        }
        match event {
            "content_block_start" => {
                if d["index"].as_u64() != Some(blocks.len() as u64) {
                    seen.problems.push(format!("block index {} out of order", d["index"]));
                }
                let mut b = d["content_block"].clone();
                if b["type"] == "tool_use" {
                    b["input"] = Value::String(String::new());
                }
                blocks.push(b);
            }
            "content_block_delta" => {
                let Some(b) = d["index"].as_u64().and_then(|i| blocks.get_mut(i as usize)) else {
                    seen.problems.push(format!("delta for unknown block {}", d["index"]));
                    continue;
                };
                let delta = &d["delta"];
                let (field, piece) = match delta["type"].as_str() {
                    Some("text_delta") => ("text", &delta["text"]),
                    Some("thinking_delta") => ("thinking", &delta["thinking"]),
                    Some("input_json_delta") => ("input", &delta["partial_json"]),
                    Some("signature_delta") => {
                        b["signature"] = delta["signature"].clone();
                        continue;
                    }
                    other => {
                        seen.problems.push(format!("unexpected delta {other:?}"));
                        continue;
                    }
                };
                let joined = format!("{}{}", b[field].as_str().unwrap_or_default(), s(piece));
                b[field] = Value::String(joined);
            }
            "message_delta" => {
                seen.stop = opt(&d["delta"]["stop_reason"]);
                seen.stop_sequence = opt(&d["delta"]["stop_sequence"]);
                seen.usage = Some(anthropic_usage(&d["usage"]));
            }
            "error" => seen.error = opt(&d["error"]["type"]),
            "message_start" | "content_block_stop" | "message_stop" | "ping" => {}
            other => seen.problems.push(format!("unexpected event {other}")),
        }
    }
    anthropic_blocks(&blocks, &mut seen);
    seen
}

fn chat_usage(v: &Value) -> Vec<(&'static str, u64)> {
    vec![
        ("prompt_tokens", u(&v["prompt_tokens"])),
        ("completion_tokens", u(&v["completion_tokens"])),
        ("total_tokens", u(&v["total_tokens"])),
        ("cached_tokens", u(&v["prompt_tokens_details"]["cached_tokens"])),
    ]
}

fn chat_error(v: &Value) -> String {
    format!("{}/{}", s(&v["type"]), v["code"].as_str().unwrap_or("-"))
}

/// Only the standard fields may reach a Chat client (catalogue 11, 30).
fn standard_keys(obj: &Value, allowed: &[&str], what: &str, seen: &mut Seen) {
    for key in obj.as_object().into_iter().flat_map(|o| o.keys()) {
        if !allowed.contains(&key.as_str()) {
            seen.problems.push(format!("{what} has a non-standard field `{key}`"));
        }
    }
}

fn chat_stream(frames: &[SseFrame]) -> Seen {
    let mut seen = Seen::default();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut done = false;
    for f in frames {
        if f.data == "[DONE]" {
            done = true;
            continue;
        }
        let d = data(f);
        if d.get("error").is_some() {
            seen.error = Some(chat_error(&d["error"]));
            continue;
        }
        standard_keys(
            &d,
            &["id", "object", "created", "model", "choices", "usage"],
            "chunk",
            &mut seen,
        );
        if let Some(usage) = d.get("usage").filter(|v| !v.is_null()) {
            seen.usage = Some(chat_usage(usage));
        }
        for choice in d["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            standard_keys(delta, &["role", "content", "tool_calls"], "delta", &mut seen);
            seen.text.push_str(delta["content"].as_str().unwrap_or_default());
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let k = call["index"].as_u64().unwrap_or(u64::MAX) as usize;
                if k == calls.len() {
                    calls.push((s(&call["id"]), String::new(), String::new()));
                }
                match calls.get_mut(k) {
                    Some((_, name, args)) => {
                        name.push_str(call["function"]["name"].as_str().unwrap_or_default());
                        args.push_str(call["function"]["arguments"].as_str().unwrap_or_default());
                    }
                    None => seen.problems.push(format!("tool call index {k} out of order")),
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                if delta.as_object().is_some_and(|o| !o.is_empty()) {
                    seen.problems.push("finish_reason in a chunk with content (27)".into());
                }
                seen.stop = Some(reason.to_owned());
            }
        }
    }
    if done != seen.error.is_none() {
        seen.problems.push(format!("[DONE] sent: {done}, error: {:?}", seen.error));
    }
    seen.calls = calls
        .into_iter()
        .map(|(id, name, args)| Call { id: Some(id), name, args: Args::of(&args) })
        .collect();
    seen
}

fn chat_completion(v: &Value) -> Seen {
    let choice = &v["choices"][0];
    let message = &choice["message"];
    let mut seen = Seen {
        stop: opt(&choice["finish_reason"]),
        usage: Some(chat_usage(&v["usage"])),
        text: s(&message["content"]),
        ..Seen::default()
    };
    standard_keys(message, &["role", "content", "refusal", "tool_calls"], "message", &mut seen);
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        seen.calls.push(Call {
            id: opt(&call["id"]),
            name: s(&call["function"]["name"]),
            args: Args::of(call["function"]["arguments"].as_str().unwrap_or_default()),
        });
    }
    seen
}

fn responses_usage(v: &Value) -> Vec<(&'static str, u64)> {
    vec![
        ("input_tokens", u(&v["input_tokens"])),
        ("cached_tokens", u(&v["input_tokens_details"]["cached_tokens"])),
        ("output_tokens", u(&v["output_tokens"])),
        ("total_tokens", u(&v["total_tokens"])),
    ]
}

/// Output items into the view: message text, reasoning (summaries shown, sealed blocks opened),
/// function calls.
fn responses_items(items: &[Value], seen: &mut Seen) {
    for item in items {
        match item["type"].as_str() {
            Some("message") => {
                for part in item["content"].as_array().into_iter().flatten() {
                    seen.text.push_str(part["text"].as_str().unwrap_or_default());
                }
            }
            Some("reasoning") => {
                let blob = item["encrypted_content"].as_str().unwrap_or_default();
                let Some(blocks) = sealer().open(blob) else {
                    seen.foreign_reasoning += 1;
                    continue;
                };
                for part in item["summary"].as_array().into_iter().flatten() {
                    seen.summaries.push(s(&part["text"]));
                }
                for b in blocks {
                    let (thought, origin) = match b {
                        Block::Thinking(t) => (
                            Thought::Thinking { text: t.thinking, signature: t.signature },
                            t.origin,
                        ),
                        Block::RedactedThinking(r) => {
                            (Thought::Redacted { data: r.data }, r.origin)
                        }
                        _ => continue,
                    };
                    seen.thinking.push(thought);
                    seen.origins.push(
                        origin.map_or("-".into(), |o| format!("{}/{}", o.provider, o.family)),
                    );
                }
            }
            Some("function_call") => seen.calls.push(Call {
                id: opt(&item["call_id"]),
                name: s(&item["name"]),
                args: Args::of(item["arguments"].as_str().unwrap_or_default()),
            }),
            other => seen.problems.push(format!("unexpected output item {other:?}")),
        }
    }
}

fn responses_object(v: &Value, seen: &mut Seen) {
    let status = s(&v["status"]);
    seen.stop = Some(match v["incomplete_details"]["reason"].as_str() {
        Some(reason) => format!("{status}/{reason}"),
        None => status,
    });
    if !v["usage"].is_null() {
        seen.usage = Some(responses_usage(&v["usage"]));
    }
    responses_items(v["output"].as_array().map_or(&[], Vec::as_slice), seen);
}

fn responses_stream(frames: &[SseFrame]) -> Seen {
    let mut seen = Seen::default();
    let mut streamed_text = String::new();
    let mut done_items: Vec<Value> = Vec::new();
    let mut args_streamed: Vec<String> = Vec::new();
    let mut terminal: Option<Value> = None;
    for (n, f) in frames.iter().enumerate() {
        let d = data(f);
        let event = f.event.as_deref().unwrap_or_default();
        if d["type"].as_str() != Some(event) {
            seen.problems.push(format!("event {event} carries type {}", d["type"]));
        }
        if d["sequence_number"].as_u64() != Some(n as u64) {
            seen.problems
                .push(format!("{event}: sequence_number {}, expected {n}", d["sequence_number"]));
        }
        match event {
            "response.output_text.delta" => streamed_text.push_str(&s(&d["delta"])),
            "response.function_call_arguments.delta" => {
                let k = d["output_index"].as_u64().unwrap_or_default() as usize;
                if args_streamed.len() <= k {
                    args_streamed.resize(k + 1, String::new());
                }
                if let Some(a) = args_streamed.get_mut(k) {
                    a.push_str(&s(&d["delta"]));
                }
            }
            "response.function_call_arguments.done" => {
                let k = d["output_index"].as_u64().unwrap_or_default() as usize;
                let streamed = args_streamed.get(k).cloned().unwrap_or_default();
                let done = s(&d["arguments"]);
                if streamed != done && !(streamed.is_empty() && done == "{}") {
                    seen.problems.push(format!("arguments streamed {streamed:?}, done {done:?}"));
                }
            }
            "response.output_item.done" => done_items.push(d["item"].clone()),
            "response.completed" | "response.incomplete" | "response.failed" => {
                terminal = Some(d["response"].clone());
            }
            "error" => seen.error = opt(&d["error"]["code"]),
            _ => {}
        }
    }
    match terminal {
        Some(response) => {
            if response["status"] != "failed" {
                if response["output"].as_array() != Some(&done_items) {
                    seen.problems.push("final output differs from the items streamed".into());
                }
                responses_object(&response, &mut seen);
            } else {
                seen.stop = Some("failed".into());
                if seen.error.is_none() {
                    seen.problems.push("response.failed without an error event".into());
                }
                responses_items(&done_items, &mut seen);
            }
        }
        None => seen.problems.push("no terminal response event".into()),
    }
    if seen.error.is_some() {
        // The text already streamed is what the client saw of a failed turn.
        seen.text = streamed_text;
    } else if streamed_text != seen.text {
        seen.problems.push(format!("text streamed {streamed_text:?}, final {:?}", seen.text));
    }
    seen
}

//! The conformance matrix: every client dialect (Anthropic Messages, OpenAI Chat, OpenAI
//! Responses) x every provider dialect (Anthropic, OpenAI Chat, OpenAI Responses, Gemini,
//! Ollama), streaming and not, through the whole gateway against the mock upstreams.
//!
//! Each scenario is a real multi-turn exchange: the gateway's output, exactly as the client
//! received it, is appended to the history and sent back on the next turn, and the mock validates
//! that history as strictly as the real API does (tool pairing, block order, thinking signatures).
//! Every stream the gateway emits is checked against the stream invariants. Nothing in this
//! harness repairs the gateway's output.

use serde_json::{Value, json};
use tollgate_testkit::TestGateway;
use tollgate_testkit::mock::Behaviour;
use tollgate_wire::canonical::{self, StreamDecoder, StreamEvent};
use tollgate_wire::reconstruct::{AnthropicAssembler, OpenAiAssembler};
use tollgate_wire::sse::{SseDecoder, SseFrame};

const PROVIDERS: &[(&str, &str)] = &[
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("openai_chat", "openai:gpt-4o"),
    ("openai_responses", "openai-responses:gpt-5"),
    ("gemini", "gemini-2.5-flash"),
    ("ollama", "ollama-native:qwen3"),
];

/// A 1x1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Anthropic,
    Chat,
    Responses,
}

const CLIENTS: [Client; 3] = [Client::Anthropic, Client::Chat, Client::Responses];

#[derive(Clone, Copy)]
enum ResultKind {
    Text,
    Image,
    Error,
}

fn weather() -> (&'static str, Value) {
    (
        "get_weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

fn clock() -> (&'static str, Value) {
    (
        "get_time",
        json!({"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}),
    )
}

struct Convo {
    client: Client,
    model: String,
    stream: bool,
    thinking: bool,
    tools: Vec<(&'static str, Value)>,
    history: Vec<Value>,
}

/// What the client got back.
#[derive(Debug)]
struct Answer {
    /// The assistant turn as the client would append it to its history (Anthropic: one message;
    /// Chat: one message; Responses: the output items).
    assistant: Vec<Value>,
    calls: Vec<(String, String)>,
    text: String,
    /// `end_turn`, `tool_use`, `max_tokens`, ... in Anthropic's words.
    stop: String,
    thinking: usize,
}

impl Convo {
    fn new(client: Client, model: &str, stream: bool) -> Self {
        Self {
            client,
            model: model.into(),
            stream,
            thinking: false,
            tools: Vec::new(),
            history: Vec::new(),
        }
    }

    fn body(&self) -> Value {
        let mut b = match self.client {
            Client::Anthropic => {
                json!({"model": self.model, "max_tokens": 4096, "stream": self.stream, "messages": self.history})
            }
            Client::Chat => {
                json!({"model": self.model, "stream": self.stream, "messages": self.history})
            }
            Client::Responses => {
                json!({"model": self.model, "stream": self.stream, "input": self.history, "store": false})
            }
        };
        if !self.tools.is_empty() {
            b["tools"] = self
                .tools
                .iter()
                .map(|(name, schema)| match self.client {
                    Client::Anthropic => json!({"name": name, "description": "a tool", "input_schema": schema}),
                    Client::Chat => json!({"type": "function", "function": {"name": name, "description": "a tool", "parameters": schema}}),
                    Client::Responses => json!({"type": "function", "name": name, "description": "a tool", "parameters": schema}),
                })
                .collect();
        }
        if self.thinking {
            match self.client {
                Client::Anthropic => {
                    b["thinking"] = json!({"type": "enabled", "budget_tokens": 1024})
                }
                Client::Chat => b["reasoning_effort"] = json!("low"),
                Client::Responses => {
                    b["reasoning"] = json!({"effort": "low", "summary": "auto"});
                    b["include"] = json!(["reasoning.encrypted_content"]);
                }
            }
        }
        b
    }

    fn user(&mut self, text: &str) {
        self.history.push(json!({"role": "user", "content": text}));
    }

    fn answer(&mut self, a: &Answer) {
        self.history.extend(a.assistant.iter().cloned());
    }

    fn results(&mut self, a: &Answer, kind: ResultKind) {
        let text = match kind {
            ResultKind::Error => "the weather service is down",
            _ => "18C and sunny",
        };
        match self.client {
            Client::Anthropic => {
                let blocks: Vec<Value> = a
                    .calls
                    .iter()
                    .map(|(id, _)| {
                        let mut r = json!({"type": "tool_result", "tool_use_id": id});
                        match kind {
                            ResultKind::Text => r["content"] = json!(text),
                            ResultKind::Error => {
                                r["content"] = json!(text);
                                r["is_error"] = json!(true);
                            }
                            ResultKind::Image => {
                                r["content"] = json!([{"type": "text", "text": text}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]);
                            }
                        }
                        r
                    })
                    .collect();
                self.history.push(json!({"role": "user", "content": blocks}));
            }
            Client::Chat => {
                for (id, _) in &a.calls {
                    let content = match kind {
                        ResultKind::Text => json!(text),
                        ResultKind::Error => json!(format!("Error: {text}")),
                        ResultKind::Image => {
                            json!([{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}}])
                        }
                    };
                    self.history
                        .push(json!({"role": "tool", "tool_call_id": id, "content": content}));
                }
            }
            Client::Responses => {
                for (id, _) in &a.calls {
                    let output = match kind {
                        ResultKind::Text => json!(text),
                        ResultKind::Error => json!(format!("Error: {text}")),
                        ResultKind::Image => {
                            json!([{"type": "input_text", "text": text}, {"type": "input_image", "image_url": format!("data:image/png;base64,{PNG}")}])
                        }
                    };
                    self.history.push(
                        json!({"type": "function_call_output", "call_id": id, "output": output}),
                    );
                }
            }
        }
    }

    async fn send(&self, gw: &TestGateway) -> Result<Answer, String> {
        let body = self.body();
        let rb = match self.client {
            Client::Anthropic => gw.anthropic(&body),
            Client::Chat => gw.openai(&body),
            Client::Responses => gw.responses(&body),
        };
        let resp = rb.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("HTTP {status}: {text}"));
        }
        if self.stream {
            stream_answer(self.client, &text)
        } else {
            whole_answer(self.client, &text)
        }
    }

    fn label(&self) -> String {
        format!(
            "{:?} -> {} ({})",
            self.client,
            self.model,
            if self.stream { "stream" } else { "whole" }
        )
    }
}

fn frames(text: &str) -> Vec<SseFrame> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    d.feed(text.as_bytes(), &mut out);
    out
}

/// Decodes a stream the gateway emitted with the client dialect's own decoder and checks the
/// stream invariants on the events.
fn check_invariants(client: Client, frames: &[SseFrame]) -> Result<Vec<StreamEvent>, String> {
    let mut decoder: Box<dyn StreamDecoder> = match client {
        Client::Anthropic => Box::new(tollgate_wire::anthropic::codec::Decoder::new()),
        Client::Chat => Box::new(tollgate_wire::openai::codec::Decoder::new()),
        Client::Responses => Box::new(tollgate_wire::responses::codec::Decoder::new()),
    };
    let mut events = Vec::new();
    for f in frames {
        decoder.decode(f, &mut events);
    }
    decoder.finish(&mut events);
    canonical::validate(&events)
        .map_err(|v| format!("stream invariant broken: {v:?}; events {events:?}"))?;
    Ok(events)
}

fn stream_answer(client: Client, text: &str) -> Result<Answer, String> {
    let frames = frames(text);
    let events = check_invariants(client, &frames)?;
    if let Some(StreamEvent::Error { kind, message }) = events.last() {
        return Err(format!("stream error {kind}: {message}"));
    }
    let whole = match client {
        Client::Anthropic => {
            let mut a = AnthropicAssembler::new();
            frames.iter().for_each(|f| a.push(f));
            a.finish().ok_or("no message assembled")?
        }
        Client::Chat => {
            let mut a = OpenAiAssembler::new();
            frames.iter().for_each(|f| a.push(f));
            a.finish().ok_or("no completion assembled")?
        }
        Client::Responses => {
            let done = frames
                .iter()
                .rev()
                .filter_map(|f| serde_json::from_str::<Value>(&f.data).ok())
                .find(|v| v["type"] == "response.completed" || v["type"] == "response.incomplete")
                .ok_or("no response.completed event")?;
            done["response"].clone()
        }
    };
    parse_whole(client, &whole)
}

fn whole_answer(client: Client, text: &str) -> Result<Answer, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("{e}: {text}"))?;
    parse_whole(client, &v)
}

fn parse_whole(client: Client, v: &Value) -> Result<Answer, String> {
    let mut a = Answer {
        assistant: Vec::new(),
        calls: Vec::new(),
        text: String::new(),
        stop: String::new(),
        thinking: 0,
    };
    match client {
        Client::Anthropic => {
            let content = v["content"].as_array().ok_or(format!("no content: {v}"))?;
            for b in content {
                match b["type"].as_str() {
                    Some("text") => a.text.push_str(b["text"].as_str().unwrap_or_default()),
                    Some("tool_use") => a.calls.push((s(&b["id"]), s(&b["name"]))),
                    Some("thinking" | "redacted_thinking") => a.thinking += 1,
                    _ => {}
                }
            }
            a.stop = s(&v["stop_reason"]);
            a.assistant.push(json!({"role": "assistant", "content": content}));
        }
        Client::Chat => {
            let choice = &v["choices"][0];
            let m = &choice["message"];
            a.text = m["content"].as_str().unwrap_or_default().to_owned();
            for c in m["tool_calls"].as_array().into_iter().flatten() {
                a.calls.push((s(&c["id"]), s(&c["function"]["name"])));
            }
            a.stop = match choice["finish_reason"].as_str() {
                Some("stop") => "end_turn".into(),
                Some("tool_calls") => "tool_use".into(),
                Some("length") => "max_tokens".into(),
                other => other.unwrap_or_default().to_owned(),
            };
            let mut msg = json!({"role": "assistant", "content": m["content"]});
            if !a.calls.is_empty() {
                msg["tool_calls"] = m["tool_calls"].clone();
            }
            a.assistant.push(msg);
        }
        Client::Responses => {
            let output = v["output"].as_array().ok_or(format!("no output: {v}"))?;
            for item in output {
                match item["type"].as_str() {
                    Some("message") => {
                        for p in item["content"].as_array().into_iter().flatten() {
                            a.text.push_str(p["text"].as_str().unwrap_or_default());
                        }
                    }
                    Some("function_call") => a.calls.push((s(&item["call_id"]), s(&item["name"]))),
                    Some("reasoning") => a.thinking += 1,
                    _ => {}
                }
            }
            a.stop = match (v["status"].as_str(), a.calls.is_empty()) {
                (Some("completed"), false) => "tool_use".into(),
                (Some("completed"), true) => "end_turn".into(),
                (Some("incomplete"), _) => s(&v["incomplete_details"]["reason"]),
                (other, _) => other.unwrap_or_default().to_owned(),
            };
            a.assistant.extend(output.iter().cloned());
        }
    }
    Ok(a)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn gateway() -> TestGateway {
    TestGateway::builder().every_dialect().start().await
}

/// Runs `scenario` for every pair, streaming and not; collects every failure and fails once,
/// naming them all.
async fn matrix<F, Fut>(name: &str, scenario: F)
where
    F: Fn(TestGateway, Convo) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut failures = Vec::new();
    for client in CLIENTS {
        for (_, model) in PROVIDERS {
            for stream in [true, false] {
                let convo = Convo::new(client, model, stream);
                let label = convo.label();
                if let Err(e) = scenario(gateway().await, convo).await {
                    failures.push(format!("{label}: {e}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of 30 failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn expect(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

#[tokio::test]
async fn plain_text() {
    matrix("plain_text", |gw, mut c| async move {
        c.user("hello there");
        let a = c.send(&gw).await?;
        expect(a.stop == "end_turn", || format!("stop {a:?}"))?;
        expect(a.text.starts_with("Hello from the mock"), || format!("text {a:?}"))
    })
    .await;
}

#[tokio::test]
async fn one_tool_then_its_result() {
    matrix("one_tool", |gw, mut c| async move {
        c.tools = vec![weather()];
        c.user("what's the weather in Paris?");
        let a = c.send(&gw).await?;
        expect(
            a.stop == "tool_use" && a.calls.len() == 1 && a.calls[0].1 == "get_weather",
            || format!("turn 1 {a:?}"),
        )?;
        c.answer(&a);
        c.results(&a, ResultKind::Text);
        let b = c.send(&gw).await?;
        expect(b.stop == "end_turn" && b.text.contains("18C"), || format!("turn 2 {b:?}"))
    })
    .await;
}

#[tokio::test]
async fn parallel_tools() {
    matrix("parallel_tools", |gw, mut c| async move {
        c.tools = vec![weather(), clock()];
        c.user("weather and time please [[parallel]]");
        let a = c.send(&gw).await?;
        let names: Vec<&str> = a.calls.iter().map(|(_, n)| n.as_str()).collect();
        expect(a.stop == "tool_use" && names == ["get_weather", "get_time"], || {
            format!("turn 1 {a:?}")
        })?;
        c.answer(&a);
        c.results(&a, ResultKind::Text);
        let b = c.send(&gw).await?;
        expect(b.stop == "end_turn", || format!("turn 2 {b:?}"))
    })
    .await;
}

#[tokio::test]
async fn tool_result_with_an_image_and_an_error_result() {
    matrix("tool_result_image_and_is_error", |gw, mut c| async move {
        c.tools = vec![weather()];
        c.user("what's the weather in Paris?");
        let a = c.send(&gw).await?;
        c.answer(&a);
        c.results(&a, ResultKind::Image);
        // A Chat provider gets the image in a user message after the tool message (tool messages
        // carry text only), which the mock answers like any user turn: with another call.
        let mut b = c.send(&gw).await?;
        for _ in 0..2 {
            if b.stop != "tool_use" {
                break;
            }
            c.answer(&b);
            c.results(&b, ResultKind::Text);
            b = c.send(&gw).await?;
        }
        expect(b.stop == "end_turn", || format!("image result {b:?}"))?;
        c.answer(&b);
        c.user("and in Lyon?");
        let d = c.send(&gw).await?;
        c.answer(&d);
        c.results(&d, ResultKind::Error);
        let e = c.send(&gw).await?;
        expect(e.stop == "end_turn", || format!("error result {e:?}"))
    })
    .await;
}

#[tokio::test]
async fn thinking_and_tools_over_three_turns() {
    matrix("thinking_three_turns", |gw, mut c| async move {
        c.thinking = true;
        c.tools = vec![weather()];
        c.user("what's the weather in Paris?");
        let a = c.send(&gw).await?;
        expect(a.stop == "tool_use", || format!("turn 1 {a:?}"))?;
        c.answer(&a);
        c.results(&a, ResultKind::Text);
        let b = c.send(&gw).await?;
        expect(b.stop == "end_turn", || format!("turn 2 {b:?}"))?;
        c.answer(&b);
        c.user("and in Lyon?");
        let d = c.send(&gw).await?;
        expect(d.stop == "tool_use", || format!("turn 3 {d:?}"))
    })
    .await;
}

#[tokio::test]
async fn an_overloaded_provider_mid_stream_ends_in_the_clients_error_shape() {
    matrix("mid_stream_529", |gw, mut c| async move {
        c.user("hello");
        gw.mock.enqueue(Behaviour::MidStreamError { after_events: 2 });
        match c.send(&gw).await {
            Ok(a) => Err(format!("expected an error, got {a:?}")),
            // The error event in the client's own shape (its kind is whatever the provider's
            // mock failure says: overloaded, or the Responses fixture's quota error).
            Err(e) if c.stream => expect(e.starts_with("stream error "), || e.clone()),
            // Nothing reached the client yet: an HTTP error status in its shape. Translated, the
            // stream's failure becomes 529/503/502; a same-dialect provider's own status (the
            // OpenAI mock answers 500) passes through.
            Err(e) => expect(e.starts_with("HTTP 5"), || e.clone()),
        }
    })
    .await;
}

#[tokio::test]
async fn a_provider_that_breaks_off_ends_in_an_error_never_a_fake_end() {
    matrix("break_off", |gw, mut c| async move {
        c.user("hello");
        gw.mock.enqueue(Behaviour::BreakOff { after_events: 2 });
        match c.send(&gw).await {
            Ok(a) => Err(format!("expected an error, got {a:?}")),
            Err(e) if c.stream => expect(e.starts_with("stream error"), || e.clone()),
            Err(e) => expect(e.starts_with("HTTP 5"), || e.clone()),
        }
    })
    .await;
}

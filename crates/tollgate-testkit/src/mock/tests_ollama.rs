//! The Ollama mock checked from the outside: NDJSON streams read back by Tollgate's own decoder,
//! whole answers, the documented listings, errors and behaviours.

use serde_json::{Value, json};
use tollgate_wire::canonical::{Delta, StopReason, StreamDecoder, StreamEvent};
use tollgate_wire::ollama::codec::Decoder;
use tollgate_wire::sse::SseFrame;

use super::conversation::REPLY_PREFIX;
use super::{Behaviour, MockUpstream, ollama};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn chat(mock: &MockUpstream, body: &Value) -> reqwest::Response {
    client().post(format!("{}/api/chat", mock.url())).json(body).send().await.unwrap()
}

/// The lines of a streamed answer and the events Tollgate's decoder makes of them.
async fn lines(mock: &MockUpstream, body: &Value) -> (Vec<Value>, Vec<StreamEvent>) {
    let response = chat(mock, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    assert!(text.ends_with('\n'));
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    let mut values = Vec::new();
    for line in text.lines() {
        decoder.decode(&SseFrame::new(None, line), &mut events);
        values.push(serde_json::from_str(line).unwrap());
    }
    decoder.finish(&mut events);
    (values, events)
}

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

#[test]
fn ollama_fixtures_load() {
    if let Err(error) = ollama::load() {
        panic!("{error}");
    }
}

#[tokio::test]
async fn chat_streams_ndjson_by_default() {
    let mock = MockUpstream::start().await;
    let (values, events) = lines(&mock, &json!({"model": "llama3.2", "messages": [{"role": "user", "content": "why is the sky blue?"}]})).await;
    assert!(values.len() >= 3);
    assert!(
        values[..values.len() - 1].iter().all(|v| v["done"] == false && v["model"] == "llama3.2")
    );
    let last = values.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert!(last["prompt_eval_count"].as_u64().unwrap() >= 1);
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta { delta: Delta::Text(t), .. } => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, format!("{REPLY_PREFIX}why is the sky blue?"));
    assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));
}

#[tokio::test]
async fn tools_thinking_and_whole_answers() {
    let mock = MockUpstream::start().await;
    let body = json!({"model": "qwen3", "think": true, "tools": tools(),
                      "messages": [{"role": "user", "content": "weather in Tokyo?"}]});
    let (values, events) = lines(&mock, &body).await;
    assert_eq!(values[0]["message"]["thinking"], "Let me think about how to answer this.");
    let call_line = values.iter().find(|v| !v["message"]["tool_calls"].is_null()).unwrap();
    assert_eq!(
        call_line["message"]["tool_calls"],
        json!([{"function": {"name": "get_weather", "arguments": {"city": "test"}}}])
    );
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), .. }
    )));

    let mut whole = body.clone();
    whole["stream"] = json!(false);
    let response = chat(&mock, &whole).await;
    assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["done"], true);
    assert_eq!(answer["message"]["tool_calls"][0]["function"]["name"], "get_weather");
    assert!(answer["message"]["thinking"].as_str().unwrap().starts_with("Let me think"));

    // The tool result answered with text, in the docs' history shape.
    let history = json!({"model": "qwen3", "stream": false, "tools": tools(), "messages": [
        {"role": "user", "content": "weather in Tokyo?"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}]},
        {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"}
    ]});
    let answer: Value = chat(&mock, &history).await.json().await.unwrap();
    assert_eq!(answer["message"]["content"], format!("{REPLY_PREFIX}11 degrees celsius"));
    assert!(answer["message"].get("tool_calls").is_none());
}

#[tokio::test]
async fn listings_loading_and_errors_follow_the_docs() {
    let mock = MockUpstream::start().await;
    let tags: Value = client()
        .get(format!("{}/api/tags", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags["models"][1]["name"], "llama3.2:latest");
    let ps: Value =
        client().get(format!("{}/api/ps", mock.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(ps["models"][0]["size_vram"], 5_137_025_024_u64);

    let loaded: Value =
        chat(&mock, &json!({"model": "llama3.2", "messages": []})).await.json().await.unwrap();
    assert_eq!(loaded["done_reason"], "load");
    assert_eq!(loaded["message"], json!({"role": "assistant", "content": ""}));

    let response = chat(&mock, &json!({"messages": []})).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"error": "model is required"}));

    let response = client().get(format!("{}/api/nothing", mock.url())).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.text().await.unwrap(), "404 page not found");
}

#[tokio::test]
async fn failures_mid_stream_are_error_lines() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::MidStreamError { after_events: 1 });
    let body = json!({"model": "llama3.2", "messages": [{"role": "user", "content": "one two three four five six"}]});
    let (values, events) = lines(&mock, &body).await;
    assert!(values.last().unwrap()["error"].is_string());
    assert!(matches!(events.last(), Some(StreamEvent::Error { .. })));

    mock.enqueue(Behaviour::BreakOff { after_events: 1 });
    let response = chat(&mock, &body).await;
    let text = response.text().await.unwrap_or_default();
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    // The torn last line is dropped the way the server drops a partial line.
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        decoder.decode(&SseFrame::new(None, line.trim_end()), &mut events);
    }
    decoder.finish(&mut events);
    assert!(matches!(events.last(), Some(StreamEvent::Error { .. })), "{events:?}");
}

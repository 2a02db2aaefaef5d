//! The Responses mock checked from the outside: the event grammar and shapes of the recorded
//! fixtures, the whole Response object, the API's validation errors, behaviours.

use serde_json::{Value, json};

use super::sse::{self, SseEvent};
use super::{Behaviour, MockUpstream};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(mock: &MockUpstream, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/responses", mock.openai_url()))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn events(response: reqwest::Response) -> Vec<SseEvent> {
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    sse::parse(&response.text().await.unwrap())
}

fn kinds(events: &[SseEvent]) -> Vec<String> {
    events.iter().map(|e| e.json()["type"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.unwrap()["error"].clone())
}

fn tools() -> Value {
    json!([
        {"type": "function", "name": "exec_command", "strict": false, "parameters": {
            "type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]
        }},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}},
        {"type": "web_search", "external_web_access": false}
    ])
}

#[test]
fn templates_load() {
    if let Err(error) = super::responses::load() {
        panic!("{error}");
    }
}

#[tokio::test]
async fn text_stream_has_the_documented_grammar() {
    let mock = MockUpstream::start().await;
    let events =
        events(post(&mock, json!({"model": "gpt-5.1", "input": "Hi there", "stream": true})).await)
            .await;
    let kinds = kinds(&events);
    assert_eq!(
        &kinds[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert!(kinds.iter().any(|k| k == "response.output_text.delta"));
    assert_eq!(
        &kinds[kinds.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event.event.as_deref(), event.json()["type"].as_str());
        assert_eq!(event.json()["sequence_number"], n);
        assert!(event.json().get("obfuscation").is_none());
    }
    let text: String = events
        .iter()
        .filter(|e| e.json()["type"] == "response.output_text.delta")
        .map(|e| e.json()["delta"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Hello from the mock. You said: Hi there");
    let done = events.last().unwrap().json();
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(done["response"]["output"][0]["content"][0]["text"], text);
    assert_eq!(done["response"]["model"], "gpt-5.1");
    let usage = &done["response"]["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn tool_loop_with_reasoning_and_replay() {
    let mock = MockUpstream::start().await;
    let first = json!({
        "model": "gpt-5.1", "input": [{"role": "user", "content": [{"type": "input_text", "text": "list files"}]}],
        "tools": tools(), "stream": true, "store": false, "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "s1"
    });
    let events = events(post(&mock, first.clone()).await).await;
    let kinds = kinds(&events);
    assert_eq!(kinds[2], "response.output_item.added");
    assert_eq!(events[2].json()["item"]["type"], "reasoning", "reasoning comes first");
    assert!(kinds.iter().any(|k| k == "response.reasoning_summary_text.delta"));
    assert!(kinds.iter().any(|k| k == "response.function_call_arguments.delta"));
    let done = events.last().unwrap().json();
    let output = done["response"]["output"].as_array().unwrap().clone();
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["name"], "exec_command");
    assert_eq!(output[1]["arguments"], r#"{"cmd":"test"}"#);
    assert!(
        done["response"]["usage"]["input_tokens_details"]["cached_tokens"].as_u64().unwrap() > 0,
        "prompt_cache_key hits the cache"
    );

    // The client replays reasoning and call, then answers the call: accepted, answered in text.
    let mut second = first.clone();
    let input = second["input"].as_array_mut().unwrap();
    input.extend(output.iter().cloned());
    input.push(
        json!({"type": "function_call_output", "call_id": output[1]["call_id"], "output": "a.txt"}),
    );
    second["stream"] = json!(false);
    let response = post(&mock, second.clone()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "response");
    let message =
        body["output"].as_array().unwrap().iter().find(|i| i["type"] == "message").unwrap();
    assert_eq!(message["content"][0]["text"], "Hello from the mock. You said: a.txt");

    // A reasoning item the mock did not issue (another provider's, or Tollgate's seal) is refused.
    let mut forged = second.clone();
    forged["input"][1]["encrypted_content"] = json!("tg1.eyJ2IjoxfQ.abc");
    let (status, err) = error(post(&mock, forged).await).await;
    assert_eq!(status, 400);
    assert_eq!(err["code"], "invalid_encrypted_content");
    assert!(err["message"].as_str().unwrap().starts_with("The encrypted content for item rs_"));
    // Without encrypted content and with store false, the item cannot be found.
    let mut bare = second.clone();
    bare["input"][1].as_object_mut().unwrap().remove("encrypted_content");
    let (status, err) = error(post(&mock, bare).await).await;
    assert_eq!(status, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("Items are not persisted when `store` is set to false")
    );
}

#[tokio::test]
async fn validation_errors_have_the_api_shape() {
    let mock = MockUpstream::start().await;
    let cases = [
        (
            json!({"model": "m", "input": [{"role": "tool", "content": "x"}]}),
            "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
            "input[0].role",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "call_1", "output": "x"}]}),
            "No tool call found for function call output with call_id call_1.",
            "input",
        ),
        (
            json!({"model": "m", "input": [{"type": "custom_tool_call_output", "call_id": "call_2", "output": "x"}]}),
            "No tool call found for custom tool call output with call_id call_2.",
            "input",
        ),
        (json!({"model": "m"}), "Missing required parameter: 'input'.", "input"),
        (json!({"input": "x"}), "Missing required parameter: 'model'.", "model"),
    ];
    for (body, message, param) in cases {
        let (status, err) = error(post(&mock, body.clone()).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["message"], message);
        assert_eq!(err["param"], param);
        assert_eq!(err["type"], "invalid_request_error");
    }
    let (status, err) = error(post(&mock, json!({"model": "m", "input": "x", "tools": [{"type": "bash_20250124", "name": "bash"}]})).await).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("tools[0].type")));
    assert!(err["message"].as_str().unwrap().starts_with("Invalid value: 'bash_20250124'."));
    let (status, err) = error(
        post(&mock, json!({"model": "m", "input": [{"type": "thinking", "thinking": "x"}]})).await,
    )
    .await;
    assert_eq!((status, err["param"].as_str()), (400, Some("input[0].type")));
    // An output after its call, and outputs for calls of an earlier response, are fine.
    let ok = json!({"model": "m", "input": [
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "x"}]});
    assert_eq!(post(&mock, ok).await.status(), 200);
    let continued = json!({"model": "m", "previous_response_id": "resp_1",
        "input": [{"type": "function_call_output", "call_id": "c9", "output": "x"}]});
    assert_eq!(post(&mock, continued).await.status(), 200);
    // No key.
    let response = client()
        .post(format!("{}/responses", mock.openai_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn mid_stream_error_is_response_failed() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::MidStreamError { after_events: 3 });
    let events =
        events(post(&mock, json!({"model": "m", "input": "Hi", "stream": true})).await).await;
    assert_eq!(events.len(), 4);
    let last = events.last().unwrap();
    assert_eq!(last.event.as_deref(), Some("response.failed"));
    assert_eq!(last.json()["response"]["status"], "failed");
}

#[tokio::test]
async fn the_wire_decoder_reads_the_mock() {
    use tollgate_wire::canonical::{Block, StopReason, StreamDecoder, StreamEvent};
    use tollgate_wire::responses::codec::Decoder;
    use tollgate_wire::sse::SseDecoder;

    let mock = MockUpstream::start().await;
    let body = json!({"model": "m", "input": "go", "tools": tools(), "stream": true,
        "reasoning": {"effort": "low"}, "store": false});
    let bytes = post(&mock, body).await.bytes().await.unwrap();
    let mut frames = Vec::new();
    SseDecoder::new().feed(&bytes, &mut frames);
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    for frame in &frames {
        decoder.decode(frame, &mut events);
    }
    decoder.finish(&mut events);
    let starts: Vec<&Block> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockStart { block, .. } => Some(block),
            _ => None,
        })
        .collect();
    assert!(matches!(starts[0], Block::Thinking(_)));
    assert!(matches!(starts[1], Block::Opaque(o) if o.value["type"] == "reasoning"));
    assert!(matches!(starts[2], Block::ToolUse(u) if u.name == "exec_command"));
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), .. }
    )));
    assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));
}

//! The mock checked from the outside with a plain HTTP client: event order and shapes per
//! dialect, validation errors, every behaviour, in-flight accounting, shutdown on drop.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sse::{self, SseEvent};
use super::{Behaviour, MockUpstream};

fn client() -> reqwest::Client {
    // reqwest is built without a bundled crypto provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn anthropic_request(mock: &MockUpstream, path: &str) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}{path}", mock.url()))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
}

async fn anthropic(mock: &MockUpstream, body: Value) -> reqwest::Response {
    anthropic_request(mock, "/v1/messages").json(&body).send().await.unwrap()
}

async fn openai(mock: &MockUpstream, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", mock.openai_url()))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn sse_events(response: reqwest::Response) -> Vec<SseEvent> {
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    sse::parse(&response.text().await.unwrap())
}

fn names(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_deref().unwrap_or("")).collect()
}

fn weather_tools() -> Value {
    json!([
        {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": {
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
                },
                "required": ["location", "unit"]
            }
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
    ])
}

fn openai_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["location", "days"]
        }}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    ])
}

#[test]
fn fixtures_load() {
    if let Err(error) = super::fixtures::load() {
        panic!("{error}");
    }
}

#[tokio::test]
async fn anthropic_text_stream_follows_the_documented_event_order() {
    let mock = MockUpstream::start().await;
    let response = anthropic(
        &mock,
        json!({"model": "claude-test-1", "max_tokens": 100, "stream": true,
               "messages": [{"role": "user", "content": "hi there"}]}),
    )
    .await;
    assert!(response.headers()["request-id"].to_str().unwrap().starts_with("req_"));
    assert!(response.headers().contains_key("anthropic-ratelimit-requests-remaining"));
    let events = sse_events(response).await;
    let names = names(&events);

    assert_eq!(names[..3], ["message_start", "content_block_start", "ping"]);
    let deltas = names[3..].iter().take_while(|n| **n == "content_block_delta").count();
    assert!(deltas >= 2, "{names:?}");
    assert_eq!(names[3 + deltas..], ["content_block_stop", "message_delta", "message_stop"]);
    for event in &events {
        assert_eq!(event.json()["type"], event.event.as_deref().unwrap(), "{event:?}");
    }

    let start = events[0].json();
    assert_eq!(start["message"]["model"], "claude-test-1");
    assert!(start["message"]["id"].as_str().unwrap().starts_with("msg_01"));
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 0);
    let text: String = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("content_block_delta"))
        .map(|e| e.json()["delta"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Hello from the mock. You said: hi there");
    let delta = events[events.len() - 2].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn anthropic_tool_use_streams_input_json_and_answers_tool_results() {
    let mock = MockUpstream::start().await;
    let request = json!({"model": "claude-test", "max_tokens": 100, "stream": true,
        "tools": weather_tools(),
        "messages": [{"role": "user", "content": "What is the weather?"}]});
    let events = sse_events(anthropic(&mock, request).await).await;

    let start = events.iter().find(|e| e.event.as_deref() == Some("content_block_start")).unwrap();
    let block = &start.json()["content_block"];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({}));
    let tool_id = block["id"].as_str().unwrap().to_owned();
    assert!(tool_id.starts_with("toolu_01"));
    let fragments: Vec<String> = events
        .iter()
        .map(SseEvent::json)
        .filter(|d| d["delta"]["type"] == "input_json_delta")
        .map(|d| d["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    assert!(fragments.iter().filter(|f| !f.is_empty()).count() >= 2, "{fragments:?}");
    let input: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(input, json!({"location": "test", "unit": "celsius"}));
    assert_eq!(events[events.len() - 2].json()["delta"]["stop_reason"], "tool_use");

    let follow_up = json!({"model": "claude-test", "max_tokens": 100, "tools": weather_tools(),
    "messages": [
        {"role": "user", "content": "What is the weather?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": tool_id, "name": "get_weather", "input": input}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "content": "Sunny, 21 C"}]}
    ]});
    let message: Value = anthropic(&mock, follow_up).await.json().await.unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["content"][0]["text"], "Hello from the mock. You said: Sunny, 21 C");
}

#[tokio::test]
async fn anthropic_thinking_comes_first_and_is_signed() {
    let mock = MockUpstream::start().await;
    let request = |stream: bool| {
        json!({"model": "claude-test", "max_tokens": 2048, "stream": stream,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "Think"}]})
    };
    let events = sse_events(anthropic(&mock, request(true)).await).await;
    let block_zero: Vec<Value> =
        events.iter().map(SseEvent::json).filter(|d| d["index"] == 0).collect();
    assert_eq!(block_zero[0]["content_block"]["type"], "thinking");
    let kinds: Vec<&str> = block_zero[1..]
        .iter()
        .map(|d| d["delta"]["type"].as_str().unwrap_or(d["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        ["thinking_delta", "thinking_delta", "signature_delta", "content_block_stop"]
    );
    assert!(events.iter().any(|e| e.json()["content_block"]["type"] == "text"));

    let message: Value = anthropic(&mock, request(false)).await.json().await.unwrap();
    assert_eq!(message["content"][0]["type"], "thinking");
    assert!(!message["content"][0]["signature"].as_str().unwrap().is_empty());
    assert_eq!(message["content"][1]["type"], "text");
}

#[tokio::test]
async fn anthropic_parallel_marker_calls_two_tools() {
    let mock = MockUpstream::start().await;
    let message: Value = anthropic(
        &mock,
        json!({"model": "claude-test", "max_tokens": 100, "tools": weather_tools(),
            "messages": [{"role": "user", "content": "both please [[parallel]]"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let calls = message["content"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["name"], "get_weather");
    assert_eq!(calls[1]["name"], "get_time");
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(message["stop_reason"], "tool_use");
}

#[tokio::test]
async fn anthropic_validation_errors_have_the_api_shape() {
    let mock = MockUpstream::start().await;
    let user = json!([{"role": "user", "content": "hi"}]);
    let cases = [
        (json!({"model": "m", "messages": user}), "max_tokens: Field required"),
        (json!({"model": "m", "max_tokens": 1, "messages": []}), "at least one message"),
        (
            json!({"model": "m", "max_tokens": 1, "messages": user,
                   "tools": [{"name": "a", "input_schema": {}}, {"name": "a", "input_schema": {}}]}),
            "tools: Tool names must be unique.",
        ),
        (
            json!({"model": "m", "max_tokens": 1, "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "a", "input": {}}]},
                {"role": "user", "content": "and?"}]}),
            "messages.2: `tool_use` ids were found without `tool_result` blocks immediately \
             after: toolu_1.",
        ),
        (
            json!({"model": "m", "max_tokens": 1,
                   "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            "messages: text content blocks must be non-empty",
        ),
    ];
    for (body, expected) in cases {
        let response = anthropic(&mock, body).await;
        assert_eq!(response.status(), 400, "{expected}");
        let request_id = response.headers()["request-id"].to_str().unwrap().to_owned();
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert!(error["error"]["message"].as_str().unwrap().contains(expected), "{error}");
        assert_eq!(error["request_id"], request_id);
    }

    let body = json!({"model": "m", "max_tokens": 1, "messages": user});
    let no_key = client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 401);
    let error: Value = no_key.json().await.unwrap();
    assert_eq!(error["error"]["type"], "authentication_error");

    let no_version = client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);

    // OAuth-style bearer auth and the SDK's `?beta=true` are accepted.
    let bearer = client()
        .post(format!("{}/v1/messages?beta=true", mock.url()))
        .bearer_auth("oauth-token")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let recorded = mock.last_request().unwrap();
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/v1/messages?beta=true");
    assert_eq!(recorded.header("authorization").as_deref(), Some("Bearer oauth-token"));
    assert_eq!(recorded.json()["model"], "m");
}

/// The status and error message the mock gives a body, `200` and empty when it accepts it.
async fn verdict(mock: &MockUpstream, body: Value) -> (u16, String) {
    let response = anthropic(mock, body).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"]["message"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn anthropic_rejects_malformed_history_like_the_api() {
    let mock = MockUpstream::start().await;
    let call = |id: &str| json!({"type": "tool_use", "id": id, "name": "get_time", "input": {}});
    let result = |id: &str| json!({"type": "tool_result", "tool_use_id": id, "content": "12:00"});
    let text = |t: &str| json!({"type": "text", "text": t});
    let body = |messages: Value| json!({"model": "m", "max_tokens": 100, "tools": weather_tools(), "messages": messages});
    let cases = [
        (
            body(json!([{"role": "user", "content": [text(" \n\t ")]}])),
            "messages: text content blocks must contain non-whitespace text",
        ),
        (
            body(json!([{"role": "user", "content": "   "}])),
            "messages: text content blocks must contain non-whitespace text",
        ),
        (
            json!({"model": "m", "max_tokens": 100, "system": [text("  ")],
                   "messages": [{"role": "user", "content": "hi"}]}),
            "system: text content blocks must contain non-whitespace text",
        ),
        (
            body(json!([{"role": "user", "content": []}, {"role": "assistant", "content": "x"},
                        {"role": "user", "content": "y"}])),
            "messages.0: all messages must have non-empty content except for the optional final \
             assistant message",
        ),
        (
            body(json!([{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": [call("functions.get_time:0")]},
                        {"role": "user", "content": [result("functions.get_time:0")]}])),
            "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'",
        ),
        (
            body(json!([{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": [call("toolu_1"), text("Done?")]},
                        {"role": "user", "content": [result("toolu_1")]}])),
            "messages.2: `tool_use` ids were found without `tool_result` blocks immediately \
             after: toolu_1.",
        ),
        (
            body(json!([{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": [call("toolu_1")]},
                        {"role": "user", "content": [text("Here:"), result("toolu_1")]}])),
            "messages.2: `tool_use` ids were found without `tool_result` blocks immediately \
             after: toolu_1.",
        ),
        (
            body(json!([{"role": "user", "content": "hi"},
                        {"role": "tool", "content": "x"}])),
            "messages.1.role: Input should be 'user' or 'assistant'",
        ),
        (
            body(json!([{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "hi"}])),
            "messages.0: a `system` message must immediately follow a `user` message",
        ),
        (
            body(json!([{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "The answer is "}])),
            "messages: final assistant content cannot end with trailing whitespace",
        ),
    ];
    for (request, expected) in cases {
        let (status, message) = verdict(&mock, request.clone()).await;
        assert_eq!(status, 400, "{expected}: {request}");
        assert!(message.contains(expected), "expected {expected:?}, got {message:?}");
    }

    // The same shapes the right way round are accepted.
    for messages in [
        json!([{"role": "user", "content": "hi"},
               {"role": "assistant", "content": [text("Checking."), call("toolu_1")]},
               {"role": "user", "content": [result("toolu_1"), text("and?")]}]),
        json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": []}]),
        json!([{"role": "user", "content": "hi"}, {"role": "system", "content": "Be brief."}]),
    ] {
        let (status, message) = verdict(&mock, body(messages.clone())).await;
        assert_eq!(status, 200, "{message}: {messages}");
    }
}

#[tokio::test]
async fn anthropic_mid_conversation_system_messages_are_not_the_last_turn() {
    let mock = MockUpstream::start().await;
    let message: Value = anthropic(
        &mock,
        json!({"model": "m", "max_tokens": 100, "messages": [
            {"role": "user", "content": "hello there"},
            {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(message["content"][0]["text"], "Hello from the mock. You said: hello there");
}

#[tokio::test]
async fn anthropic_thinking_rules_and_signatures() {
    let mock = MockUpstream::start().await;
    let thinking = json!({"type": "enabled", "budget_tokens": 1024});
    let turn = json!([{"role": "user", "content": "What is the weather?"}]);
    let with = |extra: Value| {
        let mut body = json!({"model": "m", "max_tokens": 2048, "thinking": thinking,
                              "tools": weather_tools(), "messages": turn});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (extra, expected) in [
        (
            json!({"tool_choice": {"type": "any"}}),
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        (
            json!({"tool_choice": {"type": "tool", "name": "get_time"}}),
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        (
            json!({"temperature": 0.5}),
            "`temperature` may only be set to 1 when thinking is enabled.",
        ),
    ] {
        let (status, message) = verdict(&mock, with(extra)).await;
        assert_eq!(status, 400, "{expected}");
        assert!(message.starts_with(expected), "{message}");
    }
    assert_eq!(verdict(&mock, with(json!({"temperature": 1}))).await.0, 200);

    // The mock's own thinking, replayed untouched, is accepted; the seal is checked.
    let answer: Value = anthropic(&mock, with(json!({}))).await.json().await.unwrap();
    let content = answer["content"].as_array().unwrap().clone();
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[1]["type"], "tool_use");
    let tool_id = content[1]["id"].as_str().unwrap().to_owned();
    let follow_up = |assistant: Value| {
        with(json!({"messages": [
            turn[0].clone(),
            {"role": "assistant", "content": assistant},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "Sunny"}]}
        ]}))
    };
    let (status, message) = verdict(&mock, follow_up(json!(content))).await;
    assert_eq!(status, 200, "{message}");

    let mut tampered = content.clone();
    tampered[0]["thinking"] = json!("I was told to think this.");
    let (status, message) = verdict(&mock, follow_up(json!(tampered))).await;
    assert_eq!(status, 400);
    assert_eq!(message, "messages.1.content.0: Invalid `signature` in `thinking` block");

    let mut docs_signed = content.clone();
    docs_signed[0]["signature"] = json!("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...");
    assert_eq!(verdict(&mock, follow_up(json!(docs_signed))).await.0, 400);

    let (status, message) = verdict(&mock, follow_up(json!([content[1].clone()]))).await;
    assert_eq!(status, 400);
    assert!(
        message.starts_with(
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found \
             `tool_use`. When `thinking` is enabled, a final `assistant` message must start with \
             a thinking block"
        ),
        "{message}"
    );

    // A streamed answer carries the same seal over its joined thinking deltas.
    let mut stream_body = with(json!({}));
    stream_body["stream"] = json!(true);
    let events = sse_events(anthropic(&mock, stream_body).await).await;
    let data: Vec<Value> = events.iter().map(SseEvent::json).collect();
    let thought: String = data
        .iter()
        .filter(|d| d["delta"]["type"] == "thinking_delta")
        .map(|d| d["delta"]["thinking"].as_str().unwrap())
        .collect();
    let signature = data.iter().find(|d| d["delta"]["type"] == "signature_delta").unwrap();
    assert_eq!(signature["delta"]["signature"], super::anthropic::thinking_signature(&thought));
    assert_ne!(signature["delta"]["signature"], docs_signed[0]["signature"]);
}

#[tokio::test]
async fn count_tokens_models_and_unknown_paths() {
    let mock = MockUpstream::start().await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "count me"}]});
    let bytes = serde_json::to_vec(&body).unwrap();
    let count: Value = anthropic_request(&mock, "/v1/messages/count_tokens")
        .header("content-type", "application/json")
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count, json!({"input_tokens": bytes.len() / 4}));

    let models: Value = client()
        .get(format!("{}/v1/models", mock.url()))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["type"], "model");
    assert_eq!(models["has_more"], false);
    assert_eq!(models["first_id"], models["data"][0]["id"]);

    let models: Value = client()
        .get(format!("{}/models", mock.openai_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["object"], "model");

    let missing = anthropic_request(&mock, "/v1/nope").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["type"], "not_found_error");

    let missing = client().get(format!("{}/nope", mock.openai_url())).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["message"], "Invalid URL (GET /v1/nope)");
    assert_eq!(error["error"]["code"], Value::Null);
}

#[tokio::test]
async fn openai_stream_ends_with_done_and_has_usage_only_when_asked() {
    let mock = MockUpstream::start().await;
    let request = |include_usage: bool| {
        json!({"model": "gpt-test", "stream": true,
            "stream_options": {"include_usage": include_usage},
            "messages": [{"role": "system", "content": "be brief"},
                         {"role": "user", "content": "hello"}]})
    };

    let response = openai(&mock, request(false)).await;
    assert!(response.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
    assert!(response.headers().contains_key("x-ratelimit-remaining-requests"));
    let events = sse_events(response).await;
    assert!(events.iter().all(|e| e.event.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(SseEvent::json).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": ""}));
    let id = &chunks[0]["id"];
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(&chunk["id"], id);
        assert_eq!(chunk["model"], "gpt-test");
        assert!(chunk.get("usage").is_none(), "{chunk}");
    }
    let text: String = chunks[1..chunks.len() - 1]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(text, "Hello from the mock. You said: hello");
    let finish = chunks.last().unwrap();
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");

    let events = sse_events(openai(&mock, request(true)).await).await;
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(SseEvent::json).collect();
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["prompt_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(
        usage["usage"]["total_tokens"].as_u64().unwrap(),
        usage["usage"]["prompt_tokens"].as_u64().unwrap()
            + usage["usage"]["completion_tokens"].as_u64().unwrap()
    );
    for chunk in &chunks[..chunks.len() - 1] {
        assert_eq!(chunk["usage"], Value::Null);
        assert!(chunk.get("usage").is_some());
    }
}

#[tokio::test]
async fn openai_tool_calls_stream_by_index_and_tool_results_get_text() {
    let mock = MockUpstream::start().await;
    let request = json!({"model": "gpt-test", "stream": true, "tools": openai_tools(),
        "messages": [{"role": "user", "content": "weather?"}]});
    let events = sse_events(openai(&mock, request).await).await;
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(SseEvent::json).collect();
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    let call = &first["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "");
    let call_id = call["id"].as_str().unwrap().to_owned();
    assert!(call_id.starts_with("call_"));
    let arguments: String = chunks[1..chunks.len() - 1]
        .iter()
        .map(|c| {
            let call = &c["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(call["index"], 0);
            call["function"]["arguments"].as_str().unwrap().to_owned()
        })
        .collect();
    let arguments: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(arguments, json!({"location": "test", "days": 1}));
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "tool_calls");

    let parallel: Value = openai(
        &mock,
        json!({"model": "gpt-test", "tools": openai_tools(),
            "messages": [{"role": "user", "content": "[[parallel]]"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(parallel["object"], "chat.completion");
    let choice = &parallel["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(choice["message"]["tool_calls"].as_array().unwrap().len(), 2);
    assert_eq!(choice["message"]["tool_calls"][1]["function"]["name"], "get_time");

    let answered: Value = openai(
        &mock,
        json!({"model": "gpt-test", "tools": openai_tools(), "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function",
                "function": {"name": "get_weather", "arguments": arguments.to_string()}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "Rain"}
        ]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(answered["choices"][0]["message"]["content"], "Hello from the mock. You said: Rain");
    assert_eq!(answered["choices"][0]["finish_reason"], "stop");
    assert!(answered["usage"]["completion_tokens"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn openai_validation_errors_have_the_api_shape() {
    let mock = MockUpstream::start().await;
    let unauthenticated = client()
        .post(format!("{}/chat/completions", mock.openai_url()))
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let error: Value = unauthenticated.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"].as_str().unwrap().starts_with("You didn't provide an API key")
    );

    let response = openai(&mock, json!({"model": "m"})).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error,
        json!({"error": {"message": "Missing required parameter: 'messages'.",
            "type": "invalid_request_error", "param": "messages",
            "code": "missing_required_parameter"}})
    );

    let response = openai(
        &mock,
        json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "x", "content": "?"}]}),
    )
    .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn status_behaviour_is_used_once_then_the_default_returns() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::Status {
        status: 429,
        body: r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
            .into(),
        headers: vec![("retry-after".into(), "3".into())],
    });
    mock.enqueue(Behaviour::Status {
        status: 502,
        body: "<html><body>Bad gateway</body></html>".into(),
        headers: vec![],
    });
    let body =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});

    let limited = anthropic(&mock, body.clone()).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    assert_eq!(limited.headers()["content-type"], "application/json");
    assert!(limited.headers().contains_key("request-id"));
    assert_eq!(limited.json::<Value>().await.unwrap()["error"]["type"], "rate_limit_error");

    let html = anthropic(&mock, body.clone()).await;
    assert_eq!(html.status(), 502);
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));

    assert_eq!(anthropic(&mock, body).await.status(), 200);
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn mid_stream_error_replaces_the_rest_of_the_stream() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::MidStreamError { after_events: 3 });
    let events = sse_events(
        anthropic(
            &mock,
            json!({"model": "m", "max_tokens": 5, "stream": true,
                "messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(names(&events), ["message_start", "content_block_start", "ping", "error"]);
    assert_eq!(events[3].json()["error"]["type"], "overloaded_error");

    mock.enqueue(Behaviour::MidStreamError { after_events: 2 });
    let events = sse_events(
        openai(
            &mock,
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].json()["error"]["type"], "server_error");
    assert!(events.iter().all(|e| e.data != "[DONE]"));

    mock.enqueue(Behaviour::MidStreamError { after_events: 0 });
    let overloaded = anthropic(
        &mock,
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(overloaded.status(), 529);
    assert_eq!(overloaded.json::<Value>().await.unwrap()["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn break_off_sends_half_an_event_and_drops_the_connection() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::BreakOff { after_events: 2 });
    let mut response = anthropic(
        &mock,
        json!({"model": "m", "max_tokens": 5, "stream": true,
            "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut received = Vec::new();
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    assert!(outcome.is_err(), "the body must end in an error, not cleanly");
    let received = String::from_utf8_lossy(&received);
    assert_eq!(received.matches("\n\n").count(), 2, "{received}");
    assert!(received.starts_with("event: message_start\n"));
    assert!(received.len() > received.rfind("\n\n").unwrap() + 2, "half an event follows");

    mock.enqueue(Behaviour::BreakOff { after_events: 0 });
    let response =
        openai(&mock, json!({"model": "m", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "a JSON body is cut short under its content-length");
    assert!(mock.wait_in_flight(0, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn stall_after_headers_holds_the_request_until_the_client_leaves() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::StallAfterHeaders);
    let mut response = openai(
        &mock,
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let idle = tokio::time::timeout(Duration::from_millis(150), response.chunk()).await;
    assert!(idle.is_err(), "no byte may follow the headers");
    assert_eq!(mock.in_flight(), 1);
    drop(response);
    assert!(mock.wait_in_flight(0, Duration::from_secs(1)).await, "client disconnect must end it");
}

#[tokio::test]
async fn no_response_never_sends_headers() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::NoResponse);
    let request =
        openai(&mock, json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}));
    let waited = tokio::time::timeout(Duration::from_millis(150), request).await;
    assert!(waited.is_err(), "headers must never come");
    assert_eq!(mock.requests().len(), 1, "the request is still recorded");
    assert!(mock.wait_in_flight(0, Duration::from_secs(1)).await, "client disconnect must end it");
}

#[tokio::test]
async fn delay_postpones_a_normal_answer() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::Delay(Duration::from_millis(120)));
    let started = Instant::now();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    let response = openai(&mock, body).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(response.status(), 200);
    assert!(mock.wait_in_flight(0, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn event_interval_paces_the_stream() {
    let mock = MockUpstream::start().await;
    mock.set_event_interval(Duration::from_millis(10));
    let started = Instant::now();
    let events = sse_events(
        openai(
            &mock,
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    let gaps = u32::try_from(events.len() - 1).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(10) * gaps);
}

#[tokio::test]
async fn dropping_the_mock_closes_the_listener_and_open_connections() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::StallAfterHeaders);
    let url = mock.openai_url();
    let mut stalled = openai(
        &mock,
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    drop(mock);
    let ended = tokio::time::timeout(Duration::from_secs(1), stalled.chunk()).await;
    assert!(matches!(ended, Ok(Err(_)) | Ok(Ok(None))), "{ended:?}");
    let refused = client().get(format!("{url}/models")).bearer_auth("k").send().await;
    assert!(refused.is_err());
}

//! Every kind of bad input and upstream failure answers with the right status and an error body
//! in the caller's dialect; a stream that already started ends with the dialect's error event.

use serde_json::{Value, json};
use tollgate_testkit::gateway::{KEY, anthropic_body, openai_body, sse_events};
use tollgate_testkit::{Behaviour, TestGateway};

/// Asserts an Anthropic error body and returns its message.
async fn anthropic_error(r: reqwest::Response, status: u16, error_type: &str) -> String {
    assert_eq!(r.status(), status);
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], error_type, "{v}");
    v["error"]["message"].as_str().unwrap().to_owned()
}

/// Asserts an OpenAI error body and returns its message.
async fn openai_error(r: reqwest::Response, status: u16, error_type: &str) -> String {
    assert_eq!(r.status(), status);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], error_type, "{v}");
    assert!(v["error"].get("code").is_some() && v["error"].get("param").is_some(), "{v}");
    v["error"]["message"].as_str().unwrap().to_owned()
}

fn post_raw(gw: &TestGateway, path: &str, body: &'static str) -> reqwest::RequestBuilder {
    gw.client
        .post(gw.url(path))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body(body)
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_400_in_each_dialect() {
    let gw = TestGateway::start().await;
    let cases: &[(&'static str, &str)] = &[
        ("{\"model\": ", "not valid JSON"),
        ("", "empty"),
        ("[1,2]", "must be a JSON object"),
        (r#"{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#, "model: field required"),
        (
            r#"{"model":"claude-x","messages":[{"role":"user","content":"x"}]}"#,
            "max_tokens: field required",
        ),
        (r#"{"model":"claude-x","max_tokens":"five","messages":[]}"#, "max_tokens: invalid type"),
        (r#"{"model":["claude-x"],"max_tokens":5,"messages":[]}"#, "model: expected a string"),
        (
            r#"{"model":"claude-x","max_tokens":5,"messages":{"role":"user"}}"#,
            "messages: invalid type",
        ),
        (
            r#"{"model":"claude-x","max_tokens":5,"stream":"yes","messages":[]}"#,
            "stream: invalid type",
        ),
    ];
    for (body, expected) in cases {
        let msg = anthropic_error(
            post_raw(&gw, "/v1/messages", body).send().await.unwrap(),
            400,
            "invalid_request_error",
        )
        .await;
        assert!(msg.contains(expected), "{body}: {msg}");
    }
    let openai_cases: &[(&'static str, &str)] = &[
        ("{oops", "not valid JSON"),
        (r#"{"messages":[{"role":"user","content":"x"}]}"#, "model: field required"),
        (r#"{"model":"gpt-4o","messages":"hi"}"#, "messages: invalid type"),
        (r#"{"model":"gpt-4o","messages":[]}"#, "at least one"),
    ];
    for (body, expected) in openai_cases {
        let r = gw
            .client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .body(*body)
            .send()
            .await
            .unwrap();
        let msg = openai_error(r, 400, "invalid_request_error").await;
        assert!(msg.contains(expected), "{body}: {msg}");
    }
    // Nothing invalid reached the provider.
    assert!(
        gw.upstream_requests("/v1/messages").is_empty()
            && gw.upstream_requests("/v1/chat").is_empty()
    );
    // Rejections after authentication are still recorded.
    let h = gw.history().await;
    assert_eq!(h.len(), cases.len() + openai_cases.len());
    assert!(h.iter().all(|r| r.status == 400
        && r.outcome == "rejected"
        && r.error_type.as_deref() == Some("invalid_request_error")));
}

#[tokio::test]
async fn the_openai_error_names_the_param() {
    let gw = TestGateway::start().await;
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .body(r#"{"model":"gpt-4o","messages":[{}],"max_tokens":0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["param"], "max_tokens");
}

#[tokio::test]
async fn oversize_bodies_are_413_declared_or_streamed() {
    let gw = TestGateway::builder().env("TOLLGATE_MAX_BODY_SIZE", "1KiB").start().await;
    let big = json!({"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "x".repeat(2000)}]}).to_string();
    let msg = anthropic_error(
        gw.anthropic(&serde_json::from_str(&big).unwrap()).send().await.unwrap(),
        413,
        "request_too_large",
    )
    .await;
    assert!(msg.contains("1024 bytes"), "{msg}");
    // Chunked, with no Content-Length to check up front.
    let chunks: Vec<Result<String, std::io::Error>> =
        big.as_bytes().chunks(100).map(|c| Ok(String::from_utf8_lossy(c).into_owned())).collect();
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    openai_error(r, 413, "invalid_request_error").await;
}

#[tokio::test]
async fn too_many_messages_is_400() {
    let gw = TestGateway::builder().env("TOLLGATE_MAX_MESSAGES", "3").start().await;
    let messages: Vec<Value> = (0..4)
        .map(|i| json!({"role": if i % 2 == 0 {"user"} else {"assistant"}, "content": "x"}))
        .collect();
    let msg = anthropic_error(
        gw.anthropic(&json!({"model": "claude-x", "max_tokens": 5, "messages": messages}))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request_error",
    )
    .await;
    assert!(msg.contains("limit of 3"), "{msg}");
}

#[tokio::test]
async fn unknown_models_are_404_in_each_dialect() {
    let gw = TestGateway::start().await;
    let msg = anthropic_error(
        gw.anthropic(&anthropic_body("mystery-model", false)).send().await.unwrap(),
        404,
        "not_found_error",
    )
    .await;
    assert!(msg.contains("mystery-model"), "{msg}");
    let r = gw.openai(&openai_body("mystery-model", false)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["param"].as_str()),
        (Some("model_not_found"), Some("model"))
    );
}

#[tokio::test]
async fn bad_and_missing_keys_are_401_and_never_recorded() {
    let gw = TestGateway::start().await;
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "wrong")
        .body(anthropic_body("claude-x", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic_error(r, 401, "authentication_error").await, "invalid API key");
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .body(anthropic_body("claude-x", false).to_string())
        .send()
        .await
        .unwrap();
    assert!(anthropic_error(r, 401, "authentication_error").await.contains("missing API key"));
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("nope")
        .body(openai_body("gpt-4o", false).to_string())
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("www-authenticate"));
    openai_error(r, 401, "invalid_request_error").await;
    assert!(gw.history().await.is_empty());
    assert!(gw.upstream_requests("/v1/messages").is_empty());
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_guessed_dialect() {
    let gw = TestGateway::start().await;
    let r = gw
        .client
        .post(gw.url("/v1/messages/batches"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    anthropic_error(r, 404, "not_found_error").await;
    let r = gw.client.get(gw.url("/v1/embeddings")).send().await.unwrap();
    openai_error(r, 404, "invalid_request_error").await;
    let r = gw.client.get(gw.url("/v1/messages")).send().await.unwrap();
    anthropic_error(r, 405, "invalid_request_error").await;
}

#[tokio::test]
async fn upstream_errors_in_the_same_dialect_pass_through() {
    let gw = TestGateway::start().await;
    let upstream = json!({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"},"request_id":"req_up"});
    gw.mock.enqueue(Behaviour::Status { status: 400, body: upstream.to_string(), headers: vec![] });
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap(), upstream);

    gw.mock.enqueue(Behaviour::Status {
        status: 529,
        body: json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})
            .to_string(),
        headers: vec![("retry-after".into(), "2".into())],
    });
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    assert_eq!(r.headers()["retry-after"], "2");
    anthropic_error(r, 529, "overloaded_error").await;

    gw.mock.enqueue(Behaviour::Status {
        status: 500,
        body: json!({"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}).to_string(),
        headers: vec![],
    });
    let r = gw.openai(&openai_body("gpt-4o", false)).send().await.unwrap();
    assert_eq!(openai_error(r, 500, "server_error").await, "The server had an error");
}

#[tokio::test]
async fn upstream_credential_and_malformed_errors_become_gateway_errors() {
    let gw = TestGateway::start().await;
    gw.mock.enqueue(Behaviour::Status {
        status: 401,
        body: json!({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}).to_string(),
        headers: vec![],
    });
    let msg = anthropic_error(
        gw.anthropic(&anthropic_body("claude-sonnet-4-5", false)).send().await.unwrap(),
        502,
        "api_error",
    )
    .await;
    assert!(msg.contains("rejected Tollgate's credentials"), "{msg}");

    gw.mock.enqueue(Behaviour::Status {
        status: 502,
        body: "<html><body>Bad Gateway</body></html>".into(),
        headers: vec![],
    });
    let msg = openai_error(
        gw.openai(&openai_body("gpt-4o", true)).send().await.unwrap(),
        502,
        "server_error",
    )
    .await;
    assert!(msg.contains("HTTP 502") && msg.contains("Bad Gateway"), "{msg}");

    // 529 has no OpenAI equivalent: OpenAI clients get 503.
    gw.mock.enqueue(Behaviour::Status { status: 529, body: "overloaded".into(), headers: vec![] });
    openai_error(
        gw.openai(&openai_body("gpt-4o", false)).send().await.unwrap(),
        503,
        "server_error",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_provider_is_502() {
    let gw = TestGateway::builder()
        .env("TOLLGATE_ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
        .start()
        .await;
    let msg = anthropic_error(
        gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap(),
        502,
        "api_error",
    )
    .await;
    assert!(msg.contains("could not connect"), "{msg}");
    assert_eq!(gw.history().await[0].outcome, "upstream_error");
}

#[tokio::test]
async fn a_silent_provider_times_out_with_504() {
    let gw = TestGateway::builder().env("TOLLGATE_FIRST_BYTE_TIMEOUT", "300ms").start().await;
    gw.mock.enqueue(Behaviour::NoResponse);
    let msg = anthropic_error(
        gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap(),
        504,
        "timeout_error",
    )
    .await;
    assert!(msg.contains("did not answer"), "{msg}");
    gw.mock.enqueue(Behaviour::NoResponse);
    openai_error(
        gw.openai(&openai_body("gpt-4o", false)).send().await.unwrap(),
        504,
        "server_error",
    )
    .await;
    assert!(gw.history().await.iter().all(|r| r.outcome == "timeout"));
}

#[tokio::test]
async fn a_stream_that_goes_silent_ends_with_an_error_event() {
    let gw = TestGateway::builder().env("TOLLGATE_IDLE_TIMEOUT", "300ms").start().await;
    gw.mock.enqueue(Behaviour::StallAfterHeaders);
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.unwrap());
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"));
    assert_eq!(data["error"]["type"], "timeout_error");
    assert_eq!(gw.history().await[0].outcome, "timeout");
}

#[tokio::test]
async fn a_mid_stream_provider_error_is_forwarded_as_is() {
    let gw = TestGateway::start().await;
    gw.mock.enqueue(Behaviour::MidStreamError { after_events: 3 });
    let text = gw
        .anthropic(&anthropic_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 4, "{text}");
    assert_eq!(events[3].0.as_deref(), Some("error"));
    assert_eq!(events[3].1["error"]["type"], "overloaded_error");
    // No second error event from the gateway.
    assert_eq!(text.matches("event: error").count(), 1);
    let h = gw.history().await;
    assert_eq!(
        (h[0].outcome.as_str(), h[0].error_type.as_deref()),
        ("stream_error", Some("overloaded_error"))
    );

    gw.mock.enqueue(Behaviour::MidStreamError { after_events: 2 });
    let text = gw.openai(&openai_body("gpt-4o", true)).send().await.unwrap().text().await.unwrap();
    let events = sse_events(&text);
    assert!(events.last().unwrap().1.get("error").is_some(), "{text}");
}

#[tokio::test]
async fn a_stream_that_breaks_off_ends_with_whole_frames_and_an_error_event() {
    let gw = TestGateway::start().await;
    gw.mock.enqueue(Behaviour::BreakOff { after_events: 4 });
    let text = gw
        .anthropic(&anthropic_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    // Four whole events, then the gateway's error event; the half event never reaches the client.
    assert_eq!(events.len(), 5, "{text}");
    assert!(events[..4].iter().all(|(_, d)| d.is_object()));
    assert_eq!(events[4].0.as_deref(), Some("error"));
    assert_eq!(events[4].1["error"]["type"], "api_error");
    assert!(text.ends_with("\n\n"));
    assert_eq!(gw.history().await[0].outcome, "upstream_broke_off");

    gw.mock.enqueue(Behaviour::BreakOff { after_events: 2 });
    let text = gw.openai(&openai_body("gpt-4o", true)).send().await.unwrap().text().await.unwrap();
    let events = sse_events(&text);
    assert_eq!(events.len(), 3, "{text}");
    assert_eq!(events[2].1["error"]["type"], "server_error");
    assert!(!text.contains("[DONE]"));
}

//! Anthropic clients end to end: passthrough, auth, headers, history.

use serde_json::{Value, json};
use tollgate_testkit::gateway::{ANTHROPIC_UPSTREAM_KEY, KEY, anthropic_body, sse_events};
use tollgate_testkit::{Behaviour, TestGateway};

#[tokio::test]
async fn head_root_and_health_answer_without_a_key() {
    let gw = TestGateway::start().await;
    let r = gw.client.head(gw.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let r = gw.client.get(gw.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[tokio::test]
async fn ready_reports_storage_and_providers() {
    let gw = TestGateway::start().await;
    // The first provider probe runs at startup; wait for it.
    for i in 0..2 {
        tollgate_server::discovery::probe(&gw.state, i).await;
    }
    let r = gw.client.get(gw.url("/health/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["checks"]["storage"]["status"], "up");
    assert_eq!(v["checks"]["providers"]["anthropic"]["status"], "up");
    assert_eq!(v["checks"]["providers"]["openai"]["status"], "up");
}

#[tokio::test]
async fn ready_is_503_with_the_failing_dependency_named() {
    let gw = TestGateway::builder()
        .env("TOLLGATE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .start()
        .await;
    tollgate_server::discovery::probe(&gw.state, 1).await;
    let r = gw.client.get(gw.url("/health/ready")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["checks"]["providers"]["openai"]["status"], "down");
    // Reasons only for the master key: an anonymous probe learns nothing about credentials.
    assert!(v["checks"]["providers"]["openai"].get("reason").is_none());
    let v: Value = gw
        .client
        .get(gw.url("/health/ready"))
        .header("x-api-key", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["checks"]["providers"]["openai"]["reason"].as_str().unwrap().contains("connect"),
        "{v}"
    );
}

#[tokio::test]
async fn a_streamed_message_passes_through_byte_for_byte() {
    let gw = TestGateway::start().await;
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 200,
        "stream": true,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "messages": [{"role": "user", "content": "hello"}]
    });
    let sent = body.to_string();
    let r = gw
        .anthropic(&body)
        .header("anthropic-beta", "context-management-2025-06-27,interleaved-thinking-2025-05-14")
        .header("x-request-id", "my-trace-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["x-request-id"], "my-trace-1");
    assert!(r.headers().contains_key("request-id"), "Anthropic's request-id passes back");
    assert!(r.headers().contains_key("anthropic-ratelimit-requests-remaining"));
    let text = r.text().await.unwrap();

    let up = gw.upstream_requests("/v1/messages");
    assert_eq!(up.len(), 1);
    let up = &up[0];
    assert_eq!(up.path, "/v1/messages");
    // The body went upstream untouched; only the credentials changed.
    assert_eq!(up.body, sent.as_bytes());
    assert_eq!(up.header("x-api-key").as_deref(), Some(ANTHROPIC_UPSTREAM_KEY));
    assert_eq!(
        up.header("anthropic-beta").as_deref(),
        Some("context-management-2025-06-27,interleaved-thinking-2025-05-14")
    );
    assert_eq!(up.header("anthropic-version").as_deref(), Some("2023-06-01"));
    assert_eq!(up.header("x-request-id").as_deref(), Some("my-trace-1"));
    assert!(up.header("authorization").is_none());

    let events = sse_events(&text);
    let names: Vec<_> = events.iter().map(|(e, _)| e.clone().unwrap_or_default()).collect();
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    // Every frame keeps its `event:` line (the Anthropic SDKs ignore frames without one).
    assert!(events.iter().all(|(e, _)| e.is_some()));

    let h = gw.history().await;
    assert_eq!(h.len(), 1);
    let rec = &h[0];
    assert_eq!(
        (rec.provider.as_deref(), rec.model_requested.as_deref()),
        (Some("anthropic"), Some("claude-sonnet-4-5"))
    );
    assert_eq!((rec.status, rec.outcome.as_str(), rec.stream), (200, "ok", true));
    assert_eq!(rec.request_id, "my-trace-1");
    assert!(rec.input_tokens > 0 && rec.output_tokens > 0);
    assert_eq!(rec.stop_reason.as_deref(), Some("end_turn"));
    assert_eq!(rec.response_body.as_deref(), Some(text.as_bytes()));
    assert_eq!(rec.request_body.as_deref(), Some(sent.as_bytes()));
    assert!(rec.ttfb_ms.is_some());
}

#[tokio::test]
async fn non_streaming_messages_and_bearer_auth() {
    let gw = TestGateway::start().await;
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .bearer_auth(KEY)
        .header("anthropic-version", "2023-06-01")
        .body(anthropic_body("claude-haiku-4-5", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["model"], "claude-haiku-4-5");
    let h = gw.history().await;
    assert_eq!((h[0].stream, h[0].outcome.as_str()), (false, "ok"));
    assert_eq!(h[0].key_name.as_deref(), Some("master"));
    assert!(h[0].output_tokens > 0);
}

#[tokio::test]
async fn tool_use_streams_through_and_the_next_turn_is_accepted() {
    let gw = TestGateway::start().await;
    let tools = json!([{"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}]);
    let first = json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": true, "tools": tools,
        "messages": [{"role": "user", "content": "read the readme"}]});
    let text = gw.anthropic(&first).send().await.unwrap().text().await.unwrap();
    let events = sse_events(&text);
    let start = events
        .iter()
        .find(|(e, d)| {
            e.as_deref() == Some("content_block_start") && d["content_block"]["type"] == "tool_use"
        })
        .unwrap();
    let id = start.1["content_block"]["id"].as_str().unwrap().to_owned();
    let args: String = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap().to_owned())
        .collect();
    let input: Value = serde_json::from_str(&args).unwrap();
    let delta = events.iter().find(|(e, _)| e.as_deref() == Some("message_delta")).unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");

    let second = json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": true, "tools": tools, "messages": [
        {"role": "user", "content": "read the readme"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "Read", "input": input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "# Readme"}]}
    ]});
    let r = gw.anthropic(&second).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.unwrap());
    let delta = events.iter().find(|(e, _)| e.as_deref() == Some("message_delta")).unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "end_turn");
    assert_eq!(gw.history().await.len(), 2);
}

#[tokio::test]
async fn count_tokens_passes_through_to_anthropic() {
    let gw = TestGateway::start().await;
    let r = gw
        .client
        .post(gw.url("/v1/messages/count_tokens?beta=true"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body(json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello there"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(gw.upstream_requests("/v1/messages/count_tokens").len(), 1);
}

#[tokio::test]
async fn count_tokens_for_an_openai_model_is_estimated_locally() {
    let gw = TestGateway::start().await;
    let r = gw
        .client
        .post(gw.url("/v1/messages/count_tokens"))
        .header("x-api-key", KEY)
        .body(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there, a longer sentence"}],
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let n = r.json::<Value>().await.unwrap()["input_tokens"].as_u64().unwrap();
    assert!(n > 10, "{n}");
    assert!(gw.upstream_requests("/v1/messages/count_tokens").is_empty());
}

#[tokio::test]
async fn aliases_and_explicit_targets_rewrite_only_the_model() {
    let gw = TestGateway::builder()
        .toml("[aliases]\nsmart = \"anthropic:claude-opus-4-1\"\n")
        .start()
        .await;
    let body = json!({"max_tokens": 10, "model": "smart", "messages": [{"role": "user", "content": "x"}], "metadata": {"user_id": "u"}});
    let r = gw.anthropic(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let sent = body.to_string().replace("\"smart\"", "\"claude-opus-4-1\"");
    assert_eq!(gw.upstream_requests("/v1/messages")[0].body, sent.as_bytes());
    let r = gw.anthropic(&json!({"model": "anthropic:claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "y"}]})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(gw.upstream_requests("/v1/messages")[1].json()["model"], "claude-x");
    let h = gw.history().await;
    assert_eq!(h[0].route_reason.as_deref(), Some("alias smart"));
    assert_eq!(h[1].route_reason.as_deref(), Some("explicit provider:model"));
}

#[tokio::test]
async fn models_list_speaks_the_callers_dialect() {
    let gw =
        TestGateway::builder().toml("[aliases]\nfast = \"openai:gpt-4o-mini\"\n").start().await;
    tollgate_server::discovery::probe(&gw.state, 0).await;
    let anthropic_list = |query: &str| {
        gw.client
            .get(gw.url(&format!("/v1/models{query}")))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .send()
    };
    let v: Value = anthropic_list("?limit=1000").await.unwrap().json().await.unwrap();
    assert_eq!(v["has_more"], false);
    let data = v["data"].as_array().unwrap().clone();
    assert!(data.iter().all(|m| m["type"] == "model"));
    // Every model, whatever its provider's dialect: Tollgate translates (the OpenAI alias too).
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(ids.iter().any(|id| id.starts_with("claude")) && ids.contains(&"fast"), "{v}");
    let page: Value = anthropic_list("?limit=1").await.unwrap().json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["has_more"], true);
    let after = format!("?limit=1&after_id={}", page["last_id"].as_str().unwrap());
    let next: Value = anthropic_list(&after).await.unwrap().json().await.unwrap();
    assert_eq!(next["first_id"], data[1]["id"]);
    let v: Value = gw
        .client
        .get(gw.url("/v1/models"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "fast" && m["owned_by"] == "openai")
    );
    let r = gw
        .client
        .get(gw.url("/v1/models/claude-sonnet-4-5"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = gw.client.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn named_keys_authenticate_and_are_recorded_by_name() {
    let gw = TestGateway::builder()
        .toml("[[auth.keys]]\nname = \"laptop\"\nkey = \"tg-laptop-1\"\n")
        .start()
        .await;
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "tg-laptop-1")
        .body(anthropic_body("claude-sonnet-4-5", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(gw.history().await[0].key_name.as_deref(), Some("laptop"));
    // The gateway key never reaches the provider.
    assert!(
        gw.mock.requests().iter().all(|r| r.header("x-api-key").as_deref() != Some("tg-laptop-1"))
    );
}

#[tokio::test]
async fn rate_limit_headers_and_retry_after_pass_back_on_429() {
    let gw = TestGateway::start().await;
    gw.mock.enqueue(Behaviour::Status {
        status: 429,
        body: json!({"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}).to_string(),
        headers: vec![("retry-after".into(), "7".into()), ("anthropic-ratelimit-tokens-remaining".into(), "0".into())],
    });
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(r.headers()["anthropic-ratelimit-tokens-remaining"], "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("per-minute"));
    let h = gw.history().await;
    assert_eq!((h[0].status, h[0].outcome.as_str()), (429, "upstream_error"));
}

#[tokio::test]
async fn ready_is_503_when_storage_is_gone() {
    let gw = TestGateway::start().await;
    gw.sqlite.as_ref().unwrap().close().await;
    let r = gw.client.get(gw.url("/health/ready")).header("x-api-key", KEY).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["checks"]["storage"]["status"], "down");
    assert!(v["checks"]["storage"]["reason"].is_string());
}

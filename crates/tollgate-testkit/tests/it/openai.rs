//! OpenAI clients end to end.

use serde_json::{Value, json};
use tollgate_testkit::TestGateway;
use tollgate_testkit::gateway::{OPENAI_UPSTREAM_KEY, openai_body, sse_events};

#[tokio::test]
async fn a_stream_is_metered_without_showing_the_client_a_usage_chunk_it_did_not_ask_for() {
    let gw = TestGateway::start().await;
    let r = gw.openai(&openai_body("gpt-4o", true)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let events = sse_events(&text);
    assert!(
        events.iter().all(|(_, d)| d == "[DONE]" || !d["choices"].as_array().unwrap().is_empty()),
        "{text}"
    );
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let up = &gw.upstream_requests("/v1/chat/completions")[0];
    assert_eq!(up.json()["stream_options"]["include_usage"], true);
    assert_eq!(up.header("authorization"), Some(format!("Bearer {OPENAI_UPSTREAM_KEY}")));
    let h = gw.history().await;
    assert!(h[0].input_tokens > 0 && h[0].output_tokens > 0, "{:?}", h[0]);
    assert_eq!(h[0].stop_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn a_client_that_asks_for_usage_gets_it_and_its_body_is_untouched() {
    let gw = TestGateway::start().await;
    let body = json!({"model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "hi"}]});
    let text = gw.openai(&body).send().await.unwrap().text().await.unwrap();
    let events = sse_events(&text);
    let usage = events.iter().find(|(_, d)| d.get("usage").is_some_and(|u| u.is_object())).unwrap();
    assert!(usage.1["choices"].as_array().unwrap().is_empty());
    assert_eq!(gw.upstream_requests("/v1/chat/completions")[0].body, body.to_string().as_bytes());
}

#[tokio::test]
async fn non_streaming_tool_calls_pass_through() {
    let gw = TestGateway::start().await;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]});
    let r = gw.openai(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather");
    let h = gw.history().await;
    assert_eq!(
        (h[0].stream, h[0].outcome.as_str(), h[0].stop_reason.as_deref()),
        (false, "ok", Some("tool_calls"))
    );
    assert!(h[0].output_tokens > 0);
}

#[tokio::test]
async fn a_base_url_without_v1_also_works() {
    let gw = TestGateway::start().await;
    let r = gw
        .client
        .post(gw.url("/chat/completions"))
        .bearer_auth(tollgate_testkit::gateway::KEY)
        .body(openai_body("gpt-4o", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn an_openai_compatible_provider_configured_in_the_file() {
    let mock = tollgate_testkit::MockUpstream::start().await;
    let toml = format!(
        "[providers.workstation]\nbase_url = \"{}\"\napi_key = \"sk-local\"\nmodels = [\"qwen2.5-coder:32b\"]\nheaders = {{ \"x-team\" = \"infra\" }}\n",
        mock.openai_url()
    );
    let gw = TestGateway::builder().toml(&toml).start().await;
    let r = gw.openai(&openai_body("qwen2.5-coder:32b", true)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    let up = mock.requests().into_iter().find(|r| r.path == "/v1/chat/completions").unwrap();
    assert_eq!(up.header("x-team").as_deref(), Some("infra"));
    assert_eq!(up.header("authorization").as_deref(), Some("Bearer sk-local"));
    let r = gw.openai(&openai_body("workstation:qwen2.5-coder:32b", false)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = gw.history().await;
    assert_eq!(h[0].provider.as_deref(), Some("workstation"));
    assert_eq!(h[0].route_reason.as_deref(), Some("model listed in config"));
}

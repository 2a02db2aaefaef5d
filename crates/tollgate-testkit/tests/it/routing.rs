//! Routing through the whole gateway: explain headers, the decision in the history, retries and
//! fallback before anything reached the client, breakers that open, automatic routing.

use serde_json::{Value, json};
use tollgate_testkit::TestGateway;
use tollgate_testkit::gateway::{anthropic_body, sse_events};
use tollgate_testkit::mock::Behaviour;

fn overloaded() -> Behaviour {
    Behaviour::Status {
        status: 529,
        body: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            .into(),
        headers: vec![],
    }
}

/// A gateway with an alias that tries Anthropic first and OpenAI second, no retries on one
/// deployment, and a breaker that opens after two failures.
async fn resilient(extra: &str) -> TestGateway {
    TestGateway::builder()
        .toml(&format!(
            "[aliases]\nresilient = [\"anthropic:claude-sonnet-4-5\", \"openai:gpt-5-mini\"]\n\
             [routing]\nretries = 0\nbreaker = {{ failures = 2, cooldown = \"60s\" }}\n{extra}"
        ))
        .start()
        .await
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn every_response_says_where_it_went_and_why_and_the_decision_is_stored() {
    let gw = TestGateway::start().await;
    let resp = gw.anthropic(&anthropic_body("claude-sonnet-4-5", false)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-tollgate-provider"), "anthropic");
    assert_eq!(header(&resp, "x-tollgate-model"), "claude-sonnet-4-5");
    assert_eq!(header(&resp, "x-tollgate-route"), "preset pattern claude-*");
    let h = gw.history().await;
    let r = h.last().unwrap();
    assert_eq!(r.route_deployment.as_deref(), Some("anthropic:claude-sonnet-4-5"));
    let decision: Value = serde_json::from_str(r.route_decision.as_deref().unwrap()).unwrap();
    assert_eq!(decision["version"], 1);
    assert_eq!(decision["mode"], "pattern");
    assert_eq!(decision["chosen"], json!(["anthropic:claude-sonnet-4-5"]));
}

#[tokio::test]
async fn a_failing_first_deployment_falls_back_before_the_client_sees_anything() {
    let gw = resilient("").await;
    gw.mock.enqueue(overloaded());
    let resp = gw.anthropic(&anthropic_body("resilient", true)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-tollgate-provider"), "openai");
    assert_eq!(header(&resp, "x-tollgate-model"), "gpt-5-mini");
    let body = resp.text().await.unwrap();
    let events = sse_events(&body);
    // A whole, valid Anthropic stream from the second deployment.
    assert_eq!(events.first().and_then(|e| e.0.as_deref()), Some("message_start"));
    assert_eq!(events.last().and_then(|e| e.0.as_deref()), Some("message_stop"));
    assert!(!body.contains("overloaded"), "{body}");
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 1);
    assert_eq!(gw.upstream_requests("/v1/chat/completions").len(), 1);
    let h = gw.history().await;
    let r = h.last().unwrap();
    assert_eq!((r.status, r.outcome.as_str()), (200, "ok"));
    assert_eq!(r.route_deployment.as_deref(), Some("openai:gpt-5-mini"));
}

#[tokio::test]
async fn a_stream_that_opens_with_an_error_event_also_falls_back() {
    let gw = resilient("").await;
    gw.mock.enqueue(Behaviour::MidStreamError { after_events: 0 });
    let resp = gw.anthropic(&anthropic_body("resilient", true)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-tollgate-provider"), "openai");
    let body = resp.text().await.unwrap();
    assert!(!body.contains("event: error"), "{body}");
    assert_eq!(sse_events(&body).last().and_then(|e| e.0.as_deref()), Some("message_stop"));
}

#[tokio::test]
async fn a_client_error_does_not_fall_back() {
    let gw = resilient("").await;
    gw.mock.enqueue(Behaviour::Status {
        status: 400,
        body: r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#.into(),
        headers: vec![],
    });
    let resp = gw.anthropic(&anthropic_body("resilient", false)).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(header(&resp, "x-tollgate-provider"), "anthropic");
    assert!(gw.upstream_requests("/v1/chat/completions").is_empty());
}

#[tokio::test]
async fn retries_back_off_on_the_same_deployment_before_falling_back() {
    let gw = TestGateway::builder()
        .toml("[aliases]\nresilient = [\"anthropic:claude-sonnet-4-5\", \"openai:gpt-5-mini\"]\n[routing]\nretries = 1\nbackoff = \"10ms\"\n")
        .start()
        .await;
    gw.mock.enqueue(Behaviour::Status {
        status: 429,
        body: r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
            .into(),
        headers: vec![("retry-after".into(), "0".into())],
    });
    let resp = gw.anthropic(&anthropic_body("resilient", false)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-tollgate-provider"), "anthropic", "the retry succeeded");
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 2);
    assert!(gw.upstream_requests("/v1/chat/completions").is_empty());
}

#[tokio::test]
async fn the_breaker_opens_and_traffic_goes_straight_to_the_next_deployment() {
    let gw = resilient("").await;
    for _ in 0..2 {
        gw.mock.enqueue(overloaded());
        let resp = gw.anthropic(&anthropic_body("resilient", false)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-tollgate-provider"), "openai");
    }
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 2);
    // Open: Anthropic is not tried at all.
    let resp = gw.anthropic(&anthropic_body("resilient", true)).send().await.unwrap();
    assert_eq!(header(&resp, "x-tollgate-provider"), "openai");
    resp.text().await.unwrap();
    assert_eq!(gw.upstream_requests("/v1/messages").len(), 2);

    let state = gw.get_json("/admin/routing").await;
    let deployments = state["deployments"].as_array().unwrap();
    let anthropic = deployments
        .iter()
        .find(|d| d["deployment"] == "anthropic:claude-sonnet-4-5")
        .unwrap_or_else(|| panic!("{state}"));
    assert_eq!(anthropic["state"], "open", "{anthropic}");
}

#[tokio::test]
async fn a_dead_first_provider_under_load_breaks_no_stream() {
    let gw = TestGateway::builder()
        .toml(
            "[providers.dead]\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"x\"\n\
             [aliases]\nresilient = [\"dead:some-model\", \"anthropic:claude-sonnet-4-5\"]\n\
             [routing]\nretries = 0\nbreaker = { failures = 3, cooldown = \"60s\" }\n",
        )
        .start()
        .await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let req = gw.anthropic(&anthropic_body("resilient", true));
        tasks.push(tokio::spawn(async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let provider = header(&resp, "x-tollgate-provider");
            (status, provider, resp.text().await.unwrap())
        }));
    }
    for t in tasks {
        let (status, provider, body) = t.await.unwrap();
        assert_eq!((status, provider.as_str()), (200, "anthropic"));
        let events = sse_events(&body);
        assert_eq!(events.last().and_then(|e| e.0.as_deref()), Some("message_stop"), "{body}");
        assert!(!body.contains("event: error"));
    }
    let h = gw.history().await;
    assert_eq!(h.iter().filter(|r| r.outcome == "ok").count(), 20);
}

#[tokio::test]
async fn auto_routes_by_the_request_and_records_its_category() {
    let gw = TestGateway::start().await;
    let easy = json!({"model": "auto", "max_tokens": 64, "stream": false,
                      "messages": [{"role": "user", "content": "What is 2+2?"}]});
    let resp = gw.anthropic(&easy).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // Anthropic and OpenAI are enabled: the cheapest capable cheap model is OpenAI's nano.
    assert_eq!(header(&resp, "x-tollgate-model"), "gpt-5-nano");
    assert!(header(&resp, "x-tollgate-route").starts_with("auto simple_qa/cheap"));
    let h = gw.history().await;
    let r = h.last().unwrap();
    assert_eq!(r.route_category.as_deref(), Some("simple_qa"));
    let d: Value = serde_json::from_str(r.route_decision.as_deref().unwrap()).unwrap();
    assert_eq!(d["classification"]["category"], "simple_qa");
    assert!(d["candidates"].as_array().unwrap().len() >= 6);

    // Explain, through the admin API, without calling anyone.
    let before = gw.mock.requests().len();
    let explained = gw.post_json("/admin/routing/explain", &easy).await;
    assert_eq!(explained["chosen"][0], "openai:gpt-5-nano");
    assert_eq!(gw.mock.requests().len(), before);
}

#[tokio::test]
async fn a_local_only_request_never_leaves_local_models() {
    let gw = TestGateway::start().await;
    let resp = gw
        .anthropic(&anthropic_body("auto", false))
        .header("x-tollgate-sensitivity", "local")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("local-only request"), "{msg}");
    assert!(gw.upstream_requests("/v1/messages").is_empty());
}

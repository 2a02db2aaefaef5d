//! Observability: `GET /metrics` counts what happened with the right labels and nothing
//! identifying; provider probes show as `tollgate_upstream_up`; with an OTLP endpoint set, a
//! request becomes an exported span.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use http::HeaderMap;
use serde_json::json;
use tollgate_server::metrics::names;
use tollgate_server::telemetry::Tracing;
use tollgate_store::ExchangeRecord;
use tollgate_testkit::gateway::{ANTHROPIC_UPSTREAM_KEY, KEY, anthropic_body, openai_body};
use tollgate_testkit::{Behaviour, TestGateway};
use tracing_subscriber::layer::SubscriberExt;

async fn scrape(gw: &TestGateway) -> String {
    let r = gw.client.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    r.text().await.unwrap()
}

/// The value of the sample `series` (name and labels exactly as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The model label an exchange is counted under.
fn model(r: &ExchangeRecord) -> &str {
    r.model_served.as_deref().or(r.model_requested.as_deref()).unwrap()
}

#[tokio::test]
async fn requests_tokens_and_latency_are_counted_with_their_labels() {
    let gw = TestGateway::start().await;
    // Streamed, with a cache_control block: the mock then reports cache-read tokens.
    let streamed = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 200,
        "stream": true,
        "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hello"}]
    });
    let r = gw.anthropic(&streamed).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    let r = gw.openai(&openai_body("gpt-4o", false)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    gw.mock.enqueue(Behaviour::Status {
        status: 500,
        body:
            json!({"type":"error","error":{"type":"api_error","message":"Internal server error"}})
                .to_string(),
        headers: vec![],
    });
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", false)).send().await.unwrap();
    assert_eq!(r.status(), 500);
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "not-a-key")
        .header("anthropic-version", "2023-06-01")
        .body(anthropic_body("claude-made-up-by-a-stranger", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let h = gw.history().await;
    assert_eq!(h.len(), 3, "{h:#?}");
    let (stream, chat, failed) = (&h[0], &h[1], &h[2]);
    assert_eq!((stream.outcome.as_str(), chat.outcome.as_str()), ("ok", "ok"));
    assert_eq!(failed.outcome, "upstream_error");
    let text = scrape(&gw).await;

    for r in [stream, chat, failed] {
        let series = format!(
            r#"tollgate_requests_total{{endpoint="{}",provider="{}",model="{}",status="{}",outcome="{}"}}"#,
            r.endpoint,
            r.provider.as_deref().unwrap(),
            model(r),
            r.status,
            r.outcome
        );
        assert_eq!(sample(&text, &series), Some(1.0), "{series} in\n{text}");
    }
    // A stranger is counted, but names no label value.
    assert_eq!(
        sample(
            &text,
            r#"tollgate_requests_total{endpoint="messages",provider="-",model="-",status="401",outcome="rejected"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("claude-made-up-by-a-stranger"), "{text}");

    for r in [stream, chat] {
        let provider = r.provider.as_deref().unwrap();
        for (kind, n) in [("input", r.input_tokens), ("output", r.output_tokens)] {
            assert!(n > 0, "{kind} tokens of {r:#?}");
            let series = format!(
                r#"tollgate_tokens_total{{provider="{provider}",model="{}",kind="{kind}"}}"#,
                model(r)
            );
            assert_eq!(sample(&text, &series), Some(n as f64), "{series} in\n{text}");
        }
    }
    assert!(stream.cache_read_tokens > 0, "{stream:#?}");
    let series = format!(
        r#"tollgate_tokens_total{{provider="anthropic",model="{}",kind="cache_read"}}"#,
        model(stream)
    );
    assert_eq!(sample(&text, &series), Some(stream.cache_read_tokens as f64), "{text}");
    assert_eq!(sample(&text, r#"tollgate_cache_hits_total{provider="anthropic"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"tollgate_cache_hits_total{provider="openai"}"#), None);

    // Latency: both Anthropic exchanges, with and without a stream; first bytes where sent.
    assert_eq!(
        sample(
            &text,
            r#"tollgate_request_duration_seconds_count{endpoint="messages",provider="anthropic"}"#
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"tollgate_time_to_first_byte_seconds_count{endpoint="chat_completions",provider="openai"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(r#"tollgate_request_duration_seconds_bucket{le="600.0",endpoint="messages",provider="anthropic"}"#)
            || text.contains(r#"tollgate_request_duration_seconds_bucket{endpoint="messages",provider="anthropic",le="600.0"}"#),
        "{text}"
    );
    assert!(sample(&text, "tollgate_in_flight").is_some(), "{text}");
    assert!(sample(&text, "tollgate_history_overflow_total").is_some(), "{text}");
    assert_eq!(sample(&text, r#"tollgate_upstream_up{provider="anthropic"}"#), Some(1.0));

    // Aggregates only: no key, no request id, no body.
    for secret in [KEY, ANTHROPIC_UPSTREAM_KEY, &stream.request_id, "You are terse"] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }
}

#[tokio::test]
async fn every_metric_is_described_exactly_once() {
    let gw = TestGateway::start().await;
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", false)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    let text = scrape(&gw).await;
    let mut help: HashMap<&str, usize> = HashMap::new();
    let mut kind: HashMap<&str, usize> = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            *help.entry(rest.split(' ').next().unwrap()).or_default() += 1;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            *kind.entry(rest.split(' ').next().unwrap()).or_default() += 1;
        }
    }
    // A labelled family with no series yet (cost, cache hits here) is not described at all.
    let unseen = [names::COST_USD, names::CACHE_HITS];
    for name in names::ALL {
        let expected = if unseen.contains(name) { None } else { Some(&1) };
        assert_eq!(help.get(name), expected, "HELP {name} in\n{text}");
        assert_eq!(kind.get(name), expected, "TYPE {name} in\n{text}");
    }
    assert_eq!(kind.len(), names::ALL.len() - unseen.len(), "{text}");
    assert_eq!(help.len(), kind.len(), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn upstream_up_follows_the_provider_probes() {
    let gw = TestGateway::builder()
        .env("TOLLGATE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .start()
        .await;
    tollgate_server::discovery::probe(&gw.state, 1).await;
    let text = scrape(&gw).await;
    assert_eq!(sample(&text, r#"tollgate_upstream_up{provider="openai"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, r#"tollgate_upstream_up{provider="anthropic"}"#), Some(1.0), "{text}");
}

/// A stand-in OTLP/HTTP collector: keeps every `POST /v1/traces` it receives.
#[derive(Clone, Default)]
struct Collector {
    posts: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Collector {
    async fn start(&self) -> String {
        async fn traces(State(c): State<Collector>, headers: HeaderMap, body: Bytes) -> Vec<u8> {
            c.posts.lock().unwrap().push((headers, body));
            Vec::new()
        }
        let app = Router::new().route("/v1/traces", post(traces)).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }
}

/// Counts closed `http.request` spans, so the test knows the span is complete before flushing.
#[derive(Clone, Default)]
struct ClosedSpans(Arc<AtomicUsize>);

impl<S> tracing_subscriber::Layer<S> for ClosedSpans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_close(&self, id: tracing::span::Id, cx: tracing_subscriber::layer::Context<'_, S>) {
        if cx.span(&id).is_some_and(|s| s.name() == "http.request") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn a_request_becomes_an_exported_span_when_an_otlp_endpoint_is_set() {
    let collector = Collector::default();
    let url = collector.start().await;
    let gw = TestGateway::builder().env("TOLLGATE_OTLP_ENDPOINT", &url).start().await;
    let traces = Tracing::start(&gw.state.config.telemetry).unwrap().expect("tracing is on");
    let closed = ClosedSpans::default();
    // This test's runtime runs on this thread only, so a thread-local subscriber sees the
    // gateway's spans and no other test's.
    let subscriber = tracing_subscriber::registry().with(traces.layer()).with(closed.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let parent_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = gw
        .anthropic(&anthropic_body("claude-sonnet-4-5", true))
        .header("x-request-id", "trace-me-1")
        .header("traceparent", format!("00-{parent_trace}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    // The span ends with the response body, a moment after the client has read it.
    for _ in 0..400 {
        if closed.0.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(closed.0.load(Ordering::SeqCst), 1);
    traces.shutdown().await;

    let posts = collector.posts.lock().unwrap().clone();
    assert!(!posts.is_empty(), "nothing exported");
    let (headers, body) = &posts[0];
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let body = body.as_ref();
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    // Protobuf strings are raw UTF-8; the trace id is its 16 raw bytes.
    assert!(has(b"POST /v1/messages"), "span name");
    assert!(has(b"trace-me-1"), "request id attribute");
    assert!(has(b"http.response.status_code"), "status attribute");
    assert!(has(b"tollgate"), "service name");
    assert!(has(b"model_served"), "the request log line, as an event of the span");
    let trace_id: Vec<u8> =
        (0..16).map(|i| u8::from_str_radix(&parent_trace[2 * i..2 * i + 2], 16).unwrap()).collect();
    assert!(has(&trace_id), "the caller's trace id, from traceparent");
}

#[tokio::test]
async fn without_an_endpoint_there_is_no_tracing() {
    let gw = TestGateway::start().await;
    assert!(gw.state.config.telemetry.otlp_endpoint.is_none());
    assert!(Tracing::start(&gw.state.config.telemetry).unwrap().is_none());
}

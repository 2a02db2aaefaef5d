//! Cancellation and shutdown: a client that goes away cancels the upstream request at once; a
//! shutdown drains in-flight streams up to a deadline; no history record is lost on the way.

use std::time::Duration;

use futures_util::StreamExt;
use tollgate_testkit::gateway::{anthropic_body, openai_body, sse_events};
use tollgate_testkit::{Behaviour, TestGateway};

#[tokio::test]
async fn a_client_disconnect_mid_stream_cancels_the_upstream_request() {
    let gw = TestGateway::start().await;
    gw.mock.enqueue(Behaviour::StallAfterHeaders);
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(gw.mock.wait_in_flight(1, Duration::from_secs(2)).await);
    drop(r);
    assert!(gw.mock.wait_in_flight(0, Duration::from_secs(2)).await, "upstream request still open");
    let h = gw.history().await;
    assert_eq!((h[0].status, h[0].outcome.as_str()), (499, "client_closed"));
}

#[tokio::test]
async fn a_stream_closed_early_by_the_client_is_still_metered_and_kept() {
    let gw = TestGateway::start().await;
    gw.mock.set_event_interval(Duration::from_millis(100));
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("message_start"));
    drop(body);
    assert!(gw.mock.wait_in_flight(0, Duration::from_secs(2)).await);
    let h = gw.history().await;
    assert_eq!(h[0].outcome, "client_closed");
    // message_start carried the input tokens; the bytes the client received are kept.
    assert!(h[0].input_tokens > 0, "{:?}", h[0]);
    assert_eq!(h[0].model_served.as_deref(), Some("claude-sonnet-4-5"));
    assert!(h[0].response_body.as_ref().is_some_and(|b| b.starts_with(&first)));
}

#[tokio::test]
async fn a_client_disconnect_before_headers_cancels_the_upstream_request() {
    let gw = TestGateway::start().await;
    gw.mock.enqueue(Behaviour::NoResponse);
    let req = gw.openai(&openai_body("gpt-4o", true)).send();
    let handle = tokio::spawn(req);
    assert!(gw.mock.wait_in_flight(1, Duration::from_secs(2)).await);
    handle.abort();
    assert!(gw.mock.wait_in_flight(0, Duration::from_secs(2)).await, "upstream request still open");
    let h = gw.history().await;
    assert_eq!(h[0].outcome, "client_closed");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_stream_finish() {
    let mut gw = TestGateway::builder().env("TOLLGATE_SHUTDOWN_GRACE", "10s").start().await;
    gw.mock.set_event_interval(Duration::from_millis(40));
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    gw.begin_shutdown();
    let mut text = String::from_utf8_lossy(&first).into_owned();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    gw.wait().await.unwrap();
    let events = sse_events(&text);
    assert_eq!(events.last().unwrap().0.as_deref(), Some("message_stop"), "{text}");
    let h = gw.history().await;
    assert_eq!((h.len(), h[0].outcome.as_str()), (1, "ok"));
    // Not accepting any more.
    assert!(gw.client.get(gw.url("/health")).send().await.is_err());
}

#[tokio::test]
async fn after_the_grace_period_open_streams_end_with_an_error_event_and_are_recorded() {
    let mut gw = TestGateway::builder().env("TOLLGATE_SHUTDOWN_GRACE", "200ms").start().await;
    gw.mock.enqueue(Behaviour::StallAfterHeaders);
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    let reader = tokio::spawn(async move { r.text().await.unwrap() });
    assert!(gw.mock.wait_in_flight(1, Duration::from_secs(2)).await);
    gw.begin_shutdown();
    gw.wait().await.unwrap();
    let text = reader.await.unwrap();
    let events = sse_events(&text);
    assert_eq!(events.last().unwrap().0.as_deref(), Some("error"), "{text}");
    let h = gw.history().await;
    assert_eq!(h[0].outcome, "shutdown");
}

#[tokio::test]
async fn every_exchange_of_a_concurrent_burst_is_recorded() {
    let gw = TestGateway::start().await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let req = if i % 2 == 0 {
            gw.anthropic(&anthropic_body("claude-sonnet-4-5", i % 4 == 0))
        } else {
            gw.openai(&openai_body("gpt-4o", i % 3 == 0))
        };
        tasks.push(tokio::spawn(async move { req.send().await.unwrap().text().await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let h = gw.history().await;
    assert_eq!(h.len(), 60);
    assert!(h.iter().all(|r| r.outcome == "ok" && r.input_tokens > 0));
}

#[tokio::test]
async fn with_recording_off_nothing_is_written_and_requests_still_work() {
    let gw = TestGateway::builder().env("TOLLGATE_RECORD", "false").start().await;
    let r = gw.anthropic(&anthropic_body("claude-sonnet-4-5", true)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();
    assert!(gw.history().await.is_empty());
    assert_eq!(gw.state.recorder.spool_bytes(), 0);
}

#[tokio::test]
async fn a_silent_upstream_stream_gets_keep_alive_comments_until_the_idle_timeout() {
    let gw = TestGateway::builder()
        .env("TOLLGATE_KEEPALIVE", "50ms")
        .env("TOLLGATE_IDLE_TIMEOUT", "400ms")
        .start()
        .await;
    // Same dialect (passed through) and translated (a Chat client on Claude): both relays.
    for translated in [false, true] {
        gw.mock.enqueue(Behaviour::StallAfterHeaders);
        let r = if translated {
            gw.openai(&serde_json::json!({"model": "claude-sonnet-4-5", "stream": true,
                "messages": [{"role": "user", "content": "hi"}]}))
        } else {
            gw.anthropic(&anthropic_body("claude-sonnet-4-5", true))
        };
        let text = r.send().await.unwrap().text().await.unwrap();
        let comments = text.matches(": keep-alive\n\n").count();
        assert!(comments >= 3, "translated={translated}: {text}");
        // Then the idle timeout ends it with the client's error event, which the parsers see
        // past the comments.
        let events = sse_events(&text);
        let last = &events.last().unwrap().1;
        assert!(last["error"].is_object(), "translated={translated}: {text}");
    }
}

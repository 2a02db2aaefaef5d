//! Mock upstreams: one loopback HTTP server that answers like the Anthropic Messages API, the
//! OpenAI Chat Completions API, the Gemini API and Ollama's native API, byte for byte, rendered
//! from the recorded examples in `fixtures/`.
//! It knows the providers' wire formats and nothing of the gateway; a test scripts failures with
//! [`Behaviour`] and inspects what arrived with [`MockUpstream::requests`].
//!
//! # Layout
//! - `server`: accept loop, routing, behaviours, in-flight accounting.
//! - `body`: a response body as a script of steps (bytes, pauses, stall, break-off).
//! - `conversation`: the dialect-neutral reading of a request and the reply it earns.
//! - `anthropic`, `openai`, `gemini`, `ollama`: validation and rendering, one file per dialect,
//!   same functions.
//! - `fixtures`: the recorded examples, parsed once into templates.
//! - `json`: an order-preserving JSON tree, so rendered keys keep the fixtures' order.
//! - `sse`, `ids`: SSE framing; ids, clocks and request-ids.
//!
//! # Routes
//! `POST /v1/messages` (any query, e.g. `?beta=true`), `POST /v1/messages/count_tokens`,
//! `GET /v1/models` (Anthropic shape when `anthropic-version` is sent, else OpenAI shape),
//! `POST /v1/chat/completions`, `POST /v1/responses` (`responses`),
//! `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent` (Gemini),
//! `POST /api/chat`, `GET /api/tags`, `GET /api/ps` (Ollama). Anything else is a 404 in the
//! dialect the request looks like.

mod anthropic;
mod body;
mod conversation;
mod fixtures;
mod gemini;
mod ids;
mod json;
mod ollama;
mod openai;
mod responses;
mod server;
mod sse;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gemini;
#[cfg(test)]
mod tests_ollama;
#[cfg(test)]
mod tests_responses;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running mock upstream on `127.0.0.1`. Serves from a background task until dropped; dropping
/// it closes the listener and every open connection.
pub struct MockUpstream {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl MockUpstream {
    /// Binds `127.0.0.1:0` and serves in a background tokio task until dropped.
    #[expect(
        clippy::expect_used,
        reason = "test harness: an ephemeral loopback port only fails to bind on a broken \
                  machine, and no test can go on without its upstream"
    )]
    pub async fn start() -> MockUpstream {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::bind(loopback).await.expect("bind the mock upstream on 127.0.0.1:0")
    }

    /// Binds `addr` (port 0 picks a free port) and serves until dropped.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state)));
        Ok(MockUpstream { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the Anthropic base-URL convention (no `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the OpenAI base-URL convention.
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1beta`: the Gemini API root (Ollama's is [`url`](Self::url)).
    pub fn gemini_url(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    /// Every request received, in arrival order (recorded once its body has been read).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    /// The most recent request, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.state.requests).last().cloned()
    }

    /// Scripts the next response(s): each enqueued behaviour is used by exactly one request, in
    /// FIFO order and whatever its route; when the queue is empty the default behaviour applies.
    pub fn enqueue(&self, behaviour: Behaviour) {
        lock(&self.state.script).push_back(behaviour);
    }

    /// Requests received whose response has not finished: still being handled, waiting in a
    /// behaviour, or with a body not yet fully sent. Drops when the client goes away.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until [`in_flight`](Self::in_flight) equals `expected`, for at most `within`.
    /// Returns whether it got there. A disconnect reaches the mock a moment after the client
    /// drops its side, so assert on this rather than on an immediate `in_flight()`.
    pub async fn wait_in_flight(&self, expected: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.in_flight() == expected {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Pause between two SSE events of a normal stream. Zero (the default) sends them back to
    /// back; a few milliseconds make time-to-first-token and cancellation visible in tests.
    pub fn set_event_interval(&self, interval: Duration) {
        let millis = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        self.state.event_interval_ms.store(millis, Ordering::SeqCst);
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        // The accept loop owns every connection task in a JoinSet, so aborting it closes them too.
        self.task.abort();
    }
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl RecordedRequest {
    /// The body parsed as JSON; `Value::Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

/// What the mock does with one request instead of its default answer.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Reply with this status, body and extra headers (e.g. 429 with retry-after, 529 overloaded,
    /// 500, HTML 502). The dialect's request-id header is added; `content-type` defaults to JSON
    /// when the body looks like JSON and to `text/html` otherwise.
    Status { status: u16, body: String, headers: Vec<(String, String)> },
    /// Stream normally but replace the stream from event number `after_events` (0-based, at most
    /// the last event) with the dialect's error event (Anthropic: `event: error` with
    /// `overloaded_error`; OpenAI: `data: {"error":...}`), then end the response. A
    /// non-streaming request gets the dialect's overloaded status instead (Anthropic 529,
    /// OpenAI 500).
    MidStreamError { after_events: usize },
    /// Stream `after_events` events (at most all but the last), then half of the next event's
    /// bytes, then drop the connection. A non-streaming request gets half its JSON body under a
    /// `content-length` for the whole, then the drop.
    BreakOff { after_events: usize },
    /// Send response headers (SSE headers if the request asked to stream, JSON headers
    /// otherwise) and then nothing at all until the client goes away.
    StallAfterHeaders,
    /// Accept the request and never send headers.
    NoResponse,
    /// Wait this long before responding normally.
    Delay(Duration),
}

/// State shared by the handle and the server task.
#[derive(Default)]
struct State {
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<VecDeque<Behaviour>>,
    in_flight: AtomicUsize,
    event_interval_ms: AtomicU64,
}

impl State {
    fn record(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    fn next_behaviour(&self) -> Option<Behaviour> {
        lock(&self.script).pop_front()
    }

    fn event_interval(&self) -> Duration {
        Duration::from_millis(self.event_interval_ms.load(Ordering::SeqCst))
    }
}

/// A test that panicked while holding a lock must not take every later assertion down with it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

//! The load generator: HTTP/1.1 keep-alive clients, one connection per concurrent worker, that time
//! each request into an HDR histogram, plus the open-streams phase that parks 1,000 streams on a
//! proxy. It runs on the bench's single-threaded runtime and knows nothing about which proxy, if
//! any, is on the other end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::fixtures;

/// Longest a counted phase may run, so a slow proxy cannot stretch the run past a few minutes;
/// the phase then reports that it was cut short.
const COUNT_PHASE_CAP: Duration = Duration::from_secs(30);
/// A request that takes longer than this counts as an error and its connection is replaced.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Histogram range: 1 ns to 60 s at 3 significant figures (0.1% resolution).
const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;
/// Connections opened at once in the open-streams phase: more would overflow a default listen
/// backlog and turn the phase into a test of SYN retries.
const OPEN_STREAMS_PARALLEL: usize = 64;
/// What clients send as `x-api-key`; Tollgate is started with it as its master key.
pub const API_KEY: &str = "bench-key";

/// Where requests go and what they carry. Cheap to share between workers.
pub struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    message_body: Bytes,
    stream_body: Bytes,
}

/// Which request a phase sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Non-streaming.
    Message,
    /// `"stream": true`.
    Stream,
}

/// Which moment of a response a latency is measured to, from sending the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    FirstByte,
    LastByte,
}

/// How long a phase runs.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// This many requests in total, shared by all workers, or [`COUNT_PHASE_CAP`] if sooner.
    Count(u64),
    /// Workers start requests until this much time has passed.
    For(Duration),
}

/// What one phase measured.
pub struct Phase {
    /// Time to the first body byte in nanoseconds, successful requests only.
    pub first_byte: Histogram<u64>,
    /// Time to the last body byte in nanoseconds, successful requests only.
    pub last_byte: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// A counted phase hit [`COUNT_PHASE_CAP`] before sending all its requests.
    pub cut_short: bool,
}

impl Phase {
    fn empty() -> anyhow::Result<Self> {
        Ok(Self {
            first_byte: Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3)?,
            last_byte: Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3)?,
            ok: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            cut_short: false,
        })
    }

    /// The latency to `to` at quantile `q` (0.5 for p50), or `None` when nothing succeeded.
    pub fn quantile(&self, to: To, q: f64) -> Option<Duration> {
        let histogram = match to {
            To::FirstByte => &self.first_byte,
            To::LastByte => &self.last_byte,
        };
        (self.ok > 0).then(|| Duration::from_nanos(histogram.value_at_quantile(q)))
    }

    fn record_error(&mut self, error: &anyhow::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("{error:#}"));
        }
    }

    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> anyhow::Result<Self> {
        Ok(Self {
            addr,
            host: HeaderValue::try_from(addr.to_string())?,
            message_body: fixtures::request_body(false),
            stream_body: fixtures::request_body(true),
        })
    }

    fn request(&self, kind: Kind) -> Request<Full<Bytes>> {
        let body = match kind {
            Kind::Message => self.message_body.clone(),
            Kind::Stream => self.stream_body.clone(),
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = Uri::from_static("/v1/messages");
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(HeaderName::from_static("x-api-key"), HeaderValue::from_static(API_KEY));
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static("2023-06-01"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        request
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // Ends when the sender is dropped or the peer closes; either way the worker notices.
        tokio::spawn(connection);
        Ok(sender)
    }
}

/// Shared by a phase's workers: whether another request may start.
struct Budget {
    /// Requests left, for counted phases.
    remaining: Option<AtomicU64>,
    deadline: Instant,
    cut_short: AtomicBool,
}

impl Budget {
    fn new(until: Until) -> Self {
        let (remaining, length) = match until {
            Until::Count(n) => (Some(AtomicU64::new(n)), COUNT_PHASE_CAP),
            Until::For(length) => (None, length),
        };
        Self { remaining, deadline: Instant::now() + length, cut_short: AtomicBool::new(false) }
    }

    fn take(&self) -> bool {
        let Some(remaining) = &self.remaining else { return Instant::now() < self.deadline };
        if Instant::now() >= self.deadline {
            if remaining.load(Ordering::Relaxed) > 0 {
                self.cut_short.store(true, Ordering::Relaxed);
            }
            return false;
        }
        remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }
}

/// Runs `concurrency` workers, each on its own keep-alive connection, until `until` is spent.
pub async fn run(
    client: &Arc<Client>,
    kind: Kind,
    concurrency: usize,
    until: Until,
) -> anyhow::Result<Phase> {
    let budget = Arc::new(Budget::new(until));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| tokio::spawn(worker(Arc::clone(client), kind, Arc::clone(&budget))))
        .collect();
    let mut phase = Phase::empty()?;
    for handle in workers {
        let worker = handle.await.context("a load worker panicked")??;
        phase.first_byte.add(&worker.first_byte)?;
        phase.last_byte.add(&worker.last_byte)?;
        phase.ok += worker.ok;
        phase.errors += worker.errors;
        if phase.first_error.is_none() {
            phase.first_error = worker.first_error;
        }
    }
    phase.elapsed = started.elapsed();
    phase.cut_short = budget.cut_short.load(Ordering::Relaxed);
    Ok(phase)
}

async fn worker(client: Arc<Client>, kind: Kind, budget: Arc<Budget>) -> anyhow::Result<Phase> {
    let mut out = Phase::empty()?;
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    let mut body = Vec::with_capacity(4096);
    while budget.take() {
        if connection.is_none() {
            match client.connect().await {
                Ok(sender) => connection = Some(sender),
                Err(error) => {
                    out.record_error(&error.context("connecting"));
                    // Do not spin on a proxy that refuses connections.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(sender) = connection.as_mut() else { continue };
        let result =
            tokio::time::timeout(REQUEST_TIMEOUT, exchange(&client, sender, kind, &mut body))
                .await
                .unwrap_or_else(|_| Err(anyhow!("no response within {REQUEST_TIMEOUT:?}")));
        match result {
            Ok((first_byte, last_byte)) => {
                out.first_byte.saturating_record(duration_ns(first_byte));
                out.last_byte.saturating_record(duration_ns(last_byte));
                out.ok += 1;
            }
            Err(error) => {
                out.record_error(&error);
                connection = None;
            }
        }
    }
    Ok(out)
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One request on an open connection; returns the times to its first and last body bytes. The
/// whole body is read and checked.
async fn exchange(
    client: &Client,
    sender: &mut SendRequest<Full<Bytes>>,
    kind: Kind,
    body: &mut Vec<u8>,
) -> anyhow::Result<(Duration, Duration)> {
    sender.ready().await?;
    let request = client.request(kind);
    let started = Instant::now();
    let response = sender.send_request(request).await?;
    let status = response.status();
    let mut incoming = response.into_body();
    let mut first_byte = None;
    body.clear();
    while let Some(frame) = incoming.frame().await {
        if let Some(data) = frame?.data_ref()
            && !data.is_empty()
        {
            first_byte.get_or_insert_with(Instant::now);
            body.extend_from_slice(data);
        }
    }
    let finished = Instant::now();
    if status != StatusCode::OK {
        return Err(anyhow!("HTTP {status}: {}", snippet(body)));
    }
    let marker = match kind {
        Kind::Message => &b"end_turn"[..],
        Kind::Stream => &b"message_stop"[..],
    };
    if !body.windows(marker.len()).any(|w| w == marker) {
        return Err(anyhow!(
            "HTTP 200 but the body has no `{}`: {}",
            String::from_utf8_lossy(marker),
            snippet(body)
        ));
    }
    Ok((first_byte.unwrap_or(finished) - started, finished - started))
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body.get(..300).unwrap_or(body));
    text.replace(['\n', '\r'], " ")
}

/// Streams parked on the proxy by [`open_streams`]. Close them with [`HeldStreams::close`].
pub struct HeldStreams {
    pub opened: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    close: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl HeldStreams {
    /// Drops every held connection and waits (up to 10 s) for the tasks holding them to end.
    pub async fn close(self) {
        // Receivers may already be gone if their stream failed; nothing to tell them then.
        let _ = self.close.send(true);
        let all = async {
            for task in self.tasks {
                let _ = task.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), all).await;
    }
}

/// Opens `n` streams, each on its own connection, and waits until each has its first event (or
/// failed, or `wait` passed). The streams stay open until the result is closed.
pub async fn open_streams(client: &Arc<Client>, n: usize, wait: Duration) -> HeldStreams {
    let (close_tx, close_rx) = watch::channel(false);
    let (report_tx, mut report_rx) = mpsc::channel::<Result<(), String>>(n.max(1));
    let gate = Arc::new(Semaphore::new(OPEN_STREAMS_PARALLEL));
    let tasks = (0..n)
        .map(|_| {
            let client = Arc::clone(client);
            let report = report_tx.clone();
            let close = close_rx.clone();
            let gate = Arc::clone(&gate);
            tokio::spawn(hold_one(client, report, close, gate))
        })
        .collect();
    drop(report_tx);
    let mut held = HeldStreams { opened: 0, failed: 0, first_error: None, close: close_tx, tasks };
    let deadline = tokio::time::Instant::now() + wait;
    while held.opened + held.failed < n {
        match tokio::time::timeout_at(deadline, report_rx.recv()).await {
            Ok(Some(Ok(()))) => held.opened += 1,
            Ok(Some(Err(error))) => {
                held.failed += 1;
                held.first_error.get_or_insert(error);
            }
            Ok(None) => break,
            Err(_) => {
                held.first_error.get_or_insert(format!(
                    "{} streams had no first event within {wait:?}",
                    n - held.opened - held.failed
                ));
                break;
            }
        }
    }
    held
}

async fn hold_one(
    client: Arc<Client>,
    report: mpsc::Sender<Result<(), String>>,
    mut close: watch::Receiver<bool>,
    gate: Arc<Semaphore>,
) {
    let opened = async {
        let _permit = gate.acquire().await?;
        let mut sender = client.connect().await?;
        sender.ready().await?;
        let response = sender.send_request(client.request(Kind::Stream)).await?;
        if response.status() != StatusCode::OK {
            return Err(anyhow!("HTTP {}", response.status()));
        }
        let mut body = response.into_body();
        loop {
            match body.frame().await {
                Some(Ok(frame)) if frame.data_ref().is_some_and(|d| !d.is_empty()) => break,
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => return Err(anyhow!("the stream ended instead of staying open")),
            }
        }
        Ok((sender, body))
    };
    let opened = tokio::time::timeout(REQUEST_TIMEOUT, opened)
        .await
        .unwrap_or_else(|_| Err(anyhow!("no first event within {REQUEST_TIMEOUT:?}")));
    let (_sender, mut body) = match opened {
        Ok(held) => {
            let _ = report.send(Ok(())).await;
            held
        }
        Err(error) => {
            let _ = report.send(Err(format!("{error:#}"))).await;
            return;
        }
    };
    // Keep reading pings so the proxy never sees a stalled reader, until told to close.
    loop {
        tokio::select! {
            _ = close.changed() => return,
            frame = body.frame() => if !matches!(frame, Some(Ok(_))) { return },
        }
    }
}

/// `GET path` on a fresh connection; the status, or an error if nothing answered.
pub async fn get_status(addr: SocketAddr, path: &'static str) -> anyhow::Result<StatusCode> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut request = Request::new(Empty::<Bytes>::new());
    *request.uri_mut() = Uri::from_static(path);
    request.headers_mut().insert(HOST, HeaderValue::try_from(addr.to_string())?);
    let response =
        tokio::time::timeout(Duration::from_secs(2), sender.send_request(request)).await??;
    Ok(response.status())
}

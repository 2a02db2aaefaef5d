//! The fast mock upstream: Anthropic-shaped `POST /v1/messages` answered from precomputed bytes.
//! It lives on its own OS thread with its own single-threaded tokio runtime, so the load
//! generator's scheduler never delays it. It must do no per-request work beyond reading the body
//! and finding `"stream": true`.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;

use crate::fixtures;

/// How often a held stream sends a `ping`: rare enough to cost nothing while memory is measured,
/// frequent enough that a proxy with a short idle timeout would not cut the stream.
const HOLD_PING_INTERVAL: Duration = Duration::from_secs(5);
/// Room for the 1,000 connections a proxy opens at once in the open-streams phase.
const LISTEN_BACKLOG: u32 = 4096;

/// A running mock upstream. Dropping it stops the server and joins its thread.
pub struct Mock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

/// State the server and the bench both see.
struct Shared {
    /// When set, streams send `message_start` and then only a ping every 5 s, never ending.
    hold: AtomicBool,
    /// Held streams whose response body is still alive, i.e. whose connection is still open.
    open_holds: AtomicUsize,
    message: Bytes,
    stream_events: Arc<[Bytes]>,
    message_start: Bytes,
    ping: Bytes,
}

impl Mock {
    /// Binds 127.0.0.1 on a free port and starts serving on a new thread.
    pub fn start() -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            hold: AtomicBool::new(false),
            open_holds: AtomicUsize::new(0),
            message: fixtures::message_response(),
            stream_events: fixtures::stream_events().into(),
            message_start: fixtures::message_start_event(),
            ping: fixtures::ping_event(),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("mock-upstream".into())
            .spawn(move || -> anyhow::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async move {
                    let socket = TcpSocket::new_v4()?;
                    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
                    let listener = socket.listen(LISTEN_BACKLOG)?;
                    addr_tx.send(listener.local_addr()?)?;
                    serve(listener, server_shared, shutdown_rx).await;
                    Ok(())
                })
            })
            .context("starting the mock upstream thread")?;
        match addr_rx.recv() {
            Ok(addr) => {
                Ok(Self { addr, shared, shutdown: Some(shutdown_tx), thread: Some(thread) })
            }
            Err(_) => Err(match thread.join() {
                Ok(Err(error)) => error.context("starting the mock upstream"),
                _ => anyhow!("the mock upstream thread stopped before binding"),
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches streams between complete responses and held-open ones. Affects new requests only.
    pub fn set_hold(&self, hold: bool) {
        self.shared.hold.store(hold, Ordering::SeqCst);
    }

    /// Held streams whose connection is still open.
    pub fn open_holds(&self) -> usize {
        self.shared.open_holds.load(Ordering::SeqCst)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already have stopped; then there is nobody to tell.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Its result was already reported by `start` if it failed early.
            let _ = thread.join();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors, or a connection reset before we took it: keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        // Nagle would add up to 40 ms to small responses; failure only costs latency.
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { respond(request, &shared).await }
            });
            // Clients and proxies dropping connections is normal here (the memory phase does it).
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn respond(
    request: Request<Incoming>,
    shared: &Arc<Shared>,
) -> Result<Response<MockBody>, hyper::Error> {
    if request.method() != Method::POST || request.uri().path() != "/v1/messages" {
        let mut response = Response::new(MockBody::Full(Some(Bytes::from_static(b"not found"))));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    let body = request.into_body().collect().await?.to_bytes();
    let (body, content_type) = if !fixtures::wants_stream(&body) {
        (MockBody::Full(Some(shared.message.clone())), "application/json")
    } else if shared.hold.load(Ordering::SeqCst) {
        shared.open_holds.fetch_add(1, Ordering::SeqCst);
        let start = tokio::time::Instant::now() + HOLD_PING_INTERVAL;
        (
            MockBody::Held(Held {
                first: Some(shared.message_start.clone()),
                ping: shared.ping.clone(),
                interval: tokio::time::interval_at(start, HOLD_PING_INTERVAL),
                shared: Arc::clone(shared),
            }),
            "text/event-stream",
        )
    } else {
        (
            MockBody::Events { events: Arc::clone(&shared.stream_events), next: 0 },
            "text/event-stream",
        )
    };
    let mut response = Response::new(body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// A response body from precomputed bytes.
enum MockBody {
    /// One frame with a known length, sent with `content-length`.
    Full(Option<Bytes>),
    /// One frame per event, sent chunked as the real API does.
    Events { events: Arc<[Bytes]>, next: usize },
    /// `message_start`, then a ping every [`HOLD_PING_INTERVAL`] until the connection closes.
    Held(Held),
}

struct Held {
    first: Option<Bytes>,
    ping: Bytes,
    interval: tokio::time::Interval,
    shared: Arc<Shared>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.shared.open_holds.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            MockBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            MockBody::Events { events, next } => {
                let event = events.get(*next).cloned();
                *next += 1;
                Poll::Ready(event.map(|b| Ok(Frame::data(b))))
            }
            MockBody::Held(held) => {
                if let Some(first) = held.first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(first))));
                }
                held.interval.poll_tick(cx).map(|_| Some(Ok(Frame::data(held.ping.clone()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Full(bytes) => bytes.is_none(),
            MockBody::Events { events, next } => *next >= events.len(),
            MockBody::Held(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            MockBody::Events { .. } | MockBody::Held(_) => SizeHint::default(),
        }
    }
}

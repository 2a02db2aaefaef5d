//! Relaying an upstream event stream to a client of the same dialect (the translating relay is
//! `translate::relay`).
//!
//! Bytes pass through unchanged, but only in whole frames: each chunk is fed to the SSE decoder,
//! and bytes are released up to the last frame boundary. So when an upstream breaks off, dies of
//! an idle timeout or the gateway shuts down, the client has seen only complete events, and the
//! dialect's error event can follow cleanly. The decoded frames feed a meter (usage, served
//! model, stop reason, terminal state) for the history; the common case, a chunk that ends on a
//! boundary, is forwarded without a copy.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tollgate_wire::sse::{KEEPALIVE, SseDecoder, SseFrame};
use tollgate_wire::{Dialect, anthropic, openai};

use crate::error::{ApiError, ErrorKind};
use crate::exchange::{Exchange, Outcome};

pub type Upstream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A stream meter for either dialect.
pub enum Meter {
    Anthropic(anthropic::StreamMeter),
    OpenAi {
        meter: openai::StreamMeter,
        drop_usage_chunk: bool,
    },
    /// Any other dialect, read through its canonical stream decoder.
    Canonical(Box<CanonicalMeter>),
}

/// A meter built on a dialect's canonical stream decoder.
pub struct CanonicalMeter {
    decoder: Box<dyn tollgate_wire::canonical::StreamDecoder>,
    events: Vec<tollgate_wire::canonical::StreamEvent>,
    usage: tollgate_wire::Usage,
    model: Option<String>,
    stop_reason: Option<String>,
    end: Option<Result<(), (String, String)>>,
}

impl CanonicalMeter {
    fn observe(&mut self, frame: &SseFrame) {
        use tollgate_wire::canonical::StreamEvent as E;
        self.decoder.decode(frame, &mut self.events);
        for ev in self.events.drain(..) {
            match ev {
                E::MessageStart { model, usage, .. } => {
                    self.model = Some(model);
                    self.usage = usage;
                }
                E::MessageDelta { stop_reason, usage, .. } => {
                    self.stop_reason = stop_reason.map(|s| s.as_anthropic().to_owned());
                    self.usage = usage;
                }
                E::MessageStop if self.end.is_none() => self.end = Some(Ok(())),
                E::Error { kind, message } if self.end.is_none() => {
                    self.end = Some(Err((kind, message)));
                }
                _ => {}
            }
        }
    }
}

impl Meter {
    pub fn new(dialect: Dialect, drop_usage_chunk: bool) -> Self {
        match dialect {
            Dialect::Anthropic => Self::Anthropic(anthropic::StreamMeter::new()),
            Dialect::OpenAiChat => {
                Self::OpenAi { meter: openai::StreamMeter::new(), drop_usage_chunk }
            }
            _ => Self::Canonical(Box::new(CanonicalMeter {
                decoder: crate::translate::decoder(dialect),
                events: Vec::new(),
                usage: tollgate_wire::Usage::default(),
                model: None,
                stop_reason: None,
                end: None,
            })),
        }
    }

    /// Observes a frame; returns false when the frame must not reach the client.
    fn observe(&mut self, frame: &SseFrame) -> bool {
        match self {
            Self::Anthropic(m) => {
                m.observe(frame);
                true
            }
            Self::OpenAi { meter, drop_usage_chunk } => {
                let kind = meter.observe(frame);
                !(*drop_usage_chunk && kind == openai::stream::FrameKind::UsageOnly)
            }
            Self::Canonical(m) => {
                m.observe(frame);
                true
            }
        }
    }

    /// `Some(Ok)` when the stream reached its terminal event, `Some(Err)` for an error event.
    fn end(&self) -> Option<Result<(), (String, String)>> {
        match self {
            Self::Anthropic(m) => match &m.end {
                anthropic::stream::StreamEnd::Open => None,
                anthropic::stream::StreamEnd::Complete => Some(Ok(())),
                anthropic::stream::StreamEnd::Error { error_type, message } => {
                    Some(Err((error_type.clone(), message.clone())))
                }
            },
            Self::OpenAi { meter, .. } => match &meter.end {
                openai::stream::StreamEnd::Open => None,
                openai::stream::StreamEnd::Complete => Some(Ok(())),
                openai::stream::StreamEnd::Error { error_type, message } => {
                    Some(Err((error_type.clone(), message.clone())))
                }
            },
            Self::Canonical(m) => m.end.clone(),
        }
    }

    fn apply(&self, ex: &mut Exchange) {
        match self {
            Self::Anthropic(m) => {
                ex.set_usage(&m.usage);
                ex.record.model_served.clone_from(&m.model);
                ex.record.stop_reason.clone_from(&m.stop_reason);
            }
            Self::OpenAi { meter, .. } => {
                if let Some(u) = &meter.usage {
                    ex.set_usage(u);
                }
                ex.record.model_served.clone_from(&meter.model);
                ex.record.stop_reason.clone_from(&meter.finish_reason);
            }
            Self::Canonical(m) => {
                ex.set_usage(&m.usage);
                ex.record.model_served.clone_from(&m.model);
                ex.record.stop_reason.clone_from(&m.stop_reason);
            }
        }
    }
}

pub struct Relay {
    dialect: Dialect,
    decoder: SseDecoder,
    frames: Vec<(SseFrame, std::ops::Range<u64>)>,
    /// Received but not yet released bytes; `pending[0]` is at absolute offset `released`.
    pending: BytesMut,
    released: u64,
    meter: Meter,
    exchange: Exchange,
    /// A copy of what the client received, for the history.
    captured: Option<Vec<Bytes>>,
    done: bool,
}

impl Relay {
    /// The relay for one exchange, driven by [`Driven`] over the upstream body.
    pub fn new(dialect: Dialect, meter: Meter, exchange: Exchange) -> Self {
        let captured = exchange.record_bodies().then(Vec::new);
        Self {
            dialect,
            decoder: SseDecoder::new(),
            frames: Vec::new(),
            pending: BytesMut::new(),
            released: 0,
            meter,
            exchange,
            captured,
            done: false,
        }
    }

    /// Takes one upstream chunk; returns the bytes the client may have now (possibly empty).
    fn accept(&mut self, chunk: Bytes) -> Bytes {
        self.frames.clear();
        self.decoder.feed_spans(&chunk, &mut self.frames);
        // Spans of frames the client must not see (only the usage chunk it did not ask for).
        let mut hidden: Vec<std::ops::Range<u64>> = Vec::new();
        for (frame, span) in &self.frames {
            if !self.meter.observe(frame) {
                hidden.push(span.clone());
            }
        }
        let boundary = self.decoder.boundary();
        // Fast path: nothing held back, the chunk ends on a boundary, nothing to drop.
        if self.pending.is_empty() && hidden.is_empty() && boundary == self.decoder.fed() {
            self.released = boundary;
            return chunk;
        }
        self.pending.extend_from_slice(&chunk);
        let mut out = BytesMut::new();
        // Release everything up to the boundary except the hidden spans.
        for span in hidden {
            let upto = (span.start - self.released) as usize;
            out.extend_from_slice(&self.pending.split_to(upto));
            let _ = self.pending.split_to((span.end - span.start) as usize);
            self.released = span.end;
        }
        let upto = (boundary - self.released) as usize;
        out.extend_from_slice(&self.pending.split_to(upto));
        self.released = boundary;
        out.freeze()
    }

    /// Ends the stream. `error` is sent to the client as the dialect's error event unless the
    /// upstream already sent its own terminal event.
    fn finish(&mut self, error: Option<(ApiError, Outcome)>) -> Option<Bytes> {
        self.done = true;
        self.decoder.finish();
        self.meter.apply(&mut self.exchange);
        let (tail, outcome) = match (self.meter.end(), error) {
            (Some(Ok(())), _) => (None, Outcome::Ok),
            (Some(Err((t, m))), _) => {
                self.exchange.set_error(&t, &m);
                (None, Outcome::StreamError)
            }
            (None, Some((e, outcome))) => {
                self.exchange.set_error(e.type_name(), &e.message);
                (Some(Bytes::from(e.stream_event(self.dialect))), outcome)
            }
            (None, None) => {
                let e = ApiError::new(
                    ErrorKind::UpstreamError,
                    "the provider closed the stream before it finished",
                );
                self.exchange.set_error(e.type_name(), &e.message);
                (Some(Bytes::from(e.stream_event(self.dialect))), Outcome::UpstreamBrokeOff)
            }
        };
        if let (Some(t), Some(c)) = (&tail, &mut self.captured) {
            c.push(t.clone());
        }
        if let Some(c) = self.captured.take() {
            self.exchange.record.response_body = Some(Bytes::from(c.concat()));
        }
        self.exchange.finish(200, outcome);
        tail
    }

    fn capture(&mut self, bytes: &Bytes) {
        self.exchange.mark_first_byte();
        if let Some(c) = &mut self.captured {
            c.push(bytes.clone());
        }
    }
}

impl Pump for Relay {
    fn chunk(&mut self, chunk: Bytes) -> (Bytes, bool) {
        let out = self.accept(chunk);
        if self.meter.end().is_some() {
            // The terminal event is in hand: record the exchange before the client can see the
            // stream end, so a crash after that loses nothing. Bytes after the terminal event,
            // if any, are not forwarded.
            self.capture(&out);
            self.finish(None);
            return (out, true);
        }
        if !out.is_empty() {
            self.capture(&out);
        }
        (out, false)
    }

    fn end(&mut self, failure: Option<(ApiError, Outcome)>) -> Option<Bytes> {
        self.finish(failure)
    }
}

impl Drop for Relay {
    /// The client went away mid-stream (Esc in Claude Code): what it received is still metered
    /// and kept (usage from `message_start` and later events, the bytes sent), then the
    /// exchange guard records it as closed by the client.
    fn drop(&mut self) {
        if !self.done {
            self.meter.apply(&mut self.exchange);
            if let Some(c) = self.captured.take() {
                self.exchange.record.response_body = Some(Bytes::from(c.concat()));
            }
        }
    }
}

/// What a relay does with the upstream body; [`Driven`] around it owns the timing (idle
/// timeout, shutdown) and the polling, so the same-dialect and the translating relay share them.
pub trait Pump: Send + Unpin {
    /// One upstream chunk: the bytes the client may have now, and whether the stream is over
    /// (the exchange is then already recorded).
    fn chunk(&mut self, chunk: Bytes) -> (Bytes, bool);
    /// The stream ends: the upstream body ended (`None`), or the gateway ends it (transport
    /// error, idle timeout, shutdown). Returns the last bytes for the client (an error event
    /// when the stream had not finished).
    fn end(&mut self, failure: Option<(ApiError, Outcome)>) -> Option<Bytes>;
}

/// An upstream body pumped to the client through `P`. While the upstream is silent, an SSE
/// comment (`: keep-alive`) goes to the client every `keepalive`: every client parser ignores
/// comments, and proxies in between see traffic during a long thinking phase. It is safe at any
/// moment because the pumps only ever release whole frames.
pub struct Driven<P> {
    upstream: Upstream,
    pump: P,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    keepalive: Duration,
    keepalive_timer: Pin<Box<Sleep>>,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    done: bool,
}

impl<P: Pump> Driven<P> {
    pub fn new(
        upstream: Upstream,
        pump: P,
        timeouts: &tollgate_config::Timeouts,
        shutdown: WaitForCancellationFutureOwned,
    ) -> Self {
        Self {
            upstream,
            pump,
            idle: timeouts.idle,
            idle_timer: Box::pin(tokio::time::sleep(timeouts.idle)),
            keepalive: timeouts.keepalive,
            keepalive_timer: Box::pin(tokio::time::sleep(timeouts.keepalive)),
            shutdown: Box::pin(shutdown),
            done: false,
        }
    }

    fn end(
        &mut self,
        failure: Option<(ApiError, Outcome)>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        self.done = true;
        self.pump.end(failure).map_or(Poll::Ready(None), |t| Poll::Ready(Some(Ok(t))))
    }
}

impl<P: Pump> Stream for Driven<P> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if this.shutdown.as_mut().poll(cx).is_ready() {
                let e = ApiError::new(
                    ErrorKind::Unavailable,
                    "the gateway is shutting down; retry the request",
                );
                return this.end(Some((e, Outcome::Shutdown)));
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let now = tokio::time::Instant::now();
                    this.idle_timer.as_mut().reset(now + this.idle);
                    this.keepalive_timer.as_mut().reset(now + this.keepalive);
                    let (out, over) = this.pump.chunk(chunk);
                    if over {
                        this.done = true;
                        return if out.is_empty() {
                            Poll::Ready(None)
                        } else {
                            Poll::Ready(Some(Ok(out)))
                        };
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let msg = format!(
                        "the provider's stream failed: {}",
                        tollgate_providers::client::error_chain(&e)
                    );
                    let e = ApiError::new(ErrorKind::UpstreamError, msg);
                    return this.end(Some((e, Outcome::UpstreamBrokeOff)));
                }
                Poll::Ready(None) => return this.end(None),
                Poll::Pending => {
                    if this.keepalive_timer.as_mut().poll(cx).is_ready() {
                        let next = tokio::time::Instant::now() + this.keepalive;
                        this.keepalive_timer.as_mut().reset(next);
                        return Poll::Ready(Some(Ok(Bytes::from_static(KEEPALIVE))));
                    }
                    ready!(this.idle_timer.as_mut().poll(cx));
                    let msg = format!("the provider sent nothing for {:?}", this.idle);
                    let e = ApiError::new(ErrorKind::UpstreamTimeout, msg);
                    return this.end(Some((e, Outcome::Timeout)));
                }
            }
        }
    }
}

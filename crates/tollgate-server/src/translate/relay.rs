//! The translating relay: upstream bytes in the provider's dialect -> frames -> the provider's
//! stream decoder -> [`StreamBuilder`] (the stream invariants) -> the client's stream encoder,
//! or an assembler for a client that asked for a whole response. Beside that, every built event
//! feeds the exchange record (usage, served model, stop reason) and an assembler whose result
//! the gateway remembers (thinking, signatures, Responses conversations).
//!
//! [`Translation`] is the synchronous core, driven by chunks; [`TranslatingRelay`] is the
//! [`Pump`] that `crate::relay::Driven` turns into the stream a client reads, with the same idle
//! timeout, shutdown and disconnect handling as the same-dialect relay.

use bytes::Bytes;
use tollgate_wire::Usage;
use tollgate_wire::canonical::assemble::{Assembler, StreamFailure};
use tollgate_wire::canonical::builder::Validator;
use tollgate_wire::canonical::issuer::IssuerStamp;
use tollgate_wire::canonical::names::ToolNames;
use tollgate_wire::canonical::{
    Origin, Response, StopReason, StreamBuilder, StreamDecoder, StreamEncoder, StreamEvent,
};
use tollgate_wire::sse::{SseDecoder, SseFrame};

use crate::error::{ApiError, ErrorKind};
use crate::exchange::{Exchange, Outcome};
use crate::relay::Pump;

/// How a provider's body is cut into frames: SSE, or one JSON object per line (Ollama).
pub enum Framing {
    Sse(SseDecoder),
    Lines(Vec<u8>),
}

impl Framing {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseFrame>) {
        match self {
            Self::Sse(d) => d.feed(chunk, out),
            Self::Lines(buf) => {
                buf.extend_from_slice(chunk);
                let mut start = 0;
                while let Some(n) = memchr_newline(&buf[start..]) {
                    push_line(&buf[start..start + n], out);
                    start += n + 1;
                }
                buf.drain(..start);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<SseFrame>) {
        match self {
            Self::Sse(d) => {
                d.finish();
            }
            Self::Lines(buf) => {
                push_line(buf, out);
                buf.clear();
            }
        }
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn push_line(line: &[u8], out: &mut Vec<SseFrame>) {
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    if !line.is_empty() {
        out.push(SseFrame { event: None, data: line.to_owned() });
    }
}

/// How the stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Complete,
    Failed(StreamFailure),
}

/// The synchronous core: chunks in, client bytes out.
pub struct Translation {
    framing: Framing,
    decoder: Box<dyn StreamDecoder>,
    builder: StreamBuilder,
    encoder: Option<Box<dyn StreamEncoder>>,
    assembler: Assembler,
    frames: Vec<SseFrame>,
    decoded: Vec<StreamEvent>,
    built: Vec<StreamEvent>,
    pub end: Option<End>,
    pub usage: Usage,
    pub model: Option<String>,
    pub stop_reason: Option<StopReason>,
    /// Who issues the thinking in this stream, stamped on each thinking block so that the
    /// client's encoder (a sealed Responses reasoning item) and the memory carry it; Anthropic
    /// clients get the stand-in signature on unsigned thinking.
    stamp: IssuerStamp,
    /// Tool names renamed for the provider's grammar, given back their client names before the
    /// encoder and the assembler see a call.
    names: ToolNames,
    /// Checks every event the client is sent against the stream invariants the builder
    /// guarantees; a violation is a Tollgate bug, logged once (the stream goes on).
    validator: Validator,
    violation_logged: bool,
}

impl Translation {
    /// `encoder` is the client's stream encoder, or `None` when the client wants one whole
    /// response (then only the assembler runs).
    pub fn new(
        framing: Framing,
        decoder: Box<dyn StreamDecoder>,
        encoder: Option<Box<dyn StreamEncoder>>,
        origin: Origin,
        mark_unsigned: bool,
    ) -> Self {
        Self {
            framing,
            decoder,
            builder: StreamBuilder::new(),
            encoder,
            assembler: Assembler::new(),
            frames: Vec::new(),
            decoded: Vec::new(),
            built: Vec::new(),
            end: None,
            usage: Usage::default(),
            model: None,
            stop_reason: None,
            stamp: IssuerStamp::new(origin, mark_unsigned),
            names: ToolNames::default(),
            validator: Validator::new(),
            violation_logged: false,
        }
    }

    /// Tool calls in the stream get their client names back through `names`.
    #[must_use]
    pub fn with_names(mut self, names: ToolNames) -> Self {
        self.names = names;
        self
    }

    /// One upstream chunk; what the client may have now is appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.end.is_some() {
            return;
        }
        self.frames.clear();
        self.framing.feed(chunk, &mut self.frames);
        for frame in std::mem::take(&mut self.frames) {
            self.decoder.decode(&frame, &mut self.decoded);
            self.drain(out);
            if self.end.is_some() {
                return;
            }
        }
    }

    /// The upstream body ended.
    pub fn end_of_input(&mut self, out: &mut Vec<u8>) {
        if self.end.is_some() {
            return;
        }
        self.frames.clear();
        self.framing.finish(&mut self.frames);
        for frame in std::mem::take(&mut self.frames) {
            self.decoder.decode(&frame, &mut self.decoded);
        }
        self.decoder.finish(&mut self.decoded);
        self.drain(out);
        if self.end.is_none() {
            self.builder.finish(&mut self.built);
            self.emit(out);
        }
    }

    /// The gateway ends the stream (idle timeout, transport error, shutdown): an error event in
    /// the client's dialect, unless it already ended.
    pub fn fail(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        if self.end.is_some() {
            return;
        }
        let e = StreamEvent::Error { kind: kind.to_owned(), message: message.to_owned() };
        self.builder.push(e, &mut self.built);
        self.emit(out);
    }

    fn drain(&mut self, out: &mut Vec<u8>) {
        for ev in self.decoded.drain(..) {
            self.builder.push(ev, &mut self.built);
        }
        self.emit(out);
    }

    fn emit(&mut self, out: &mut Vec<u8>) {
        for mut ev in self.built.drain(..) {
            if self.end.is_some() {
                break;
            }
            self.names.rename_event(&mut ev);
            if let Some(sig) = self.stamp.stamp(&mut ev) {
                self.assembler.push(&sig);
                if let Some(enc) = &mut self.encoder {
                    enc.encode(&sig, out);
                }
            }
            match &ev {
                StreamEvent::MessageStart { model, usage, .. } => {
                    self.model = Some(model.clone());
                    self.usage = *usage;
                }
                StreamEvent::MessageDelta { stop_reason, usage, .. } => {
                    self.stop_reason.clone_from(stop_reason);
                    self.usage = *usage;
                }
                _ => {}
            }
            if let Err(v) = self.validator.push(&ev)
                && !self.violation_logged
            {
                self.violation_logged = true;
                tracing::error!(position = v.position, violation = %v.message, "translated stream broke an invariant");
            }
            self.assembler.push(&ev);
            if let Some(enc) = &mut self.encoder {
                enc.encode(&ev, out);
            }
            match ev {
                StreamEvent::MessageStop => self.end = Some(End::Complete),
                StreamEvent::Error { kind, message } => {
                    self.end = Some(End::Failed(StreamFailure { kind, message }));
                }
                _ => {}
            }
            if self.end.is_some()
                && let Some(enc) = &mut self.encoder
            {
                enc.finish(out);
            }
        }
        self.built.clear();
    }

    /// The assembled answer (taken once).
    pub fn take_response(&mut self) -> Result<Response, StreamFailure> {
        std::mem::take(&mut self.assembler).finish()
    }

    pub fn notes(&self) -> usize {
        self.builder.notes().len()
    }
}

/// What happens once a translated answer is complete (memory updates, Responses state).
pub type OnComplete = Box<dyn FnOnce(&Response) + Send>;

/// The error kind a stream failure maps to, for statuses and outcomes.
pub fn failure_kind(kind: &str) -> ErrorKind {
    match kind {
        "overloaded_error" => ErrorKind::Overloaded,
        "rate_limit_error" => ErrorKind::RateLimited,
        "timeout_error" => ErrorKind::UpstreamTimeout,
        "invalid_request_error" => ErrorKind::InvalidRequest,
        "authentication_error" | "permission_error" => ErrorKind::UpstreamError,
        _ => ErrorKind::UpstreamError,
    }
}

/// Applies what the translation learned to the exchange record.
pub fn apply(t: &Translation, ex: &mut Exchange, stop_name: fn(&StopReason) -> String) {
    ex.set_usage(&t.usage);
    ex.record.model_served.clone_from(&t.model);
    ex.record.stop_reason = t.stop_reason.as_ref().map(stop_name);
}

pub struct TranslatingRelay {
    translation: Translation,
    exchange: Exchange,
    stop_name: fn(&StopReason) -> String,
    on_complete: Option<OnComplete>,
    captured: Option<Vec<u8>>,
    done: bool,
}

impl TranslatingRelay {
    /// The translating relay for one exchange, driven by [`crate::relay::Driven`].
    pub fn new(
        translation: Translation,
        exchange: Exchange,
        stop_name: fn(&StopReason) -> String,
        on_complete: OnComplete,
    ) -> Self {
        let captured = exchange.record_bodies().then(Vec::new);
        Self {
            translation,
            exchange,
            stop_name,
            on_complete: Some(on_complete),
            captured,
            done: false,
        }
    }

    /// Records the exchange once the translation ended, before its last bytes are released.
    fn settle(&mut self, gateway_error: Option<Outcome>) {
        self.done = true;
        apply(&self.translation, &mut self.exchange, self.stop_name);
        let outcome = match &self.translation.end {
            Some(End::Complete) => {
                if let (Ok(resp), Some(f)) =
                    (self.translation.take_response(), self.on_complete.take())
                {
                    f(&resp);
                }
                Outcome::Ok
            }
            Some(End::Failed(f)) => {
                self.exchange.set_error(&f.kind, &f.message);
                gateway_error.unwrap_or(Outcome::StreamError)
            }
            None => gateway_error.unwrap_or(Outcome::UpstreamBrokeOff),
        };
        if let Some(c) = self.captured.take() {
            self.exchange.record.response_body = Some(Bytes::from(c));
        }
        self.exchange.finish(200, outcome);
    }

    fn capture(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.exchange.mark_first_byte();
        }
        if let Some(c) = &mut self.captured {
            c.extend_from_slice(bytes);
        }
    }
}

impl Pump for TranslatingRelay {
    fn chunk(&mut self, chunk: Bytes) -> (Bytes, bool) {
        let mut out = Vec::new();
        self.translation.push(&chunk, &mut out);
        self.capture(&out);
        let over = self.translation.end.is_some();
        if over {
            self.settle(None);
        }
        (Bytes::from(out), over)
    }

    fn end(&mut self, failure: Option<(ApiError, Outcome)>) -> Option<Bytes> {
        let mut out = Vec::new();
        let outcome = match failure {
            Some((e, outcome)) => {
                self.translation.fail(e.type_name(), &e.message, &mut out);
                Some(outcome)
            }
            None => {
                self.translation.end_of_input(&mut out);
                let complete = matches!(self.translation.end, Some(End::Complete));
                (!complete).then_some(Outcome::UpstreamBrokeOff)
            }
        };
        self.capture(&out);
        self.settle(outcome);
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

impl Drop for TranslatingRelay {
    /// The client went away: what it received is metered and kept, then the exchange guard
    /// records it as closed by the client.
    fn drop(&mut self) {
        if !self.done {
            apply(&self.translation, &mut self.exchange, self.stop_name);
            if let Some(c) = self.captured.take() {
                self.exchange.record.response_body = Some(Bytes::from(c));
            }
        }
    }
}

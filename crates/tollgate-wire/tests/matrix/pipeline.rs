//! The server's translation path, driven purely: a scenario written as the provider's bytes by
//! that dialect's own stream encoder, framed (SSE, or NDJSON lines for Ollama), decoded, put
//! through the [`StreamBuilder`], then what `tollgate-server`'s relay does to the built events
//! (each thinking block stamped with its issuer; for Anthropic clients, unsigned thinking given
//! the stand-in signature before its block stops), then the client's stream encoder, or the
//! assembler and the client's whole-response encoder.

use tollgate_wire::canonical::assemble::{Assembler, StreamFailure};
use tollgate_wire::canonical::issuer::IssuerStamp;
use tollgate_wire::canonical::target::model_family;
use tollgate_wire::canonical::{
    self, Origin, Response, StreamBuilder, StreamDecoder, StreamEncoder, StreamEvent, validate,
};
use tollgate_wire::responses::{ResponseOptions, Sealer};
use tollgate_wire::sse::{SseDecoder, SseFrame};
use tollgate_wire::{Dialect, anthropic, gemini, ollama, openai, responses};

pub const PROVIDERS: [Dialect; 5] = [
    Dialect::Anthropic,
    Dialect::OpenAiChat,
    Dialect::OpenAiResponses,
    Dialect::Gemini,
    Dialect::Ollama,
];

pub const CLIENTS: [Dialect; 3] =
    [Dialect::Anthropic, Dialect::OpenAiChat, Dialect::OpenAiResponses];

/// The gateway's sealing key, as far as these tests know it.
pub fn sealer() -> Sealer {
    Sealer::new(b"matrix-seal-key")
}

/// The provider's configured name and model, per dialect.
pub fn provider(p: Dialect) -> (&'static str, &'static str) {
    match p {
        Dialect::Anthropic => ("anthropic", "claude-sonnet-4-5-20250929"),
        Dialect::OpenAiChat => ("openai", "gpt-4.1"),
        Dialect::OpenAiResponses => ("openai-responses", "gpt-5"),
        Dialect::Gemini => ("gemini", "gemini-2.5-flash"),
        Dialect::Ollama => ("ollama", "qwen3"),
    }
}

/// The issuer the server stamps on this provider's thinking.
pub fn origin(p: Dialect) -> Origin {
    let (name, model) = provider(p);
    Origin { provider: name.into(), family: model_family(model) }
}

fn provider_encoder(p: Dialect) -> Box<dyn StreamEncoder> {
    match p {
        Dialect::Anthropic => Box::new(anthropic::codec::Encoder::new()),
        // The gateway always asks Chat upstreams for usage (stream_options.include_usage).
        Dialect::OpenAiChat => {
            Box::new(openai::codec::Encoder::with_options(openai::codec::EncoderOptions {
                include_usage: true,
                ..Default::default()
            }))
        }
        Dialect::OpenAiResponses => Box::new(responses::codec::Encoder::new()),
        Dialect::Gemini => Box::new(gemini::codec::Encoder::new()),
        Dialect::Ollama => Box::new(ollama::codec::Encoder::new()),
    }
}

fn decoder(d: Dialect) -> Box<dyn StreamDecoder> {
    canonical::fuzz::decoder(d)
}

fn response_options() -> ResponseOptions {
    ResponseOptions {
        response_id: "resp_matrix".into(),
        created_at: 0,
        sealer: Some(sealer()),
        ..ResponseOptions::default()
    }
}

/// The client's stream encoder, configured as the server configures it (a Chat client that
/// asked for usage; a Responses client with the sealer).
fn client_encoder(c: Dialect) -> Box<dyn StreamEncoder> {
    match c {
        Dialect::OpenAiChat => {
            Box::new(openai::codec::Encoder::with_options(openai::codec::EncoderOptions {
                include_usage: true,
                ..Default::default()
            }))
        }
        Dialect::OpenAiResponses => {
            Box::new(responses::codec::Encoder::with_options(response_options()))
        }
        _ => Box::new(anthropic::codec::Encoder::new()),
    }
}

/// The client's whole-response body.
pub fn client_response(c: Dialect, resp: &Response) -> Vec<u8> {
    let mut notes = Vec::new();
    match c {
        Dialect::OpenAiChat => openai::convert::encode_response_with(
            resp,
            &openai::convert::ResponseOptions { created: 0, model_override: None },
            &mut notes,
        ),
        Dialect::OpenAiResponses => {
            responses::encode_response_with(resp, &response_options(), &mut notes)
        }
        _ => anthropic::convert::encode_response(resp, &mut notes),
    }
}

/// Cuts bytes into frames the way the server does for this dialect.
pub fn frames(d: Dialect, bytes: &[u8]) -> Vec<SseFrame> {
    let mut frames = Vec::new();
    if d == Dialect::Ollama {
        for line in bytes.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line).trim().to_owned();
            if !line.is_empty() {
                frames.push(SseFrame { event: None, data: line });
            }
        }
    } else {
        let mut sse = SseDecoder::new();
        sse.feed(bytes, &mut frames);
        sse.finish();
    }
    frames
}

/// A provider's bytes for `events`, written by its own stream encoder. The encoder's trailer is
/// written only for a stream that ended; one that broke off just stops.
pub fn provider_bytes(p: Dialect, events: &[StreamEvent]) -> Vec<u8> {
    let mut enc = provider_encoder(p);
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    if matches!(events.last(), Some(StreamEvent::MessageStop | StreamEvent::Error { .. })) {
        enc.finish(&mut out);
    }
    out
}

/// Decodes frames with a dialect's decoder, without the builder.
pub fn decode(d: Dialect, frames: &[SseFrame]) -> Vec<StreamEvent> {
    let mut dec = decoder(d);
    let mut events = Vec::new();
    for f in frames {
        dec.decode(f, &mut events);
    }
    dec.finish(&mut events);
    events
}

/// The provider's bytes decoded and built, as the relay gets them.
pub fn built(p: Dialect, bytes: &[u8]) -> Result<Vec<StreamEvent>, String> {
    let mut builder = StreamBuilder::new();
    let mut built = Vec::new();
    for e in decode(p, &frames(p, bytes)) {
        builder.push(e, &mut built);
    }
    builder.finish(&mut built);
    validate(&built).map_err(|v| format!("built stream violates the invariants: {v:?}"))?;
    Ok(built)
}

/// What the server's translating relay does to the built events before the encoder and the
/// assembler see them: the same [`IssuerStamp`] it uses.
pub fn relayed(built: Vec<StreamEvent>, origin: &Origin, client: Dialect) -> Vec<StreamEvent> {
    let mut stamp = IssuerStamp::new(origin.clone(), client == Dialect::Anthropic);
    let mut out = Vec::new();
    for mut ev in built {
        if let Some(sig) = stamp.stamp(&mut ev) {
            out.push(sig);
        }
        out.push(ev);
    }
    out
}

/// The bytes a streaming client receives.
pub fn client_stream(c: Dialect, events: &[StreamEvent]) -> Vec<u8> {
    let mut enc = client_encoder(c);
    let mut out = Vec::new();
    for e in events {
        enc.encode(e, &mut out);
        if matches!(e, StreamEvent::MessageStop | StreamEvent::Error { .. }) {
            enc.finish(&mut out);
        }
    }
    out
}

/// What a non-streaming client's request ends in: the assembled response, or the failure the
/// server turns into an error status.
pub fn assembled(events: &[StreamEvent]) -> Result<Response, StreamFailure> {
    let mut asm = Assembler::new();
    events.iter().for_each(|e| asm.push(e));
    asm.finish()
}

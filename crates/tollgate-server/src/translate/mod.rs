//! Translation between a client's dialect and a provider's.
//!
//! # Layout
//! - this file: the per-dialect converters of `tollgate-wire` picked by [`Dialect`], and the
//!   client-side encoder context (ids, timestamps, what the client asked for).
//! - [`forward`]: the request path for a provider of another dialect.
//! - [`relay`]: the translating stream relay.
//! - [`memory`]: what is kept between turns (thinking for Chat clients, signature origins,
//!   Responses conversations).

pub mod forward;
pub mod memory;
pub mod relay;

use bytes::Bytes;
use tollgate_wire::canonical::{self, Note, Request, Response, StreamEncoder};
use tollgate_wire::sse::SseFrame;
use tollgate_wire::{Dialect, InvalidBody, anthropic, gemini, ollama, openai, responses};

pub fn decode_request(dialect: Dialect, body: &[u8]) -> Result<Request, InvalidBody> {
    match dialect {
        Dialect::Anthropic => anthropic::convert::decode_request(body),
        Dialect::OpenAiChat => openai::convert::decode_request(body),
        Dialect::OpenAiResponses => responses::convert::decode_request(body),
        Dialect::Gemini => gemini::convert::decode_request(body),
        Dialect::Ollama => ollama::convert::decode_request(body),
    }
}

pub fn encode_request(
    dialect: Dialect,
    req: &Request,
    target: &canonical::Target,
    notes: &mut Vec<Note>,
) -> Vec<u8> {
    match dialect {
        Dialect::Anthropic => anthropic::convert::encode_request(req, target, notes),
        Dialect::OpenAiChat => openai::convert::encode_request(req, target, notes),
        Dialect::OpenAiResponses => responses::convert::encode_request(req, target, notes),
        Dialect::Gemini => gemini::convert::encode_request(req, target, notes),
        Dialect::Ollama => ollama::convert::encode_request(req, target, notes),
    }
}

pub fn decode_response(dialect: Dialect, body: &[u8]) -> Result<Response, InvalidBody> {
    match dialect {
        Dialect::Anthropic => anthropic::convert::decode_response(body),
        Dialect::OpenAiChat => openai::convert::decode_response(body),
        Dialect::OpenAiResponses => responses::convert::decode_response(body),
        Dialect::Gemini => gemini::convert::decode_response(body),
        Dialect::Ollama => ollama::convert::decode_response(body),
    }
}

pub use tollgate_wire::codecs::{decoder, encoder};

/// The whole-response JSON of a recorded stream in a dialect without its own assembler: the
/// stream decoded and assembled through the canonical model, then written in that dialect.
pub fn reconstruct(dialect: Dialect, frames: &[SseFrame]) -> Option<Bytes> {
    let mut decoder = decoder(dialect);
    let mut events = Vec::new();
    for f in frames {
        decoder.decode(f, &mut events);
    }
    decoder.finish(&mut events);
    let mut asm = canonical::assemble::Assembler::new();
    events.iter().for_each(|e| asm.push(e));
    let resp = asm.finish().ok()?;
    Some(Bytes::from(client_response(dialect, &resp, &ClientContext::default())))
}

/// A Responses-API `error` event for a stream that already started.
pub fn responses_error_event(error_type: &str, code: Option<&str>, message: &str) -> Vec<u8> {
    let data = serde_json::json!({
        "type": "error",
        "code": code.unwrap_or(error_type),
        "message": message,
        "param": null,
    });
    let mut out = Vec::new();
    tollgate_wire::sse::write_frame(&mut out, Some("error"), &data.to_string());
    out
}

/// A client's request body, decoded; Responses reasoning items Tollgate sealed are opened.
pub fn decode_client_request(
    state: &crate::state::AppState,
    client: Dialect,
    body: &[u8],
) -> Result<Request, InvalidBody> {
    match client {
        Dialect::OpenAiResponses => responses::decode_request_with(
            body,
            &responses::DecodeOptions { sealer: Some(state.translation.sealer.clone()) },
        ),
        _ => decode_request(client, body),
    }
}

/// What a client-side encoder needs beyond the events: ids and timestamps it must invent (the
/// wire crate has no clock), and what the client asked for.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    /// Unix seconds.
    pub created: u64,
    /// Chat: the client asked for the trailing usage chunk.
    pub include_usage: bool,
    /// Responses: the id of the response being written (`resp_...`), under which the
    /// conversation is kept for `previous_response_id`.
    pub response_id: String,
    /// Responses: how the response object is written (custom and namespaced tools, echoed
    /// fields, the sealer).
    pub responses: Option<responses::ResponseOptions>,
}

pub fn encoder_context(
    state: &crate::state::AppState,
    client: Dialect,
    req: &Request,
    body: &[u8],
) -> ClientContext {
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let include_usage = client == Dialect::OpenAiChat
        && req
            .extra
            .fields
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
    let response_id = format!("resp_{}", uuid::Uuid::now_v7().simple());
    let responses = (client == Dialect::OpenAiResponses).then(|| {
        let mut o = responses::ResponseOptions::for_request(body);
        o.response_id.clone_from(&response_id);
        o.created_at = created;
        o.sealer = Some(state.translation.sealer.clone());
        o
    });
    ClientContext { created, include_usage, response_id, responses }
}

/// The client's stream encoder.
pub fn client_encoder(client: Dialect, ctx: &ClientContext) -> Box<dyn StreamEncoder> {
    match client {
        Dialect::OpenAiChat => {
            Box::new(openai::codec::Encoder::with_options(openai::codec::EncoderOptions {
                include_usage: ctx.include_usage,
                created: ctx.created,
                model_override: None,
            }))
        }
        Dialect::OpenAiResponses => match &ctx.responses {
            Some(o) => Box::new(responses::codec::Encoder::with_options(o.clone())),
            None => encoder(client),
        },
        _ => encoder(client),
    }
}

/// The client's whole-response body.
pub fn client_response(client: Dialect, resp: &Response, ctx: &ClientContext) -> Vec<u8> {
    let mut notes = Vec::new();
    match client {
        Dialect::Anthropic => anthropic::convert::encode_response(resp, &mut notes),
        Dialect::OpenAiChat => openai::convert::encode_response_with(
            resp,
            &openai::convert::ResponseOptions { created: ctx.created, model_override: None },
            &mut notes,
        ),
        Dialect::OpenAiResponses => match &ctx.responses {
            Some(o) => responses::encode_response_with(resp, o, &mut notes),
            None => responses::convert::encode_response(resp, &mut notes),
        },
        Dialect::Gemini => gemini::convert::encode_response(resp, &mut notes),
        Dialect::Ollama => ollama::convert::encode_response(resp, &mut notes),
    }
}

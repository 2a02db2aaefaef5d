//! Translation between a client's dialect and a provider's: the per-dialect converters of
//! `tollgate-wire` picked by [`Dialect`], and the translating stream relay.

use bytes::Bytes;
use tollgate_wire::canonical::{self, Note, Request, Response, StreamDecoder, StreamEncoder};
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

pub fn decoder(dialect: Dialect) -> Box<dyn StreamDecoder> {
    match dialect {
        Dialect::Anthropic => Box::new(anthropic::codec::Decoder::new()),
        Dialect::OpenAiChat => Box::new(openai::codec::Decoder::new()),
        Dialect::OpenAiResponses => Box::new(responses::codec::Decoder::new()),
        Dialect::Gemini => Box::new(gemini::codec::Decoder::new()),
        Dialect::Ollama => Box::new(ollama::codec::Decoder::new()),
    }
}

pub fn encoder(dialect: Dialect) -> Box<dyn StreamEncoder> {
    match dialect {
        Dialect::Anthropic => Box::new(anthropic::codec::Encoder::new()),
        Dialect::OpenAiChat => Box::new(openai::codec::Encoder::new()),
        Dialect::OpenAiResponses => Box::new(responses::codec::Encoder::new()),
        Dialect::Gemini => Box::new(gemini::codec::Encoder::new()),
        Dialect::Ollama => Box::new(ollama::codec::Encoder::new()),
    }
}

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
    let mut notes = Vec::new();
    let body = match dialect {
        Dialect::OpenAiResponses => responses::convert::encode_response(&resp, &mut notes),
        Dialect::Gemini => gemini::convert::encode_response(&resp, &mut notes),
        Dialect::Ollama => ollama::convert::encode_response(&resp, &mut notes),
        Dialect::Anthropic => anthropic::convert::encode_response(&resp, &mut notes),
        Dialect::OpenAiChat => openai::convert::encode_response(&resp, &mut notes),
    };
    Some(Bytes::from(body))
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

//! Whole Chat Completions requests and responses to and from the canonical model.
//!
//! # Layout
//! - [`decode`]: a client's `/v1/chat/completions` body -> canonical [`Request`].
//! - [`encode`]: a canonical [`Request`] -> a body for an OpenAI-compatible provider.
//! - [`response`]: `chat.completion` objects both ways.
//! - [`args`]: tool-call `arguments` strings <-> canonical tool inputs.
//!
//! What must not live here: streams (see `super::codec`), and anything another dialect owns.

pub mod args;
mod decode;
mod encode;
pub(crate) mod response;

pub use args::UNPARSED_ARGUMENTS_FIELD;
pub use response::ResponseOptions;

use crate::InvalidBody;
use crate::canonical::{Note, Request, Response, Target};

/// A request body in this dialect, decoded.
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidBody> {
    decode::decode_request(body)
}

/// A canonical request written for a provider of this dialect. Fields it cannot carry are
/// dropped and noted.
pub fn encode_request(req: &Request, target: &Target, notes: &mut Vec<Note>) -> Vec<u8> {
    encode::encode_request(req, target, notes)
}

/// A whole response body in this dialect, decoded.
pub fn decode_response(body: &[u8]) -> Result<Response, InvalidBody> {
    response::decode_response(body)
}

/// A canonical response written for a client of this dialect, with `created` 0 and the
/// response's own model (see [`encode_response_with`]).
pub fn encode_response(resp: &Response, notes: &mut Vec<Note>) -> Vec<u8> {
    response::encode_response(resp, &ResponseOptions::default(), notes)
}

/// A canonical response written for a client of this dialect, with the caller's timestamp and,
/// optionally, the model name the client asked for.
pub fn encode_response_with(
    resp: &Response,
    options: &ResponseOptions,
    notes: &mut Vec<Note>,
) -> Vec<u8> {
    response::encode_response(resp, options, notes)
}

/// The `chatcmpl-` id a Chat client sees for a canonical response id. Ids that already are
/// Chat ids pass unchanged, so Chat -> Chat keeps them.
pub fn chat_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else if id.is_empty() {
        "chatcmpl-tollgate".to_owned()
    } else {
        format!("chatcmpl-{id}")
    }
}

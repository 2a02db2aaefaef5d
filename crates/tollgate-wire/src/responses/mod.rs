//! OpenAI Responses (`POST /v1/responses`), the only API Codex speaks.
//!
//! Files: `convert` (whole requests and responses <-> canonical), `codec` (the stream, decoded
//! and encoded), `seal` (thinking carried through a client as a signed `encrypted_content`),
//! `object` (the Response object and output items Tollgate writes), `wire` (the JSON shapes
//! the decoders read), `request` (the envelope read before routing: model, stream,
//! `previous_response_id`).

pub mod codec;
pub mod convert;
mod object;
pub mod request;
pub mod seal;
mod wire;

pub use convert::{
    DecodeOptions, NamespacedTool, ResponseOptions, decode_request, decode_request_with,
    decode_response, encode_request, encode_response, encode_response_with, previous_response_id,
};
pub use seal::Sealer;

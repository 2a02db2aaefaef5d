//! Anthropic Messages (`POST /v1/messages`, `POST /v1/messages/count_tokens`).
//!
//! Files, as in every dialect folder: `request` (validated envelope over the raw body),
//! `stream` (meter over forwarded SSE), `response` (meter over a whole response), `error`
//! (error body and stream error event).

pub mod codec;
pub mod convert;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;

pub use error::{error_body, error_event};
pub use request::{CountTokensRequest, MessagesRequest};
pub use response::read_response;
pub use stream::StreamMeter;

//! The wire: what each API dialect looks like in bytes, and nothing about how bytes move.
//!
//! Pure code only: no tokio, no sockets, no clocks. Everything here is driven by pushing bytes in
//! and taking values out, so it is testable from recorded fixtures.
//!
//! # Layout
//! - [`sse`]: a sans-IO Server-Sent Events decoder that also reports frame boundaries, and the
//!   encoder for frames Tollgate writes itself.
//! - [`dialect`]: the API dialects Tollgate speaks, on the client side and the provider side.
//! - [`canonical`]: the one request, response and stream-event model every dialect converts
//!   through, the stream builder and validator, history repair and tool-id sanitising.
//! - [`anthropic`], [`openai`] (Chat Completions), [`responses`] (OpenAI Responses), [`gemini`],
//!   [`ollama`]: one folder per dialect. Each has `convert.rs` (whole requests and responses to
//!   and from the canonical model) and `codec.rs` (its stream decoder and encoder). The two
//!   dialects Tollgate also passes through byte for byte add `request.rs`
//!   (validated envelopes over the raw body), `stream.rs` (a meter that reads usage and terminal
//!   state beside a forwarded stream), `response.rs` (the same for whole responses) and
//!   `error.rs` (the dialect's error body and stream error event).
//! - [`codecs`]: each dialect's stream decoder and encoder, picked by dialect.
//! - [`usage`]: token usage in one shape, with each dialect's meaning of "input tokens" noted.
//! - [`estimate`]: a conservative local input-token estimate for `count_tokens`.
//! - [`splice`]: rewriting one JSON value inside a raw body without re-serialising the rest.
//! - [`reconstruct`]: the whole-response JSON rebuilt from a stream, per dialect (assemblers).
//! - [`secrets`]: masking keys, tokens, passwords and private keys in text and raw JSON bodies.
//! - [`session`]: the session a request belongs to (id, first prompt, working directory, branch).
//! - [`client`]: the program that sent a request, from its user agent and headers.
//! - [`search`]: the plain text an exchange is found by (last user turn and the answer).

pub mod anthropic;
pub mod canonical;
pub mod client;
pub mod codecs;
pub mod dialect;
pub mod estimate;
pub mod gemini;
pub mod ollama;
pub mod openai;
pub mod reconstruct;
pub mod responses;
pub mod search;
pub mod secrets;
pub mod session;
pub mod splice;
pub mod sse;
pub mod usage;

pub use dialect::Dialect;
pub use usage::Usage;

/// A request body that failed validation at the edge. `path` names the JSON location
/// (`messages[3].content`), `message` says what was wrong, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidBody {
    pub path: Option<String>,
    pub message: String,
}

impl InvalidBody {
    pub fn new(path: Option<String>, message: impl Into<String>) -> Self {
        Self { path, message: message.into() }
    }

    /// Converts a serde error, keeping the JSON path when there is one.
    pub fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("request body is not valid JSON: {inner}")
        } else if path == "." || path.is_empty() {
            format!("invalid request body: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        let path = (path != "." && !path.is_empty()).then_some(path);
        Self { path, message }
    }
}

//! Ollama's native chat API (`POST /api/chat`), a provider dialect. Its stream is NDJSON, not
//! SSE: the server splits the body into lines and hands each one to the decoder as an
//! [`SseFrame`](crate::sse::SseFrame) with no event name, and the encoder writes lines.
//!
//! # Layout
//! - `convert`: whole requests and responses <-> canonical.
//! - `codec`: the NDJSON stream decoded into canonical events, and encoded from them.
//! - `wire`: the JSON shapes, typed.

pub mod codec;
pub mod convert;
mod wire;

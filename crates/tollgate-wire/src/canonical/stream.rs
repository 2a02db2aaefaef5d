//! Stream events and the sans-IO translator traits.
//!
//! Events follow Anthropic's stream grammar: `MessageStart`, then per content block
//! `BlockStart` -> `BlockDelta`* -> `BlockStop`, then `MessageDelta` and `MessageStop`; `Ping`
//! anywhere; `Error` ends a stream that already started. A decoder turns one provider dialect's
//! frames into these events, an encoder turns them into one client dialect's bytes, and the
//! [`super::StreamBuilder`] between them enforces the invariants.

use serde_json::Value;

use super::{Block, StopReason};
use crate::Usage;
use crate::sse::SseFrame;

#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    MessageStart {
        id: String,
        model: String,
        /// Input and cache counts as known at the start (Anthropic sends them here; OpenAI
        /// dialects only at the end, so zeros).
        usage: Usage,
    },
    /// A block opens. Text and thinking blocks start empty; a tool-use block starts with its id,
    /// name and an empty input object; redacted thinking and opaque blocks arrive whole here.
    BlockStart { index: usize, block: Block },
    BlockDelta { index: usize, delta: Delta },
    BlockStop { index: usize },
    /// The end of the turn: why it stopped and the final usage (cumulative, not an increment).
    MessageDelta { stop_reason: Option<StopReason>, stop_sequence: Option<String>, usage: Usage },
    MessageStop,
    Ping,
    /// The stream failed after it started. `kind` is an Anthropic error type
    /// (`overloaded_error`, `api_error`, ...); nothing follows.
    Error { kind: String, message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Text(String),
    /// A fragment of a tool call's JSON arguments, as the provider sent it.
    InputJson(String),
    Thinking(String),
    /// The thinking block's seal; arrives once, just before the block stops.
    Signature(String),
    /// One citation added to a text block, as Anthropic wrote it.
    Citation(Value),
}

/// One provider dialect's stream, decoded. Sans-IO: frames in, events out.
///
/// Malformed upstream data does not fail the call: the decoder emits
/// [`StreamEvent::Error`] and ignores what follows.
pub trait StreamDecoder: Send {
    fn decode(&mut self, frame: &SseFrame, out: &mut Vec<StreamEvent>);
    /// The upstream ended. A stream that ended without its terminal event gets an
    /// [`StreamEvent::Error`] (never a faked `end_turn`).
    fn finish(&mut self, out: &mut Vec<StreamEvent>);
}

/// One client dialect's stream, encoded. Writes whole SSE frames into `out`.
pub trait StreamEncoder: Send {
    fn encode(&mut self, event: &StreamEvent, out: &mut Vec<u8>);
    /// The stream is over (after `MessageStop` or `Error`): write the dialect's trailer
    /// (`data: [DONE]` for OpenAI Chat), if any.
    fn finish(&mut self, out: &mut Vec<u8>);
}

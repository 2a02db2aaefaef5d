//! Between streams and whole responses: [`Assembler`] folds canonical stream events into a
//! [`Response`] (a non-streaming client served from a streamed upstream, principle 9), and
//! [`events_of`] replays a whole response as events. STUB: filled in by the core work.

use super::{Response, StreamEvent};

#[derive(Debug, Default)]
pub struct Assembler {
    response: Response,
}

/// How an assembled stream ended when it did not end well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFailure {
    /// Anthropic error type.
    pub kind: String,
    pub message: String,
}

impl Assembler {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, _event: &StreamEvent) {}

    /// The response, or the failure that ended the stream (also when it ended without
    /// `MessageStop`).
    pub fn finish(self) -> Result<Response, StreamFailure> {
        Ok(self.response)
    }
}

/// A whole response as the events a stream of it would carry.
pub fn events_of(_response: &Response) -> Vec<StreamEvent> {
    Vec::new()
}

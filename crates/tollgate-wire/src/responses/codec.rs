//! This dialect's stream, decoded into canonical events and encoded from them: sans-IO state
//! machines. STUB: to be written.

use crate::canonical::{StreamDecoder, StreamEncoder, StreamEvent};
use crate::sse::SseFrame;

#[derive(Debug, Default)]
pub struct Decoder {}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamDecoder for Decoder {
    fn decode(&mut self, _frame: &SseFrame, _out: &mut Vec<StreamEvent>) {}
    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {}
}

#[derive(Debug, Default)]
pub struct Encoder {}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamEncoder for Encoder {
    fn encode(&mut self, _event: &StreamEvent, _out: &mut Vec<u8>) {}
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

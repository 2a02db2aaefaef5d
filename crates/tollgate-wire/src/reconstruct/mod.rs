//! Rebuilding the whole response from a stream, per dialect, so a streamed exchange can be
//! stored and read like a non-streamed one.
//!
//! Assemblers are sans-IO: the relay pushes every [`SseFrame`](crate::sse::SseFrame) it forwards
//! and calls `finish` when the stream ends, however it ends. They never fail; a cut-off stream
//! gives what had arrived. They do not validate the stream (the meters and the client do).
//!
//! - [`AnthropicAssembler`]: Messages events to a `"type":"message"` object.
//! - [`OpenAiAssembler`]: Chat Completions chunks to a `"object":"chat.completion"` object.

mod anthropic;
mod openai;

pub use anthropic::AnthropicAssembler;
pub use openai::OpenAiAssembler;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::sse::{SseDecoder, SseFrame};

    pub(crate) fn frames_of(bytes: &[u8]) -> Vec<SseFrame> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(bytes, &mut out);
        out
    }

    fn split_frames(bytes: &[u8], cuts: &[usize]) -> Vec<SseFrame> {
        let mut cuts = cuts.to_vec();
        cuts.sort_unstable();
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        let mut prev = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            d.feed(&bytes[prev..c], &mut out);
            prev = c;
        }
        out
    }

    fn anthropic(frames: &[SseFrame]) -> Option<Value> {
        let mut a = AnthropicAssembler::new();
        frames.iter().for_each(|f| a.push(f));
        a.finish()
    }

    fn openai(frames: &[SseFrame]) -> Option<Value> {
        let mut a = OpenAiAssembler::new();
        frames.iter().for_each(|f| a.push(f));
        a.finish()
    }

    const A_FULL: &[u8] = include_bytes!("../../tests/fixtures/anthropic_thinking_tools.sse");
    const A_SEARCH: &[u8] = include_bytes!("../../tests/fixtures/anthropic_web_search.sse");
    const O_TOOLS: &[u8] = include_bytes!("../../tests/fixtures/openai_tools.sse");
    const O_REASONING: &[u8] = include_bytes!("../../tests/fixtures/openai_reasoning_text.sse");

    fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
        proptest::collection::vec(0..=len, 0..24)
    }

    proptest! {
        #[test]
        fn anthropic_any_byte_split_gives_the_same_message(
            a in cuts(A_FULL.len()),
            b in cuts(A_SEARCH.len()),
        ) {
            let whole = anthropic(&frames_of(A_FULL));
            prop_assert!(whole.is_some());
            prop_assert_eq!(anthropic(&split_frames(A_FULL, &a)), whole);
            prop_assert_eq!(anthropic(&split_frames(A_SEARCH, &b)), anthropic(&frames_of(A_SEARCH)));
        }

        #[test]
        fn openai_any_byte_split_gives_the_same_message(
            a in cuts(O_TOOLS.len()),
            b in cuts(O_REASONING.len()),
        ) {
            let whole = openai(&frames_of(O_TOOLS));
            prop_assert!(whole.is_some());
            prop_assert_eq!(openai(&split_frames(O_TOOLS, &a)), whole);
            prop_assert_eq!(openai(&split_frames(O_REASONING, &b)), openai(&frames_of(O_REASONING)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let frames = frames_of(&bytes);
            let _ = anthropic(&frames);
            let _ = openai(&frames);
        }

        #[test]
        fn arbitrary_event_data_never_panics(
            event in proptest::option::of("[a-z_]{0,20}"),
            data in "\\PC{0,200}",
        ) {
            let frame = SseFrame::new(event.as_deref(), data);
            let _ = anthropic(std::slice::from_ref(&frame));
            let _ = openai(std::slice::from_ref(&frame));
        }
    }

    #[test]
    fn a_truncated_prefix_of_a_stream_still_assembles() {
        // Every frame-boundary prefix gives a message (or none before message_start).
        let frames = frames_of(A_FULL);
        for n in 0..=frames.len() {
            let msg = anthropic(&frames[..n]);
            assert_eq!(msg.is_some(), n > 0, "prefix of {n} frames");
        }
    }
}

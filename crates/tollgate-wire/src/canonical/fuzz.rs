//! The property every stream decoder must have, whatever bytes a provider sends: decoding never
//! panics, and what the stream builder makes of the events always satisfies the stream
//! invariants. Shared by the `cargo fuzz` targets (`fuzz/`) and the bounded run in the test suite
//! (`tests/fuzz_smoke.rs`), so both exercise exactly the same path.

use super::{StreamBuilder, validate};
use crate::Dialect;
use crate::sse::{SseDecoder, SseFrame};

pub use crate::codecs::decoder;

/// Feeds `data` cut at `cuts` (byte offsets, any order, out-of-range ignored) through the SSE
/// decoder (or, for Ollama, a line splitter), the dialect's decoder and the stream builder.
/// Returns the builder's output after checking the invariants; panics on a violation, which is
/// what a fuzzer reports.
pub fn check(dialect: Dialect, data: &[u8], cuts: &[usize]) -> Vec<super::StreamEvent> {
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c < data.len()).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut frames = Vec::new();
    if dialect == Dialect::Ollama {
        for line in data.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line).trim().to_owned();
            if !line.is_empty() {
                frames.push(SseFrame { event: None, data: line });
            }
        }
    } else {
        let mut sse = SseDecoder::new();
        let mut start = 0;
        for &c in cuts.iter().chain(std::iter::once(&data.len())) {
            sse.feed(&data[start..c], &mut frames);
            start = c;
        }
        sse.finish();
    }
    let mut decoder = decoder(dialect);
    let mut builder = StreamBuilder::new();
    let (mut events, mut built) = (Vec::new(), Vec::new());
    for f in &frames {
        decoder.decode(f, &mut events);
        for e in events.drain(..) {
            builder.push(e, &mut built);
        }
    }
    decoder.finish(&mut events);
    for e in events.drain(..) {
        builder.push(e, &mut built);
    }
    builder.finish(&mut built);
    if let Err(v) = validate(&built) {
        #[expect(clippy::panic, reason = "the fuzzing contract: a violation must be a crash")]
        {
            panic!("{dialect}: stream invariant violated: {v:?}\nevents: {built:?}");
        }
    }
    built
}

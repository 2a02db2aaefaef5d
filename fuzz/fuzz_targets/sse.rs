//! The SSE decoder: any bytes, cut anywhere, decode to the same frames as in one piece.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_wire::sse::SseDecoder;

fuzz_target!(|input: (Vec<u8>, u16)| {
    let (data, cut) = input;
    let cut = usize::from(cut) % (data.len() + 1);
    let mut whole = Vec::new();
    let mut d = SseDecoder::new();
    d.feed(&data, &mut whole);
    let mut split = Vec::new();
    let mut d = SseDecoder::new();
    d.feed(&data[..cut], &mut split);
    d.feed(&data[cut..], &mut split);
    assert_eq!(whole, split);
});

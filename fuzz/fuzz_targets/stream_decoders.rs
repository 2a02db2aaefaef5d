//! Every stream decoder: any bytes, cut anywhere, never panic and always build a valid stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_wire::Dialect;
use tollgate_wire::canonical::fuzz::check;

fuzz_target!(|input: (u8, Vec<u8>, Vec<u16>)| {
    let (which, data, cuts) = input;
    let dialect = [
        Dialect::Anthropic,
        Dialect::OpenAiChat,
        Dialect::OpenAiResponses,
        Dialect::Gemini,
        Dialect::Ollama,
    ][usize::from(which) % 5];
    let cuts: Vec<usize> = cuts.into_iter().map(usize::from).collect();
    check(dialect, &data, &cuts);
});

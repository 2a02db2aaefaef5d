//! A bounded, stable-toolchain run of the fuzz property (`canonical::fuzz::check`) for every
//! stream decoder: recorded fixture streams cut at random points, with random bytes flipped,
//! inserted or truncated, and plain random bytes. Never a panic, always a valid built stream.
//! The open-ended run is `cargo fuzz` on the targets in `fuzz/` (nightly).

#![expect(clippy::unwrap_used, reason = "tests")]

use proptest::prelude::*;
use tollgate_wire::Dialect;
use tollgate_wire::canonical::fuzz::check;

const DIALECTS: [(Dialect, &str); 5] = [
    (Dialect::Anthropic, "anthropic"),
    (Dialect::OpenAiChat, "openai"),
    (Dialect::OpenAiResponses, "responses"),
    (Dialect::Gemini, "gemini"),
    (Dialect::Ollama, "ollama"),
];

/// Every recorded stream (`*.sse`, `*.ndjson`) of a dialect's fixtures.
fn fixtures(folder: &str) -> Vec<Vec<u8>> {
    let dir = format!("{}/../tollgate-testkit/fixtures/{folder}", env!("CARGO_MANIFEST_DIR"));
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sse" || x == "ndjson"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

#[test]
fn every_dialect_has_fixture_streams() {
    for (_, folder) in DIALECTS {
        assert!(!fixtures(folder).is_empty(), "no recorded streams for {folder}");
    }
}

#[test]
fn fixture_streams_build_the_same_valid_stream_wherever_they_are_cut() {
    for (dialect, folder) in DIALECTS {
        for data in fixtures(folder) {
            let whole = check(dialect, &data, &[]);
            // Every offset of small streams; about 300 evenly spread ones of large streams
            // (the proptests below cut at random offsets too).
            let stride = (data.len() / 300).max(1);
            for cut in (0..data.len()).step_by(stride) {
                if dialect != Dialect::Ollama {
                    assert_eq!(check(dialect, &data, &[cut]), whole, "{folder}: cut at {cut}");
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut data: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        if data.is_empty() {
            break;
        }
        match m {
            Mutation::Flip(i, b) => {
                let i = i % data.len();
                data[i] ^= b;
            }
            Mutation::Insert(i, bytes) => {
                let i = i % data.len();
                data.splice(i..i, bytes.iter().copied());
            }
            Mutation::Truncate(i) => data.truncate(i % data.len()),
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixture_streams_never_break_the_invariants(
        which in any::<usize>(),
        ms in proptest::collection::vec(mutation(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        for (dialect, folder) in DIALECTS {
            let all = fixtures(folder);
            if all.is_empty() { continue; }
            let data = mutate(all[which % all.len()].clone(), &ms);
            let cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
            check(dialect, &data, &cuts);
        }
    }

    #[test]
    fn random_bytes_never_break_the_invariants(
        data in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        for (dialect, _) in DIALECTS {
            check(dialect, &data, &cuts);
        }
    }
}

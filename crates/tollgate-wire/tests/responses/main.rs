//! The OpenAI Responses dialect against recorded fixtures: Codex's captured requests, recorded
//! provider streams, and the round trip of thinking sealed into a client's reasoning items.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

mod codex;
mod decode_stream;
mod encode_request;
mod encode_stream;
mod response;
mod summary;

/// A fixture of `crates/tollgate-testkit/fixtures/responses/`.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tollgate-testkit/fixtures/responses/",
            $name
        ))
    };
}
pub(crate) use fixture;

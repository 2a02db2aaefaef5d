//! Chat Completions streams, decoded into canonical events and encoded from them: sans-IO state
//! machines.
//!
//! # Layout
//! - [`decode`]: a provider's chunk stream -> canonical events ([`Decoder`]).
//! - [`encode`]: canonical events -> a chunk stream for a Chat client ([`Encoder`]).

pub mod decode;
pub mod encode;

pub use decode::Decoder;
pub use encode::{Encoder, EncoderOptions};

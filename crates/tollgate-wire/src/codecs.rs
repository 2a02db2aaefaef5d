//! Each dialect's stream decoder and encoder, picked by [`Dialect`]: the one dispatch the server's
//! relays and the fuzz targets share.

use crate::Dialect;
use crate::canonical::{StreamDecoder, StreamEncoder};
use crate::{anthropic, gemini, ollama, openai, responses};

/// A fresh stream decoder for `dialect`.
pub fn decoder(dialect: Dialect) -> Box<dyn StreamDecoder> {
    match dialect {
        Dialect::Anthropic => Box::new(anthropic::codec::Decoder::new()),
        Dialect::OpenAiChat => Box::new(openai::codec::Decoder::new()),
        Dialect::OpenAiResponses => Box::new(responses::codec::Decoder::new()),
        Dialect::Gemini => Box::new(gemini::codec::Decoder::new()),
        Dialect::Ollama => Box::new(ollama::codec::Decoder::new()),
    }
}

/// A stream encoder for `dialect` with its default options.
pub fn encoder(dialect: Dialect) -> Box<dyn StreamEncoder> {
    match dialect {
        Dialect::Anthropic => Box::new(anthropic::codec::Encoder::new()),
        Dialect::OpenAiChat => Box::new(openai::codec::Encoder::new()),
        Dialect::OpenAiResponses => Box::new(responses::codec::Encoder::new()),
        Dialect::Gemini => Box::new(gemini::codec::Encoder::new()),
        Dialect::Ollama => Box::new(ollama::codec::Encoder::new()),
    }
}

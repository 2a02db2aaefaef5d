//! OpenAI Chat Completions (`POST /v1/chat/completions`), spoken by OpenAI and every
//! OpenAI-compatible server (OpenRouter, DeepSeek, Groq, Together, vLLM, llama.cpp, Ollama).
//!
//! Files, as in every dialect folder: `request`, `stream`, `response`, `error`.

pub mod codec;
pub mod convert;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;

pub use error::{error_body, error_event};
pub use request::ChatRequest;
pub use response::read_response;
pub use stream::StreamMeter;

//! The API dialects. A dialect is a request, response, stream and error format; a client speaks
//! one, a provider speaks one, and when they are the same the bytes pass through.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Anthropic Messages: `POST /v1/messages`, named SSE events.
    Anthropic,
    /// OpenAI Chat Completions: `POST /v1/chat/completions`, data-only SSE ending in `[DONE]`.
    OpenAiChat,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::OpenAiChat => "openai-chat",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

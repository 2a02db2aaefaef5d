//! The API dialects. A dialect is a request, response, stream and error format; a client speaks
//! one, a provider speaks one, and when they are the same the bytes pass through.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Dialect {
    /// Anthropic Messages: `POST /v1/messages`, named SSE events.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// OpenAI Chat Completions: `POST /v1/chat/completions`, data-only SSE ending in `[DONE]`.
    #[serde(rename = "openai-chat")]
    OpenAiChat,
    /// OpenAI Responses: `POST /v1/responses`, named SSE events with sequence numbers.
    #[serde(rename = "openai-responses")]
    OpenAiResponses,
    /// Google Gemini: `models/{model}:generateContent` and `:streamGenerateContent?alt=sse`.
    /// A provider dialect only.
    #[serde(rename = "gemini")]
    Gemini,
    /// Ollama's native `POST /api/chat`, streamed as NDJSON. A provider dialect only.
    #[serde(rename = "ollama")]
    Ollama,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anthropic => "anthropic",
            Self::OpenAiChat => "openai-chat",
            Self::OpenAiResponses => "openai-responses",
            Self::Gemini => "gemini",
            Self::Ollama => "ollama",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        Some(match s {
            "anthropic" => Self::Anthropic,
            "openai-chat" => Self::OpenAiChat,
            "openai-responses" => Self::OpenAiResponses,
            "gemini" => Self::Gemini,
            "ollama" => Self::Ollama,
            _ => return None,
        })
    }

    /// The shape errors take for a client of this dialect: Anthropic's, or OpenAI's (which the
    /// Responses API shares).
    pub fn speaks_anthropic_errors(self) -> bool {
        self == Self::Anthropic
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

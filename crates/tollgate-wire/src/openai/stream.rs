//! A meter over a Chat Completions chunk stream: model, usage, finish reason, and whether the
//! stream ended with `data: [DONE]`. It also recognises the trailing usage-only chunk, so the
//! gateway can drop it when it asked for usage on a client's behalf.

use serde::Deserialize;

use super::response::WireUsage;
use crate::Usage;
use crate::sse::SseFrame;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StreamEnd {
    #[default]
    Open,
    /// `data: [DONE]` arrived.
    Complete,
    /// A `data: {"error":..}` frame arrived.
    Error { error_type: String, message: String },
}

/// What one frame was, for a caller that may filter frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Content, role, finish reason: always forwarded.
    Content,
    /// A chunk with empty `choices` and a `usage` object.
    UsageOnly,
    Done,
    Error,
}

#[derive(Debug, Default)]
pub struct StreamMeter {
    pub id: Option<String>,
    pub model: Option<String>,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    pub end: StreamEnd,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<super::error::UpstreamError>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    finish_reason: Option<String>,
}

impl StreamMeter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn observe(&mut self, frame: &SseFrame) -> FrameKind {
        let data = frame.data.trim();
        if data == "[DONE]" {
            self.end = StreamEnd::Complete;
            return FrameKind::Done;
        }
        let Ok(chunk) = serde_json::from_str::<Chunk>(data) else {
            return FrameKind::Content;
        };
        if let Some(err) = chunk.error {
            self.end = StreamEnd::Error {
                error_type: err.error_type.unwrap_or_else(|| "server_error".into()),
                message: err.message.unwrap_or_default(),
            };
            return FrameKind::Error;
        }
        if self.id.is_none() {
            self.id = chunk.id;
        }
        if self.model.is_none() {
            self.model = chunk.model;
        }
        for choice in &chunk.choices {
            if let Some(reason) = &choice.finish_reason {
                self.finish_reason = Some(reason.clone());
            }
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.to_usage());
            if chunk.choices.is_empty() {
                return FrameKind::UsageOnly;
            }
        }
        FrameKind::Content
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &str) -> SseFrame {
        SseFrame::new(None, s)
    }

    #[test]
    fn reads_chunks_usage_and_done() {
        let mut m = StreamMeter::new();
        assert_eq!(m.observe(&frame(r#"{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#)), FrameKind::Content);
        m.observe(&frame(r#"{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#));
        let k = m.observe(&frame(r#"{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4}}}"#));
        assert_eq!(k, FrameKind::UsageOnly);
        assert_eq!(m.observe(&frame("[DONE]")), FrameKind::Done);
        assert_eq!(
            m.usage,
            Some(Usage {
                web_search_requests: 0,
                input_tokens: 5,
                output_tokens: 2,
                cache_read_tokens: 4,
                cache_write_tokens: 0
            })
        );
        assert_eq!(m.finish_reason.as_deref(), Some("stop"));
        assert_eq!(m.end, StreamEnd::Complete);
    }

    #[test]
    fn reads_an_error_frame() {
        let mut m = StreamMeter::new();
        assert_eq!(
            m.observe(&frame(r#"{"error":{"message":"boom","type":"server_error","code":null}}"#)),
            FrameKind::Error
        );
        assert_eq!(
            m.end,
            StreamEnd::Error { error_type: "server_error".into(), message: "boom".into() }
        );
    }
}

//! A meter that reads an Anthropic event stream beside the forwarded bytes: the served model,
//! usage (cache fields included), the stop reason, and whether the stream ended properly.
//!
//! Only the few events that carry these are parsed; `content_block_delta` frames, the bulk of a
//! stream, are recognised by their `event:` name and skipped without touching their JSON.

use serde::Deserialize;

use super::response::WireUsage;
use crate::Usage;
use crate::sse::SseFrame;

/// How a stream ended, as far as the meter has seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StreamEnd {
    /// Still open: no terminal event yet.
    #[default]
    Open,
    /// `message_stop` arrived.
    Complete,
    /// An `error` event arrived.
    Error { error_type: String, message: String },
}

#[derive(Debug, Default)]
pub struct StreamMeter {
    pub message_id: Option<String>,
    pub model: Option<String>,
    pub usage: Usage,
    pub stop_reason: Option<String>,
    pub end: StreamEnd,
}

#[derive(Deserialize)]
struct MessageStart {
    message: StartMessage,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    delta: Option<DeltaBody>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct DeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEvent {
    error: super::error::UpstreamError,
}

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

impl StreamMeter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn observe(&mut self, frame: &SseFrame) {
        // Anthropic always names its events; fall back to the JSON `type` for servers that omit
        // the `event:` line (the SDKs ignore such frames, but the meter should still see them).
        let kind = match frame.event.as_deref() {
            Some(kind) => kind,
            None => match serde_json::from_str::<TypeOnly<'_>>(&frame.data) {
                Ok(t) => t.kind,
                Err(_) => return,
            },
        };
        match kind {
            "message_start" => {
                if let Ok(start) = serde_json::from_str::<MessageStart>(&frame.data) {
                    self.message_id = start.message.id;
                    self.model = start.message.model;
                    if let Some(u) = start.message.usage {
                        u.merge_into(&mut self.usage);
                    }
                }
            }
            "message_delta" => {
                if let Ok(delta) = serde_json::from_str::<MessageDelta>(&frame.data) {
                    if let Some(reason) = delta.delta.and_then(|d| d.stop_reason) {
                        self.stop_reason = Some(reason);
                    }
                    if let Some(u) = delta.usage {
                        u.merge_into(&mut self.usage);
                    }
                }
            }
            "message_stop" => self.end = StreamEnd::Complete,
            "error" => {
                self.end = match serde_json::from_str::<ErrorEvent>(&frame.data) {
                    Ok(e) => StreamEnd::Error {
                        error_type: e.error.error_type,
                        message: e.error.message,
                    },
                    Err(_) => StreamEnd::Error {
                        error_type: "api_error".into(),
                        message: frame.data.clone(),
                    },
                };
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseDecoder;

    const STREAM: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    fn meter(s: &str) -> StreamMeter {
        let mut d = SseDecoder::new();
        let mut frames = Vec::new();
        d.feed(s.as_bytes(), &mut frames);
        let mut m = StreamMeter::new();
        frames.iter().for_each(|f| m.observe(f));
        m
    }

    #[test]
    fn reads_usage_model_and_end() {
        let m = meter(STREAM);
        assert_eq!(m.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(m.message_id.as_deref(), Some("msg_1"));
        assert_eq!(
            m.usage,
            Usage {
                web_search_requests: 0,
                input_tokens: 25,
                output_tokens: 15,
                cache_read_tokens: 100,
                cache_write_tokens: 3
            }
        );
        assert_eq!(m.stop_reason.as_deref(), Some("end_turn"));
        assert_eq!(m.end, StreamEnd::Complete);
    }

    #[test]
    fn reads_a_mid_stream_error() {
        let s = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let m = meter(s);
        assert_eq!(
            m.end,
            StreamEnd::Error {
                error_type: "overloaded_error".into(),
                message: "Overloaded".into()
            }
        );
    }
}

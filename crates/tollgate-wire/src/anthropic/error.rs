//! Anthropic's error shape: `{"type":"error","error":{"type":..,"message":..},"request_id":..}`,
//! and the same object as an `event: error` frame mid-stream.

use serde::Deserialize;
use serde_json::json;

use crate::sse::write_frame;

pub fn error_body(error_type: &str, message: &str, request_id: Option<&str>) -> Vec<u8> {
    let mut v = json!({"type": "error", "error": {"type": error_type, "message": message}});
    if let Some(id) = request_id {
        v["request_id"] = json!(id);
    }
    v.to_string().into_bytes()
}

/// An `event: error` frame. No `message_stop` follows an error in Anthropic's grammar.
pub fn error_event(error_type: &str, message: &str) -> Vec<u8> {
    let data = json!({"type": "error", "error": {"type": error_type, "message": message}});
    let mut out = Vec::with_capacity(128);
    write_frame(&mut out, Some("error"), &data.to_string());
    out
}

/// An upstream error body, when it has Anthropic's shape.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UpstreamError {
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
}

pub fn parse_error_body(body: &[u8]) -> Option<UpstreamError> {
    #[derive(Deserialize)]
    struct Outer {
        error: UpstreamError,
    }
    serde_json::from_slice::<Outer>(body).ok().map(|o| o.error)
}

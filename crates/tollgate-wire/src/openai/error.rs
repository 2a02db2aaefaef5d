//! OpenAI's error shape: `{"error":{"message","type","param","code"}}`; mid-stream the same
//! object as a `data:` frame, which the OpenAI SDKs raise as an `APIError`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::sse::write_frame;

fn error_value(error_type: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": error_type, "param": param, "code": code}})
}

pub fn error_body(
    error_type: &str,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) -> Vec<u8> {
    error_value(error_type, code, message, param).to_string().into_bytes()
}

pub fn error_event(error_type: &str, code: Option<&str>, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_frame(&mut out, None, &error_value(error_type, code, message, None).to_string());
    out
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UpstreamError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(rename = "type", default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub code: Option<Value>,
}

/// An upstream error body, when it has OpenAI's shape.
pub fn parse_error_body(body: &[u8]) -> Option<UpstreamError> {
    #[derive(Deserialize)]
    struct Outer {
        error: UpstreamError,
    }
    serde_json::from_slice::<Outer>(body).ok().map(|o| o.error)
}

//! Upstream failures: whose fault, and whether trying again (or elsewhere) could help.

use tollgate_wire::{Dialect, anthropic, openai};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The request itself is wrong (400, 404, 413, 422): the client must change it.
    InvalidRequest,
    /// The provider refused the gateway's credentials (401, 403): an operator must fix the key.
    GatewayCredentials,
    /// Rate limited (429).
    RateLimited,
    /// Overloaded (529, or 503).
    Overloaded,
    /// The provider failed (500, 502, 504, ...).
    ProviderError,
}

#[derive(Debug, Clone)]
pub struct UpstreamFailure {
    pub kind: FailureKind,
    pub status: u16,
    /// Worth retrying, here or on another provider.
    pub retryable: bool,
    /// The body is a proper error in the provider's dialect (and so may be forwarded as-is to a
    /// client of the same dialect).
    pub well_formed: bool,
    /// The provider's error type, when it gave one.
    pub error_type: Option<String>,
    /// A short human-readable message.
    pub message: String,
}

pub fn classify(dialect: Dialect, status: u16, body: &[u8]) -> UpstreamFailure {
    let kind = match status {
        401 | 403 => FailureKind::GatewayCredentials,
        429 => FailureKind::RateLimited,
        503 | 529 => FailureKind::Overloaded,
        400..=499 => FailureKind::InvalidRequest,
        _ => FailureKind::ProviderError,
    };
    let retryable = matches!(status, 408 | 409 | 429 | 500..=599);
    let (well_formed, error_type, message) = match dialect {
        Dialect::Anthropic => match anthropic::error::parse_error_body(body) {
            Some(e) => (true, Some(e.error_type), e.message),
            None => (false, None, snippet(body)),
        },
        // Responses shares OpenAI's error object; Gemini's has `message` (and `status` where
        // OpenAI has `type`).
        Dialect::OpenAiChat | Dialect::OpenAiResponses | Dialect::Gemini => {
            match openai::error::parse_error_body(body) {
                Some(e) => (true, e.error_type, e.message.unwrap_or_default()),
                None => (false, None, snippet(body)),
            }
        }
        // Ollama: `{"error": "message"}`.
        Dialect::Ollama => {
            match serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("error").and_then(serde_json::Value::as_str).map(str::to_owned))
            {
                Some(m) => (true, None, m),
                None => (false, None, snippet(body)),
            }
        }
    };
    UpstreamFailure { kind, status, retryable, well_formed, error_type, message }
}

/// The start of a non-JSON error body (an HTML page from a proxy, say), on one line.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() { "(empty body)".to_owned() } else { one_line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_status_and_reads_dialect_bodies() {
        let f = classify(
            Dialect::Anthropic,
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!((f.kind, f.retryable, f.well_formed), (FailureKind::Overloaded, true, true));
        assert_eq!(f.error_type.as_deref(), Some("overloaded_error"));
        let f = classify(Dialect::OpenAiChat, 401, br#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}"#);
        assert_eq!((f.kind, f.retryable), (FailureKind::GatewayCredentials, false));
        let f = classify(Dialect::OpenAiChat, 502, b"<html><body>Bad gateway</body></html>");
        assert_eq!((f.kind, f.well_formed), (FailureKind::ProviderError, false));
        assert_eq!(f.message, "<html><body>Bad gateway</body></html>");
        let f = classify(Dialect::Anthropic, 400, br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#);
        assert_eq!((f.kind, f.retryable), (FailureKind::InvalidRequest, false));
    }
}

//! Errors at the edge: one table maps each kind to its HTTP status, Anthropic `error.type` and
//! OpenAI `error.type`/`code`, and every error renders in the caller's dialect, as a response
//! body before the stream starts, or as the dialect's error event after.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tollgate_wire::{Dialect, anthropic, openai};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    PermissionDenied,
    NotFound,
    ModelNotFound,
    MethodNotAllowed,
    RequestTooLarge,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    Overloaded,
    Unavailable,
    Internal,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub anthropic_status: u16,
    pub openai_status: u16,
    pub anthropic_type: &'static str,
    pub openai_type: &'static str,
    pub openai_code: Option<&'static str>,
}

/// The table. 529 exists only in Anthropic's API; OpenAI clients get 503 for the same thing.
pub const fn row(kind: ErrorKind) -> Row {
    const fn r(
        a: u16,
        o: u16,
        at: &'static str,
        ot: &'static str,
        oc: Option<&'static str>,
    ) -> Row {
        Row {
            anthropic_status: a,
            openai_status: o,
            anthropic_type: at,
            openai_type: ot,
            openai_code: oc,
        }
    }
    match kind {
        ErrorKind::InvalidRequest => {
            r(400, 400, "invalid_request_error", "invalid_request_error", None)
        }
        ErrorKind::Authentication => {
            r(401, 401, "authentication_error", "invalid_request_error", Some("invalid_api_key"))
        }
        ErrorKind::PermissionDenied => {
            r(403, 403, "permission_error", "invalid_request_error", Some("permission_denied"))
        }
        ErrorKind::NotFound => {
            r(404, 404, "not_found_error", "invalid_request_error", Some("not_found"))
        }
        ErrorKind::ModelNotFound => {
            r(404, 404, "not_found_error", "invalid_request_error", Some("model_not_found"))
        }
        ErrorKind::MethodNotAllowed => r(
            405,
            405,
            "invalid_request_error",
            "invalid_request_error",
            Some("method_not_allowed"),
        ),
        ErrorKind::RequestTooLarge => {
            r(413, 413, "request_too_large", "invalid_request_error", Some("request_too_large"))
        }
        ErrorKind::RateLimited => {
            r(429, 429, "rate_limit_error", "rate_limit_error", Some("rate_limit_exceeded"))
        }
        ErrorKind::UpstreamError => {
            r(502, 502, "api_error", "server_error", Some("upstream_error"))
        }
        ErrorKind::UpstreamTimeout => r(504, 504, "timeout_error", "server_error", Some("timeout")),
        ErrorKind::Overloaded => {
            r(529, 503, "overloaded_error", "server_error", Some("overloaded"))
        }
        ErrorKind::Unavailable => r(503, 503, "api_error", "server_error", Some("unavailable")),
        ErrorKind::Internal => r(500, 500, "api_error", "server_error", None),
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// The offending parameter (OpenAI's `param`).
    pub param: Option<String>,
    /// What only upstream errors carry; boxed to keep the common `Result` small.
    pub upstream: Option<Box<UpstreamParts>>,
}

#[derive(Debug, Clone, Default)]
pub struct UpstreamParts {
    /// Headers to send with the error (`retry-after` on 429/529, upstream rate-limit headers).
    pub headers: HeaderMap,
    /// A provider's own error, already in the caller's dialect, returned as it came.
    pub passthrough: Option<(StatusCode, Bytes)>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), param: None, upstream: None }
    }

    /// Returns the provider's status and body unchanged instead of rendering one.
    pub fn with_passthrough(mut self, status: StatusCode, body: Bytes) -> Self {
        self.upstream.get_or_insert_default().passthrough = Some((status, body));
        self
    }

    pub fn with_param(mut self, param: Option<String>) -> Self {
        self.param = param;
        self
    }

    pub fn with_headers(mut self, headers: HeaderMap) -> Self {
        self.upstream.get_or_insert_default().headers = headers;
        self
    }

    pub fn status(&self, dialect: Dialect) -> StatusCode {
        let row = row(self.kind);
        let code = match dialect {
            Dialect::Anthropic => row.anthropic_status,
            _ => row.openai_status,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error type recorded in history and logs (Anthropic's vocabulary, the richer one).
    pub fn type_name(&self) -> &'static str {
        row(self.kind).anthropic_type
    }

    pub fn body(&self, dialect: Dialect, request_id: &str) -> Vec<u8> {
        let row = row(self.kind);
        match dialect {
            Dialect::Anthropic => {
                anthropic::error_body(row.anthropic_type, &self.message, Some(request_id))
            }
            _ => openai::error_body(
                row.openai_type,
                row.openai_code,
                &self.message,
                self.param.as_deref(),
            ),
        }
    }

    /// The error as an event in a stream that has already started.
    pub fn stream_event(&self, dialect: Dialect) -> Vec<u8> {
        let row = row(self.kind);
        match dialect {
            Dialect::Anthropic => anthropic::error_event(row.anthropic_type, &self.message),
            Dialect::OpenAiResponses => crate::translate::responses_error_event(
                row.openai_type,
                row.openai_code,
                &self.message,
            ),
            _ => openai::error_event(row.openai_type, row.openai_code, &self.message),
        }
    }

    pub fn into_response(self, dialect: Dialect, request_id: &str) -> Response {
        let upstream = self.upstream.as_deref().cloned().unwrap_or_default();
        let passed_through = upstream.passthrough.is_some();
        let (status, body) = match upstream.passthrough {
            Some((status, body)) => (status, body),
            None => (self.status(dialect), Bytes::from(self.body(dialect, request_id))),
        };
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (k, v) in &upstream.headers {
            h.insert(k.clone(), v.clone());
        }
        // The Anthropic and OpenAI SDKs (and Claude Code) retry on their own unless told not
        // to; a bad key or a bad body will not get better by retrying.
        if !passed_through
            && status.is_client_error()
            && !matches!(status.as_u16(), 408 | 409 | 429)
        {
            h.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        if self.kind == ErrorKind::Authentication && dialect == Dialect::OpenAiChat {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// An error with the dialect and request id needed to render it, for handlers using `?`.
#[derive(Debug)]
pub struct Rendered(pub ApiError, pub Dialect, pub String);

impl IntoResponse for Rendered {
    fn into_response(self) -> Response {
        self.0.into_response(self.1, &self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_each_dialect() {
        let e = ApiError::new(ErrorKind::Overloaded, "busy");
        assert_eq!(e.status(Dialect::Anthropic), 529);
        assert_eq!(e.status(Dialect::OpenAiChat), 503);
        let a: serde_json::Value =
            serde_json::from_slice(&e.body(Dialect::Anthropic, "req_1")).unwrap();
        assert_eq!(
            a,
            serde_json::json!({"type":"error","error":{"type":"overloaded_error","message":"busy"},"request_id":"req_1"})
        );
        let o: serde_json::Value =
            serde_json::from_slice(&e.body(Dialect::OpenAiChat, "req_1")).unwrap();
        assert_eq!(
            o,
            serde_json::json!({"error":{"message":"busy","type":"server_error","param":null,"code":"overloaded"}})
        );
        let ev = String::from_utf8(e.stream_event(Dialect::Anthropic)).unwrap();
        assert!(ev.starts_with("event: error\ndata: {"));
        assert!(ev.ends_with("\n\n"));
        let ev = String::from_utf8(e.stream_event(Dialect::OpenAiChat)).unwrap();
        assert!(ev.starts_with("data: {\"error\":"));
    }
}

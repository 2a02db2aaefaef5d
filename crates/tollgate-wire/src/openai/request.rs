//! The parts of a Chat Completions request Tollgate must understand.

use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::InvalidBody;
use crate::anthropic::request::{messages_field, model_field, parse_envelope};
use crate::splice::{insert_first_field, replace, span_of};

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub model_span: Range<usize>,
    pub stream: bool,
    pub message_count: usize,
    /// Whether the client itself asked for the trailing usage chunk.
    pub client_wants_usage: bool,
    stream_options: Option<(Range<usize>, Map<String, Value>)>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    stream_options: Option<&'a RawValue>,
    #[serde(default)]
    messages: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
    #[serde(default)]
    n: Option<u64>,
}

impl ChatRequest {
    pub fn parse(body: &[u8], max_messages: usize) -> Result<Self, InvalidBody> {
        let env: Envelope<'_> = parse_envelope(body)?;
        let (model, model_span) = model_field(body, env.model)?;
        let message_count = messages_field(env.messages, max_messages)?;
        if message_count == 0 {
            return Err(InvalidBody::new(
                Some("messages".into()),
                "messages: must contain at least one message",
            ));
        }
        // Zero is never a valid output budget; any other value is the provider's to judge.
        for (name, v) in [
            ("max_tokens", env.max_tokens),
            ("max_completion_tokens", env.max_completion_tokens),
            ("n", env.n),
        ] {
            if v == Some(0) {
                return Err(InvalidBody::new(
                    Some(name.into()),
                    format!("{name}: must be at least 1"),
                ));
            }
        }
        let mut client_wants_usage = false;
        let mut stream_options = None;
        if let Some(raw) = env.stream_options.filter(|r| r.get() != "null") {
            let map: Map<String, Value> = serde_json::from_str(raw.get()).map_err(|_| {
                InvalidBody::new(
                    Some("stream_options".into()),
                    "stream_options: expected an object",
                )
            })?;
            client_wants_usage = map.get("include_usage").and_then(Value::as_bool) == Some(true);
            let span = span_of(body, raw).ok_or_else(|| {
                InvalidBody::new(
                    Some("stream_options".into()),
                    "stream_options: could not be located",
                )
            })?;
            stream_options = Some((span, map));
        }
        Ok(Self {
            model,
            model_span,
            stream: env.stream.unwrap_or(false),
            message_count,
            client_wants_usage,
            stream_options,
        })
    }

    /// The body to forward for a streamed request, asking the upstream for the usage chunk so
    /// it can be metered. Returns `None` when the client already asked for it.
    pub fn with_usage_requested(&self, body: &[u8]) -> Option<Bytes> {
        if !self.stream || self.client_wants_usage {
            return None;
        }
        match &self.stream_options {
            Some((span, map)) => {
                let mut map = map.clone();
                map.insert("include_usage".into(), Value::Bool(true));
                let json = serde_json::to_string(&map).ok()?;
                Some(replace(body, span.clone(), json.as_bytes()))
            }
            None => insert_first_field(body, "stream_options", r#"{"include_usage":true}"#),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injects_include_usage_once() {
        let body =
            br#"{"model":"gpt-x","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
        let r = ChatRequest::parse(body, 10).unwrap();
        assert!(!r.client_wants_usage);
        let out = r.with_usage_requested(body).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);

        let body = br#"{"model":"gpt-x","stream":true,"stream_options":{"foo":1},"messages":[{"role":"user","content":"hi"}]}"#;
        let r = ChatRequest::parse(body, 10).unwrap();
        let out = r.with_usage_requested(body).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"gpt-x","stream":true,"stream_options":{"foo":1,"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#
        );

        let body = br#"{"model":"gpt-x","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#;
        let r = ChatRequest::parse(body, 10).unwrap();
        assert!(r.client_wants_usage);
        assert!(r.with_usage_requested(body).is_none());
    }

    #[test]
    fn rejects_bad_bodies() {
        let e = |b: &str| ChatRequest::parse(b.as_bytes(), 10).unwrap_err().message;
        assert_eq!(e(r#"{"messages":[{"role":"user","content":"x"}]}"#), "model: field required");
        assert_eq!(e(r#"{"model":"m"}"#), "messages: field required");
        assert!(e(r#"{"model":"m","messages":[]}"#).contains("at least one"));
        assert!(e(r#"{"model":"m","messages":[{}],"max_tokens":0}"#).contains("max_tokens"));
        assert!(
            e(r#"{"model":"m","messages":[{}],"stream_options":3}"#).contains("stream_options")
        );
    }
}

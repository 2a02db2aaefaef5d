//! The parts of a Messages request Tollgate must understand to route and meter it. The rest of
//! the body is the provider's to validate and is forwarded untouched.

use std::ops::Range;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::InvalidBody;
use crate::splice::span_of;

/// A validated `POST /v1/messages` body.
#[derive(Debug, Clone)]
pub struct MessagesRequest {
    pub model: String,
    /// Byte range of the `model` value (quotes included) in the body.
    pub model_span: Range<usize>,
    pub max_tokens: u64,
    pub stream: bool,
    pub message_count: usize,
}

/// A validated `POST /v1/messages/count_tokens` body.
#[derive(Debug, Clone)]
pub struct CountTokensRequest {
    pub model: String,
    pub model_span: Range<usize>,
    pub message_count: usize,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    messages: Option<Vec<IgnoredAny>>,
}

pub(crate) fn parse_envelope<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, InvalidBody> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(InvalidBody::new(None, "request body is empty; expected a JSON object"));
    }
    // serde would fill a struct from a JSON array by position; the APIs take objects only.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(match serde_json::from_slice::<IgnoredAny>(body) {
            Ok(_) => InvalidBody::new(None, "request body must be a JSON object"),
            Err(e) => InvalidBody::new(None, format!("request body is not valid JSON: {e}")),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(InvalidBody::from_serde)?;
    de.end().map_err(|e| InvalidBody::new(None, format!("request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Reads a required `model` string and where it sits in the body.
pub(crate) fn model_field(
    body: &[u8],
    raw: Option<&RawValue>,
) -> Result<(String, Range<usize>), InvalidBody> {
    let raw = raw.ok_or_else(|| InvalidBody::new(Some("model".into()), "model: field required"))?;
    let model: String = serde_json::from_str(raw.get()).map_err(|_| {
        InvalidBody::new(
            Some("model".into()),
            format!("model: expected a string, got {}", raw.get()),
        )
    })?;
    if model.trim().is_empty() {
        return Err(InvalidBody::new(Some("model".into()), "model: must not be empty"));
    }
    let span = span_of(body, raw)
        .ok_or_else(|| InvalidBody::new(Some("model".into()), "model: could not be located"))?;
    Ok((model, span))
}

pub(crate) fn messages_field(
    messages: Option<Vec<IgnoredAny>>,
    max_messages: usize,
) -> Result<usize, InvalidBody> {
    let messages = messages
        .ok_or_else(|| InvalidBody::new(Some("messages".into()), "messages: field required"))?;
    if messages.len() > max_messages {
        return Err(InvalidBody::new(
            Some("messages".into()),
            format!(
                "messages: {} messages exceed this gateway's limit of {max_messages} per request",
                messages.len()
            ),
        ));
    }
    Ok(messages.len())
}

impl MessagesRequest {
    pub fn parse(body: &[u8], max_messages: usize) -> Result<Self, InvalidBody> {
        let env: Envelope<'_> = parse_envelope(body)?;
        let (model, model_span) = model_field(body, env.model)?;
        let max_tokens = env.max_tokens.ok_or_else(|| {
            InvalidBody::new(Some("max_tokens".into()), "max_tokens: field required")
        })?;
        if max_tokens == 0 {
            return Err(InvalidBody::new(
                Some("max_tokens".into()),
                "max_tokens: must be greater than or equal to 1",
            ));
        }
        let message_count = messages_field(env.messages, max_messages)?;
        Ok(Self {
            model,
            model_span,
            max_tokens,
            stream: env.stream.unwrap_or(false),
            message_count,
        })
    }
}

impl CountTokensRequest {
    pub fn parse(body: &[u8], max_messages: usize) -> Result<Self, InvalidBody> {
        let env: Envelope<'_> = parse_envelope(body)?;
        let (model, model_span) = model_field(body, env.model)?;
        let message_count = messages_field(env.messages, max_messages)?;
        Ok(Self { model, model_span, message_count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        MessagesRequest::parse(body.as_bytes(), 10).unwrap_err().message
    }

    #[test]
    fn parses_a_valid_request() {
        let body = br#"{"model":"claude-x","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
        let r = MessagesRequest::parse(body, 10).unwrap();
        assert_eq!(r.model, "claude-x");
        assert_eq!(&body[r.model_span], br#""claude-x""#);
        assert!(r.stream);
        assert_eq!(r.message_count, 1);
    }

    #[test]
    fn explains_each_kind_of_bad_body() {
        assert!(err("{\"model\":").starts_with("request body is not valid JSON"));
        assert!(err("").contains("empty"));
        assert_eq!(err(r#"{"max_tokens":5,"messages":[]}"#), "model: field required");
        assert_eq!(err(r#"{"model":"m","messages":[]}"#), "max_tokens: field required");
        assert!(
            err(r#"{"model":"m","max_tokens":"5","messages":[]}"#)
                .starts_with("max_tokens: invalid type")
        );
        assert!(
            err(r#"{"model":7,"max_tokens":5,"messages":[]}"#)
                .starts_with("model: expected a string")
        );
        assert!(
            err(r#"{"model":"m","max_tokens":5,"messages":"hi"}"#)
                .starts_with("messages: invalid type")
        );
        assert!(
            err(r#"{"model":"m","max_tokens":5,"stream":"yes","messages":[]}"#)
                .starts_with("stream: invalid type")
        );
        assert_eq!(err(r#"[1,2]"#), "request body must be a JSON object");
        assert!(err("nope").starts_with("request body is not valid JSON"));
        assert!(
            err(r#"{"model":"m","max_tokens":5,"messages":[]} x"#)
                .starts_with("request body is not valid JSON")
        );
        let many =
            format!(r#"{{"model":"m","max_tokens":5,"messages":[{}]}}"#, ["{}"; 11].join(","));
        assert!(err(&many).contains("exceed this gateway's limit of 10"));
    }

    #[test]
    fn count_tokens_needs_no_max_tokens() {
        let r = CountTokensRequest::parse(br#"{"model":"m","messages":[]}"#, 10).unwrap();
        assert_eq!(r.model, "m");
    }
}

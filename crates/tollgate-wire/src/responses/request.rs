//! The parts of a Responses request the gateway needs before routing: the model (and where it
//! sits in the bytes, for same-dialect passthrough), whether to stream, and
//! `previous_response_id`.

use std::ops::Range;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::InvalidBody;
use crate::anthropic::request::{model_field, parse_envelope};

#[derive(Debug, Clone)]
pub struct Envelope {
    pub model: String,
    pub model_span: Range<usize>,
    pub stream: bool,
    pub previous_response_id: Option<String>,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    input: Option<IgnoredAny>,
    #[serde(default)]
    previous_response_id: Option<String>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
}

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Self, InvalidBody> {
        let raw: Raw<'_> = parse_envelope(body)?;
        let (model, model_span) = model_field(body, raw.model)?;
        if raw.input.is_none() && raw.previous_response_id.is_none() {
            return Err(InvalidBody::new(Some("input".into()), "input: field required"));
        }
        if raw.max_output_tokens == Some(0) {
            return Err(InvalidBody::new(
                Some("max_output_tokens".into()),
                "max_output_tokens: must be at least 1",
            ));
        }
        Ok(Self {
            model,
            model_span,
            stream: raw.stream.unwrap_or(false),
            previous_response_id: raw.previous_response_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_model_stream_and_previous_id() {
        let body =
            br#"{"model":"gpt-5","input":"hi","stream":true,"previous_response_id":"resp_1"}"#;
        let e = Envelope::parse(body).unwrap();
        assert_eq!(e.model, "gpt-5");
        assert_eq!(&body[e.model_span.clone()], br#""gpt-5""#);
        assert!(e.stream);
        assert_eq!(e.previous_response_id.as_deref(), Some("resp_1"));
    }

    #[test]
    fn rejects_missing_input_and_model() {
        let e = |b: &str| Envelope::parse(b.as_bytes()).unwrap_err().message;
        assert!(e(r#"{"model":"m"}"#).contains("input"));
        assert!(e(r#"{"input":"x"}"#).contains("model"));
        assert!(e(r#"{"model":"m","input":"x","max_output_tokens":0}"#).contains("at least 1"));
    }
}

//! Rewriting one top-level JSON value inside a raw body, leaving every other byte as it was.
//!
//! Passthrough forwards the client's bytes, but the model name (and, for OpenAI streams, the
//! `stream_options`) must sometimes change. Re-serialising the whole body would reorder nothing
//! but still costs a full parse and print of up to megabytes, and could alter number formatting or
//! escapes that prompt caches hash; a splice costs one copy.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::value::RawValue;

/// Where a borrowed [`RawValue`] sits inside `body`, when it was parsed from `body`.
pub fn span_of(body: &[u8], raw: &RawValue) -> Option<Range<usize>> {
    let start = (raw.get().as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start + raw.get().len();
    (end <= body.len()).then_some(start..end)
}

/// Replaces `span` of `body` with `replacement`.
pub fn replace(body: &[u8], span: Range<usize>, replacement: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(body.len() - span.len() + replacement.len());
    out.put_slice(&body[..span.start]);
    out.put_slice(replacement);
    out.put_slice(&body[span.end..]);
    out.freeze()
}

/// Inserts `"key":value,` right after the opening brace of a top-level object.
pub fn insert_first_field(body: &[u8], key: &str, value_json: &str) -> Option<Bytes> {
    let open = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[open] != b'{' {
        return None;
    }
    let rest_empty = body[open + 1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let key_json = serde_json::to_string(key).ok()?;
    let mut out = BytesMut::with_capacity(body.len() + key_json.len() + value_json.len() + 2);
    out.put_slice(&body[..=open]);
    out.put_slice(key_json.as_bytes());
    out.put_u8(b':');
    out.put_slice(value_json.as_bytes());
    if !rest_empty {
        out.put_u8(b',');
    }
    out.put_slice(&body[open + 1..]);
    Some(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct M<'a> {
        #[serde(borrow)]
        model: &'a RawValue,
    }

    #[test]
    fn replaces_only_the_value() {
        let body = br#"{"x": 1.50, "model" : "a\u0062c", "y":[1]}"#;
        let m: M<'_> = serde_json::from_slice(body).unwrap();
        let span = span_of(body, m.model).unwrap();
        let out = replace(body, span, br#""claude-x""#);
        assert_eq!(&out[..], br#"{"x": 1.50, "model" : "claude-x", "y":[1]}"#);
    }

    #[test]
    fn inserts_a_first_field() {
        assert_eq!(
            &insert_first_field(b" {\"a\":1}", "k", "true").unwrap()[..],
            b" {\"k\":true,\"a\":1}"
        );
        assert_eq!(&insert_first_field(b"{ }", "k", "2").unwrap()[..], b"{\"k\":2 }");
        assert!(insert_first_field(b"[1]", "k", "2").is_none());
    }
}

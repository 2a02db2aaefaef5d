//! Whole (non-streaming) Messages responses to and from [`Response`].

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::blocks::{Out, Place, decode_block, encode_block};
use super::{OutUsage, message_id, parse_at};
use crate::anthropic::response::WireUsage;
use crate::canonical::{Note, Response, StopReason};
use crate::{InvalidBody, Usage};

#[derive(Deserialize)]
struct WResponse {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    content: Vec<Box<RawValue>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

pub(super) fn decode(body: &[u8]) -> Result<Response, InvalidBody> {
    let text = std::str::from_utf8(body)
        .map_err(|e| InvalidBody::new(None, format!("response body is not UTF-8: {e}")))?;
    if let Some(error) = crate::anthropic::error::parse_error_body(body) {
        return Err(InvalidBody::new(
            None,
            format!("upstream returned an error: {}: {}", error.error_type, error.message),
        ));
    }
    let wire: WResponse = parse_at(text, "")?;
    if wire.kind.as_deref().is_some_and(|kind| kind != "message") {
        return Err(InvalidBody::new(
            Some("type".into()),
            format!("type: expected \"message\", got {:?}", wire.kind.unwrap_or_default()),
        ));
    }
    let content = wire
        .content
        .iter()
        .enumerate()
        .map(|(i, raw)| decode_block(raw, &format!("content[{i}]")))
        .collect::<Result<_, _>>()?;
    let mut usage = Usage::default();
    if let Some(wire_usage) = &wire.usage {
        wire_usage.merge_into(&mut usage);
    }
    Ok(Response {
        id: wire.id,
        model: wire.model,
        content,
        stop_reason: wire.stop_reason.as_deref().map(StopReason::from_anthropic),
        stop_sequence: wire.stop_sequence,
        usage,
    })
}

#[derive(Serialize)]
struct OutResponse<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Out<'a>>,
    stop_reason: Option<&'a str>,
    stop_sequence: Option<&'a str>,
    usage: OutUsage,
}

pub(super) fn encode(resp: &Response, notes: &mut Vec<Note>) -> Vec<u8> {
    let out = OutResponse {
        id: message_id(&resp.id),
        kind: "message",
        role: "assistant",
        model: &resp.model,
        content: resp
            .content
            .iter()
            .filter_map(|block| encode_block(block, Place::Response, notes))
            .collect(),
        stop_reason: resp.stop_reason.as_ref().map(StopReason::as_anthropic),
        stop_sequence: resp.stop_sequence.as_deref(),
        usage: resp.usage.into(),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

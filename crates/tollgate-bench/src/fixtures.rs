//! Request and response bodies, built once at start-up and shared as `Bytes`, so neither the load
//! generator nor the mock formats anything per request. Shapes follow the Anthropic Messages API;
//! nothing here knows about sockets or timing.

use bytes::Bytes;

/// The model clients ask for.
const REQUEST_MODEL: &str = "claude-sonnet-4-5";
/// The model the mock answers as (the dated id, as the real API does).
const RESPONSE_MODEL: &str = "claude-sonnet-4-5-20250929";
/// Request and non-streaming response bodies are padded to about this many bytes.
const BODY_BYTES: usize = 1024;
/// ASCII only, so a character count is a byte count.
const FILLER: &str = "Tollgate benchmark padding: the quick brown fox jumps over the lazy dog. ";

/// Text from [`FILLER`], repeated and cut to `len` bytes.
fn filler(len: usize) -> String {
    FILLER.chars().cycle().take(len).collect()
}

/// A ~1 KB `POST /v1/messages` body; with `stream`, it asks for a server-sent event stream.
pub fn request_body(stream: bool) -> Bytes {
    let stream_field = if stream { r#""stream":true,"# } else { "" };
    let head = format!(
        r#"{{"model":"{REQUEST_MODEL}","max_tokens":64,{stream_field}"messages":[{{"role":"user","content":""#
    );
    let tail = r#""}]}"#;
    let pad = BODY_BYTES.saturating_sub(head.len() + tail.len());
    Bytes::from(format!("{head}{}{tail}", filler(pad)))
}

/// A ~1 KB non-streaming Messages API response.
pub fn message_response() -> Bytes {
    let head = format!(
        r#"{{"id":"msg_01BenchMockResponse000000001","type":"message","role":"assistant","model":"{RESPONSE_MODEL}","content":[{{"type":"text","text":""#
    );
    let tail = r#""}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":312,"output_tokens":187}}"#;
    let pad = BODY_BYTES.saturating_sub(head.len() + tail.len());
    Bytes::from(format!("{head}{}{tail}", filler(pad)))
}

/// One server-sent event as it appears on the wire.
fn event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The `message_start` event that opens every stream.
pub fn message_start_event() -> Bytes {
    event(
        "message_start",
        &format!(
            r#"{{"type":"message_start","message":{{"id":"msg_01BenchMockStream0000000001","type":"message","role":"assistant","model":"{RESPONSE_MODEL}","content":[],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":312,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}}}}"#
        ),
    )
}

/// A `ping` event, as the real API sends between content events.
pub fn ping_event() -> Bytes {
    event("ping", r#"{"type": "ping"}"#)
}

/// A complete, realistic stream, one event per element: `message_start`, `content_block_start`,
/// `ping`, five `text_delta`s, `content_block_stop`, `message_delta` with usage, `message_stop`.
pub fn stream_events() -> Vec<Bytes> {
    let mut events = vec![
        message_start_event(),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        ping_event(),
    ];
    for i in 0..5 {
        let text = filler(48 + i);
        events.push(event(
            "content_block_delta",
            &format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}}}}"#
            ),
        ));
    }
    events.push(event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#));
    events.push(event(
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":187}}"#,
    ));
    events.push(event("message_stop", r#"{"type":"message_stop"}"#));
    events
}

/// Whether a request body asks for a stream: `"stream"` followed by `:` and `true`, allowing the
/// whitespace a proxy that re-serialises JSON might add. A byte scan of ~1 KB, not a JSON parse.
pub fn wants_stream(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"stream\"";
    let mut rest = body;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        let after = rest.get(at + KEY.len()..).unwrap_or_default();
        let after = after.trim_ascii_start();
        if let Some(value) = after.strip_prefix(b":") {
            return value.trim_ascii_start().starts_with(b"true");
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_about_one_kilobyte() {
        for body in [request_body(false), request_body(true), message_response()] {
            assert!((1000..=1100).contains(&body.len()), "{} bytes", body.len());
        }
    }

    #[test]
    fn finds_the_stream_flag() {
        assert!(wants_stream(&request_body(true)));
        assert!(!wants_stream(&request_body(false)));
        assert!(wants_stream(br#"{"model":"m", "stream" : true}"#));
        assert!(!wants_stream(br#"{"stream":false}"#));
    }
}

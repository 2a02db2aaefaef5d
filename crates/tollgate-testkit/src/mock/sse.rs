//! Server-sent events as the two APIs frame them: `event:` + `data:` (Anthropic) or `data:` alone
//! (OpenAI), each event ended by a blank line. Also reads the `.sse` fixtures back into events.
//! No knowledge of what the events mean lives here.

use bytes::Bytes;

use super::json::Json;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub(crate) event: Option<String>,
    pub(crate) data: String,
}

impl SseEvent {
    /// `event: NAME` + `data: JSON` (the Anthropic framing).
    pub(crate) fn named(event: &str, data: &Json) -> Self {
        SseEvent { event: Some(event.to_owned()), data: data.to_string() }
    }

    /// `data: ...` alone (the OpenAI framing); `data` is sent as is, e.g. `[DONE]`.
    pub(crate) fn unnamed(data: String) -> Self {
        SseEvent { event: None, data }
    }

    /// The event's `data` as JSON, or `Null` (e.g. for `[DONE]`).
    #[cfg(test)]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null)
    }

    pub(crate) fn to_bytes(&self) -> Bytes {
        let mut out = String::with_capacity(self.data.len() + 32);
        if let Some(event) = &self.event {
            out.push_str("event: ");
            out.push_str(event);
            out.push('\n');
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// Splits an SSE text into events. Lines other than `event:` and `data:` are ignored, as a client
/// would; several `data:` lines join with `\n` as the SSE spec says.
pub(crate) fn parse(text: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut event: Option<String> = None;
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if event.is_some() || !data.is_empty() {
                events.push(SseEvent { event: event.take(), data: data.join("\n") });
                data.clear();
            }
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    events
}

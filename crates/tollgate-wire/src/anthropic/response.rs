//! Reading a whole (non-streaming) Messages response for metering.

use serde::Deserialize;

use crate::Usage;

/// Anthropic's `usage` object. Later `message_delta` usage updates overwrite earlier values
/// field by field (output tokens are cumulative), so absent fields leave the previous value.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    server_tool_use: Option<WireServerToolUse>,
}

/// `usage.server_tool_use`: counts of the server tools the provider ran.
#[derive(Debug, Deserialize, Default)]
struct WireServerToolUse {
    #[serde(default)]
    web_search_requests: Option<u64>,
}

impl WireUsage {
    pub(crate) fn merge_into(&self, usage: &mut Usage) {
        if let Some(v) = self.input_tokens {
            usage.input_tokens = v;
        }
        if let Some(v) = self.output_tokens {
            usage.output_tokens = v;
        }
        if let Some(v) = self.cache_creation_input_tokens {
            usage.cache_write_tokens = v;
        }
        if let Some(v) = self.cache_read_input_tokens {
            usage.cache_read_tokens = v;
        }
        if let Some(v) = self.server_tool_use.as_ref().and_then(|s| s.web_search_requests) {
            usage.web_search_requests = v;
        }
    }
}

/// What a whole response says about itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResponseSummary {
    pub id: Option<String>,
    pub model: Option<String>,
    pub usage: Usage,
    pub stop_reason: Option<String>,
}

/// Reads a Messages response body; `None` when it is not one.
pub fn read_response(body: &[u8]) -> Option<ResponseSummary> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        model: Option<String>,
        #[serde(default)]
        usage: Option<WireUsage>,
        #[serde(default)]
        stop_reason: Option<String>,
    }
    let w: Wire = serde_json::from_slice(body).ok()?;
    let mut usage = Usage::default();
    if let Some(u) = w.usage {
        u.merge_into(&mut usage);
    }
    Some(ResponseSummary { id: w.id, model: w.model, usage, stop_reason: w.stop_reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_usage_with_cache_fields() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":5,"output_tokens":3}}"#;
        let s = read_response(body).unwrap();
        assert_eq!(
            s.usage,
            Usage {
                web_search_requests: 0,
                input_tokens: 10,
                output_tokens: 3,
                cache_read_tokens: 5,
                cache_write_tokens: 2
            }
        );
        assert_eq!(s.stop_reason.as_deref(), Some("end_turn"));
    }
}

//! Reading a whole Chat Completions response, and the `usage` object both shapes share.

use serde::Deserialize;

use crate::Usage;

/// OpenAI's `usage`. `prompt_tokens` includes cached tokens; [`Usage`] keeps them apart.
#[derive(Debug, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Debug, Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl WireUsage {
    pub(crate) fn to_usage(&self) -> Usage {
        let cached = self.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens).unwrap_or(0);
        Usage {
            input_tokens: self.prompt_tokens.saturating_sub(cached),
            output_tokens: self.completion_tokens,
            cache_read_tokens: cached,
            cache_write_tokens: 0,
            web_search_requests: 0,
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResponseSummary {
    pub id: Option<String>,
    pub model: Option<String>,
    pub usage: Usage,
    pub finish_reason: Option<String>,
}

pub fn read_response(body: &[u8]) -> Option<ResponseSummary> {
    #[derive(Deserialize)]
    struct Choice {
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        model: Option<String>,
        #[serde(default)]
        usage: Option<WireUsage>,
        #[serde(default)]
        choices: Vec<Choice>,
    }
    let w: Wire = serde_json::from_slice(body).ok()?;
    Some(ResponseSummary {
        id: w.id,
        model: w.model,
        usage: w.usage.map(|u| u.to_usage()).unwrap_or_default(),
        finish_reason: w.choices.into_iter().next().and_then(|c| c.finish_reason),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_tokens_are_split_out_of_prompt_tokens() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":7,"total_tokens":107,"prompt_tokens_details":{"cached_tokens":60}}}"#;
        let s = read_response(body).unwrap();
        assert_eq!(
            s.usage,
            Usage {
                web_search_requests: 0,
                input_tokens: 40,
                output_tokens: 7,
                cache_read_tokens: 60,
                cache_write_tokens: 0
            }
        );
        assert_eq!(s.finish_reason.as_deref(), Some("stop"));
    }
}

//! Token usage in one shape.
//!
//! Anthropic's `input_tokens` excludes cached tokens; OpenAI's `prompt_tokens` includes them.
//! [`Usage`] follows Anthropic: `input_tokens` is the uncached part, and the cache fields are
//! separate, so total input is the sum of the three.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens that were neither read from nor written to the prompt cache.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Web searches a provider ran itself during the answer (Anthropic
    /// `usage.server_tool_use.web_search_requests`); billed per search, so it is kept across
    /// translation where the client's dialect has a field for it.
    #[serde(default)]
    pub web_search_requests: u64,
}

impl Usage {
    pub fn total_input(&self) -> u64 {
        self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

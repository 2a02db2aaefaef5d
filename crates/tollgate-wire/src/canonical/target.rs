//! What an encoder needs to know about the provider it writes a request for: the model, who the
//! provider is (for thinking-signature origins) and its quirks, as data.

use serde::Deserialize;

/// The provider a request is encoded for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Target {
    /// The upstream model name.
    pub model: String,
    /// The provider's configured name (`anthropic`, `openrouter`, ...).
    pub provider: String,
    pub quirks: Quirks,
}

impl Target {
    /// The model family a thinking signature is bound to. Signatures are checked per model
    /// family: a date or `-latest` suffix does not change the family.
    pub fn family(&self) -> String {
        model_family(&self.model)
    }
}

/// `claude-sonnet-4-5-20250929` -> `claude-sonnet-4-5`; `claude-3-7-sonnet-latest` ->
/// `claude-3-7-sonnet`; `gpt-5.1` stays.
pub fn model_family(model: &str) -> String {
    let base = model.rsplit_once('/').map_or(model, |(_, m)| m);
    let base = base.strip_suffix("-latest").unwrap_or(base);
    match base.rsplit_once('-') {
        Some((head, tail)) if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) => {
            head.to_owned()
        }
        _ => base.to_owned(),
    }
}

/// Per-provider and per-model transforms, as data (config presets fill them).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// Caps `max_tokens` at the provider's limit for the model.
    pub max_output_tokens: Option<u64>,
    /// OpenAI Chat: send the `developer` role as `system` (most OpenAI-compatible servers).
    pub developer_as_system: bool,
    /// OpenAI Chat: send `max_completion_tokens` instead of `max_tokens` (o-series, gpt-5).
    pub max_completion_tokens: bool,
    /// Clean JSON schemas for providers with a schema subset (Gemini-style: no `$schema`,
    /// `additionalProperties`, `format` beyond a few values, ...).
    pub clean_schema: bool,
    /// OpenAI Chat: only one system message, at the start.
    pub single_system: bool,
    /// Drop `temperature` and `top_p` (reasoning models reject them).
    pub no_sampling: bool,
    /// OpenAI Chat: the model takes `reasoning_effort` (o-series, gpt-5, DeepSeek reasoner);
    /// other models reject it, so thinking requests to them are sent without it (noted).
    pub reasoning_effort: bool,
    /// Anthropic: the model takes `thinking: {type: "adaptive"}` with an effort. Without it, an
    /// effort from another dialect becomes a thinking budget.
    pub adaptive_thinking: bool,
    /// OpenAI Chat: the server continues a final assistant message (a prefill) when it carries
    /// `"prefix": true` (DeepSeek's Chat Prefix Completion, Mistral). Without it, a prefill goes
    /// as a plain trailing assistant message, noted.
    pub assistant_prefix: bool,
}

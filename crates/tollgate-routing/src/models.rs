//! The model catalog: per model, its tier, context window, output limit, capabilities, whether
//! it runs locally, and its prices. Built-in entries cover current Anthropic, OpenAI, Gemini and
//! DeepSeek models, matched like prices by the longest name prefix on a segment boundary (dated
//! snapshots match their family); `[models."NAME"]` in the config overrides any field, by
//! `provider:model`, by model name, or by a `*` pattern.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::prices::{self, Price};

/// How strong (and how dear) a model is. Auto routing maps a request's complexity to a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Cheap,
    Standard,
    Strong,
}

impl Tier {
    pub const ALL: [Self; 3] = [Self::Cheap, Self::Standard, Self::Strong];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cheap => "cheap",
            Self::Standard => "standard",
            Self::Strong => "strong",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a model can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Caps {
    pub tools: bool,
    pub vision: bool,
    pub thinking: bool,
    pub json: bool,
}

const ALL_CAPS: Caps = Caps { tools: true, vision: true, thinking: true, json: true };
const NO_THINKING: Caps = Caps { thinking: false, ..ALL_CAPS };

/// Everything routing knows about one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    pub tier: Tier,
    /// Input plus output tokens the model accepts.
    pub context: u32,
    pub max_output: u32,
    pub caps: Caps,
    /// Runs on a local runtime (Ollama, vLLM, llama.cpp): free, private.
    pub local: bool,
    /// Per-million-token prices; `None` when unknown (never chosen over a priced model on cost).
    pub price: Option<Price>,
}

const fn info(tier: Tier, context: u32, max_output: u32, caps: Caps) -> ModelInfo {
    ModelInfo { tier, context, max_output, caps, local: false, price: None }
}

use Tier::{Cheap, Standard, Strong};

/// Built-in model facts by name prefix. `true` in the third place marks the current models that
/// automatic routing considers by default for a provider that can serve them.
pub static BUILTIN: &[(&str, ModelInfo, bool)] = &[
    ("claude-opus-4-5", info(Strong, 200_000, 64_000, ALL_CAPS), true),
    ("claude-opus-4-1", info(Strong, 200_000, 32_000, ALL_CAPS), false),
    ("claude-opus-4", info(Strong, 200_000, 32_000, ALL_CAPS), false),
    ("claude-sonnet-4-5", info(Standard, 200_000, 64_000, ALL_CAPS), true),
    ("claude-sonnet-4", info(Standard, 200_000, 64_000, ALL_CAPS), false),
    ("claude-3-7-sonnet", info(Standard, 200_000, 64_000, ALL_CAPS), false),
    ("claude-haiku-4-5", info(Cheap, 200_000, 64_000, ALL_CAPS), true),
    ("claude-3-5-haiku", info(Cheap, 200_000, 8_192, NO_THINKING), false),
    ("claude-3-haiku", info(Cheap, 200_000, 4_096, NO_THINKING), false),
    ("gpt-5", info(Strong, 400_000, 128_000, ALL_CAPS), true),
    ("gpt-5-codex", info(Strong, 400_000, 128_000, ALL_CAPS), false),
    ("gpt-5-mini", info(Standard, 400_000, 128_000, ALL_CAPS), true),
    ("gpt-5-nano", info(Cheap, 400_000, 128_000, ALL_CAPS), true),
    ("gpt-4.1", info(Standard, 1_047_576, 32_768, NO_THINKING), false),
    ("gpt-4.1-mini", info(Cheap, 1_047_576, 32_768, NO_THINKING), false),
    ("gpt-4.1-nano", info(Cheap, 1_047_576, 32_768, NO_THINKING), false),
    ("gpt-4o", info(Standard, 128_000, 16_384, NO_THINKING), false),
    ("gpt-4o-mini", info(Cheap, 128_000, 16_384, NO_THINKING), false),
    ("o3", info(Strong, 200_000, 100_000, ALL_CAPS), false),
    ("o3-mini", info(Standard, 200_000, 100_000, Caps { vision: false, ..ALL_CAPS }), false),
    ("o4-mini", info(Standard, 200_000, 100_000, ALL_CAPS), false),
    ("gemini-2.5-pro", info(Strong, 1_048_576, 65_536, ALL_CAPS), true),
    ("gemini-2.5-flash", info(Standard, 1_048_576, 65_536, ALL_CAPS), true),
    ("gemini-2.5-flash-lite", info(Cheap, 1_048_576, 65_536, ALL_CAPS), true),
    ("deepseek-chat", info(Standard, 128_000, 8_192, Caps { vision: false, ..NO_THINKING }), false),
    (
        "deepseek-reasoner",
        info(Standard, 128_000, 64_000, Caps { vision: false, ..ALL_CAPS }),
        false,
    ),
];

/// What a model served by a local runtime is assumed to be when nothing else is known: a cheap
/// tier, tools and JSON (most current local models take them), no vision or thinking, a 32K
/// context. Override per model in `[models]`.
pub const LOCAL_DEFAULT: ModelInfo = ModelInfo {
    tier: Cheap,
    context: 32_768,
    max_output: 8_192,
    caps: Caps { tools: true, vision: false, thinking: false, json: true },
    local: true,
    price: Some(Price { input: 0, output: 0, cache_write: 0, cache_read: 0 }),
};

/// The built-in entry for `model` (vendor prefixes as OpenRouter spells them are dropped).
pub fn builtin(model: &str) -> Option<(ModelInfo, bool)> {
    let name = prices::normalise(model);
    BUILTIN
        .iter()
        .filter(|(prefix, _, _)| prices::prefix_matches(&name, prefix))
        .max_by_key(|(prefix, _, _)| prefix.len())
        .map(|(_, info, auto)| (ModelInfo { price: prices::price_of(model), ..*info }, *auto))
}

/// A `[models."NAME"]` override from the config: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelOverride {
    pub tier: Option<Tier>,
    pub context: Option<u32>,
    pub max_output: Option<u32>,
    pub tools: Option<bool>,
    pub vision: Option<bool>,
    pub thinking: Option<bool>,
    pub json: Option<bool>,
    pub local: Option<bool>,
    pub price: Option<Price>,
}

impl ModelOverride {
    fn apply(&self, mut i: ModelInfo) -> ModelInfo {
        i.tier = self.tier.unwrap_or(i.tier);
        i.context = self.context.unwrap_or(i.context);
        i.max_output = self.max_output.unwrap_or(i.max_output);
        i.caps.tools = self.tools.unwrap_or(i.caps.tools);
        i.caps.vision = self.vision.unwrap_or(i.caps.vision);
        i.caps.thinking = self.thinking.unwrap_or(i.caps.thinking);
        i.caps.json = self.json.unwrap_or(i.caps.json);
        i.local = self.local.unwrap_or(i.local);
        i.price = self.price.or(i.price);
        i
    }
}

/// The built-in table plus the config's overrides.
#[derive(Debug, Clone, Default)]
pub struct Models {
    /// Key: `provider:model`, a model name, or a `*` pattern of either.
    pub overrides: BTreeMap<String, ModelOverride>,
}

impl Models {
    /// What is known of `model` served by `provider` (`provider_local`: the provider is a local
    /// runtime). Precedence: `provider:model` override, model-name override, pattern overrides
    /// (longest first), then the built-in entry, then [`LOCAL_DEFAULT`] for local providers.
    /// `None` for a remote model nothing is known about.
    pub fn info(&self, provider: &str, model: &str, provider_local: bool) -> Option<ModelInfo> {
        let base = builtin(model).map(|(i, _)| i).or(provider_local.then_some(LOCAL_DEFAULT));
        let base = base.map(|i| ModelInfo { local: i.local || provider_local, ..i });
        let deployment = format!("{provider}:{model}");
        let exact = self.overrides.get(&deployment).or_else(|| self.overrides.get(model));
        let pattern = || {
            self.overrides
                .iter()
                .filter(|(k, _)| {
                    k.contains('*')
                        && (crate::glob_match(k, &deployment) || crate::glob_match(k, model))
                })
                .max_by_key(|(k, _)| k.len())
                .map(|(_, o)| o)
        };
        match (base, exact.or_else(pattern)) {
            (Some(b), Some(o)) => Some(o.apply(b)),
            (Some(b), None) => Some(b),
            // An override of an unknown model starts from a standard-tier remote model with all
            // capabilities: the user named it, so it is taken at its word.
            (None, Some(o)) => Some(o.apply(info(Standard, 128_000, 8_192, ALL_CAPS))),
            (None, None) => None,
        }
    }

    /// The price to charge for `model` at `provider`: an override's, else the built-in one.
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        self.info(provider, model, false).and_then(|i| i.price).or_else(|| prices::price_of(model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_entries_match_families_and_carry_prices() {
        let (i, auto) = builtin("claude-sonnet-4-5-20250929").unwrap();
        assert_eq!((i.tier, i.context, auto), (Standard, 200_000, true));
        assert_eq!(i.price.unwrap().input, 3_000_000);
        assert_eq!(builtin("gpt-5-mini").unwrap().0.tier, Standard);
        assert_eq!(builtin("gpt-5").unwrap().0.tier, Strong);
        assert!(!builtin("claude-3-5-haiku-latest").unwrap().0.caps.thinking);
        assert_eq!(builtin("anthropic/claude-haiku-4.5").unwrap().0.tier, Cheap);
        assert!(builtin("llama3.1:8b").is_none());
        assert!(builtin("gemini-2.5-flash-lite").unwrap().0.price.is_some());
    }

    #[test]
    fn overrides_win_by_precedence() {
        let mut m = Models::default();
        m.overrides
            .insert("qwen*".into(), ModelOverride { tier: Some(Standard), ..Default::default() });
        m.overrides.insert(
            "ollama:qwen2.5-coder:32b".into(),
            ModelOverride { tier: Some(Strong), context: Some(65_536), ..Default::default() },
        );
        m.overrides.insert(
            "gpt-5-nano".into(),
            ModelOverride { vision: Some(false), ..Default::default() },
        );
        let q = m.info("ollama", "qwen2.5-coder:32b", true).unwrap();
        assert_eq!((q.tier, q.context, q.local), (Strong, 65_536, true));
        assert_eq!(q.price.unwrap().input, 0, "local models are free");
        assert_eq!(m.info("ollama", "qwen3:8b", true).unwrap().tier, Standard);
        assert_eq!(m.info("ollama", "llama3", true).unwrap(), LOCAL_DEFAULT);
        assert!(!m.info("openai", "gpt-5-nano", false).unwrap().caps.vision);
        assert!(m.info("vllm", "mystery", false).is_none());
        let custom = ModelOverride {
            price: Some(Price { input: 1, output: 2, cache_write: 0, cache_read: 0 }),
            ..Default::default()
        };
        m.overrides.insert("corp:house-model".into(), custom);
        let h = m.info("corp", "house-model", false).unwrap();
        assert_eq!((h.tier, h.price.unwrap().output), (Standard, 2));
        assert_eq!(m.price("corp", "house-model").unwrap().input, 1);
        assert_eq!(m.price("x", "claude-haiku-4-5").unwrap().input, 1_000_000);
    }
}

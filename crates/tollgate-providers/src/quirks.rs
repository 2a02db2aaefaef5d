//! Per-provider and per-model request transforms, as data: which models take
//! `max_completion_tokens` and `reasoning_effort`, which reject sampling parameters, what each
//! model's output limit is, which providers need their tool schemas cleaned.
//!
//! A table, not code paths: a new model family is a row. Limits are the providers' documented
//! maximum output tokens; a request asking for more is capped rather than refused upstream.

use tollgate_wire::Dialect;
use tollgate_wire::canonical::Quirks;

use crate::Provider;

/// Model-name prefix -> documented maximum output tokens. First match wins, so longer prefixes
/// of the same family come first.
const OUTPUT_LIMITS: &[(&str, u64)] = &[
    ("claude-opus-4-1", 32_000),
    ("claude-opus-4-0", 32_000),
    ("claude-opus-4-2", 32_000),
    ("claude-opus-4", 64_000),
    ("claude-sonnet-4", 64_000),
    ("claude-haiku-4", 64_000),
    ("claude-3-7-sonnet", 64_000),
    ("claude-3-5-haiku", 8_192),
    ("claude-3-5-sonnet", 8_192),
    ("claude-3-haiku", 4_096),
    ("gpt-4o", 16_384),
    ("gpt-4.1", 32_768),
    ("gpt-5", 128_000),
    ("o1", 100_000),
    ("o3", 100_000),
    ("o4-mini", 100_000),
    ("gemini-2.5", 65_536),
    ("gemini-3", 65_536),
    ("gemini-2.0", 8_192),
    ("deepseek-chat", 8_192),
    ("deepseek-reasoner", 65_536),
];

/// Model-name prefixes of OpenAI reasoning models: `max_completion_tokens`, `reasoning_effort`,
/// and no `temperature`/`top_p`.
const REASONING_MODELS: &[&str] = &["o1", "o3", "o4", "gpt-5", "codex-"];

/// Model-name prefixes of Claude models with adaptive thinking (`thinking: {type: "adaptive"}`
/// and an effort); older ones only take a thinking budget.
const ADAPTIVE_THINKING: &[&str] = &[
    "claude-opus-4-6",
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-opus-5",
    "claude-sonnet-4-6",
    "claude-sonnet-5",
];

/// Model-name prefixes of Chat servers that continue a final assistant message marked
/// `"prefix": true`: DeepSeek (Chat Prefix Completion, only with the base URL
/// `https://api.deepseek.com/beta`) and Mistral.
const PREFIX_COMPLETION: &[&str] = &["deepseek-", "mistral-", "codestral-"];

/// The quirks for sending `model` to `provider`: the provider's configured ones when it has
/// them (`quirks = {...}` in its config section), else the built-in table.
pub fn quirks(provider: &Provider, model: &str) -> Quirks {
    if let Some(q) = &provider.quirks {
        return q.clone();
    }
    let bare = model.rsplit_once('/').map_or(model, |(_, m)| m);
    let max_output_tokens =
        OUTPUT_LIMITS.iter().find(|(prefix, _)| bare.starts_with(prefix)).map(|&(_, n)| n);
    let reasoning = REASONING_MODELS.iter().any(|p| bare.starts_with(p));
    let openai_itself = provider.name == "openai" || provider.base_url.contains("api.openai.com");
    Quirks {
        max_output_tokens,
        developer_as_system: provider.dialect == Dialect::OpenAiChat && !openai_itself,
        max_completion_tokens: reasoning,
        clean_schema: provider.dialect == Dialect::Gemini,
        single_system: provider.dialect == Dialect::OpenAiChat && !openai_itself,
        no_sampling: reasoning,
        reasoning_effort: reasoning || bare.starts_with("deepseek-reasoner"),
        adaptive_thinking: ADAPTIVE_THINKING.iter().any(|p| bare.starts_with(p)),
        assistant_prefix: provider.dialect == Dialect::OpenAiChat
            && PREFIX_COMPLETION.iter().any(|p| bare.starts_with(p))
            // DeepSeek takes the flag only on its beta endpoint; the preset's is `/v1`.
            && (!bare.starts_with("deepseek-") || provider.base_url.contains("/beta")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn provider(env: &[(&str, &str)]) -> Provider {
        let env: BTreeMap<String, String> =
            env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let c = tollgate_config::load(None, &env).unwrap();
        Provider::from_config(&c.providers[0]).unwrap()
    }

    #[test]
    fn reasoning_models_get_completion_tokens_and_no_sampling() {
        let p = provider(&[("OPENAI_API_KEY", "k")]);
        let q = quirks(&p, "gpt-5.1");
        assert!(q.max_completion_tokens && q.no_sampling && q.reasoning_effort);
        assert_eq!(q.max_output_tokens, Some(128_000));
        let q = quirks(&p, "gpt-4o-mini");
        assert!(!q.max_completion_tokens && !q.reasoning_effort);
        assert_eq!(q.max_output_tokens, Some(16_384));
    }

    #[test]
    fn prefix_completion_for_mistral_and_deepseek_beta_only() {
        let d = provider(&[("DEEPSEEK_API_KEY", "k")]);
        assert!(!quirks(&d, "deepseek-chat").assistant_prefix, "the preset's /v1 has no prefix");
        let mut beta = d.clone();
        beta.base_url = "https://api.deepseek.com/beta".into();
        assert!(quirks(&beta, "deepseek-chat").assistant_prefix);
        assert!(!quirks(&beta, "gpt-4o").assistant_prefix);
        let mut m = d;
        m.name = "mistral".into();
        m.base_url = "https://api.mistral.ai/v1".into();
        assert!(quirks(&m, "mistral-large-latest").assistant_prefix);
        assert!(quirks(&m, "codestral-latest").assistant_prefix);
        let a = provider(&[("ANTHROPIC_API_KEY", "k")]);
        assert!(!quirks(&a, "mistral-large-latest").assistant_prefix, "only Chat servers");
    }

    #[test]
    fn configured_quirks_replace_the_table() {
        let env: BTreeMap<String, String> = BTreeMap::new();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tollgate.toml");
        std::fs::write(
            &file,
            "[providers.local]\nbase_url = \"http://127.0.0.1:8000/v1\"\nmodels = [\"gpt-5-local\"]\nquirks = { max_output_tokens = 4096, developer_as_system = true }\n",
        )
        .unwrap();
        let c = tollgate_config::load(Some(&file), &env).unwrap();
        let p = Provider::from_config(&c.providers[0]).unwrap();
        let q = quirks(&p, "gpt-5-local");
        assert_eq!(q.max_output_tokens, Some(4096));
        assert!(
            q.developer_as_system && !q.max_completion_tokens,
            "the table does not apply: {q:?}"
        );
    }

    #[test]
    fn claude_limits_and_gemini_schema_cleaning() {
        let p = provider(&[("ANTHROPIC_API_KEY", "k")]);
        assert_eq!(quirks(&p, "claude-opus-4-1-20250805").max_output_tokens, Some(32_000));
        assert_eq!(quirks(&p, "claude-sonnet-4-5-20250929").max_output_tokens, Some(64_000));
        let g = provider(&[("GEMINI_API_KEY", "k")]);
        assert!(quirks(&g, "gemini-2.5-flash").clean_schema);
    }
}

//! Provider presets: each is a row of data. Adding an OpenAI-compatible vendor is adding a row.
//!
//! `base_url` follows each SDK's own convention: Anthropic's without `/v1` (the client appends
//! `/v1/messages`), OpenAI's with `/v1` (the client appends `/chat/completions`).

use crate::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `x-api-key: KEY` (Anthropic).
    XApiKey,
    /// `Authorization: Bearer KEY`.
    Bearer,
    /// `x-goog-api-key: KEY` (Gemini).
    GoogApiKey,
}

#[derive(Debug)]
pub struct Preset {
    pub name: &'static str,
    pub dialect: Dialect,
    pub base_url: &'static str,
    pub auth: AuthScheme,
    /// The vendor's conventional API-key variable; when set, the provider is enabled.
    pub key_env: Option<&'static str>,
    /// The vendor's conventional base-URL variable (e.g. `OLLAMA_BASE_URL`); when set, a keyless
    /// local runtime is enabled.
    pub base_url_env: Option<&'static str>,
    /// Model-name patterns (`*` matches any run of characters) this provider claims.
    pub model_patterns: &'static [&'static str],
    /// Runs on the user's machine or network.
    pub local: bool,
    /// Appended to a configured base URL that lacks it (Ollama's OpenAI endpoint is under `/v1`).
    pub required_suffix: Option<&'static str>,
    /// Further dialects the provider serves natively at the same base URL (OpenAI serves the
    /// Responses API beside Chat Completions), so their clients pass through untranslated.
    pub also_speaks: &'static [Dialect],
}

pub static PRESETS: &[Preset] = &[
    Preset {
        name: "anthropic",
        dialect: Dialect::Anthropic,
        base_url: "https://api.anthropic.com",
        auth: AuthScheme::XApiKey,
        key_env: Some("ANTHROPIC_API_KEY"),
        base_url_env: None,
        model_patterns: &["claude-*"],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "openai",
        dialect: Dialect::OpenAiChat,
        base_url: "https://api.openai.com/v1",
        auth: AuthScheme::Bearer,
        key_env: Some("OPENAI_API_KEY"),
        base_url_env: None,
        model_patterns: &["gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "codex-*"],
        local: false,
        required_suffix: None,
        also_speaks: &[Dialect::OpenAiResponses],
    },
    Preset {
        name: "openrouter",
        dialect: Dialect::OpenAiChat,
        base_url: "https://openrouter.ai/api/v1",
        auth: AuthScheme::Bearer,
        key_env: Some("OPENROUTER_API_KEY"),
        base_url_env: None,
        model_patterns: &["*/*"],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "deepseek",
        dialect: Dialect::OpenAiChat,
        base_url: "https://api.deepseek.com/v1",
        auth: AuthScheme::Bearer,
        key_env: Some("DEEPSEEK_API_KEY"),
        base_url_env: None,
        model_patterns: &["deepseek-*"],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "groq",
        dialect: Dialect::OpenAiChat,
        base_url: "https://api.groq.com/openai/v1",
        auth: AuthScheme::Bearer,
        key_env: Some("GROQ_API_KEY"),
        base_url_env: None,
        model_patterns: &[],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "together",
        dialect: Dialect::OpenAiChat,
        base_url: "https://api.together.xyz/v1",
        auth: AuthScheme::Bearer,
        key_env: Some("TOGETHER_API_KEY"),
        base_url_env: None,
        model_patterns: &[],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "vllm",
        dialect: Dialect::OpenAiChat,
        base_url: "http://127.0.0.1:8000/v1",
        auth: AuthScheme::Bearer,
        key_env: Some("VLLM_API_KEY"),
        base_url_env: Some("VLLM_BASE_URL"),
        model_patterns: &[],
        local: true,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "llamacpp",
        dialect: Dialect::OpenAiChat,
        base_url: "http://127.0.0.1:8080/v1",
        auth: AuthScheme::Bearer,
        key_env: Some("LLAMACPP_API_KEY"),
        base_url_env: Some("LLAMACPP_BASE_URL"),
        model_patterns: &[],
        local: true,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "ollama",
        dialect: Dialect::OpenAiChat,
        base_url: "http://127.0.0.1:11434/v1",
        auth: AuthScheme::Bearer,
        key_env: None,
        base_url_env: Some("OLLAMA_BASE_URL"),
        model_patterns: &[],
        local: true,
        required_suffix: Some("/v1"),
        also_speaks: &[],
    },
    Preset {
        // OpenAI's Responses API as a provider's only dialect (OpenAI itself speaks it beside
        // Chat; this preset is for Responses-only endpoints and for sending Chat and Anthropic
        // clients to it). Enabled in the file only.
        name: "openai-responses",
        dialect: Dialect::OpenAiResponses,
        base_url: "https://api.openai.com/v1",
        auth: AuthScheme::Bearer,
        key_env: None,
        base_url_env: None,
        model_patterns: &[],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "gemini",
        dialect: Dialect::Gemini,
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        auth: AuthScheme::GoogApiKey,
        key_env: Some("GEMINI_API_KEY"),
        base_url_env: None,
        model_patterns: &["gemini-*"],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "ollama-native",
        dialect: Dialect::Ollama,
        base_url: "http://127.0.0.1:11434",
        auth: AuthScheme::Bearer,
        key_env: None,
        base_url_env: None,
        model_patterns: &[],
        local: true,
        required_suffix: None,
        also_speaks: &[],
    },
    Preset {
        name: "openai-compatible",
        dialect: Dialect::OpenAiChat,
        base_url: "",
        auth: AuthScheme::Bearer,
        key_env: None,
        base_url_env: None,
        model_patterns: &[],
        local: false,
        required_suffix: None,
        also_speaks: &[],
    },
];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// `TOLLGATE_<NAME>_BASE_URL` for a provider name (`openai-compatible` -> `OPENAI_COMPATIBLE`).
pub fn base_url_override_var(provider: &str) -> String {
    format!("TOLLGATE_{}_BASE_URL", provider.to_ascii_uppercase().replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, p) in PRESETS.iter().enumerate() {
            assert!(PRESETS[i + 1..].iter().all(|q| q.name != p.name), "{}", p.name);
        }
    }
}

//! Routing: which provider and upstream model serve a requested model name, and why.
//!
//! Pure: the caller hands in a [`Catalog`] snapshot (configured providers, their listed and
//! discovered models, aliases) and gets a [`Target`] with its [`Reason`]. No I/O, no clocks.
//!
//! [`prices`] holds the built-in per-model prices used for cost accounting.
//!
//! Resolution order for a requested name:
//! 1. `provider:model`, when the part before the first `:` names an enabled provider (a model
//!    name may itself contain `:`, as Ollama's `qwen2.5:7b` does);
//! 2. an alias from the config;
//! 3. a provider that lists the model (configured `models`, or discovered from its model list);
//! 4. a provider whose preset claims the name by pattern (`claude-*` for Anthropic).
//!
//! At steps 3 and 4, providers that speak the client's dialect come first, so a Claude model
//! requested by an Anthropic client goes to a provider where bytes can pass through.

pub mod balance;
pub mod classify;
pub mod features;
pub mod health;
pub mod models;
pub mod plan;
pub mod prices;
pub mod retry;

use std::collections::BTreeMap;
use std::fmt;

/// What routing knows about one provider.
#[derive(Debug, Clone, Default)]
pub struct ProviderEntry {
    pub name: String,
    /// The dialects the provider speaks natively (its own first), as opaque tags compared with
    /// the client's.
    pub dialects: Vec<&'static str>,
    /// Models named in the config.
    pub models: Vec<String>,
    /// Models the provider itself listed (`GET /v1/models`), when discovery has run.
    pub discovered: Vec<String>,
    /// `*` patterns from the preset.
    pub patterns: Vec<String>,
    /// A local runtime (Ollama, vLLM, llama.cpp): its models are free and private.
    pub local: bool,
    /// What the last probe found: `None` before the first.
    pub up: Option<bool>,
    /// For local runtimes: what is loaded, and memory pressure.
    pub status: plan::LocalStatus,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub providers: Vec<ProviderEntry>,
    /// Alias (or `*` pattern) -> deployments.
    pub aliases: BTreeMap<String, plan::AliasTarget>,
    pub settings: plan::Settings,
}

/// Why a target was chosen; logged on every request and sent as `x-tollgate-route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Explicit,
    Alias(String),
    Listed,
    Discovered,
    Pattern(String),
    /// Automatic routing, with the short reason.
    Auto(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Explicit => f.write_str("explicit provider:model"),
            Self::Alias(a) => write!(f, "alias {a}"),
            Self::Listed => f.write_str("model listed in config"),
            Self::Discovered => f.write_str("model listed by provider"),
            Self::Pattern(p) => write!(f, "preset pattern {p}"),
            Self::Auto(why) => write!(f, "auto: {why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index into [`Catalog::providers`].
    pub provider: usize,
    /// The model name to send upstream.
    pub model: String,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "no providers are enabled; set a provider key such as ANTHROPIC_API_KEY or OPENAI_API_KEY, or add a [providers.NAME] section to tollgate.toml"
    )]
    NoProviders,
    #[error("model `{model}` is not served by any enabled provider{}", hint(.known))]
    UnknownModel { model: String, known: Vec<String> },
    #[error("alias `{alias}` points at `{target}`, whose provider is not enabled")]
    BrokenAlias { alias: String, target: String },
    #[error("no model can serve `{model}`: {why}")]
    NotEligible { model: String, why: String },
}

fn hint(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; use `provider:model` with one of: {}", known.join(", "))
    }
}

/// Whether `model` matches a `*` pattern (`*` matches any run of characters).
pub fn glob_match(pattern: &str, model: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == model;
    };
    let Some(mut rest) = model.strip_prefix(first) else { return false };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl Catalog {
    pub fn provider_index(&self, name: &str) -> Option<usize> {
        self.providers.iter().position(|p| p.name == name)
    }

    /// Resolves `requested` for a client speaking `client_dialect`.
    pub fn resolve(&self, requested: &str, client_dialect: &str) -> Result<Target, ResolveError> {
        if self.providers.is_empty() {
            return Err(ResolveError::NoProviders);
        }
        if let Some(t) = self.explicit(requested) {
            return Ok(Target { reason: Reason::Explicit, ..t });
        }
        if let Some(alias) = self.alias(requested) {
            let target = alias.deployments.first().map(|d| d.target.as_str()).unwrap_or_default();
            return match self.explicit(target) {
                Some(t) => Ok(Target { reason: Reason::Alias(requested.to_owned()), ..t }),
                None => Err(ResolveError::BrokenAlias {
                    alias: requested.to_owned(),
                    target: target.to_owned(),
                }),
            };
        }
        // Same-dialect providers first, then the rest, each in config order.
        let speaks = |i: usize| self.providers[i].dialects.contains(&client_dialect);
        let order: Vec<usize> = (0..self.providers.len())
            .filter(|&i| speaks(i))
            .chain((0..self.providers.len()).filter(|&i| !speaks(i)))
            .collect();
        let found =
            |reason: Reason, i: usize| Target { provider: i, model: requested.to_owned(), reason };
        if let Some(&i) =
            order.iter().find(|&&i| self.providers[i].models.iter().any(|m| m == requested))
        {
            return Ok(found(Reason::Listed, i));
        }
        // Several providers may list the same model (OpenAI and a Responses-only endpoint on the
        // same account): one whose preset also claims the name owns it.
        let discovered: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| self.providers[i].discovered.iter().any(|m| m == requested))
            .collect();
        let owner = discovered
            .iter()
            .copied()
            .find(|&i| self.providers[i].patterns.iter().any(|p| glob_match(p, requested)));
        if let Some(i) = owner.or_else(|| discovered.first().copied()) {
            return Ok(found(Reason::Discovered, i));
        }
        for &i in &order {
            if let Some(p) = self.providers[i].patterns.iter().find(|p| glob_match(p, requested)) {
                return Ok(found(Reason::Pattern(p.clone()), i));
            }
        }
        Err(ResolveError::UnknownModel {
            model: requested.to_owned(),
            known: self.providers.iter().map(|p| format!("{}:MODEL", p.name)).collect(),
        })
    }

    pub(crate) fn explicit(&self, requested: &str) -> Option<Target> {
        let (provider, model) = requested.split_once(':')?;
        let i = self.provider_index(provider)?;
        (!model.is_empty()).then(|| Target {
            provider: i,
            model: model.to_owned(),
            reason: Reason::Explicit,
        })
    }

    /// Every name a client may ask for: aliases, then `provider:model` for listed and
    /// discovered models, deduplicated, in a stable order.
    pub fn model_names(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .aliases
            .iter()
            .filter(|(a, _)| !a.contains('*'))
            .map(|(a, t)| {
                let first = t.deployments.first().map(|d| d.target.as_str()).unwrap_or_default();
                (a.clone(), first.split(':').next().unwrap_or_default().to_owned())
            })
            .collect();
        for p in &self.providers {
            for m in p.models.iter().chain(&p.discovered) {
                let entry = (m.clone(), p.name.clone());
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        let p =
            |name: &str, dialect: &'static str, models: &[&str], patterns: &[&str]| ProviderEntry {
                name: name.into(),
                dialects: vec![dialect],
                models: models.iter().map(|s| (*s).into()).collect(),
                discovered: vec![],
                patterns: patterns.iter().map(|s| (*s).into()).collect(),
                ..Default::default()
            };
        Catalog {
            providers: vec![
                p("openrouter", "openai-chat", &[], &["*/*"]),
                p("anthropic", "anthropic", &[], &["claude-*"]),
                p("openai", "openai-chat", &["my-finetune"], &["gpt-*"]),
                p("ollama", "openai-chat", &[], &[]),
            ],
            aliases: [
                ("fast".to_owned(), plan::AliasTarget::single("openai:gpt-4o-mini")),
                ("gone".to_owned(), plan::AliasTarget::single("nope:x")),
            ]
            .into_iter()
            .collect(),
            settings: Default::default(),
        }
    }

    #[test]
    fn resolves_in_documented_order() {
        let c = catalog();
        let t = c.resolve("ollama:qwen2.5:7b", "openai-chat").unwrap();
        assert_eq!((t.provider, t.model.as_str(), t.reason), (3, "qwen2.5:7b", Reason::Explicit));
        let t = c.resolve("fast", "anthropic").unwrap();
        assert_eq!((t.provider, t.model.as_str()), (2, "gpt-4o-mini"));
        assert_eq!(t.reason, Reason::Alias("fast".into()));
        let t = c.resolve("my-finetune", "anthropic").unwrap();
        assert_eq!((t.provider, t.reason), (2, Reason::Listed));
        let t = c.resolve("claude-sonnet-4-5", "anthropic").unwrap();
        assert_eq!((t.provider, t.reason), (1, Reason::Pattern("claude-*".into())));
        let t = c.resolve("anthropic/claude-sonnet-4.5", "anthropic").unwrap();
        assert_eq!(t.provider, 0);
        // A name with an unknown provider prefix is just a model name.
        assert!(matches!(
            c.resolve("qwen2.5:7b", "openai-chat"),
            Err(ResolveError::UnknownModel { .. })
        ));
        assert!(matches!(c.resolve("gone", "anthropic"), Err(ResolveError::BrokenAlias { .. })));
    }

    #[test]
    fn same_dialect_providers_win_ties() {
        let mut c = catalog();
        c.providers.push(ProviderEntry {
            name: "anthropic-2".into(),
            dialects: vec!["anthropic"],
            models: vec![],
            discovered: vec!["shared".into()],
            ..Default::default()
        });
        c.providers[3].discovered.push("shared".into());
        assert_eq!(c.resolve("shared", "anthropic").unwrap().provider, 4);
        assert_eq!(c.resolve("shared", "openai-chat").unwrap().provider, 3);
    }

    #[test]
    fn a_listed_model_goes_to_the_provider_whose_pattern_claims_it() {
        let mut c = catalog();
        c.providers.push(ProviderEntry {
            name: "openai-responses".into(),
            dialects: vec!["openai-responses"],
            models: vec![],
            discovered: vec!["gpt-4o".into()],
            ..Default::default()
        });
        c.providers[2].discovered.push("gpt-4o".into());
        assert_eq!(c.resolve("gpt-4o", "anthropic").unwrap().provider, 2, "openai owns gpt-*");
        // A provider speaking the client's dialect natively is one it can pass through to.
        c.providers[2].dialects.push("openai-responses");
        assert_eq!(c.resolve("gpt-4o", "openai-responses").unwrap().provider, 2);
    }

    #[test]
    fn unknown_models_and_no_providers_are_explained() {
        let e = catalog().resolve("mystery", "anthropic").unwrap_err().to_string();
        assert!(e.contains("model `mystery` is not served by any enabled provider; use `provider:model` with one of: openrouter:MODEL"));
        assert_eq!(Catalog::default().resolve("x", "anthropic"), Err(ResolveError::NoProviders));
    }

    #[test]
    fn globs() {
        assert!(glob_match("claude-*", "claude-x"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXbY"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("*", ""));
    }
}

//! `[aliases]`, `[routing]` and `[models]`: validated into the routing crate's own types.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use tollgate_routing::balance::Strategy;
use tollgate_routing::classify::Category;
use tollgate_routing::health::{BreakerConfig, SuccessConfig};
use tollgate_routing::models::{ModelOverride, Tier};
use tollgate_routing::plan::{
    AliasTarget, AutoSettings, Condition, Deployment, Experiment, Rule, RuleTarget, Settings,
};
use tollgate_routing::prices::Price;
use tollgate_routing::retry::RetryConfig;

use crate::units::parse_duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    #[serde(default)]
    pub auto: RawAuto,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub experiments: Vec<RawExperiment>,
    /// Retries on one deployment before the next (default 1).
    pub retries: Option<u32>,
    /// First backoff, doubled each retry (`250ms`).
    pub backoff: Option<String>,
    /// Longest single wait; a longer `retry-after` moves on instead (`5s`).
    pub max_backoff: Option<String>,
    #[serde(default)]
    pub breaker: RawBreaker,
    /// Consecutive failed outcomes of a model in a category before it is skipped (3).
    pub failure_streak: Option<u32>,
    /// How long it is skipped (`10m`).
    pub failure_cooldown: Option<String>,
    /// Keep an agent session on the deployment it used last (default true).
    pub sticky_sessions: Option<bool>,
    /// How often provider model lists and local runtimes are probed (`60s`).
    pub probe_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuto {
    pub names: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    pub cheap_max: Option<u8>,
    pub standard_max: Option<u8>,
    pub success_threshold: Option<f64>,
    pub min_samples: Option<u64>,
    pub local_first: Option<bool>,
    pub max_targets: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failures: Option<u32>,
    pub cooldown: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: String,
    /// One condition or a list (all must hold).
    pub when: toml::Value,
    pub target: Option<String>,
    pub tier: Option<String>,
    #[serde(default)]
    pub escalate: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub name: String,
    pub category: Option<String>,
    /// `["p:m", ...]` (equal weights) or `[{ target = "p:m", weight = 3 }, ...]`.
    pub arms: Vec<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub tier: Option<String>,
    pub context: Option<u32>,
    pub max_output: Option<u32>,
    pub tools: Option<bool>,
    pub vision: Option<bool>,
    pub thinking: Option<bool>,
    pub json: Option<bool>,
    pub local: Option<bool>,
    /// US dollars per million tokens.
    pub input_price: Option<f64>,
    pub output_price: Option<f64>,
    pub cache_write_price: Option<f64>,
    pub cache_read_price: Option<f64>,
}

/// The validated routing configuration.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// Alias (or `*` pattern) -> deployments.
    pub aliases: BTreeMap<String, AliasTarget>,
    pub settings: Settings,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    pub success: SuccessConfig,
    pub sticky_sessions: bool,
    pub probe_interval: Duration,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            aliases: BTreeMap::new(),
            settings: Settings::default(),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            success: SuccessConfig::default(),
            sticky_sessions: true,
            probe_interval: Duration::from_secs(60),
        }
    }
}

/// Collects `(path, message)` errors.
pub(crate) type Errors = Vec<(String, String)>;

/// Validates a `provider:model` target against the enabled providers (`auto` when allowed).
pub(crate) type TargetCheck<'a> = &'a dyn Fn(&str) -> Result<(), String>;

pub(crate) fn aliases(
    raw: &BTreeMap<String, toml::Value>,
    check: TargetCheck<'_>,
    errors: &mut Errors,
) -> BTreeMap<String, AliasTarget> {
    let mut out = BTreeMap::new();
    for (name, value) in raw {
        let path = format!("aliases.{name}");
        if name.contains(':') {
            errors.push((path.clone(), "alias names must not contain `:`".into()));
        }
        let (list, strategy) = match value {
            toml::Value::Table(t) => {
                for k in t.keys().filter(|k| *k != "targets" && *k != "strategy") {
                    errors.push((path.clone(), format!("unknown field `{k}` (targets, strategy)")));
                }
                let strategy = match t.get("strategy") {
                    None => None,
                    Some(toml::Value::String(s)) => match Strategy::parse(s) {
                        Some(s) => Some(s),
                        None => {
                            errors.push((format!("{path}.strategy"), format!("unknown strategy `{s}` (ordered, weighted, least-outstanding, latency)")));
                            None
                        }
                    },
                    Some(_) => {
                        errors.push((format!("{path}.strategy"), "expected a string".into()));
                        None
                    }
                };
                match t.get("targets") {
                    Some(v) => (v.clone(), strategy),
                    None => {
                        errors.push((path.clone(), "`targets` is required".into()));
                        continue;
                    }
                }
            }
            other => (other.clone(), None),
        };
        let deployments = deployments(&list, &path, check, errors);
        let weighted = deployments.iter().any(|d| d.weight != 1);
        let strategy =
            strategy.unwrap_or(if weighted { Strategy::Weighted } else { Strategy::Ordered });
        if !deployments.is_empty() {
            out.insert(name.clone(), AliasTarget { deployments, strategy });
        }
    }
    out
}

/// `"p:m"`, `["p:m", ...]` or `[{ target = "p:m", weight = N }, ...]`.
fn deployments(
    v: &toml::Value,
    path: &str,
    check: TargetCheck<'_>,
    errors: &mut Errors,
) -> Vec<Deployment> {
    let items: Vec<&toml::Value> = match v {
        toml::Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    if items.is_empty() {
        errors.push((path.to_owned(), "names no target".into()));
    }
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let p = if matches!(v, toml::Value::Array(_)) {
            format!("{path}[{i}]")
        } else {
            path.to_owned()
        };
        let (target, weight) = match item {
            toml::Value::String(s) => (s.clone(), 1),
            toml::Value::Table(t) => {
                for k in t.keys().filter(|k| *k != "target" && *k != "weight") {
                    errors.push((p.clone(), format!("unknown field `{k}` (target, weight)")));
                }
                let Some(toml::Value::String(target)) = t.get("target") else {
                    errors.push((p, "`target` must be a `provider:model` string".into()));
                    continue;
                };
                let weight = match t.get("weight") {
                    None => 1,
                    Some(toml::Value::Integer(w)) if (0..=1_000_000).contains(w) => *w as u32,
                    Some(_) => {
                        errors.push((
                            format!("{p}.weight"),
                            "must be an integer from 0 to 1000000".into(),
                        ));
                        continue;
                    }
                };
                (target.clone(), weight)
            }
            _ => {
                errors.push((p, "expected `provider:model` or { target, weight }".into()));
                continue;
            }
        };
        match check(&target) {
            Ok(()) => out.push(Deployment { target, weight }),
            Err(e) => errors.push((p, e)),
        }
    }
    out
}

pub(crate) fn routing(
    raw: RawRouting,
    models: BTreeMap<String, RawModel>,
    aliases: BTreeMap<String, AliasTarget>,
    check: TargetCheck<'_>,
    errors: &mut Errors,
) -> RoutingConfig {
    let mut cfg = RoutingConfig { aliases, ..RoutingConfig::default() };
    let dur = |path: &str, v: &Option<String>, default: Duration, errors: &mut Errors| match v {
        None => default,
        Some(s) => parse_duration(s).unwrap_or_else(|e| {
            errors.push((path.to_owned(), e));
            default
        }),
    };
    let d = RetryConfig::default();
    cfg.retry = RetryConfig {
        retries: raw.retries.unwrap_or(d.retries),
        base: dur("routing.backoff", &raw.backoff, d.base, errors),
        max: dur("routing.max_backoff", &raw.max_backoff, d.max, errors),
    };
    let b = BreakerConfig::default();
    cfg.breaker = BreakerConfig {
        failures: raw.breaker.failures.unwrap_or(b.failures).max(1),
        cooldown_ms: dur(
            "routing.breaker.cooldown",
            &raw.breaker.cooldown,
            Duration::from_millis(b.cooldown_ms),
            errors,
        )
        .as_millis() as u64,
    };
    let s = SuccessConfig::default();
    cfg.success = SuccessConfig {
        failures: raw.failure_streak.unwrap_or(s.failures).max(1),
        cooldown_ms: dur(
            "routing.failure_cooldown",
            &raw.failure_cooldown,
            Duration::from_millis(s.cooldown_ms),
            errors,
        )
        .as_millis() as u64,
    };
    cfg.sticky_sessions = raw.sticky_sessions.unwrap_or(true);
    cfg.probe_interval =
        dur("routing.probe_interval", &raw.probe_interval, cfg.probe_interval, errors)
            .max(Duration::from_secs(1));

    let a = AutoSettings::default();
    let auto = raw.auto;
    let names = auto.names.unwrap_or(a.names);
    let models_list = auto.models.unwrap_or_default();
    for (i, m) in models_list.iter().enumerate() {
        if let Err(e) = check(m) {
            errors.push((format!("routing.auto.models[{i}]"), e));
        }
    }
    let cheap_max = auto.cheap_max.unwrap_or(a.cheap_max);
    let standard_max = auto.standard_max.unwrap_or(a.standard_max);
    if cheap_max > standard_max || standard_max > 100 {
        errors.push(("routing.auto".into(), "need cheap_max <= standard_max <= 100".into()));
    }
    let success_threshold = auto.success_threshold.unwrap_or(a.success_threshold);
    if !(0.0..=1.0).contains(&success_threshold) {
        errors.push(("routing.auto.success_threshold".into(), "must be between 0 and 1".into()));
    }
    cfg.settings.auto = AutoSettings {
        names,
        models: models_list,
        cheap_max,
        standard_max,
        success_threshold,
        min_samples: auto.min_samples.unwrap_or(a.min_samples).max(1),
        local_first: auto.local_first.unwrap_or(a.local_first),
        max_targets: auto.max_targets.unwrap_or(a.max_targets).max(1),
        output_estimate: a.output_estimate,
    };

    for (i, r) in raw.rules.into_iter().enumerate() {
        let path = format!("routing.rules[{i}]");
        let conds: Vec<String> = match &r.when {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Array(a) => {
                a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            _ => {
                errors.push((
                    format!("{path}.when"),
                    "expected a condition or a list of them".into(),
                ));
                continue;
            }
        };
        let mut when = Vec::new();
        for c in &conds {
            match Condition::parse(c) {
                Ok(c) => when.push(c),
                Err(e) => errors.push((format!("{path}.when"), e)),
            }
        }
        let target = match (&r.target, &r.tier) {
            (Some(t), None) => {
                if let Err(e) = check(t) {
                    errors.push((format!("{path}.target"), e));
                }
                RuleTarget::Deployment(t.clone())
            }
            (None, Some(t)) => match Tier::parse(t) {
                Some(t) => RuleTarget::Tier(t),
                None => {
                    errors.push((
                        format!("{path}.tier"),
                        format!("unknown tier `{t}` (cheap, standard, strong)"),
                    ));
                    continue;
                }
            },
            _ => {
                errors.push((path, "give exactly one of `target` and `tier`".into()));
                continue;
            }
        };
        cfg.settings.rules.push(Rule { name: r.name, when, target, escalate: r.escalate });
    }

    for (i, e) in raw.experiments.into_iter().enumerate() {
        let path = format!("routing.experiments[{i}]");
        let category = match e.category.as_deref() {
            None => None,
            Some(c) => match Category::parse(c) {
                Some(c) => Some(c),
                None => {
                    errors.push((format!("{path}.category"), format!("unknown category `{c}`")));
                    None
                }
            },
        };
        let arms = deployments(&toml::Value::Array(e.arms), &format!("{path}.arms"), check, errors);
        if arms.len() < 2 {
            errors.push((format!("{path}.arms"), "an experiment needs at least two arms".into()));
        }
        cfg.settings.experiments.push(Experiment { name: e.name, category, arms });
    }

    for (name, m) in models {
        let path = format!("models.\"{name}\"");
        let tier = match m.tier.as_deref() {
            None => None,
            Some(t) => match Tier::parse(t) {
                Some(t) => Some(t),
                None => {
                    errors.push((
                        format!("{path}.tier"),
                        format!("unknown tier `{t}` (cheap, standard, strong)"),
                    ));
                    None
                }
            },
        };
        let any_price = m.input_price.is_some()
            || m.output_price.is_some()
            || m.cache_write_price.is_some()
            || m.cache_read_price.is_some();
        let usd = |v: Option<f64>, errors: &mut Errors, field: &str| -> u64 {
            match v {
                Some(p) if p.is_finite() && p >= 0.0 => (p * 1e6).round() as u64,
                Some(_) => {
                    errors.push((
                        format!("{path}.{field}"),
                        "must be a price in dollars, 0 or more".into(),
                    ));
                    0
                }
                None => 0,
            }
        };
        let price = any_price.then(|| Price {
            input: usd(m.input_price, errors, "input_price"),
            output: usd(m.output_price, errors, "output_price"),
            cache_write: usd(m.cache_write_price, errors, "cache_write_price"),
            cache_read: usd(m.cache_read_price, errors, "cache_read_price"),
        });
        cfg.settings.models.overrides.insert(
            name,
            ModelOverride {
                tier,
                context: m.context,
                max_output: m.max_output,
                tools: m.tools,
                vision: m.vision,
                thinking: m.thinking,
                json: m.json,
                local: m.local,
                price,
            },
        );
    }
    cfg
}

//! Route planning: from a requested model name and the request's features to an ordered list of
//! deployments to try, with the whole decision written down ([`Decision`], versioned JSON in the
//! history, printed by `tollgate route explain`).
//!
//! Modes, by what the client asked for:
//! - `provider:model`, a listed, discovered or pattern-claimed model: that one deployment
//!   ([`Catalog::resolve`]);
//! - an alias: its deployments, filtered by capability and breaker, ordered by its balancing
//!   strategy; an alias may also point at `auto`;
//! - `auto` (and any name in `routing.auto.names`): automatic routing, below.
//!
//! Automatic routing, in order, each step logged in the decision:
//! 1. **Candidates**: `routing.auto.models`, or by default the current built-in models of every
//!    enabled provider that can serve them, plus every model of a local runtime.
//! 2. **Filters**: sensitivity (`local-only` keeps local models), capabilities (tools, vision,
//!    thinking, JSON output, web search, context window), provider down, breaker open, model
//!    cooling down for the category after consecutive failures. A filtered candidate is kept in
//!    the decision with its reason.
//! 3. **Classify**: category and complexity ([`crate::classify`]), complexity to tier
//!    (`cheap_max`, `standard_max`).
//! 4. **Scenario rules** (`routing.rules`), first match wins: a rule names a deployment or a
//!    tier. Built-in when none are configured: Claude Code's background, title and probe calls
//!    go to the cheap tier.
//! 5. **Session**: a session stays on the deployment it last used, unless a rule with
//!    `escalate = true` fired or that deployment no longer passes the filters (prompt caches and
//!    thinking signatures depend on staying).
//! 6. **Experiment**: an A/B split for the category picks an arm, sticky per session.
//! 7. **Local first**: a local candidate of at least the needed tier, when one is up and not
//!    under GPU memory pressure (or already loaded).
//! 8. **Measured success**: the cheapest candidate of the needed tier or one below whose success
//!    rate for the category is at least the threshold over enough samples.
//! 9. **Tier rules**: the cheapest candidate of the needed tier, else the next tier up.
//!
//! Fallbacks follow the choice: the rest of its tier by cost, then the tiers above (escalation),
//! then those below, at most `max_targets` in all.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::balance::{self, Strategy};
use crate::classify::{Category, Classification, classify};
use crate::features::{Features, Shape};
use crate::health::{BreakerState, Health};
use crate::models::{ModelInfo, Tier};
use crate::{Catalog, ResolveError, Target, glob_match};

/// The decision document's version; bump when its shape changes.
pub const DECISION_VERSION: u32 = 1;

/// A deployment and its weight in an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// `provider:model`, or `auto`.
    pub target: String,
    pub weight: u32,
}

/// What an alias points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AliasTarget {
    pub deployments: Vec<Deployment>,
    pub strategy: Strategy,
}

impl AliasTarget {
    /// One deployment.
    pub fn single(target: impl Into<String>) -> Self {
        Self {
            deployments: vec![Deployment { target: target.into(), weight: 1 }],
            strategy: Strategy::Ordered,
        }
    }
}

/// A condition of a scenario rule; written in the config as a short string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "if", content = "value")]
pub enum Condition {
    /// Claude Code's background, title or probe calls.
    Background,
    /// Thinking or reasoning asked for.
    Think,
    /// A web search tool present.
    WebSearch,
    Images,
    Tools,
    /// `category=debug`.
    Category(Category),
    /// `complexity>=70`.
    Complexity(u8),
    /// `tokens>=60000`: the estimated input.
    Tokens(u32),
    /// `turns>=20`.
    Turns(u32),
}

impl Condition {
    /// Parses `background`, `think`, `web_search`, `images`, `tools`, `category=NAME`,
    /// `complexity>=N`, `tokens>=N` (also `long_context>=N`), `turns>=N`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let num = |v: &str| {
            v.trim().replace('_', "").parse::<u32>().map_err(|_| format!("`{v}` is not a number"))
        };
        if let Some((k, v)) = s.split_once(">=") {
            return match k.trim() {
                "complexity" => Ok(Self::Complexity(num(v)?.min(100) as u8)),
                "tokens" | "long_context" => Ok(Self::Tokens(num(v)?)),
                "turns" => Ok(Self::Turns(num(v)?)),
                other => Err(format!("unknown measure `{other}` (complexity, tokens, turns)")),
            };
        }
        if let Some(("category", v)) = s.split_once('=') {
            return Category::parse(v.trim()).map(Self::Category).ok_or_else(|| {
                format!(
                    "unknown category `{v}` (one of {})",
                    Category::ALL.map(Category::as_str).join(", ")
                )
            });
        }
        match s {
            "background" => Ok(Self::Background),
            "think" => Ok(Self::Think),
            "web_search" => Ok(Self::WebSearch),
            "images" => Ok(Self::Images),
            "tools" => Ok(Self::Tools),
            _ => Err(format!(
                "unknown condition `{s}` (background, think, web_search, images, tools, category=NAME, complexity>=N, tokens>=N, turns>=N)"
            )),
        }
    }

    fn holds(&self, f: &Features, c: &Classification) -> bool {
        match *self {
            Self::Background => matches!(f.shape, Shape::Background | Shape::Title | Shape::Probe),
            Self::Think => f.thinking,
            Self::WebSearch => f.web_search,
            Self::Images => f.images,
            Self::Tools => f.tools > 0,
            Self::Category(cat) => c.category == cat,
            Self::Complexity(n) => c.complexity >= n,
            Self::Tokens(n) => f.token_estimate >= n,
            Self::Turns(n) => f.turns >= n,
        }
    }
}

/// Where a rule sends a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleTarget {
    /// A `provider:model` (or alias) to try first.
    Deployment(String),
    /// A tier for auto routing to pick from.
    Tier(Tier),
}

/// A scenario rule: all conditions hold -> the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub name: String,
    pub when: Vec<Condition>,
    pub target: RuleTarget,
    /// Moves a session off the model it is on.
    pub escalate: bool,
}

/// An A/B split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Experiment {
    pub name: String,
    /// Only requests of this category; all when `None`.
    pub category: Option<Category>,
    pub arms: Vec<Deployment>,
}

/// `[routing.auto]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AutoSettings {
    /// Model names that ask for automatic routing.
    pub names: Vec<String>,
    /// Candidate deployments; empty: the defaults (see the module doc).
    pub models: Vec<String>,
    /// Highest complexity routed to the cheap tier.
    pub cheap_max: u8,
    /// Highest complexity routed to the standard tier; above it, strong.
    pub standard_max: u8,
    /// Measured success rate a model needs for a category to be chosen on it.
    pub success_threshold: f64,
    /// Outcomes needed before a measured rate counts.
    pub min_samples: u64,
    pub local_first: bool,
    /// Deployments tried at most per request (the choice and its fallbacks).
    pub max_targets: usize,
    /// Output tokens assumed when estimating a request's cost (capped by its `max_tokens`).
    pub output_estimate: u32,
}

impl Default for AutoSettings {
    fn default() -> Self {
        Self {
            names: vec!["auto".into()],
            models: Vec::new(),
            cheap_max: 30,
            standard_max: 65,
            success_threshold: 0.8,
            min_samples: 20,
            local_first: true,
            max_targets: 4,
            output_estimate: 1_000,
        }
    }
}

/// What a local runtime's probe last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalStatus {
    /// Models loaded in memory now, with the VRAM each uses (bytes).
    pub loaded: Vec<(String, u64)>,
    /// Whether the runtime is under GPU memory pressure (loaded VRAM against the configured
    /// limit): models not already loaded are then not chosen.
    pub pressure: bool,
}

/// The routing settings beside the catalog of providers.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub auto: AutoSettings,
    pub rules: Vec<Rule>,
    pub experiments: Vec<Experiment>,
    pub models: crate::models::Models,
}

/// What the caller knows of the request beyond its body.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub requested: &'a str,
    pub client_dialect: &'a str,
    /// Read from the body when [`Catalog::needs_features`] says so.
    pub features: Option<&'a Features>,
    pub session: Option<&'a str>,
    /// The deployment the session used last.
    pub sticky: Option<&'a str>,
    /// The request must stay on local models.
    pub local_only: bool,
    /// Drives weighted choices.
    pub random: u64,
    pub now_ms: u64,
}

/// One candidate considered by automatic routing (or one deployment of an alias).
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub deployment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    pub local: bool,
    /// Estimated cost of this request on it, in millionths of a dollar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub est_cost_micros: Option<u64>,
    /// Measured success for the request's category: (ok, total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<(u64, u64)>,
    /// Why it was set aside; `None` when eligible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    #[serde(skip)]
    target: Option<Target>,
    #[serde(skip)]
    info: Option<ModelInfo>,
}

/// The experiment arm a request fell into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArmChoice {
    pub experiment: String,
    pub arm: String,
}

/// The whole routing decision.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub version: u32,
    pub requested: String,
    /// `explicit`, `alias`, `listed`, `discovered`, `pattern`, `auto`.
    pub mode: &'static str,
    /// The short reason, sent as `x-tollgate-route`.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Features>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ArmChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// The deployments to try, in order (`provider:model`).
    pub chosen: Vec<String>,
    #[serde(skip)]
    pub targets: Vec<Target>,
}

impl Decision {
    /// The category, when the request was classified.
    pub fn category(&self) -> Option<Category> {
        self.classification.as_ref().map(|c| c.category)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Catalog {
    /// Whether planning `requested` reads the request's features (auto routing, or an alias
    /// with a choice to make). When not, the caller skips extracting them.
    pub fn needs_features(&self, requested: &str) -> bool {
        if self.is_auto(requested) {
            return true;
        }
        self.alias(requested).is_some_and(|a| {
            a.deployments.len() > 1 || a.deployments.iter().any(|d| self.is_auto(&d.target))
        })
    }

    fn is_auto(&self, name: &str) -> bool {
        self.settings.auto.names.iter().any(|n| n == name)
    }

    /// The alias for `name`: an exact key, else the longest `*` pattern that matches.
    pub fn alias(&self, name: &str) -> Option<&AliasTarget> {
        self.aliases.get(name).or_else(|| {
            self.aliases
                .iter()
                .filter(|(k, _)| k.contains('*') && glob_match(k, name))
                .max_by_key(|(k, _)| k.len())
                .map(|(_, a)| a)
        })
    }

    fn info_of(&self, t: &Target) -> Option<ModelInfo> {
        let p = &self.providers[t.provider];
        self.settings.models.info(&p.name, &t.model, p.local)
    }

    fn deployment(&self, t: &Target) -> String {
        format!("{}:{}", self.providers[t.provider].name, t.model)
    }

    /// `t` as a candidate: what is known of its model, nothing judged yet.
    fn candidate(&self, t: Target) -> Candidate {
        let info = self.info_of(&t);
        Candidate {
            deployment: self.deployment(&t),
            tier: info.map(|i| i.tier),
            local: info.is_some_and(|i| i.local),
            est_cost_micros: None,
            success: None,
            excluded: None,
            target: Some(t),
            info,
        }
    }

    /// Plans the route for one request.
    pub fn plan(&self, health: &Health, input: &PlanInput<'_>) -> Result<Decision, ResolveError> {
        if self.providers.is_empty() {
            return Err(ResolveError::NoProviders);
        }
        let requested = input.requested;
        if self.is_auto(requested) {
            return self.plan_auto(health, input, None);
        }
        if self.explicit(requested).is_none()
            && let Some(alias) = self.alias(requested)
        {
            return self.plan_alias(health, input, alias);
        }
        let target = self.resolve(requested, input.client_dialect)?;
        let mode = match &target.reason {
            crate::Reason::Explicit => "explicit",
            crate::Reason::Listed => "listed",
            crate::Reason::Discovered => "discovered",
            crate::Reason::Pattern(_) => "pattern",
            crate::Reason::Alias(_) => "alias",
            crate::Reason::Auto(_) => "auto",
        };
        if input.local_only && !self.info_of(&target).is_some_and(|i| i.local) {
            return Err(ResolveError::NotEligible {
                model: requested.to_owned(),
                why: format!(
                    "the request is tagged local-only and `{}` is not a local model",
                    self.deployment(&target)
                ),
            });
        }
        Ok(Decision {
            version: DECISION_VERSION,
            requested: requested.to_owned(),
            mode,
            reason: target.reason.to_string(),
            features: None,
            classification: None,
            tier: None,
            rule: None,
            experiment: None,
            candidates: Vec::new(),
            chosen: vec![self.deployment(&target)],
            targets: vec![target],
        })
    }

    fn plan_alias(
        &self,
        health: &Health,
        input: &PlanInput<'_>,
        alias: &AliasTarget,
    ) -> Result<Decision, ResolveError> {
        let requested = input.requested;
        if alias.deployments.iter().any(|d| self.is_auto(&d.target)) {
            return self.plan_auto(health, input, Some(requested));
        }
        let mut candidates = Vec::new();
        for d in &alias.deployments {
            let Some(t) = self.explicit(&d.target) else {
                return Err(ResolveError::BrokenAlias {
                    alias: requested.to_owned(),
                    target: d.target.clone(),
                });
            };
            let mut c =
                self.candidate(Target { reason: crate::Reason::Alias(requested.to_owned()), ..t });
            if let Some(f) = input.features {
                c.excluded = self.filter(health, input, f, None, &c);
            } else if input.local_only && !c.local {
                c.excluded = Some("local-only request".into());
            }
            candidates.push(c);
        }
        let eligible: Vec<(usize, u32, crate::health::Load)> = alias
            .deployments
            .iter()
            .enumerate()
            .filter(|(i, _)| candidates[*i].excluded.is_none())
            .map(|(i, d)| (i, d.weight, health.load(&d.target)))
            .collect();
        if eligible.is_empty() {
            return Err(ResolveError::NotEligible {
                model: requested.to_owned(),
                why: explain_exclusions(&candidates),
            });
        }
        let order = balance::order(alias.strategy, &eligible, input.random);
        let targets: Vec<Target> =
            order.iter().filter_map(|&i| candidates[i].target.clone()).collect();
        let strategy = alias.strategy.as_str();
        let reason = if alias.deployments.len() > 1 {
            format!("alias {requested} ({strategy})")
        } else {
            format!("alias {requested}")
        };
        Ok(Decision {
            version: DECISION_VERSION,
            requested: requested.to_owned(),
            mode: "alias",
            reason,
            features: input.features.cloned(),
            classification: None,
            tier: None,
            rule: None,
            experiment: None,
            chosen: targets.iter().map(|t| self.deployment(t)).collect(),
            candidates,
            targets,
        })
    }

    /// The candidate deployments of automatic routing.
    fn auto_candidates(&self, client_dialect: &str) -> Vec<Target> {
        let mut out: Vec<Target> = Vec::new();
        let mut push = |t: Target| {
            if !out.iter().any(|o| o.provider == t.provider && o.model == t.model) {
                out.push(t);
            }
        };
        let reason = crate::Reason::Auto(String::new());
        if !self.settings.auto.models.is_empty() {
            for m in &self.settings.auto.models {
                if let Some(t) = self.explicit(m) {
                    push(Target { reason: reason.clone(), ..t });
                }
            }
            return out;
        }
        // Providers that speak the client's dialect first, so a model two providers can serve is
        // taken where bytes pass through.
        let speaks = |i: usize| self.providers[i].dialects.contains(&client_dialect);
        let order: Vec<usize> = (0..self.providers.len())
            .filter(|&i| speaks(i))
            .chain((0..self.providers.len()).filter(|&i| !speaks(i)))
            .collect();
        let mut taken: Vec<String> = Vec::new();
        for &i in &order {
            let p = &self.providers[i];
            for (name, _, auto) in crate::models::BUILTIN {
                let serves = p.patterns.iter().any(|pat| glob_match(pat, name))
                    || p.models.iter().chain(&p.discovered).any(|m| m == name);
                if *auto && serves && !taken.iter().any(|t| t == name) {
                    taken.push((*name).to_owned());
                    push(Target { provider: i, model: (*name).to_owned(), reason: reason.clone() });
                }
            }
            for m in &p.models {
                if self.settings.models.info(&p.name, m, p.local).is_some() {
                    push(Target { provider: i, model: m.clone(), reason: reason.clone() });
                }
            }
            if p.local {
                for m in p.discovered.iter().chain(p.status.loaded.iter().map(|(m, _)| m)) {
                    push(Target { provider: i, model: m.clone(), reason: reason.clone() });
                }
            }
        }
        out
    }

    /// Why candidate `c` cannot take the request, if it cannot.
    fn filter(
        &self,
        health: &Health,
        input: &PlanInput<'_>,
        f: &Features,
        category: Option<Category>,
        c: &Candidate,
    ) -> Option<String> {
        let t = c.target.as_ref()?;
        let p = &self.providers[t.provider];
        let Some(info) = c.info else {
            return Some("nothing is known about this model (add it under [models])".into());
        };
        if input.local_only && !info.local {
            return Some("local-only request".into());
        }
        if f.tools > 0 && !info.caps.tools {
            return Some("no tool use".into());
        }
        if f.images && !info.caps.vision {
            return Some("no vision".into());
        }
        if f.thinking && !info.caps.thinking {
            return Some("no thinking".into());
        }
        if f.json_output && !info.caps.json {
            return Some("no JSON output".into());
        }
        if f.web_search && !p.dialects.iter().any(|d| *d == "anthropic" || *d == "openai-responses")
        {
            return Some("no hosted web search".into());
        }
        let need =
            u64::from(f.token_estimate) + u64::from(f.max_tokens.unwrap_or(0).min(info.max_output));
        if need > u64::from(info.context) {
            return Some(format!("context {} < {need} tokens needed", info.context));
        }
        if p.up == Some(false) {
            return Some("provider down".into());
        }
        if health.breaker_state(&c.deployment, input.now_ms) == BreakerState::Open {
            return Some("circuit breaker open".into());
        }
        if let Some(cat) = category
            && health.cooling_down(&c.deployment, cat, input.now_ms)
        {
            return Some(format!("cooling down after consecutive failures on {}", cat.as_str()));
        }
        if info.local && p.status.pressure && !p.status.loaded.iter().any(|(m, _)| *m == t.model) {
            return Some("GPU memory pressure and not loaded".into());
        }
        None
    }

    fn plan_auto(
        &self,
        health: &Health,
        input: &PlanInput<'_>,
        via_alias: Option<&str>,
    ) -> Result<Decision, ResolveError> {
        let s = &self.settings.auto;
        let default_features = Features::default();
        let f = input.features.unwrap_or(&default_features);
        let class = classify(f);
        let category = class.category;
        let mut tier = if class.complexity <= s.cheap_max {
            Tier::Cheap
        } else if class.complexity <= s.standard_max {
            Tier::Standard
        } else {
            Tier::Strong
        };
        let mut why = String::new();

        let out_tokens =
            u64::from(f.max_tokens.unwrap_or(s.output_estimate).min(s.output_estimate));
        let mut candidates: Vec<Candidate> = self
            .auto_candidates(input.client_dialect)
            .into_iter()
            .map(|t| {
                let mut c = self.candidate(t);
                let o = health.outcomes(&c.deployment, category);
                c.est_cost_micros = c.info.and_then(|i| i.price).map(|p| {
                    crate::prices::cost_micros(p, u64::from(f.token_estimate), out_tokens, 0, 0)
                });
                c.success = (o.total > 0).then_some((o.ok, o.total));
                c
            })
            .collect();
        let exclusions: Vec<Option<String>> =
            candidates.iter().map(|c| self.filter(health, input, f, Some(category), c)).collect();
        for (c, excluded) in candidates.iter_mut().zip(exclusions) {
            c.excluded = excluded;
        }
        let eligible = |c: &Candidate| c.excluded.is_none();
        if !candidates.iter().any(eligible) {
            return Err(ResolveError::NotEligible {
                model: input.requested.to_owned(),
                why: if candidates.is_empty() {
                    "no candidate models: enable a provider or list deployments in routing.auto.models".into()
                } else {
                    explain_exclusions(&candidates)
                },
            });
        }
        // Cheapest first; unknown prices last.
        let cost = |c: &Candidate| c.est_cost_micros.unwrap_or(u64::MAX);

        let mut first: Option<usize> = None;
        let mut rule_name = None;
        let mut escalate = false;
        let rules: Vec<Rule> = if self.settings.rules.is_empty() {
            vec![Rule {
                name: "builtin:background".into(),
                when: vec![Condition::Background],
                target: RuleTarget::Tier(Tier::Cheap),
                escalate: false,
            }]
        } else {
            self.settings.rules.clone()
        };
        if let Some(rule) = rules.iter().find(|r| r.when.iter().all(|c| c.holds(f, &class))) {
            rule_name = Some(rule.name.clone());
            escalate = rule.escalate;
            match &rule.target {
                RuleTarget::Tier(t) => {
                    tier = *t;
                    let _ = write!(why, "rule {} -> {t}", rule.name);
                }
                RuleTarget::Deployment(d) => {
                    let resolved = self.explicit(d).map(|t| self.deployment(&t)).or_else(|| {
                        self.alias(d).and_then(|a| a.deployments.first()).map(|d| d.target.clone())
                    });
                    if let Some(dep) = resolved {
                        first = candidates.iter().position(|c| c.deployment == dep && eligible(c));
                        if first.is_none() && !candidates.iter().any(|c| c.deployment == dep) {
                            // A rule may name a deployment outside the candidate set.
                            if let Some(t) = self.explicit(&dep) {
                                let mut c = self.candidate(Target {
                                    reason: crate::Reason::Auto(String::new()),
                                    ..t
                                });
                                c.excluded = self.filter(health, input, f, Some(category), &c);
                                candidates.push(c);
                                first = candidates
                                    .len()
                                    .checked_sub(1)
                                    .filter(|&i| eligible(&candidates[i]));
                            }
                        }
                        if let Some(i) = first {
                            tier = candidates[i].tier.unwrap_or(tier);
                            let _ = write!(why, "rule {} -> {dep}", rule.name);
                        }
                    }
                }
            }
        }
        if first.is_none()
            && !escalate
            && let Some(sticky) = input.sticky
            && let Some(i) = candidates.iter().position(|c| c.deployment == sticky && eligible(c))
        {
            first = Some(i);
            tier = candidates[i].tier.unwrap_or(tier);
            why = "session stays on its model".into();
        }
        let mut experiment = None;
        if first.is_none()
            && let Some(e) = self
                .settings
                .experiments
                .iter()
                .find(|e| e.category.is_none_or(|c| c == category) && !e.arms.is_empty())
        {
            let seed = input.session.map_or(input.random, |s| fnv1a(&format!("{}/{s}", e.name)));
            let total: u64 = e.arms.iter().map(|a| u64::from(a.weight)).sum();
            if total > 0 {
                let mut at = seed % total;
                let arm = e.arms.iter().find(|a| {
                    let w = u64::from(a.weight);
                    if at < w {
                        true
                    } else {
                        at -= w;
                        false
                    }
                });
                if let Some(arm) = arm
                    && let Some(i) =
                        candidates.iter().position(|c| c.deployment == arm.target && eligible(c))
                {
                    first = Some(i);
                    tier = candidates[i].tier.unwrap_or(tier);
                    why = format!("experiment {} arm {}", e.name, arm.target);
                    experiment =
                        Some(ArmChoice { experiment: e.name.clone(), arm: arm.target.clone() });
                }
            }
        }
        let in_tier = |c: &Candidate, t: Tier| eligible(c) && c.tier == Some(t);
        if first.is_none() && s.local_first {
            first = candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| eligible(c) && c.local && c.tier.is_some_and(|t| t >= tier))
                .min_by_key(|(_, c)| c.tier)
                .map(|(i, _)| i);
            if first.is_some() {
                why = format!("local first ({tier} needed)");
            }
        }
        if first.is_none() {
            let below = match tier {
                Tier::Strong => Some(Tier::Standard),
                Tier::Standard => Some(Tier::Cheap),
                Tier::Cheap => None,
            };
            first = candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| eligible(c) && (c.tier == Some(tier) || c.tier == below))
                .filter(|(_, c)| {
                    c.success.is_some_and(|(ok, total)| {
                        total >= s.min_samples && ok as f64 / total as f64 >= s.success_threshold
                    })
                })
                .min_by_key(|(_, c)| cost(c))
                .map(|(i, _)| i);
            if let Some(i) = first {
                let (ok, total) = candidates[i].success.unwrap_or((0, 1));
                why = format!(
                    "measured success {:.0}% on {} ({tier} needed)",
                    ok as f64 * 100.0 / total as f64,
                    category.as_str()
                );
            }
        }
        if first.is_none() {
            // Tier rules: the cheapest of the tier, else the next tier up, else the next down.
            let mut order: Vec<Tier> = Tier::ALL.into_iter().filter(|t| *t >= tier).collect();
            order.extend(Tier::ALL.into_iter().rev().filter(|t| *t < tier));
            for t in order {
                first = candidates
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| in_tier(c, t))
                    .min_by_key(|(_, c)| cost(c))
                    .map(|(i, _)| i);
                if first.is_some() {
                    if why.is_empty() || rule_name.is_some() && why.contains("->") {
                        let head = if why.is_empty() { String::new() } else { format!("{why}; ") };
                        why = if t == tier {
                            format!("{head}cheapest {t}")
                        } else {
                            format!("{head}cheapest {t} (no {tier} model eligible)")
                        };
                    }
                    break;
                }
            }
            // Candidates without a known tier are the last resort.
            if first.is_none() {
                first = candidates.iter().position(eligible);
                why = "only eligible model".into();
            }
        }
        let Some(first) = first else {
            return Err(ResolveError::NotEligible {
                model: input.requested.to_owned(),
                why: explain_exclusions(&candidates),
            });
        };
        let chosen_tier = candidates[first].tier.unwrap_or(tier);
        // Fallbacks: the rest of the chosen tier by cost, then the tiers above, then below.
        let mut rest: Vec<usize> =
            (0..candidates.len()).filter(|&i| i != first && eligible(&candidates[i])).collect();
        let rank = |t: Option<Tier>| match t {
            Some(t) if t == chosen_tier => 0,
            Some(t) if t > chosen_tier => 1 + t as u8,
            Some(t) => 10 + (Tier::Strong as u8 - t as u8),
            None => 20,
        };
        rest.sort_by_key(|&i| (rank(candidates[i].tier), cost(&candidates[i])));
        let mut targets = Vec::new();
        for i in std::iter::once(first).chain(rest).take(s.max_targets.max(1)) {
            if let Some(mut t) = candidates[i].target.clone() {
                t.reason = crate::Reason::Auto(why.clone());
                targets.push(t);
            }
        }
        let prefix = via_alias.map(|a| format!("alias {a} -> ")).unwrap_or_default();
        let reason =
            format!("{prefix}auto {}/{} c={}: {why}", category.as_str(), tier, class.complexity);
        Ok(Decision {
            version: DECISION_VERSION,
            requested: input.requested.to_owned(),
            mode: "auto",
            reason,
            features: Some(f.clone()),
            classification: Some(class),
            tier: Some(tier),
            rule: rule_name,
            experiment,
            chosen: targets.iter().map(|t| self.deployment(t)).collect(),
            candidates,
            targets,
        })
    }
}

fn explain_exclusions(candidates: &[Candidate]) -> String {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in candidates {
        if let Some(r) = &c.excluded {
            by_reason.entry(r).or_default().push(&c.deployment);
        }
    }
    let parts: Vec<String> =
        by_reason.iter().map(|(r, ds)| format!("{} ({r})", ds.join(", "))).collect();
    format!("no eligible model: {}", parts.join("; "))
}

/// FNV-1a: a stable hash for sticky experiment arms (the same across processes and replicas).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

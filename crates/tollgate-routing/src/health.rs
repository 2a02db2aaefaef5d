//! What routing remembers about deployments between requests: circuit breakers, load
//! (outstanding requests, latency EWMA), and measured success per model and category with a
//! cool-down after consecutive failures. Pure state machines: every method takes the time as an
//! argument (milliseconds on any monotonic clock), so tests drive time by hand. The server keeps
//! one [`Health`] behind a lock.

use std::collections::HashMap;

use serde::Serialize;

use crate::classify::Category;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// How long it stays open before letting one trial request through (half-open).
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { failures: 5, cooldown_ms: 30_000 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// Success-signal settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuccessConfig {
    /// Consecutive failures in a category after which the model is skipped for it.
    pub failures: u32,
    /// How long it is skipped.
    pub cooldown_ms: u64,
}

impl Default for SuccessConfig {
    fn default() -> Self {
        Self { failures: 3, cooldown_ms: 10 * 60_000 }
    }
}

/// Measured outcomes of one model in one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub ok: u64,
    pub total: u64,
}

impl Outcomes {
    /// Success rate in 0..=1, `None` before any outcome.
    pub fn rate(self) -> Option<f64> {
        (self.total > 0).then(|| self.ok as f64 / self.total as f64)
    }
}

/// A deployment's load, for balancing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Load {
    pub outstanding: u32,
    /// Latency EWMA in milliseconds (time to first byte), `None` before the first sample.
    pub ewma_ms: Option<f64>,
}

/// Everything routing remembers. Deployments are `provider:model` strings.
#[derive(Debug, Default)]
pub struct Health {
    pub breaker: BreakerConfig,
    pub success: SuccessConfig,
    // Private state; the helper owns its layout.
    #[allow(dead_code)]
    state: HashMap<String, ()>,
}

impl Health {
    pub fn new(breaker: BreakerConfig, success: SuccessConfig) -> Self {
        Self { breaker, success, state: HashMap::new() }
    }

    /// Whether a request may go to `deployment` now. An open breaker whose cool-down has passed
    /// turns half-open and admits exactly one trial request until it reports back.
    pub fn admits(&mut self, deployment: &str, now_ms: u64) -> bool {
        let _ = (deployment, now_ms);
        true
    }

    /// The breaker's state, without side effects (for explain and the admin API).
    pub fn breaker_state(&self, deployment: &str, now_ms: u64) -> BreakerState {
        let _ = (deployment, now_ms);
        BreakerState::Closed
    }

    /// A request to `deployment` started.
    pub fn started(&mut self, deployment: &str) {
        let _ = deployment;
    }

    /// The attempt ended. `ok` is the transport-level outcome (false for retryable upstream
    /// errors: 429, 5xx, 529, connect errors, timeouts); `ttfb_ms` when a first byte came.
    pub fn finished(&mut self, deployment: &str, ok: bool, ttfb_ms: Option<u64>, now_ms: u64) {
        let _ = (deployment, ok, ttfb_ms, now_ms);
    }

    pub fn load(&self, deployment: &str) -> Load {
        let _ = deployment;
        Load::default()
    }

    /// A judged outcome of `model` (a `provider:model` deployment) on a request of `category`:
    /// success signals (exit status, response heuristics, feedback).
    pub fn outcome(&mut self, model: &str, category: Category, ok: bool, now_ms: u64) {
        let _ = (model, category, ok, now_ms);
    }

    /// Seeds measured outcomes (from the history at start-up).
    pub fn seed(&mut self, model: &str, category: Category, outcomes: Outcomes) {
        let _ = (model, category, outcomes);
    }

    pub fn outcomes(&self, model: &str, category: Category) -> Outcomes {
        let _ = (model, category);
        Outcomes::default()
    }

    /// Whether `model` is in a cool-down for `category` after consecutive failures.
    pub fn cooling_down(&self, model: &str, category: Category, now_ms: u64) -> bool {
        let _ = (model, category, now_ms);
        false
    }
}

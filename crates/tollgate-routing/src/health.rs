//! What routing remembers about deployments between requests: circuit breakers, load
//! (outstanding requests, latency EWMA), and measured success per model and category with a
//! cool-down after consecutive failures. Pure state machines: every method takes the time as an
//! argument (milliseconds on any monotonic clock), so tests drive time by hand. The server keeps
//! one [`Health`] behind a lock.
//!
//! Memory is bounded: at most [`MAX_DEPLOYMENTS`] deployments and [`MAX_PAIRS`]
//! (model, category) pairs are remembered. Recording something about one more evicts the least
//! recently used entry of that kind (a deployment is used by [`Health::admits`],
//! [`Health::started`] and [`Health::finished`]; a pair by [`Health::outcome`] and
//! [`Health::seed`]). An evicted deployment is forgotten entirely: it is Closed, with nothing
//! outstanding and no EWMA, the next time it is seen (a `finished` for a request it had in
//! flight then saturates at 0). An evicted pair loses its counts and its cool-down. Lookups
//! (`breaker_state`, `load`, `outcomes`, `cooling_down`, and `admits` of an unknown deployment)
//! never create entries.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::classify::Category;

/// The most deployments remembered at once (see the module docs for what happens beyond).
pub const MAX_DEPLOYMENTS: usize = 4096;
/// The most (model, category) pairs remembered at once, over all models.
pub const MAX_PAIRS: usize = 4096;

/// Weight of a new time-to-first-byte sample in the latency EWMA.
const EWMA_ALPHA: f64 = 0.3;

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (0: the breaker never opens).
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
    /// Consecutive failures in a category after which the model is skipped for it (0: never
    /// skipped).
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

/// One deployment as the admin API shows it ([`Health::snapshot`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentView {
    /// `provider:model`.
    pub deployment: String,
    pub state: BreakerState,
    /// Consecutive failed attempts (while Closed, towards opening; while Open or HalfOpen, the
    /// run that opened it, plus failed trials).
    pub consecutive_failures: u32,
    /// While Open: milliseconds until a trial is let through.
    pub retry_in_ms: Option<u64>,
    pub outstanding: u32,
    pub ewma_ms: Option<f64>,
}

/// One (model, category) pair as the admin API shows it ([`Health::outcome_snapshot`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeView {
    pub model: String,
    pub category: Category,
    pub ok: u64,
    pub total: u64,
    pub rate: Option<f64>,
    pub consecutive_failures: u32,
    pub cooling_down: bool,
}

/// The breaker as stored. `Open` past its cool-down is reported HalfOpen but only becomes
/// `HalfOpen` when [`Health::admits`] lets the trial through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Breaker {
    #[default]
    Closed,
    Open {
        since_ms: u64,
    },
    /// A trial request was admitted at `trial_ms` and has not reported back.
    HalfOpen {
        trial_ms: u64,
    },
}

#[derive(Debug, Clone, Default)]
struct Deployment {
    breaker: Breaker,
    failures: u32,
    outstanding: u32,
    ewma_ms: Option<f64>,
    /// [`Health::tick`] of the last use, for eviction.
    used: u64,
}

#[derive(Debug, Clone, Default)]
struct Pair {
    outcomes: Outcomes,
    streak: u32,
    last_failure_ms: u64,
    used: u64,
}

impl Pair {
    fn cooling_down(&self, success: SuccessConfig, now_ms: u64) -> bool {
        success.failures > 0
            && self.streak >= success.failures
            && now_ms.saturating_sub(self.last_failure_ms) < success.cooldown_ms
    }
}

/// Everything routing remembers. Deployments are `provider:model` strings.
#[derive(Debug, Default)]
pub struct Health {
    pub breaker: BreakerConfig,
    pub success: SuccessConfig,
    deployments: HashMap<String, Deployment>,
    /// Model -> category -> pair.
    pairs: HashMap<String, BTreeMap<Category, Pair>>,
    /// Pairs over all models in `pairs`.
    pair_count: usize,
    /// A logical clock for least-recently-used eviction (`seed` and `started` have no time).
    tick: u64,
}

impl Health {
    pub fn new(breaker: BreakerConfig, success: SuccessConfig) -> Self {
        Self { breaker, success, ..Self::default() }
    }

    /// Whether a request may go to `deployment` now. An open breaker whose cool-down has passed
    /// turns half-open and admits exactly one trial request until it reports back.
    ///
    /// A trial that has not reported back (`finished`) within another cool-down is presumed
    /// lost (its request was dropped without reporting), and the next call admits a new trial,
    /// so a lost report cannot keep a deployment out for good.
    pub fn admits(&mut self, deployment: &str, now_ms: u64) -> bool {
        let cooldown = self.breaker.cooldown_ms;
        let tick = self.next_tick();
        let Some(d) = self.deployments.get_mut(deployment) else { return true };
        d.used = tick;
        match d.breaker {
            Breaker::Closed => true,
            Breaker::Open { since_ms } if now_ms.saturating_sub(since_ms) >= cooldown => {
                d.breaker = Breaker::HalfOpen { trial_ms: now_ms };
                true
            }
            Breaker::Open { .. } => false,
            Breaker::HalfOpen { trial_ms } if now_ms.saturating_sub(trial_ms) > cooldown => {
                d.breaker = Breaker::HalfOpen { trial_ms: now_ms };
                true
            }
            Breaker::HalfOpen { .. } => false,
        }
    }

    /// The breaker's state, without side effects (for explain and the admin API).
    pub fn breaker_state(&self, deployment: &str, now_ms: u64) -> BreakerState {
        match self.deployments.get(deployment).map(|d| d.breaker) {
            None | Some(Breaker::Closed) => BreakerState::Closed,
            Some(Breaker::Open { since_ms })
                if now_ms.saturating_sub(since_ms) < self.breaker.cooldown_ms =>
            {
                BreakerState::Open
            }
            Some(Breaker::Open { .. } | Breaker::HalfOpen { .. }) => BreakerState::HalfOpen,
        }
    }

    /// A request to `deployment` started.
    pub fn started(&mut self, deployment: &str) {
        self.with_deployment(deployment, |d| d.outstanding = d.outstanding.saturating_add(1));
    }

    /// The attempt ended. `ok` is the transport-level outcome (false for retryable upstream
    /// errors: 429, 5xx, 529, connect errors, timeouts); `ttfb_ms` when a first byte came.
    ///
    /// Closed: a success resets the consecutive failures, a failure counts towards opening.
    /// HalfOpen: this is taken as the trial's report (attempts carry no identity): a success
    /// closes the breaker, a failure re-opens it with a fresh cool-down. Open: the report of a
    /// request started before the breaker opened, which changes nothing but the load.
    pub fn finished(&mut self, deployment: &str, ok: bool, ttfb_ms: Option<u64>, now_ms: u64) {
        let threshold = self.breaker.failures;
        self.with_deployment(deployment, |d| {
            d.outstanding = d.outstanding.saturating_sub(1);
            if let Some(sample) = ttfb_ms {
                let sample = sample as f64;
                d.ewma_ms = Some(match d.ewma_ms {
                    None => sample,
                    Some(old) => EWMA_ALPHA * sample + (1.0 - EWMA_ALPHA) * old,
                });
            }
            match (d.breaker, ok) {
                (Breaker::Open { .. }, _) => {}
                (_, true) => {
                    d.breaker = Breaker::Closed;
                    d.failures = 0;
                }
                (Breaker::HalfOpen { .. }, false) => {
                    d.failures = d.failures.saturating_add(1);
                    d.breaker = Breaker::Open { since_ms: now_ms };
                }
                (Breaker::Closed, false) => {
                    d.failures = d.failures.saturating_add(1);
                    if threshold > 0 && d.failures >= threshold {
                        d.breaker = Breaker::Open { since_ms: now_ms };
                    }
                }
            }
        });
    }

    pub fn load(&self, deployment: &str) -> Load {
        self.deployments
            .get(deployment)
            .map(|d| Load { outstanding: d.outstanding, ewma_ms: d.ewma_ms })
            .unwrap_or_default()
    }

    /// A judged outcome of `model` (a `provider:model` deployment) on a request of `category`:
    /// success signals (exit status, response heuristics, feedback).
    ///
    /// After [`SuccessConfig::failures`] consecutive failures the pair cools down for
    /// [`SuccessConfig::cooldown_ms`] from the latest failure. A success ends the run; a
    /// failure after the cool-down (the run still unbroken) starts another cool-down at once.
    pub fn outcome(&mut self, model: &str, category: Category, ok: bool, now_ms: u64) {
        self.with_pair(model, category, |p| {
            p.outcomes.total = p.outcomes.total.saturating_add(1);
            if ok {
                p.outcomes.ok = p.outcomes.ok.saturating_add(1);
                p.streak = 0;
            } else {
                p.streak = p.streak.saturating_add(1);
                p.last_failure_ms = now_ms;
            }
        });
    }

    /// Seeds measured outcomes (from the history at start-up). Adds to the counts, not to the
    /// run of consecutive failures; `ok` is clamped to `total`.
    pub fn seed(&mut self, model: &str, category: Category, outcomes: Outcomes) {
        self.with_pair(model, category, |p| {
            p.outcomes.total = p.outcomes.total.saturating_add(outcomes.total);
            p.outcomes.ok = p.outcomes.ok.saturating_add(outcomes.ok.min(outcomes.total));
        });
    }

    pub fn outcomes(&self, model: &str, category: Category) -> Outcomes {
        self.pair(model, category).map(|p| p.outcomes).unwrap_or_default()
    }

    /// Whether `model` is in a cool-down for `category` after consecutive failures.
    pub fn cooling_down(&self, model: &str, category: Category, now_ms: u64) -> bool {
        self.pair(model, category).is_some_and(|p| p.cooling_down(self.success, now_ms))
    }

    /// Every remembered deployment, by name: breaker state (as [`Health::breaker_state`]
    /// reports it), consecutive failures, load.
    pub fn snapshot(&self, now_ms: u64) -> Vec<DeploymentView> {
        let mut views: Vec<DeploymentView> = self
            .deployments
            .iter()
            .map(|(name, d)| DeploymentView {
                deployment: name.clone(),
                state: self.breaker_state(name, now_ms),
                consecutive_failures: d.failures,
                retry_in_ms: match d.breaker {
                    Breaker::Open { since_ms } => {
                        let elapsed = now_ms.saturating_sub(since_ms);
                        (elapsed < self.breaker.cooldown_ms)
                            .then(|| self.breaker.cooldown_ms - elapsed)
                    }
                    _ => None,
                },
                outstanding: d.outstanding,
                ewma_ms: d.ewma_ms,
            })
            .collect();
        views.sort_by(|a, b| a.deployment.cmp(&b.deployment));
        views
    }

    /// Every remembered (model, category) pair, by model then category.
    pub fn outcome_snapshot(&self, now_ms: u64) -> Vec<OutcomeView> {
        let mut views: Vec<OutcomeView> = self
            .pairs
            .iter()
            .flat_map(|(model, by_category)| {
                by_category.iter().map(move |(&category, p)| (model, category, p))
            })
            .map(|(model, category, p)| OutcomeView {
                model: model.clone(),
                category,
                ok: p.outcomes.ok,
                total: p.outcomes.total,
                rate: p.outcomes.rate(),
                consecutive_failures: p.streak,
                cooling_down: p.cooling_down(self.success, now_ms),
            })
            .collect();
        views.sort_by(|a, b| (&a.model, a.category).cmp(&(&b.model, b.category)));
        views
    }

    fn next_tick(&mut self) -> u64 {
        self.tick = self.tick.wrapping_add(1);
        self.tick
    }

    /// Runs `f` on the deployment's entry, creating it (evicting the least recently used one
    /// if full) when it is new.
    fn with_deployment<R>(&mut self, name: &str, f: impl FnOnce(&mut Deployment) -> R) -> R {
        let tick = self.next_tick();
        if let Some(d) = self.deployments.get_mut(name) {
            d.used = tick;
            return f(d);
        }
        if self.deployments.len() >= MAX_DEPLOYMENTS {
            let oldest =
                self.deployments.iter().min_by_key(|(_, d)| d.used).map(|(n, _)| n.clone());
            if let Some(oldest) = oldest {
                self.deployments.remove(&oldest);
            }
        }
        let mut d = Deployment { used: tick, ..Deployment::default() };
        let r = f(&mut d);
        self.deployments.insert(name.to_owned(), d);
        r
    }

    fn pair(&self, model: &str, category: Category) -> Option<&Pair> {
        self.pairs.get(model).and_then(|m| m.get(&category))
    }

    /// Runs `f` on the pair's entry, creating it (evicting the least recently used pair if
    /// full) when it is new.
    fn with_pair<R>(
        &mut self,
        model: &str,
        category: Category,
        f: impl FnOnce(&mut Pair) -> R,
    ) -> R {
        let tick = self.next_tick();
        if let Some(p) = self.pairs.get_mut(model).and_then(|m| m.get_mut(&category)) {
            p.used = tick;
            return f(p);
        }
        if self.pair_count >= MAX_PAIRS {
            self.evict_pair();
        }
        let mut p = Pair { used: tick, ..Pair::default() };
        let r = f(&mut p);
        self.pairs.entry(model.to_owned()).or_default().insert(category, p);
        self.pair_count += 1;
        r
    }

    fn evict_pair(&mut self) {
        let oldest = self
            .pairs
            .iter()
            .flat_map(|(model, m)| m.iter().map(move |(&c, p)| (p.used, model, c)))
            .min_by_key(|&(used, _, _)| used)
            .map(|(_, model, c)| (model.clone(), c));
        let Some((model, category)) = oldest else { return };
        if let Some(m) = self.pairs.get_mut(&model) {
            if m.remove(&category).is_some() {
                self.pair_count = self.pair_count.saturating_sub(1);
            }
            if m.is_empty() {
                self.pairs.remove(&model);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "anthropic:claude-sonnet-4-5";

    fn health() -> Health {
        Health::new(
            BreakerConfig { failures: 3, cooldown_ms: 1_000 },
            SuccessConfig { failures: 2, cooldown_ms: 5_000 },
        )
    }

    /// One failed attempt at `now`.
    fn fail(h: &mut Health, now: u64) {
        h.started(D);
        h.finished(D, false, None, now);
    }

    #[test]
    fn unknown_deployments_are_closed_and_admitted_without_being_remembered() {
        let mut h = health();
        assert_eq!(h.breaker_state("x:y", 0), BreakerState::Closed);
        assert!(h.admits("x:y", 0));
        assert_eq!(h.load("x:y"), Load::default());
        assert!(h.snapshot(0).is_empty());
    }

    #[test]
    fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
        let mut h = health();
        fail(&mut h, 0);
        fail(&mut h, 1);
        h.finished(D, true, None, 2);
        fail(&mut h, 3);
        fail(&mut h, 4);
        assert_eq!(h.breaker_state(D, 4), BreakerState::Closed);
        assert!(h.admits(D, 4));
        fail(&mut h, 5);
        assert_eq!(h.breaker_state(D, 5), BreakerState::Open);
        assert!(!h.admits(D, 5));
        assert_eq!(h.snapshot(5)[0].consecutive_failures, 3);
    }

    #[test]
    fn open_rejects_until_the_cool_down_then_admits_exactly_one_trial() {
        let mut h = health();
        for t in 0..3 {
            fail(&mut h, 100 + t);
        }
        // Opened at 102; the cool-down ends at 1_102.
        for t in [102, 500, 1_101] {
            assert_eq!(h.breaker_state(D, t), BreakerState::Open);
            assert!(!h.admits(D, t), "at {t}");
        }
        // breaker_state has no side effects: asking many times changes nothing.
        for _ in 0..3 {
            assert_eq!(h.breaker_state(D, 1_102), BreakerState::HalfOpen);
        }
        assert_eq!(h.breaker_state(D, 1_101), BreakerState::Open);
        assert!(h.admits(D, 1_102), "the trial");
        for t in [1_102, 1_103, 2_000] {
            assert_eq!(h.breaker_state(D, t), BreakerState::HalfOpen);
            assert!(!h.admits(D, t), "a second request while the trial is in flight, at {t}");
        }
    }

    #[test]
    fn a_successful_trial_closes_the_breaker() {
        let mut h = health();
        for t in 0..3 {
            fail(&mut h, t);
        }
        assert!(h.admits(D, 2_000));
        h.started(D);
        h.finished(D, true, Some(40), 2_100);
        assert_eq!(h.breaker_state(D, 2_100), BreakerState::Closed);
        assert!(h.admits(D, 2_100));
        assert!(h.admits(D, 2_100));
        // The count was reset: it takes a full run again to open.
        fail(&mut h, 2_200);
        fail(&mut h, 2_201);
        assert_eq!(h.breaker_state(D, 2_201), BreakerState::Closed);
        fail(&mut h, 2_202);
        assert_eq!(h.breaker_state(D, 2_202), BreakerState::Open);
    }

    #[test]
    fn a_failed_trial_reopens_with_a_fresh_cool_down() {
        let mut h = health();
        for t in 0..3 {
            fail(&mut h, t);
        }
        assert!(h.admits(D, 5_000));
        fail(&mut h, 5_500);
        assert_eq!(h.breaker_state(D, 5_500), BreakerState::Open);
        assert!(!h.admits(D, 6_499));
        assert_eq!(h.snapshot(6_000)[0].retry_in_ms, Some(500));
        assert!(h.admits(D, 6_500), "the next trial");
        assert!(!h.admits(D, 6_500));
        assert_eq!(h.snapshot(6_500)[0].consecutive_failures, 4);
    }

    #[test]
    fn a_trial_that_never_reports_back_is_replaced_after_a_cool_down() {
        let mut h = health();
        for t in 0..3 {
            fail(&mut h, t);
        }
        assert!(h.admits(D, 1_002));
        assert!(!h.admits(D, 2_002), "still within the trial's cool-down");
        assert!(h.admits(D, 2_003), "the lost trial is replaced");
        assert!(!h.admits(D, 2_003));
    }

    #[test]
    fn reports_while_open_change_nothing_but_the_load() {
        let mut h = health();
        for _ in 0..5 {
            h.started(D);
        }
        for t in 0..3 {
            h.finished(D, false, None, t);
        }
        // Two requests started before it opened now report.
        h.finished(D, true, None, 500);
        h.finished(D, false, None, 600);
        assert_eq!(h.load(D).outstanding, 0);
        assert_eq!(h.breaker_state(D, 999), BreakerState::Open);
        // The cool-down still runs from the opening, not from the late failure.
        assert_eq!(h.breaker_state(D, 1_002), BreakerState::HalfOpen);
    }

    #[test]
    fn zero_failures_disables_the_breaker() {
        let mut h = Health::new(
            BreakerConfig { failures: 0, cooldown_ms: 1_000 },
            SuccessConfig::default(),
        );
        for t in 0..100 {
            fail(&mut h, t);
        }
        assert_eq!(h.breaker_state(D, 100), BreakerState::Closed);
        assert!(h.admits(D, 100));
    }

    #[test]
    fn times_going_backwards_do_not_panic_or_close_early() {
        let mut h = health();
        for _ in 0..3 {
            fail(&mut h, 10_000);
        }
        assert_eq!(h.breaker_state(D, 5), BreakerState::Open);
        assert!(!h.admits(D, 5));
        assert_eq!(h.breaker_state(D, u64::MAX), BreakerState::HalfOpen);
    }

    #[test]
    fn load_counts_outstanding_and_saturates() {
        let mut h = health();
        h.finished(D, true, None, 0);
        assert_eq!(h.load(D).outstanding, 0, "finished without started does not underflow");
        h.started(D);
        h.started(D);
        assert_eq!(h.load(D).outstanding, 2);
        h.finished(D, true, None, 0);
        assert_eq!(h.load(D).outstanding, 1);
        h.finished(D, true, None, 0);
        h.finished(D, true, None, 0);
        assert_eq!(h.load(D).outstanding, 0);
    }

    #[test]
    fn latency_ewma() {
        let mut h = health();
        assert_eq!(h.load(D).ewma_ms, None);
        h.finished(D, true, Some(100), 0);
        assert_eq!(h.load(D).ewma_ms, Some(100.0), "the first sample sets it");
        h.finished(D, false, None, 0);
        assert_eq!(h.load(D).ewma_ms, Some(100.0), "no first byte, no sample");
        h.finished(D, true, Some(200), 0);
        let e = h.load(D).ewma_ms.unwrap();
        assert!((e - 130.0).abs() < 1e-9, "{e}");
        h.finished(D, false, Some(0), 0);
        let e = h.load(D).ewma_ms.unwrap();
        assert!((e - 91.0).abs() < 1e-9, "{e}");
    }

    #[test]
    fn outcomes_count_and_cool_down_after_consecutive_failures() {
        let mut h = health();
        let (m, c) = (D, Category::CodeGen);
        assert_eq!(h.outcomes(m, c), Outcomes::default());
        assert_eq!(h.outcomes(m, c).rate(), None);
        h.outcome(m, c, true, 0);
        h.outcome(m, c, false, 10);
        assert!(!h.cooling_down(m, c, 10));
        h.outcome(m, c, true, 20);
        h.outcome(m, c, false, 30);
        assert!(!h.cooling_down(m, c, 30), "the success broke the run");
        h.outcome(m, c, false, 40);
        assert!(h.cooling_down(m, c, 40));
        assert!(h.cooling_down(m, c, 5_039));
        assert!(!h.cooling_down(m, c, 5_040), "cool-down over, counted from the last failure");
        assert_eq!(h.outcomes(m, c), Outcomes { ok: 2, total: 5 });
        // Other categories and models are untouched.
        assert!(!h.cooling_down(m, Category::Debug, 40));
        assert!(!h.cooling_down("openai:gpt-4o", c, 40));
        // Still an unbroken run: one more failure cools down again at once.
        h.outcome(m, c, false, 6_000);
        assert!(h.cooling_down(m, c, 6_000));
        // A later failure extends it.
        h.outcome(m, c, false, 8_000);
        assert!(h.cooling_down(m, c, 12_999));
        assert!(!h.cooling_down(m, c, 13_000));
        h.outcome(m, c, true, 9_000);
        assert!(!h.cooling_down(m, c, 9_000), "a success ends it");
    }

    #[test]
    fn seeding_adds_counts_but_not_the_run() {
        let mut h = health();
        let c = Category::Refactor;
        h.outcome(D, c, false, 0);
        h.seed(D, c, Outcomes { ok: 0, total: 10 });
        assert!(!h.cooling_down(D, c, 0));
        h.seed(D, c, Outcomes { ok: 7, total: 5 });
        assert_eq!(h.outcomes(D, c), Outcomes { ok: 5, total: 16 }, "ok clamped to total");
        h.seed(D, c, Outcomes { ok: u64::MAX, total: u64::MAX });
        assert_eq!(h.outcomes(D, c), Outcomes { ok: u64::MAX, total: u64::MAX }, "saturates");
        h.outcome(D, c, false, 1);
        assert!(h.cooling_down(D, c, 1), "the run continued across the seeds");
    }

    #[test]
    fn zero_failures_never_cools_down() {
        let mut h = Health::new(
            BreakerConfig::default(),
            SuccessConfig { failures: 0, cooldown_ms: 1_000 },
        );
        for t in 0..10 {
            h.outcome(D, Category::Other, false, t);
        }
        assert!(!h.cooling_down(D, Category::Other, 10));
    }

    #[test]
    fn deployments_are_bounded_evicting_the_least_recently_used() {
        let mut h = health();
        // "d0" opens first; then every other deployment gets a request, then "d1" is used again.
        for _ in 0..3 {
            h.finished("d0", false, None, 0);
        }
        for i in 1..MAX_DEPLOYMENTS {
            h.started(&format!("d{i}"));
        }
        assert!(h.admits("d1", 0));
        assert_eq!(h.snapshot(0).len(), MAX_DEPLOYMENTS);
        assert_eq!(h.breaker_state("d0", 0), BreakerState::Open);
        // One more: "d0", the least recently used, is forgotten (Closed again).
        h.started("new");
        assert_eq!(h.snapshot(0).len(), MAX_DEPLOYMENTS);
        assert_eq!(h.breaker_state("d0", 0), BreakerState::Closed);
        assert_eq!(h.load("new").outstanding, 1);
        // Next goes "d2" ("d1" was used after it).
        h.started("newer");
        assert_eq!(h.load("d1").outstanding, 1);
        assert_eq!(h.load("d2").outstanding, 0);
        assert_eq!(h.load("d3").outstanding, 1);
        // A late report for an evicted deployment saturates instead of underflowing.
        h.finished("d2", true, None, 0);
        assert_eq!(h.load("d2").outstanding, 0);
        assert_eq!(h.snapshot(0).len(), MAX_DEPLOYMENTS);
        // Lookups never add entries.
        for i in 0..10 {
            let name = format!("lookup{i}");
            assert!(h.admits(&name, 0));
            let _ = (h.breaker_state(&name, 0), h.load(&name));
        }
        assert_eq!(h.snapshot(0).len(), MAX_DEPLOYMENTS);
    }

    #[test]
    fn pairs_are_bounded_evicting_the_least_recently_used() {
        let mut h = health();
        let c = Category::ALL;
        let models = MAX_PAIRS.div_ceil(c.len());
        // The first pair cools down; then fill up, pair by pair.
        h.outcome("m0", c[0], false, 0);
        h.outcome("m0", c[0], false, 0);
        let mut n = 1;
        'fill: for m in 0..models {
            for (k, &cat) in c.iter().enumerate() {
                if (m, k) == (0, 0) {
                    continue;
                }
                if n == MAX_PAIRS {
                    break 'fill;
                }
                h.seed(&format!("m{m}"), cat, Outcomes { ok: 1, total: 1 });
                n += 1;
            }
        }
        assert_eq!(h.outcome_snapshot(0).len(), MAX_PAIRS);
        assert!(h.cooling_down("m0", c[0], 0));
        // Refresh m0's second pair, so that after the first it is the third to go.
        h.outcome("m0", c[1], true, 0);
        h.outcome("other", Category::Debug, true, 0);
        assert_eq!(h.outcome_snapshot(0).len(), MAX_PAIRS);
        assert!(!h.cooling_down("m0", c[0], 0), "evicted, with its cool-down");
        assert_eq!(h.outcomes("m0", c[0]), Outcomes::default());
        h.outcome("other", Category::Explain, true, 0);
        h.outcome("other", Category::Other, true, 0);
        assert_eq!(h.outcomes("m0", c[1]), Outcomes { ok: 2, total: 2 });
        assert_eq!(h.outcomes("m0", c[2]), Outcomes::default());
        assert_eq!(h.outcomes("m0", c[3]), Outcomes::default());
        assert_eq!(h.outcomes("m0", c[4]), Outcomes { ok: 1, total: 1 });
        assert_eq!(h.outcome_snapshot(0).len(), MAX_PAIRS);
        // Lookups never add entries.
        assert!(!h.cooling_down("nobody", Category::Debug, 0));
        assert_eq!(h.outcomes("nobody", Category::Debug), Outcomes::default());
        assert_eq!(h.outcome_snapshot(0).len(), MAX_PAIRS);
    }

    #[test]
    fn an_emptied_model_is_dropped_entirely() {
        let mut h = health();
        h.seed("lonely", Category::Other, Outcomes { ok: 1, total: 1 });
        for i in 0..MAX_PAIRS {
            h.seed(&format!("m{i}"), Category::Other, Outcomes::default());
        }
        assert!(!h.pairs.contains_key("lonely"));
        assert_eq!(h.pairs.len(), MAX_PAIRS);
        assert_eq!(h.pair_count, MAX_PAIRS);
    }

    #[test]
    fn snapshots_are_sorted_and_serialise() {
        let mut h = health();
        h.started("b:x");
        h.finished("b:x", true, Some(50), 0);
        for t in 0..3 {
            h.finished("a:y", false, None, t);
        }
        h.started("c:z");
        let s = h.snapshot(500);
        let names: Vec<&str> = s.iter().map(|v| v.deployment.as_str()).collect();
        assert_eq!(names, ["a:y", "b:x", "c:z"]);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!([
                {"deployment": "a:y", "state": "open", "consecutive_failures": 3,
                 "retry_in_ms": 502, "outstanding": 0, "ewma_ms": null},
                {"deployment": "b:x", "state": "closed", "consecutive_failures": 0,
                 "retry_in_ms": null, "outstanding": 0, "ewma_ms": 50.0},
                {"deployment": "c:z", "state": "closed", "consecutive_failures": 0,
                 "retry_in_ms": null, "outstanding": 1, "ewma_ms": null},
            ])
        );
        assert_eq!(h.snapshot(1_002)[0].state, BreakerState::HalfOpen);
        assert_eq!(h.snapshot(1_002)[0].retry_in_ms, None);

        h.outcome("b:x", Category::Debug, false, 0);
        h.outcome("b:x", Category::Debug, false, 0);
        h.outcome("b:x", Category::CodeGen, true, 0);
        h.seed("a:y", Category::Other, Outcomes { ok: 3, total: 4 });
        let o = h.outcome_snapshot(100);
        let keys: Vec<(&str, Category)> =
            o.iter().map(|v| (v.model.as_str(), v.category)).collect();
        assert_eq!(
            keys,
            [("a:y", Category::Other), ("b:x", Category::CodeGen), ("b:x", Category::Debug)]
        );
        assert_eq!(
            serde_json::to_value(&o[2]).unwrap(),
            serde_json::json!({"model": "b:x", "category": "debug", "ok": 0, "total": 2,
                "rate": 0.0, "consecutive_failures": 2, "cooling_down": true})
        );
        assert_eq!(o[0].rate, Some(0.75));
        assert!(!h.outcome_snapshot(5_000)[2].cooling_down);
    }
}

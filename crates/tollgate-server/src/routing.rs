//! The routing state the pure planner needs between requests: deployment health (breakers,
//! load, measured success), the deployment each agent session last used, and the clock they
//! are measured on. One per gateway, shared by every request; each lock is held only for a
//! few map operations, never across an await.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tollgate_config::routing::RoutingConfig;
use tollgate_routing::classify::Category;
use tollgate_routing::features::{Features, Shape};
use tollgate_routing::health::{Health, Outcomes};
use tollgate_routing::plan::{Decision, PlanInput};
use tollgate_routing::retry::RetryConfig;
use tollgate_routing::{Catalog, ResolveError};

/// Sessions remembered for stickiness; the least recently used is forgotten beyond this.
const MAX_SESSIONS: usize = 20_000;

pub struct Router {
    health: Mutex<Health>,
    sessions: Mutex<HashMap<String, (String, u64)>>,
    epoch: Instant,
    pub retry: RetryConfig,
    pub sticky: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Router {
    pub fn new(cfg: &RoutingConfig) -> Self {
        Self {
            health: Mutex::new(Health::new(cfg.breaker, cfg.success)),
            sessions: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            retry: cfg.retry,
            sticky: cfg.sticky_sessions,
        }
    }

    /// Milliseconds on the router's monotonic clock.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn plan(&self, catalog: &Catalog, input: &PlanInput<'_>) -> Result<Decision, ResolveError> {
        catalog.plan(&lock(&self.health), input)
    }

    /// Whether a request may go to `deployment` now (its breaker); on yes, it counts as started.
    pub fn admit(&self, deployment: &str) -> bool {
        let now = self.now_ms();
        let mut h = lock(&self.health);
        let ok = h.admits(deployment, now);
        if ok {
            h.started(deployment);
        }
        ok
    }

    /// An attempt admitted by [`Self::admit`] ended.
    pub fn finished(&self, deployment: &str, ok: bool, ttfb: Option<Duration>) {
        let now = self.now_ms();
        let ttfb = ttfb.map(|d| d.as_millis() as u64);
        lock(&self.health).finished(deployment, ok, ttfb, now);
    }

    /// A judged outcome (success signals) of `deployment` on a request of `category`.
    pub fn outcome(&self, deployment: &str, category: Category, ok: bool) {
        let now = self.now_ms();
        lock(&self.health).outcome(deployment, category, ok, now);
    }

    pub fn seed(&self, deployment: &str, category: Category, outcomes: Outcomes) {
        lock(&self.health).seed(deployment, category, outcomes);
    }

    /// The deployment `session` used last.
    pub fn session_deployment(&self, session: &str) -> Option<String> {
        lock(&self.sessions).get(session).map(|(d, _)| d.clone())
    }

    pub fn remember_session(&self, session: &str, deployment: &str) {
        let now = self.now_ms();
        let mut s = lock(&self.sessions);
        if s.len() >= MAX_SESSIONS && !s.contains_key(session) {
            let oldest = s.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                s.remove(&k);
            }
        }
        s.insert(session.to_owned(), (deployment.to_owned(), now));
    }

    /// Breakers, load and measured success, for `GET /admin/routing`.
    pub fn snapshot(&self) -> serde_json::Value {
        let now = self.now_ms();
        let h = lock(&self.health);
        serde_json::json!({
            "deployments": h.snapshot(now),
            "outcomes": h.outcome_snapshot(now),
            "sessions": lock(&self.sessions).len(),
        })
    }
}

/// How far back the history seeds measured success at start-up.
const SEED_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

/// Seeds measured success per deployment and category from the history, once at start-up,
/// so a restart does not forget what routing learned.
pub fn spawn_seed(state: std::sync::Arc<crate::state::AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let since = crate::clock::now_ms() - SEED_WINDOW_MS;
        match state.store.route_stats(since).await {
            Ok(stats) => {
                let mut seeded = 0;
                for s in stats {
                    if let Some(category) = Category::parse(&s.category) {
                        let outcomes = Outcomes {
                            ok: u64::try_from(s.ok).unwrap_or(0),
                            total: u64::try_from(s.requests).unwrap_or(0),
                        };
                        state.router.seed(&s.deployment, category, outcomes);
                        seeded += 1;
                    }
                }
                tracing::debug!(seeded, "routing: measured success seeded from the history");
            }
            Err(e) => {
                tracing::warn!(error = %e, "routing: could not read measured success from the history")
            }
        }
    })
}

/// Whether a finished response looks like a success, for routing's measured success: the
/// exchange ended well, and the answer is not empty, not a refusal, and not a tool call cut off
/// by the output limit. `text` is the start of the answer's text when known.
pub fn judge(
    ok_outcome: bool,
    output_tokens: i64,
    stop_reason: Option<&str>,
    text: Option<&str>,
) -> (bool, &'static str) {
    if !ok_outcome {
        return (false, "failed");
    }
    let tool_call = matches!(stop_reason, Some("tool_use" | "tool_calls"));
    if output_tokens == 0 && !tool_call {
        return (false, "empty");
    }
    if matches!(stop_reason, Some("max_tokens" | "length")) && output_tokens < 16 {
        return (false, "truncated");
    }
    if let Some(t) = text {
        let head: String = t.chars().take(160).collect::<String>().to_lowercase();
        const REFUSALS: &[&str] = &[
            "i can't help with",
            "i cannot help with",
            "i can't assist with",
            "i cannot assist with",
            "i'm unable to help",
            "i am unable to help",
            "i'm sorry, but i can't",
            "i'm sorry, but i cannot",
        ];
        if REFUSALS.iter().any(|r| head.contains(r)) {
            return (false, "refusal");
        }
    }
    (true, "ok")
}

/// Whether the request is tagged to stay on local models: the `x-tollgate-sensitivity` header
/// set to `local` (also `local-only`, `private`, `confidential`).
pub fn local_only(headers: &http::HeaderMap) -> bool {
    headers.get("x-tollgate-sensitivity").and_then(|v| v.to_str().ok()).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "local" | "local-only" | "private" | "confidential"
        )
    })
}

/// A background or probe call is never worth keeping a session on its model for.
pub fn sticky_shape(f: &Features) -> bool {
    f.shape == Shape::Turn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_success_signals() {
        assert_eq!(judge(true, 120, Some("end_turn"), Some("Here is the fix.")), (true, "ok"));
        assert_eq!(judge(true, 0, Some("end_turn"), Some("")), (false, "empty"));
        assert_eq!(judge(true, 0, Some("tool_use"), None), (true, "ok"));
        assert_eq!(judge(true, 8, Some("max_tokens"), None), (false, "truncated"));
        assert_eq!(judge(false, 100, None, None), (false, "failed"));
        assert_eq!(
            judge(true, 30, Some("stop"), Some("I'm sorry, but I can't help with that.")),
            (false, "refusal")
        );
    }

    #[test]
    fn sessions_are_bounded_and_remembered() {
        let r = Router::new(&RoutingConfig::default());
        r.remember_session("s1", "anthropic:claude-sonnet-4-5");
        assert_eq!(r.session_deployment("s1").as_deref(), Some("anthropic:claude-sonnet-4-5"));
        assert!(r.session_deployment("s2").is_none());
        for i in 0..MAX_SESSIONS + 5 {
            r.remember_session(&format!("x{i}"), "a:b");
        }
        assert_eq!(lock(&r.sessions).len(), MAX_SESSIONS);
    }

    #[test]
    fn sensitivity_header() {
        let mut h = http::HeaderMap::new();
        assert!(!local_only(&h));
        h.insert("x-tollgate-sensitivity", http::HeaderValue::from_static("Local"));
        assert!(local_only(&h));
        h.insert("x-tollgate-sensitivity", http::HeaderValue::from_static("public"));
        assert!(!local_only(&h));
    }
}

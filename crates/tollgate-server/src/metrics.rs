//! Prometheus metrics: every metric's name, help and labels, defined here once, and the
//! `GET /metrics` handler that renders them (OpenMetrics text).
//!
//! What must not live here: anything that identifies a request or a caller (ids, keys, bodies,
//! user agents), or a label whose values a client controls without bound (models are capped).

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tollgate_store::ExchangeRecord;

use crate::state::AppState;

/// Metric family names, as in `# TYPE` lines. Counters' samples add `_total`
/// (`tollgate_requests` is scraped as `tollgate_requests_total`).
pub mod names {
    pub const REQUESTS: &str = "tollgate_requests";
    pub const REQUEST_DURATION: &str = "tollgate_request_duration_seconds";
    pub const TIME_TO_FIRST_BYTE: &str = "tollgate_time_to_first_byte_seconds";
    pub const TOKENS: &str = "tollgate_tokens";
    pub const COST_USD: &str = "tollgate_cost_usd";
    pub const CACHE_HITS: &str = "tollgate_cache_hits";
    pub const HISTORY_QUEUE_DEPTH: &str = "tollgate_history_queue_depth";
    pub const HISTORY_SPOOL_BYTES: &str = "tollgate_history_spool_bytes";
    pub const HISTORY_OVERFLOW: &str = "tollgate_history_overflow";
    pub const UPSTREAM_UP: &str = "tollgate_upstream_up";
    pub const IN_FLIGHT: &str = "tollgate_in_flight";

    /// Every family, for documentation and tests.
    pub const ALL: &[&str] = &[
        REQUESTS,
        REQUEST_DURATION,
        TIME_TO_FIRST_BYTE,
        TOKENS,
        COST_USD,
        CACHE_HITS,
        HISTORY_QUEUE_DEPTH,
        HISTORY_SPOOL_BYTES,
        HISTORY_OVERFLOW,
        UPSTREAM_UP,
        IN_FLIGHT,
    ];
}

/// What `GET /metrics` answers with. Prometheus asks for OpenMetrics and parses it.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Distinct model label values kept before new ones become [`OTHER`]. Each model multiplies the
/// series of three families (requests by status and outcome, tokens by kind, cost); 200 models
/// stay in the low thousands of series, and a client cycling model names cannot grow it further.
pub const MAX_MODELS: usize = 200;
/// Longer model strings are not names anyone wants as a label.
const MAX_MODEL_LEN: usize = 128;
/// The label value for models beyond the cap.
pub const OTHER: &str = "other";
/// The label value when there is none (no provider resolved, no model known, unauthenticated).
pub const NONE: &str = "-";

/// Seconds, from 1 ms (a rejected request, a local `count_tokens`) to 10 minutes (the longest
/// non-streaming generation the first-byte timeout allows).
const LATENCY_BUCKETS: [f64; 18] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0,
    120.0, 300.0, 600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    provider: String,
    model: String,
    status: u16,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    provider: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

type Latency = Family<EndpointLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The gateway's metrics. Cheap to clone (one `Arc`); every method takes `&self`.
///
/// Recording costs a handful of hash-map lookups under read locks (a write lock only the first
/// time a label combination is seen), and no I/O: nothing on the request path waits on a scrape.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Latency,
    ttfb: Latency,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    cache_hits: Family<ProviderLabels, Counter>,
    queue_depth: Gauge,
    spool_bytes: Gauge,
    overflow: Counter,
    upstream_up: Family<ProviderLabels, Gauge>,
    in_flight: Gauge,
    models: ModelCap,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            names::REQUESTS,
            "Exchanges finished, by endpoint, provider, model, HTTP status and outcome (ok, \
             rejected, upstream_error, stream_error, upstream_broke_off, timeout, client_closed, \
             shutdown). Unauthenticated requests count with provider and model \"-\"",
            requests.clone(),
        );
        let duration: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            names::REQUEST_DURATION,
            "Time from arrival to the last byte sent (for a stream, its end), in seconds",
            duration.clone(),
        );
        let ttfb: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            names::TIME_TO_FIRST_BYTE,
            "Time from arrival to the first response byte sent to the client, in seconds",
            ttfb.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            names::TOKENS,
            "Tokens reported by providers, by kind: input, output, cache_read, cache_write",
            tokens.clone(),
        );
        let cost = Family::<ModelLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            names::COST_USD,
            "Cost in US dollars at the configured prices (exchanges with unknown prices add 0)",
            cost.clone(),
        );
        let cache_hits = Family::<ProviderLabels, Counter>::default();
        registry.register(
            names::CACHE_HITS,
            "Exchanges that read from the provider's prompt cache (cache_read tokens > 0)",
            cache_hits.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            names::HISTORY_QUEUE_DEPTH,
            "History records waiting to be written to the store",
            queue_depth.clone(),
        );
        let spool_bytes = Gauge::default();
        registry.register(
            names::HISTORY_SPOOL_BYTES,
            "Bytes of history held on disk until the store accepts them",
            spool_bytes.clone(),
        );
        let overflow = Counter::default();
        registry.register(
            names::HISTORY_OVERFLOW,
            "History records that found the in-memory queue full",
            overflow.clone(),
        );
        let upstream_up = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            names::UPSTREAM_UP,
            "1 if the provider's last background probe succeeded, 0 if it failed",
            upstream_up.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            names::IN_FLIGHT,
            "Exchanges in progress (streams included) at scrape time",
            in_flight.clone(),
        );
        Self(Arc::new(Inner {
            registry,
            requests,
            duration,
            ttfb,
            tokens,
            cost,
            cache_hits,
            queue_depth,
            spool_bytes,
            overflow,
            upstream_up,
            in_flight,
            models: ModelCap::default(),
        }))
    }

    /// Counts one finished exchange (called once, from `Exchange::finish`).
    pub fn observe_exchange(&self, r: &ExchangeRecord, elapsed: Duration) {
        let m = &self.0;
        let provider = r.provider.as_deref().unwrap_or(NONE);
        // Only authenticated callers name label values: a stranger cycling model names must
        // not fill the cap.
        let model = match (&r.key_name, r.model_served.as_deref().or(r.model_requested.as_deref()))
        {
            (Some(_), Some(model)) => m.models.label(model),
            _ => NONE.to_owned(),
        };
        m.requests
            .get_or_create(&RequestLabels {
                endpoint: r.endpoint.clone(),
                provider: provider.to_owned(),
                model: model.clone(),
                status: r.status,
                outcome: r.outcome.clone(),
            })
            .inc();
        let at = EndpointLabels { endpoint: r.endpoint.clone(), provider: provider.to_owned() };
        m.duration.get_or_create(&at).observe(elapsed.as_secs_f64());
        if let Some(ttfb) = r.ttfb_ms {
            m.ttfb.get_or_create(&at).observe(ttfb as f64 / 1000.0);
        }
        let kinds = [
            ("input", r.input_tokens),
            ("output", r.output_tokens),
            ("cache_read", r.cache_read_tokens),
            ("cache_write", r.cache_write_tokens),
        ];
        for (kind, n) in kinds {
            if n > 0 {
                let labels =
                    TokenLabels { provider: provider.to_owned(), model: model.clone(), kind };
                m.tokens.get_or_create(&labels).inc_by(n as u64);
            }
        }
        if r.cost_micros > 0 {
            let labels = ModelLabels { provider: provider.to_owned(), model };
            m.cost.get_or_create(&labels).inc_by(r.cost_micros as f64 / 1e6);
        }
        if r.cache_read_tokens > 0 {
            m.cache_hits.get_or_create(&ProviderLabels { provider: provider.to_owned() }).inc();
        }
    }

    /// History records queued and not yet written.
    pub fn set_queue_depth(&self, n: usize) {
        self.0.queue_depth.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Bytes of history spooled on disk.
    pub fn set_spool_bytes(&self, n: u64) {
        self.0.spool_bytes.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// One history record found the queue full.
    pub fn inc_history_overflow(&self) {
        self.0.overflow.inc();
    }

    /// The outcome of a provider probe.
    pub fn set_upstream_up(&self, provider: &str, up: bool) {
        let labels = ProviderLabels { provider: provider.to_owned() };
        self.0.upstream_up.get_or_create(&labels).set(i64::from(up));
    }

    /// Sets the in-flight gauge (read from the tracker at scrape time).
    pub fn set_in_flight(&self, n: usize) {
        self.0.in_flight.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.0.registry)?;
        Ok(out)
    }
}

/// `GET /metrics`: open like `/health`, because scrapers rarely carry keys. It exposes aggregate
/// counts only: provider and model names, statuses, tokens, cost; never a key, id or body.
pub async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    state.metrics.set_in_flight(state.in_flight.count());
    match state.metrics.render() {
        Ok(body) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], body).into_response(),
        Err(_) => {
            tracing::error!("metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The model label values seen so far, up to [`MAX_MODELS`].
#[derive(Debug, Default)]
struct ModelCap {
    seen: RwLock<HashSet<String>>,
}

impl ModelCap {
    fn label(&self, model: &str) -> String {
        if self.seen.read().unwrap_or_else(PoisonError::into_inner).contains(model) {
            return model.to_owned();
        }
        if model.len() > MAX_MODEL_LEN {
            return OTHER.to_owned();
        }
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if seen.contains(model) || seen.len() < MAX_MODELS {
            seen.insert(model.to_owned());
            model.to_owned()
        } else {
            OTHER.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_beyond_the_cap_become_other() {
        let cap = ModelCap::default();
        for i in 0..MAX_MODELS {
            assert_eq!(cap.label(&format!("m{i}")), format!("m{i}"));
        }
        assert_eq!(cap.label("one-too-many"), OTHER);
        assert_eq!(cap.label("m0"), "m0");
        assert_eq!(cap.label(&"x".repeat(MAX_MODEL_LEN + 1)), OTHER);
    }

    #[test]
    fn an_exchange_is_counted_with_its_labels() {
        let m = Metrics::new();
        let r = ExchangeRecord {
            endpoint: "messages".into(),
            key_name: Some("master".into()),
            provider: Some("anthropic".into()),
            model_requested: Some("claude-sonnet-4-5".into()),
            model_served: Some("claude-sonnet-4-5-20250929".into()),
            status: 200,
            outcome: "ok".into(),
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 3,
            cost_micros: 1_500,
            ttfb_ms: Some(20),
            ..Default::default()
        };
        m.observe_exchange(&r, Duration::from_millis(40));
        let unauthenticated = ExchangeRecord {
            endpoint: "messages".into(),
            model_requested: Some("attacker-chosen".into()),
            status: 401,
            outcome: "rejected".into(),
            ..Default::default()
        };
        m.observe_exchange(&unauthenticated, Duration::from_millis(1));
        let text = m.render().unwrap();
        assert!(text.contains(r#"tollgate_requests_total{endpoint="messages",provider="anthropic",model="claude-sonnet-4-5-20250929",status="200",outcome="ok"} 1"#), "{text}");
        assert!(text.contains(r#"tollgate_requests_total{endpoint="messages",provider="-",model="-",status="401",outcome="rejected"} 1"#), "{text}");
        assert!(text.contains(r#"tollgate_tokens_total{provider="anthropic",model="claude-sonnet-4-5-20250929",kind="cache_read"} 3"#), "{text}");
        assert!(!text.contains(r#"kind="cache_write""#), "{text}");
        assert!(text.contains(r#"tollgate_cost_usd_total{provider="anthropic",model="claude-sonnet-4-5-20250929"} 0.0015"#), "{text}");
        assert!(text.contains(r#"tollgate_cache_hits_total{provider="anthropic"} 1"#), "{text}");
        assert!(!text.contains("attacker-chosen"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}

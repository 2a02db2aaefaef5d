//! One exchange, from arrival to the last byte: what it was, how it went, and the single place
//! where it is logged and handed to the recorder. The guard's `Drop` finishes an exchange that
//! nobody finished, which is how a client disconnect (the handler or body stream dropped) still
//! produces its request line and history record.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tollgate_store::ExchangeRecord;
use tollgate_wire::{Dialect, Usage};

use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Tollgate refused the request (bad body, unknown model, bad key).
    Rejected,
    /// The provider answered with an error status.
    UpstreamError,
    /// The stream ended with an error event from the provider.
    StreamError,
    /// The provider closed the stream before its terminal event.
    UpstreamBrokeOff,
    Timeout,
    ClientClosed,
    Shutdown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::UpstreamError => "upstream_error",
            Self::StreamError => "stream_error",
            Self::UpstreamBrokeOff => "upstream_broke_off",
            Self::Timeout => "timeout",
            Self::ClientClosed => "client_closed",
            Self::Shutdown => "shutdown",
        }
    }
}

/// What routing needs to hear when the exchange ends.
#[derive(Debug, Clone, Default)]
pub struct RouteTrack {
    /// The request's category, when it was classified (automatic routing).
    pub category: Option<tollgate_routing::classify::Category>,
    /// The agent session, when it is kept on its deployment.
    pub session: Option<String>,
    /// The deployment serving the response (admitted by its breaker), once one does.
    pub deployment: Option<String>,
}

pub struct Exchange {
    state: Arc<AppState>,
    /// Routing's bookkeeping, settled in [`Exchange::finish`].
    pub route: Option<RouteTrack>,
    /// (provider, upstream model, route reason) of the deployment tried last, for the
    /// `x-tollgate-*` headers; stays with this guard on [`Exchange::hand_off`].
    pub routed: Option<(String, String, String)>,
    started: Instant,
    pub record: ExchangeRecord,
    /// Whether the exchange goes to the history (unauthenticated requests do not).
    recorded: bool,
    finished: bool,
    /// Whether this guard holds the exchange's place in the in-flight count.
    counted: bool,
}

impl Exchange {
    pub fn new(
        state: Arc<AppState>,
        request_id: &str,
        dialect: Dialect,
        endpoint: &'static str,
    ) -> Self {
        state.in_flight.start();
        let started_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        Self {
            state,
            route: None,
            routed: None,
            started: Instant::now(),
            record: ExchangeRecord {
                id: uuid::Uuid::now_v7().to_string(),
                request_id: request_id.to_owned(),
                started_at_ms,
                client_dialect: dialect.as_str().to_owned(),
                endpoint: endpoint.to_owned(),
                outcome: Outcome::ClientClosed.as_str().to_owned(),
                ..Default::default()
            },
            recorded: false,
            finished: false,
            counted: true,
        }
    }

    /// Moves the exchange into a new guard (the stream relay's), leaving this one inert.
    pub fn hand_off(&mut self) -> Exchange {
        let moved = Exchange {
            state: self.state.clone(),
            route: self.route.take(),
            routed: None,
            started: self.started,
            record: std::mem::take(&mut self.record),
            recorded: self.recorded,
            finished: self.finished,
            counted: self.counted,
        };
        self.finished = true;
        self.recorded = false;
        self.counted = false;
        moved
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Marks the caller authenticated: from here on the exchange is recorded (when recording is
    /// on).
    pub fn authenticated(&mut self, key_name: &str, user_agent: Option<&str>) {
        self.recorded = self.state.config.record;
        self.record.key_name = Some(key_name.to_owned());
        self.record.user_agent = user_agent.map(str::to_owned);
    }

    pub fn record_bodies(&self) -> bool {
        self.state.config.record && self.state.config.record_bodies
    }

    pub fn mark_first_byte(&mut self) {
        if self.record.ttfb_ms.is_none() {
            self.record.ttfb_ms = Some(self.started.elapsed().as_millis() as i64);
        }
    }

    pub fn set_usage(&mut self, u: &Usage) {
        self.record.input_tokens = u.input_tokens as i64;
        self.record.output_tokens = u.output_tokens as i64;
        self.record.cache_read_tokens = u.cache_read_tokens as i64;
        self.record.cache_write_tokens = u.cache_write_tokens as i64;
    }

    pub fn set_error(&mut self, error_type: &str, message: &str) {
        self.record.error_type = Some(error_type.to_owned());
        self.record.error_message = Some(message.to_owned());
    }

    /// Logs the request line and queues the record. Runs once.
    pub fn finish(&mut self, status: u16, outcome: Outcome) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.record.status = status;
        self.record.outcome = outcome.as_str().to_owned();
        let elapsed = self.started.elapsed();
        self.record.total_ms = elapsed.as_millis() as i64;
        let r = &self.record;
        tracing::info!(
            target: "tollgate::request",
            request_id = %r.request_id,
            endpoint = %r.endpoint,
            dialect = %r.client_dialect,
            provider = r.provider.as_deref().unwrap_or("-"),
            model = r.model_requested.as_deref().unwrap_or("-"),
            model_served = r.model_served.as_deref().unwrap_or("-"),
            route = r.route_reason.as_deref().unwrap_or("-"),
            stream = r.stream,
            status,
            outcome = outcome.as_str(),
            error_type = r.error_type.as_deref().unwrap_or("-"),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            ttfb_ms = r.ttfb_ms.unwrap_or(-1),
            input_tokens = r.input_tokens,
            output_tokens = r.output_tokens,
            key = r.key_name.as_deref().unwrap_or("-"),
            "request"
        );
        self.state.metrics.observe_exchange(&self.record, elapsed);
        if let Some(route) = self.route.take() {
            self.settle_route(route, outcome);
        }
        if self.recorded {
            let mut record = std::mem::take(&mut self.record);
            mask_bodies(&mut record);
            self.state.recorder.record(record);
        }
    }
}

impl Exchange {
    /// Tells routing how the serving deployment did: its breaker and load, the measured success
    /// of the request's category on it, and the session's deployment.
    fn settle_route(&self, route: RouteTrack, outcome: Outcome) {
        let Some(deployment) = route.deployment else { return };
        let router = &self.state.router;
        // A client that hangs up is not the deployment's fault.
        let transport_ok =
            matches!(outcome, Outcome::Ok | Outcome::ClientClosed | Outcome::Shutdown);
        let ttfb = self.record.ttfb_ms.map(|ms| std::time::Duration::from_millis(ms as u64));
        router.finished(&deployment, transport_ok, ttfb);
        if let Some(category) = route.category
            && !matches!(outcome, Outcome::ClientClosed | Outcome::Shutdown)
        {
            let (ok, why) = crate::routing::judge(
                outcome == Outcome::Ok,
                self.record.output_tokens,
                self.record.stop_reason.as_deref(),
                None,
            );
            router.outcome(&deployment, category, ok);
            if !ok {
                tracing::debug!(request_id = %self.record.request_id, %deployment, why, "routing: response judged a failure");
            }
        }
        if outcome == Outcome::Ok
            && let Some(session) = route.session
        {
            router.remember_session(&session, &deployment);
        }
    }
}

/// Masks secrets in every body before the record is written anywhere (journal or database).
/// Bodies without secrets are shared, not copied.
fn mask_bodies(r: &mut ExchangeRecord) {
    use std::borrow::Cow;
    use tollgate_wire::secrets;
    let json = |b: &mut Option<Bytes>| {
        if let Some(body) = b.as_ref()
            && let Cow::Owned(masked) = secrets::mask_json_bytes(body)
        {
            *b = Some(Bytes::from(masked));
        }
    };
    json(&mut r.request_body);
    json(&mut r.forwarded_body);
    if r.stream {
        // SSE text: `mask` never crosses an unescaped quote, so JSON inside the frames stays valid.
        if let Some(body) = r.response_body.as_ref()
            && let Ok(text) = std::str::from_utf8(body)
            && let Cow::Owned(masked) = secrets::mask(text)
        {
            r.response_body = Some(Bytes::from(masked));
        }
    } else {
        json(&mut r.response_body);
    }
    if let Some(msg) = r.error_message.as_deref()
        && let Cow::Owned(masked) = secrets::mask(msg)
    {
        r.error_message = Some(masked);
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if !self.finished {
            let outcome = if self.state.in_flight.is_shutting_down() {
                Outcome::Shutdown
            } else {
                Outcome::ClientClosed
            };
            // 499: the client closed the connection before the response completed (nginx's code).
            self.finish(499, outcome);
        }
        if self.counted {
            self.state.in_flight.end();
        }
    }
}

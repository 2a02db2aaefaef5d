//! The JSON shapes of the history, shared by the JSON and JSONL exports, `tollgate history
//! --json` and the admin API, so one reader handles them all. Field names are the store's.
//!
//! Bodies are embedded as JSON when they are JSON (copied verbatim, never re-encoded, so key
//! order and numbers stay as received) and as a string otherwise (SSE streams; bytes that are
//! not UTF-8 are replaced with U+FFFD).

use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::{ExchangeRecord, ExchangeSummary, PolicyEvent, SearchHit, SessionRecord};

/// A stored body: JSON embedded as JSON, anything else as a string.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Body<'a> {
    Json(&'a RawValue),
    Text(Cow<'a, str>),
}

impl<'a> Body<'a> {
    pub fn of(bytes: &'a [u8]) -> Self {
        match serde_json::from_slice::<&RawValue>(bytes) {
            Ok(raw) => Self::Json(raw),
            Err(_) => Self::Text(String::from_utf8_lossy(bytes)),
        }
    }

    fn of_str(text: &'a str) -> Self {
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => Self::Json(raw),
            Err(_) => Self::Text(Cow::Borrowed(text)),
        }
    }
}

/// One exchange with its bodies and policy events.
#[derive(Debug, Serialize)]
pub struct ExchangeDoc<'a> {
    pub id: &'a str,
    pub request_id: &'a str,
    pub started_at_ms: i64,
    pub client_dialect: &'a str,
    pub endpoint: &'a str,
    pub key_name: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub client: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub model_requested: Option<&'a str>,
    pub model_served: Option<&'a str>,
    pub route_reason: Option<&'a str>,
    pub stream: bool,
    pub status: u16,
    pub outcome: &'a str,
    pub error_type: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub stop_reason: Option<&'a str>,
    pub ttfb_ms: Option<i64>,
    pub total_ms: i64,
    pub upstream_request_id: Option<&'a str>,
    pub request_body: Option<Body<'a>>,
    pub forwarded_body: Option<Body<'a>>,
    pub response_body: Option<Body<'a>>,
    pub response_message: Option<Body<'a>>,
    pub bodies_purged_at_ms: Option<i64>,
    pub policy_events: Vec<PolicyEventDoc<'a>>,
}

impl<'a> From<&'a ExchangeRecord> for ExchangeDoc<'a> {
    fn from(e: &'a ExchangeRecord) -> Self {
        let body = |b: &'a Option<bytes::Bytes>| b.as_deref().map(Body::of);
        Self {
            id: &e.id,
            request_id: &e.request_id,
            started_at_ms: e.started_at_ms,
            client_dialect: &e.client_dialect,
            endpoint: &e.endpoint,
            key_name: e.key_name.as_deref(),
            user_agent: e.user_agent.as_deref(),
            client: e.client.as_deref(),
            session_id: e.session_id.as_deref(),
            provider: e.provider.as_deref(),
            model_requested: e.model_requested.as_deref(),
            model_served: e.model_served.as_deref(),
            route_reason: e.route_reason.as_deref(),
            stream: e.stream,
            status: e.status,
            outcome: &e.outcome,
            error_type: e.error_type.as_deref(),
            error_message: e.error_message.as_deref(),
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            cache_read_tokens: e.cache_read_tokens,
            cache_write_tokens: e.cache_write_tokens,
            cost_micros: e.cost_micros,
            stop_reason: e.stop_reason.as_deref(),
            ttfb_ms: e.ttfb_ms,
            total_ms: e.total_ms,
            upstream_request_id: e.upstream_request_id.as_deref(),
            request_body: body(&e.request_body),
            forwarded_body: body(&e.forwarded_body),
            response_body: body(&e.response_body),
            response_message: body(&e.response_message),
            bodies_purged_at_ms: e.bodies_purged_at_ms,
            policy_events: e.policy_events.iter().map(PolicyEventDoc::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PolicyEventDoc<'a> {
    pub id: &'a str,
    pub at_ms: i64,
    pub policy: &'a str,
    pub verdict: &'a str,
    pub reason: Option<&'a str>,
    /// JSON when it is JSON.
    pub detail: Option<Body<'a>>,
}

impl<'a> From<&'a PolicyEvent> for PolicyEventDoc<'a> {
    fn from(p: &'a PolicyEvent) -> Self {
        Self {
            id: &p.id,
            at_ms: p.at_ms,
            policy: &p.policy,
            verdict: &p.verdict,
            reason: p.reason.as_deref(),
            detail: p.detail.as_deref().map(Body::of_str),
        }
    }
}

/// An exchange in a list: no bodies.
#[derive(Debug, Serialize)]
pub struct SummaryDoc<'a> {
    pub id: &'a str,
    pub request_id: &'a str,
    pub started_at_ms: i64,
    pub session_id: Option<&'a str>,
    pub client: Option<&'a str>,
    pub key_name: Option<&'a str>,
    pub endpoint: &'a str,
    pub provider: Option<&'a str>,
    pub model_requested: Option<&'a str>,
    pub model_served: Option<&'a str>,
    pub stream: bool,
    pub status: u16,
    pub outcome: &'a str,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub ttfb_ms: Option<i64>,
    pub total_ms: i64,
}

impl<'a> From<&'a ExchangeSummary> for SummaryDoc<'a> {
    fn from(s: &'a ExchangeSummary) -> Self {
        Self {
            id: &s.id,
            request_id: &s.request_id,
            started_at_ms: s.started_at_ms,
            session_id: s.session_id.as_deref(),
            client: s.client.as_deref(),
            key_name: s.key_name.as_deref(),
            endpoint: &s.endpoint,
            provider: s.provider.as_deref(),
            model_requested: s.model_requested.as_deref(),
            model_served: s.model_served.as_deref(),
            stream: s.stream,
            status: s.status,
            outcome: &s.outcome,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cache_read_tokens: s.cache_read_tokens,
            cache_write_tokens: s.cache_write_tokens,
            cost_micros: s.cost_micros,
            ttfb_ms: s.ttfb_ms,
            total_ms: s.total_ms,
        }
    }
}

/// A search hit: the exchange and the excerpt around the match (`«word»`).
#[derive(Debug, Serialize)]
pub struct SearchHitDoc<'a> {
    pub exchange: SummaryDoc<'a>,
    pub snippet: &'a str,
}

impl<'a> From<&'a SearchHit> for SearchHitDoc<'a> {
    fn from(h: &'a SearchHit) -> Self {
        Self { exchange: SummaryDoc::from(&h.exchange), snippet: &h.snippet }
    }
}

/// A session as exported: the record itself, whose fields are the document's.
pub type SessionDoc<'a> = &'a SessionRecord;

/// Compact JSON of a document. Serialising these shapes cannot fail (string keys, no maps with
/// other keys), so an error is written as a JSON string rather than lost.
pub fn to_string<T: Serialize>(doc: &T) -> String {
    serde_json::to_string(doc)
        .unwrap_or_else(|e| serde_json::Value::String(format!("unserialisable: {e}")).to_string())
}

//! One exchange, as stored, and the session it belongs to.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRecord {
    /// UUIDv7: sortable by time.
    pub id: String,
    pub request_id: String,
    /// Unix milliseconds when the request arrived.
    pub started_at_ms: i64,
    /// `anthropic`, `openai-chat`.
    pub client_dialect: String,
    /// `messages`, `count_tokens`, `chat_completions`.
    pub endpoint: String,
    /// The gateway key's name (`master` for the master key), never the key.
    pub key_name: Option<String>,
    pub user_agent: Option<String>,
    /// The client program, recognised from the user agent and headers (`claude-code`, `codex`,
    /// `anthropic-sdk-python`, `openai-sdk-js`, `aider`, ...), when known.
    pub client: Option<String>,
    /// The session this exchange belongs to (see [`SessionUpdate`]).
    pub session_id: Option<String>,
    pub provider: Option<String>,
    pub model_requested: Option<String>,
    /// The model the provider says served the request.
    pub model_served: Option<String>,
    pub route_reason: Option<String>,
    /// The request's task category, when routing classified it (`debug`, `simple_qa`, ...).
    pub route_category: Option<String>,
    /// The whole routing decision: a versioned JSON document (features, candidates, filters,
    /// scores, chosen deployments).
    pub route_decision: Option<String>,
    /// The deployment (`provider:model`) that served it, as routing named it.
    pub route_deployment: Option<String>,
    pub stream: bool,
    /// The HTTP status Tollgate answered with.
    pub status: u16,
    /// `ok`, `rejected`, `upstream_error`, `stream_error`, `upstream_broke_off`, `timeout`,
    /// `client_closed`, `shutdown`.
    pub outcome: String,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    /// Cost in millionths of a US dollar (exact integer arithmetic; 0 when the price is unknown).
    pub cost_micros: i64,
    pub stop_reason: Option<String>,
    /// Time from arrival to the first response byte sent to the client.
    pub ttfb_ms: Option<i64>,
    pub total_ms: i64,
    pub upstream_request_id: Option<String>,
    /// The request as received (secrets masked). Shared with the request path (no copy).
    pub request_body: Option<Bytes>,
    /// The request as forwarded upstream, only when it differs from `request_body`.
    pub forwarded_body: Option<Bytes>,
    /// The response as returned: the JSON body, or for a stream the raw SSE bytes.
    pub response_body: Option<Bytes>,
    /// For a stream: the message reconstructed from its events (the dialect's whole-response
    /// JSON, thinking blocks and signatures included).
    pub response_message: Option<Bytes>,
    /// Plain text for full-text search: the last user turn and the assistant's text.
    pub search_text: Option<String>,
    /// Set when retention purged the bodies (unix ms); totals stay.
    pub bodies_purged_at_ms: Option<i64>,
    /// Session fields learned from this exchange, upserted with it.
    pub session: Option<SessionUpdate>,
    pub policy_events: Vec<PolicyEvent>,
    /// Request headers that enrichment needs later (session ids), carried through the journal
    /// to the writer; not a column.
    #[serde(default)]
    pub hints: Vec<(String, String)>,
}

/// What one exchange says about its session. The store upserts the session row: first-seen
/// fields (preview, cwd, branch) are kept once set; counters and totals add up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUpdate {
    /// Stable id: `cc:<uuid>` (Claude Code), `hdr:<value>` (x-session-id and similar),
    /// `codex:<id>`, `h:<hash>` (heuristic).
    pub id: String,
    /// `claude-code`, `header`, `codex`, `heuristic`.
    pub source: String,
    /// The first user prompt, at most 500 characters.
    pub preview: Option<String>,
    pub cwd: Option<String>,
    pub git_branch: Option<String>,
}

/// A policy decision about an exchange (written by the policy layer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEvent {
    pub id: String,
    pub at_ms: i64,
    pub policy: String,
    /// `allow`, `ask`, `deny`, `redact`, `observe`.
    pub verdict: String,
    pub reason: Option<String>,
    /// JSON: what was judged, the original and the final content.
    pub detail: Option<String>,
}

/// A session as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    pub id: String,
    pub source: String,
    pub key_name: Option<String>,
    pub client: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub preview: Option<String>,
    pub title: Option<String>,
    pub cwd: Option<String>,
    pub git_branch: Option<String>,
    pub exchange_count: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
}

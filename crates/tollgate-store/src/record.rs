//! One exchange, as stored.

use bytes::Bytes;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    pub provider: Option<String>,
    pub model_requested: Option<String>,
    /// The model the provider says served the request.
    pub model_served: Option<String>,
    pub route_reason: Option<String>,
    pub stream: bool,
    /// The HTTP status Tollgate answered with.
    pub status: u16,
    /// `ok`, `error`, `upstream_error`, `client_closed`, `upstream_broke_off`, `timeout`.
    pub outcome: String,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub stop_reason: Option<String>,
    /// Time from arrival to the first response byte sent to the client.
    pub ttfb_ms: Option<i64>,
    pub total_ms: i64,
    pub upstream_request_id: Option<String>,
    /// Shared with the request path (no copy).
    pub request_body: Option<Bytes>,
    /// The response as returned: JSON, or the SSE bytes for a stream.
    pub response_body: Option<Bytes>,
}

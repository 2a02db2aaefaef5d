//! Anthropic Messages: `POST /v1/messages` (Claude Code adds `?beta=true`, which needs nothing
//! here) and `POST /v1/messages/count_tokens`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use super::RequestId;
use crate::pipeline::{Operation, handle};
use crate::state::AppState;

pub async fn messages(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, Operation::Messages, id.0, headers, body).await
}

pub async fn count_tokens(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, Operation::CountTokens, id.0, headers, body).await
}

//! OpenAI Chat Completions: `POST /v1/chat/completions`.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use super::RequestId;
use crate::pipeline::{Operation, handle};
use crate::state::AppState;

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, Operation::ChatCompletions, id.0, headers, body).await
}

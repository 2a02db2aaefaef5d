//! OpenAI Responses: `POST /v1/responses` (Codex speaks only this).

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;

use super::RequestId;
use crate::pipeline::{Operation, handle};
use crate::state::AppState;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, Operation::Responses, id.0, headers, body).await
}

//! `GET /v1/models` in the shape the caller expects: Anthropic's when it sent
//! `anthropic-version`, OpenAI's otherwise. Lists aliases, configured models and the models
//! each provider listed itself.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};
use tollgate_wire::Dialect;

use super::{RequestId, guess_dialect};
use crate::error::{ApiError, ErrorKind};
use crate::pipeline::authenticate;
use crate::state::AppState;

fn entry(dialect: Dialect, id: &str, owner: &str) -> Value {
    match dialect {
        Dialect::Anthropic => {
            json!({"type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z"})
        }
        Dialect::OpenAiChat => {
            json!({"id": id, "object": "model", "created": 0, "owned_by": owner})
        }
    }
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    let dialect = guess_dialect("/v1/models", &headers);
    if let Err(e) = authenticate(&state, &headers) {
        return e.into_response(dialect, &id.0);
    }
    let names = state.catalog().model_names();
    let data: Vec<Value> = names.iter().map(|(m, p)| entry(dialect, m, p)).collect();
    let body = match dialect {
        Dialect::Anthropic => json!({
            "data": data,
            "has_more": false,
            "first_id": names.first().map(|(m, _)| m.clone()),
            "last_id": names.last().map(|(m, _)| m.clone()),
        }),
        Dialect::OpenAiChat => json!({"object": "list", "data": data}),
    };
    axum::Json(body).into_response()
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Response {
    let dialect = guess_dialect("/v1/models", &headers);
    if let Err(e) = authenticate(&state, &headers) {
        return e.into_response(dialect, &id.0);
    }
    let catalog = state.catalog();
    if let Some((m, p)) = catalog.model_names().into_iter().find(|(m, _)| *m == model) {
        return axum::Json(entry(dialect, &m, &p)).into_response();
    }
    match catalog.resolve(&model, dialect.as_str()) {
        Ok(t) => {
            axum::Json(entry(dialect, &model, &catalog.providers[t.provider].name)).into_response()
        }
        Err(e) => {
            ApiError::new(ErrorKind::ModelNotFound, e.to_string()).into_response(dialect, &id.0)
        }
    }
}

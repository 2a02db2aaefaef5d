//! `GET /v1/models` in the shape the caller expects: Anthropic's when it sent
//! `anthropic-version`, OpenAI's otherwise. Lists aliases, configured models and the models
//! each provider listed itself, limited to providers that speak the caller's dialect (a model
//! picker must not offer models the endpoint would then refuse). Anthropic's paging
//! (`limit`, default 20, `after_id`, `before_id`) is honoured.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
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
        _ => {
            json!({"id": id, "object": "model", "created": 0, "owned_by": owner})
        }
    }
}

/// Anthropic's list parameters; OpenAI's list takes none.
#[derive(Debug, serde::Deserialize)]
pub struct ListParams {
    limit: Option<usize>,
    after_id: Option<String>,
    before_id: Option<String>,
}

/// The models a caller can use, as (name, provider): every one, whatever dialect its provider
/// speaks, since Tollgate translates.
fn usable(state: &AppState, _dialect: Dialect) -> Vec<(String, String)> {
    state.catalog().model_names()
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Response {
    let dialect = guess_dialect("/v1/models", &headers);
    if let Err(e) = authenticate(&state, &headers) {
        return e.into_response(dialect, &id.0);
    }
    let names = usable(&state, dialect);
    let body = match dialect {
        Dialect::Anthropic => {
            let limit = params.limit.unwrap_or(20).clamp(1, 1000);
            let position = |id: &Option<String>| {
                id.as_ref().and_then(|id| names.iter().position(|(m, _)| m == id))
            };
            let (start, end) = match (position(&params.after_id), position(&params.before_id)) {
                (Some(after), _) => (after + 1, (after + 1 + limit).min(names.len())),
                (None, Some(before)) => (before.saturating_sub(limit), before),
                (None, None) => (0, limit.min(names.len())),
            };
            let page = &names[start.min(end)..end];
            let has_more = if params.before_id.is_some() && params.after_id.is_none() {
                start > 0
            } else {
                end < names.len()
            };
            json!({
                "data": page.iter().map(|(m, p)| entry(dialect, m, p)).collect::<Vec<_>>(),
                "has_more": has_more,
                "first_id": page.first().map(|(m, _)| m.clone()),
                "last_id": page.last().map(|(m, _)| m.clone()),
            })
        }
        _ => {
            json!({"object": "list", "data": names.iter().map(|(m, p)| entry(dialect, m, p)).collect::<Vec<_>>()})
        }
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

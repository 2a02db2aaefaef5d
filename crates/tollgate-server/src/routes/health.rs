//! `GET /health` (liveness: the process answers) and `GET /health/ready` (storage and providers;
//! 503 when one is down). Unauthenticated callers see only up/down per dependency; reasons, which
//! can reveal credential state, need the master key.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use crate::auth::presented_key;
use crate::state::{AppState, ProviderHealth};

pub async fn live() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

pub async fn ready(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let detailed = presented_key(&headers).is_some_and(|k| state.keys.is_master(k));
    let check = |up: bool, reason: Option<String>| {
        let mut o = Map::new();
        o.insert("status".into(), json!(if up { "up" } else { "down" }));
        if let (true, Some(r)) = (detailed, reason) {
            o.insert("reason".into(), json!(r));
        }
        Value::Object(o)
    };
    let mut all_up = !state.in_flight.is_shutting_down();
    let storage = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => check(true, None),
        Ok(Err(e)) => {
            all_up = false;
            check(false, Some(e.to_string()))
        }
        Err(_) => {
            all_up = false;
            check(false, Some("no answer within 2s".into()))
        }
    };
    let mut providers = Map::new();
    for (p, h) in state.providers.iter().zip(&state.health) {
        let h = h.read().map(|h| h.clone()).unwrap_or(ProviderHealth::Unknown);
        let v = match h {
            ProviderHealth::Up => check(true, None),
            ProviderHealth::Unknown => json!({"status": "unknown"}),
            ProviderHealth::Down(reason) => {
                all_up = false;
                check(false, Some(reason))
            }
        };
        providers.insert(p.name.clone(), v);
    }
    let status = if all_up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if all_up { "ready" } else { "not_ready" },
        "checks": {"storage": storage, "providers": providers},
    });
    (status, axum::Json(body)).into_response()
}

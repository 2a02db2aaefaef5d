//! HTTP routes. Each handler extracts what it needs and calls one pipeline function; nothing
//! here decides anything. `admin.rs` is the exception: `/admin/history/...` reads the store for
//! the master key, beside the request path rather than on it.
//!
//! Checklist for a new client dialect: a file here with its handlers, a route below, an
//! `Operation` in `pipeline.rs`, and its error shape in `error.rs`'s table.

pub mod admin;
pub mod anthropic;
pub mod health;
pub mod models;
pub mod openai;
pub mod responses;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode};
use tollgate_wire::Dialect;

use crate::error::{ApiError, ErrorKind};
use crate::headers::REQUEST_ID;
use crate::state::AppState;
use crate::{metrics, telemetry};

/// The request id, from the client's `x-request-id` when it sent a usable one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/", get(root).head(root))
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/chat/completions", post(openai::chat_completions))
        // For clients configured with a base URL that lacks `/v1`.
        .route("/chat/completions", post(openai::chat_completions))
        .route("/v1/responses", post(responses::create))
        .route("/responses", post(responses::create))
        .route("/v1/models", get(models::list))
        .route("/models", get(models::list))
        .route("/v1/models/{*id}", get(models::get))
        .merge(admin::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(catch_panic));
    // Inside `request_id` (the span carries it), outside `catch_panic` (a panic is a 500 span).
    if telemetry::enabled(&state) {
        router = router.layer(middleware::from_fn(telemetry::trace_request));
    }
    router.layer(middleware::from_fn(request_id)).with_state(state)
}

/// Claude Code sends `HEAD /` before anything else; any 2xx will do.
async fn root() -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], r#"{"name":"tollgate"}"#)
}

/// Generates or accepts the request id and puts it on the response.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| format!("req_{}", uuid::Uuid::now_v7().simple()), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The dialect to answer in when the path does not say: Anthropic clients always send
/// `anthropic-version`.
pub fn guess_dialect(path: &str, headers: &HeaderMap) -> Dialect {
    if path.starts_with("/v1/messages") || headers.contains_key("anthropic-version") {
        Dialect::Anthropic
    } else if path.starts_with("/v1/responses") || path.starts_with("/responses") {
        Dialect::OpenAiResponses
    } else {
        Dialect::OpenAiChat
    }
}

/// A bug must not cost the client its connection: a panic in a handler becomes a 500 in the
/// caller's dialect (and a log line). Free when nothing panics.
async fn catch_panic(req: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    let dialect = guess_dialect(req.uri().path(), req.headers());
    let id = request_id_of(&req);
    match std::panic::AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(request_id = %id, panic = %what, "handler panicked");
            ApiError::new(ErrorKind::Internal, "internal error in the gateway")
                .into_response(dialect, &id)
        }
    }
}

fn request_id_of(req: &Request) -> String {
    req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
}

async fn not_found(req: Request) -> Response {
    let dialect = guess_dialect(req.uri().path(), req.headers());
    let msg = format!("no route for {} {}", req.method(), req.uri().path());
    ApiError::new(ErrorKind::NotFound, msg).into_response(dialect, &request_id_of(&req))
}

async fn method_not_allowed(req: Request) -> Response {
    let dialect = guess_dialect(req.uri().path(), req.headers());
    let msg = format!("method {} is not allowed for {}", req.method(), req.uri().path());
    let mut resp = ApiError::new(ErrorKind::MethodNotAllowed, msg)
        .into_response(dialect, &request_id_of(&req));
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    }
    resp
}

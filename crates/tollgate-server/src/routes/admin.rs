//! `/admin/history/...`: the recorded history over HTTP, for the master key only. JSON shapes
//! and exports come from `tollgate_store::export`, the same as `tollgate history` prints.
//!
//! Reads go straight to the store, not through the recorder: an exchange that finished a
//! moment ago may still be in the write queue (normally for well under a second), so a read
//! right after a request can miss it. Errors are OpenAI-shaped (`{"error":{...}}`) whatever
//! the caller: there is no client dialect here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use http::{HeaderValue, header};
use serde::{Deserialize, Serialize};
use tollgate_store::export::{
    ExchangeDoc, Exporter, Format, Scope, SearchHitDoc, SessionDoc, SummaryDoc, human,
};
use tollgate_store::{ExchangeFilter, SessionFilter, StoreError};
use tollgate_wire::Dialect;

use super::request_id_of;
use crate::auth::presented_key;
use crate::clock::now_ms;
use crate::error::{ApiError, ErrorKind, Rendered};
use crate::state::AppState;

/// Longest session title accepted, in characters.
const MAX_TITLE_CHARS: usize = 200;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/history/exchanges", get(list_exchanges))
        .route("/admin/history/exchanges/{id}", get(get_exchange))
        .route("/admin/history/search", get(search))
        .route("/admin/history/sessions", get(list_sessions))
        .route("/admin/history/sessions/{id}", get(get_session))
        .route("/admin/history/sessions/{id}/export", get(export_session))
        .route("/admin/history/sessions/{id}/title", put(set_title))
        .route("/admin/routing", get(routing_state))
        .route("/admin/routing/explain", axum::routing::post(explain))
        .route_layer(middleware::from_fn_with_state(state, require_master))
}

/// Errors are answered in OpenAI's shape, with the request id they belong to.
type Failure = Rendered;

type Answer = Result<Response, Failure>;

/// The request id, for errors.
#[derive(Clone)]
struct Rid(String);

impl Rid {
    fn fail(&self, kind: ErrorKind, message: impl Into<String>) -> Failure {
        Rendered(ApiError::new(kind, message), Dialect::OpenAiChat, self.0.clone())
    }

    fn bad(&self, param: &str, message: impl Into<String>) -> Failure {
        let message = format!("{param}: {}", message.into());
        Rendered(
            ApiError::new(ErrorKind::InvalidRequest, message).with_param(Some(param.to_owned())),
            Dialect::OpenAiChat,
            self.0.clone(),
        )
    }

    /// A store failure: logged once here, answered as a 500 without the database's words.
    fn store(&self, e: StoreError) -> Failure {
        if let StoreError::SessionNotFound(id) = &e {
            return self.fail(ErrorKind::NotFound, format!("no session `{id}`"));
        }
        tracing::error!(request_id = %self.0, error = %e, "history query failed");
        self.fail(ErrorKind::Internal, "the history database could not answer; see the gateway log")
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Rid {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(Self(
            parts.extensions.get::<super::RequestId>().map(|r| r.0.clone()).unwrap_or_default(),
        ))
    }
}

/// Only the master key: a client key is authenticated but not allowed (403); anything else is
/// not authenticated (401). Keys compare in constant time (`KeyRing`).
async fn require_master(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let refuse = |kind, message: &str| {
        let rid = request_id_of(&req);
        tracing::warn!(request_id = %rid, path = %req.uri().path(), reason = message, "admin request refused");
        ApiError::new(kind, message).into_response(Dialect::OpenAiChat, &rid)
    };
    match presented_key(req.headers()).map(|k| state.keys.check(k)) {
        None => refuse(
            ErrorKind::Authentication,
            "missing API key: admin endpoints need the master key as `x-api-key` or `Authorization: Bearer`",
        ),
        Some(None) => refuse(ErrorKind::Authentication, "invalid API key"),
        Some(Some(c)) if c.key_name != "master" => refuse(
            ErrorKind::PermissionDenied,
            "admin endpoints need the master key, not a client key",
        ),
        Some(Some(_)) => next.run(req).await,
    }
}

/// Query parameters, checked against the ones an endpoint takes (a misspelt filter is an error,
/// not a silently wider answer).
struct Params<'a> {
    map: HashMap<&'a str, &'a str>,
    rid: &'a Rid,
}

impl<'a> Params<'a> {
    fn new(
        pairs: &'a Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
        rid: &'a Rid,
    ) -> Result<Self, Failure> {
        let pairs = match pairs {
            Ok(Query(pairs)) => pairs,
            Err(e) => return Err(rid.fail(ErrorKind::InvalidRequest, e.body_text())),
        };
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(rid.bad(
                    k,
                    format!("unknown parameter (this endpoint takes {})", allowed.join(", ")),
                ));
            }
            map.insert(k.as_str(), v.as_str());
        }
        Ok(Self { map, rid })
    }

    /// A parameter's value; an empty value counts as absent.
    fn get(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).copied().filter(|v| !v.trim().is_empty())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, Failure> {
        self.get(name)
            .map(|v| {
                v.trim().parse().map_err(|_| self.rid.bad(name, format!("`{v}` is not {what}")))
            })
            .transpose()
    }

    fn instant(&self, name: &str, now: i64) -> Result<Option<i64>, Failure> {
        self.get(name)
            .map(|v| human::parse_instant(v, now).map_err(|e| self.rid.bad(name, e)))
            .transpose()
    }
}

const EXCHANGE_PARAMS: &[&str] =
    &["since", "until", "session", "model", "provider", "key", "status", "before", "limit"];
const SEARCH_PARAMS: &[&str] =
    &["q", "since", "until", "session", "model", "provider", "key", "status", "before", "limit"];
const SESSION_PARAMS: &[&str] = &["since", "until", "key", "limit"];

fn exchange_filter(p: &Params<'_>) -> Result<ExchangeFilter, Failure> {
    let now = now_ms();
    Ok(ExchangeFilter {
        since_ms: p.instant("since", now)?,
        until_ms: p.instant("until", now)?,
        session_id: p.string("session"),
        model: p.string("model"),
        provider: p.string("provider"),
        key_name: p.string("key"),
        status: p.parse("status", "an HTTP status")?,
        before_id: p.string("before"),
        limit: p.parse("limit", "a whole number")?,
    })
}

/// A page of a list, newest first. `next_before` is the cursor for the next page (pass it as
/// `before`), `null` on the last page.
#[derive(Serialize)]
struct Page<T> {
    data: Vec<T>,
    next_before: Option<String>,
}

/// The last id of a full page; `None` when the page was not full (there is no more).
fn next_before(filter: &ExchangeFilter, count: usize, last: Option<&str>) -> Option<String> {
    let full = count > 0 && u32::try_from(count).is_ok_and(|n| n == filter.effective_limit());
    last.filter(|_| full).map(str::to_owned)
}

fn json(body: &impl Serialize) -> Response {
    axum::Json(body).into_response()
}

/// Breakers, load and measured success per deployment, and what each provider's last probe
/// found (up, and for local runtimes what is loaded and whether memory is under pressure).
async fn routing_state(State(state): State<Arc<AppState>>) -> Response {
    let catalog = state.catalog();
    let providers: Vec<serde_json::Value> = catalog
        .providers
        .iter()
        .map(|p| {
            serde_json::json!({
                "name": p.name,
                "local": p.local,
                "up": p.up,
                "models": p.models.iter().chain(&p.discovered).collect::<Vec<_>>(),
                "loaded": p.status.loaded.iter().map(|(m, vram)| serde_json::json!({"model": m, "vram_bytes": vram})).collect::<Vec<_>>(),
                "gpu_pressure": p.status.pressure,
            })
        })
        .collect();
    let mut doc = state.router.snapshot();
    doc["providers"] = serde_json::Value::Array(providers);
    json(&doc)
}

/// The routing decision for a request body, without sending it anywhere. `?dialect=`
/// `anthropic` (default), `openai-chat` or `openai-responses`.
async fn explain(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: axum::body::Bytes,
) -> Answer {
    let params = query.map(|q| q.0).unwrap_or_default();
    let dialect =
        params.iter().find(|(k, _)| k == "dialect").map_or("anthropic", |(_, v)| v.as_str());
    let dialect = match Dialect::parse(dialect) {
        Some(d @ (Dialect::Anthropic | Dialect::OpenAiChat | Dialect::OpenAiResponses)) => d,
        _ => {
            return Err(rid.bad(
                "dialect",
                format!("unknown dialect `{dialect}` (anthropic, openai-chat, openai-responses)"),
            ));
        }
    };
    let model = crate::pipeline::loose_model(&body)
        .ok_or_else(|| rid.bad("model", "the body must be a JSON request with a `model`"))?;
    let catalog = state.catalog();
    let features = tollgate_routing::features::Features::extract(dialect.as_str(), &body);
    let input = tollgate_routing::plan::PlanInput {
        requested: &model,
        client_dialect: dialect.as_str(),
        features: Some(&features),
        session: None,
        sticky: None,
        local_only: false,
        random: rand::random(),
        now_ms: state.router.now_ms(),
    };
    match state.router.plan(&catalog, &input) {
        Ok(d) => Ok(json(&d)),
        Err(e) => Err(rid.fail(ErrorKind::ModelNotFound, e.to_string())),
    }
}

async fn list_exchanges(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let filter = exchange_filter(&Params::new(&query, EXCHANGE_PARAMS, &rid)?)?;
    let rows = state.store.list_exchanges(&filter).await.map_err(|e| rid.store(e))?;
    Ok(json(&Page {
        next_before: next_before(&filter, rows.len(), rows.last().map(|r| r.id.as_str())),
        data: rows.iter().map(SummaryDoc::from).collect(),
    }))
}

async fn get_exchange(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    Path(id): Path<String>,
) -> Answer {
    match state.store.get_exchange(&id).await.map_err(|e| rid.store(e))? {
        Some(e) => Ok(json(&ExchangeDoc::from(&e))),
        None => Err(rid.fail(ErrorKind::NotFound, format!("no exchange `{id}`"))),
    }
}

async fn search(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let params = Params::new(&query, SEARCH_PARAMS, &rid)?;
    let Some(q) = params.get("q") else {
        return Err(rid.bad("q", "required: the words to search for"));
    };
    let filter = exchange_filter(&params)?;
    let hits = state.store.search(q, &filter).await.map_err(|e| rid.store(e))?;
    Ok(json(&Page {
        next_before: next_before(&filter, hits.len(), hits.last().map(|h| h.exchange.id.as_str())),
        data: hits.iter().map(SearchHitDoc::from).collect(),
    }))
}

#[derive(Serialize)]
struct Sessions<'a> {
    data: Vec<SessionDoc<'a>>,
}

async fn list_sessions(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let p = Params::new(&query, SESSION_PARAMS, &rid)?;
    let now = now_ms();
    let filter = SessionFilter {
        since_ms: p.instant("since", now)?,
        until_ms: p.instant("until", now)?,
        key_name: p.string("key"),
        limit: p.parse("limit", "a whole number")?,
    };
    let rows = state.store.list_sessions(&filter).await.map_err(|e| rid.store(e))?;
    Ok(json(&Sessions { data: rows.iter().collect() }))
}

/// A session and its newest exchanges (a page; `/admin/history/exchanges?session=` pages on).
#[derive(Serialize)]
struct SessionView<'a> {
    session: SessionDoc<'a>,
    exchanges: Vec<SummaryDoc<'a>>,
    next_before: Option<String>,
}

async fn get_session(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    Path(id): Path<String>,
) -> Answer {
    let Some(session) = state.store.get_session(&id).await.map_err(|e| rid.store(e))? else {
        return Err(rid.fail(ErrorKind::NotFound, format!("no session `{id}`")));
    };
    let filter = ExchangeFilter {
        session_id: Some(id),
        limit: Some(tollgate_store::query::MAX_LIMIT),
        ..Default::default()
    };
    let rows = state.store.list_exchanges(&filter).await.map_err(|e| rid.store(e))?;
    Ok(json(&SessionView {
        session: &session,
        next_before: next_before(&filter, rows.len(), rows.last().map(|r| r.id.as_str())),
        exchanges: rows.iter().map(SummaryDoc::from).collect(),
    }))
}

/// The session rendered as Markdown, JSON or JSON lines, streamed: each exchange is rendered
/// as the body is sent.
async fn export_session(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Answer {
    let params = Params::new(&query, &["format"], &rid)?;
    let format = match params.get("format") {
        None => Format::Markdown,
        Some(f) => f.parse::<Format>().map_err(|e| rid.bad("format", e))?,
    };
    let Some(session) = state.store.get_session(&id).await.map_err(|e| rid.store(e))? else {
        return Err(rid.fail(ErrorKind::NotFound, format!("no session `{id}`")));
    };
    let exchanges = state.store.session_exchanges(&id).await.map_err(|e| rid.store(e))?;
    let chunks = Exporter::new(format, Scope::Session(session))
        .into_chunks(exchanges)
        .map(|chunk| Ok::<_, Infallible>(Bytes::from(chunk)));
    let mut resp = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let file = format!("session-{}.{}", file_safe(&id), format.extension());
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `cc:5f0c...` as a file name: letters, digits, `.`, `-`, `_`; anything else becomes `_`.
fn file_safe(id: &str) -> String {
    id.chars()
        .take(100)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TitleBody {
    title: String,
}

/// `{"title": "..."}`; an empty title clears it. Answers with the session.
async fn set_title(
    State(state): State<Arc<AppState>>,
    rid: Rid,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let parsed: TitleBody = serde_json::from_slice(&body).map_err(|e| {
        rid.fail(ErrorKind::InvalidRequest, format!("expected {{\"title\": \"...\"}}: {e}"))
    })?;
    if parsed.title.chars().count() > MAX_TITLE_CHARS {
        return Err(rid.bad("title", format!("longer than {MAX_TITLE_CHARS} characters")));
    }
    state.store.set_session_title(&id, &parsed.title).await.map_err(|e| rid.store(e))?;
    match state.store.get_session(&id).await.map_err(|e| rid.store(e))? {
        Some(s) => Ok(json(&s)),
        None => Err(rid.fail(ErrorKind::NotFound, format!("no session `{id}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_file_names_are_safe() {
        assert_eq!(file_safe("cc:5f0c-2a8e"), "cc_5f0c-2a8e");
        assert_eq!(file_safe("hdr:a/b\"c"), "hdr_a_b_c");
    }
}

//! The request path, top to bottom in one function per operation:
//! authenticate -> read and validate the body -> resolve the model -> prepare the upstream
//! request -> send -> relay the response (stream or whole) -> the exchange guard logs and
//! records. Same dialect on both sides: the client's bytes go upstream with only the model (and,
//! for OpenAI streams, the usage request) changed.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use tollgate_providers::{Endpoint, FailureKind, Provider, SendError, classify};
use tollgate_routing::features::Features;
use tollgate_routing::plan::{Decision, PlanInput};
use tollgate_routing::{ResolveError, Target};
use tollgate_wire::{Dialect, InvalidBody, anthropic, openai, splice};

use crate::auth::{Caller, presented_key};
use crate::error::{ApiError, ErrorKind};
use crate::exchange::{Exchange, Outcome};
use crate::headers;
use crate::relay::{Driven, Meter, Relay};
use crate::state::AppState;

/// Which operation a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Messages,
    CountTokens,
    ChatCompletions,
    Responses,
}

impl Operation {
    fn dialect(self) -> Dialect {
        match self {
            Self::Messages | Self::CountTokens => Dialect::Anthropic,
            Self::ChatCompletions => Dialect::OpenAiChat,
            Self::Responses => Dialect::OpenAiResponses,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::CountTokens => "count_tokens",
            Self::ChatCompletions => "chat_completions",
            Self::Responses => "responses",
        }
    }

    fn endpoint(self) -> Endpoint {
        match self {
            Self::Messages => Endpoint::Messages,
            Self::CountTokens => Endpoint::CountTokens,
            Self::ChatCompletions => Endpoint::ChatCompletions,
            Self::Responses => Endpoint::Responses,
        }
    }
}

/// What the pipeline learned from the body.
struct Parsed {
    model: String,
    model_span: std::ops::Range<usize>,
    stream: bool,
    /// For OpenAI streams: the body with `stream_options.include_usage` added, and whether the
    /// trailing usage chunk must then be hidden from the client.
    usage_body: Option<Bytes>,
}

pub async fn handle(
    state: Arc<AppState>,
    op: Operation,
    request_id: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let dialect = op.dialect();
    let mut ex = Exchange::new(state.clone(), &request_id, dialect, op.name());
    match run(&state, op, &mut ex, &headers, body).await {
        Ok(resp) => resp,
        Err((e, outcome)) => {
            ex.set_error(e.type_name(), &e.message);
            let mut resp = e.into_response(dialect, &request_id);
            route_headers(&mut resp, &ex);
            ex.finish(resp.status().as_u16(), outcome);
            resp
        }
    }
}

pub(crate) type Failure = (ApiError, Outcome);

pub(crate) fn reject(e: ApiError) -> Failure {
    (e, Outcome::Rejected)
}

pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let key = presented_key(headers).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Authentication,
            "missing API key: send your Tollgate key as `x-api-key` or `Authorization: Bearer`",
        )
    })?;
    state.keys.check(key).ok_or_else(|| ApiError::new(ErrorKind::Authentication, "invalid API key"))
}

async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorKind::RequestTooLarge,
            format!("request body exceeds this gateway's limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!("could not read the request body: {e}"),
        )),
    }
}

pub(crate) fn invalid(e: InvalidBody) -> ApiError {
    ApiError::new(ErrorKind::InvalidRequest, e.message).with_param(e.path)
}

fn parse(op: Operation, body: &Bytes, max_messages: usize) -> Result<Parsed, ApiError> {
    Ok(match op {
        Operation::Messages => {
            let r = anthropic::MessagesRequest::parse(body, max_messages).map_err(invalid)?;
            Parsed { model: r.model, model_span: r.model_span, stream: r.stream, usage_body: None }
        }
        Operation::CountTokens => {
            let r = anthropic::CountTokensRequest::parse(body, max_messages).map_err(invalid)?;
            Parsed { model: r.model, model_span: r.model_span, stream: false, usage_body: None }
        }
        Operation::ChatCompletions => {
            let r = openai::ChatRequest::parse(body, max_messages).map_err(invalid)?;
            let usage_body = r.with_usage_requested(body);
            Parsed { model: r.model, model_span: r.model_span, stream: r.stream, usage_body }
        }
        Operation::Responses => {
            let r = tollgate_wire::responses::request::Envelope::parse(body).map_err(invalid)?;
            Parsed { model: r.model, model_span: r.model_span, stream: r.stream, usage_body: None }
        }
    })
}

/// Plans the route: features are read (and the session found) only when the plan makes a
/// choice (automatic routing, an alias of several deployments).
fn plan(
    state: &AppState,
    dialect: Dialect,
    headers: &HeaderMap,
    caller: &Caller,
    parsed: &Parsed,
    body: &Bytes,
) -> Result<(Decision, Option<String>), ApiError> {
    let catalog = state.catalog();
    let needs = catalog.needs_features(&parsed.model);
    let features = needs.then(|| Features::extract(dialect.as_str(), body));
    let session = if needs && state.router.sticky {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        tollgate_wire::session::detect(dialect, header, body, Some(&caller.key_name)).map(|s| s.id)
    } else {
        None
    };
    let sticky = session.as_deref().and_then(|s| state.router.session_deployment(s));
    let input = PlanInput {
        requested: &parsed.model,
        client_dialect: dialect.as_str(),
        features: features.as_ref(),
        session: session.as_deref(),
        sticky: sticky.as_deref(),
        local_only: crate::routing::local_only(headers),
        random: rand::random(),
        now_ms: state.router.now_ms(),
    };
    let decision = state.router.plan(&catalog, &input).map_err(|e| match e {
        ResolveError::NoProviders => ApiError::new(ErrorKind::Unavailable, e.to_string()),
        ResolveError::UnknownModel { .. }
        | ResolveError::BrokenAlias { .. }
        | ResolveError::NotEligible { .. } => {
            ApiError::new(ErrorKind::ModelNotFound, e.to_string()).with_param(Some("model".into()))
        }
    })?;
    Ok((decision, session))
}

async fn run(
    state: &Arc<AppState>,
    op: Operation,
    ex: &mut Exchange,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let dialect = op.dialect();
    let caller = authenticate(state, headers).map_err(reject)?;
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    ex.authenticated(&caller.key_name, user_agent);
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    ex.record.client = tollgate_wire::client::detect(user_agent, header_str).map(str::to_owned);
    ex.record.hints = crate::enrich::HINT_HEADERS
        .iter()
        .filter_map(|h| header_str(h).map(|v| ((*h).to_owned(), v.to_owned())))
        .collect();

    let body =
        read_body(body, headers, state.config.limits.max_body_bytes).await.map_err(reject)?;
    if ex.record_bodies() {
        ex.record.request_body = Some(body.clone());
    }
    let parsed = match parse(op, &body, state.config.limits.max_messages) {
        Ok(p) => p,
        Err(e) => {
            ex.record.model_requested = loose_model(&body);
            return Err(reject(e));
        }
    };
    ex.record.model_requested = Some(parsed.model.clone());
    ex.record.stream = parsed.stream;

    let (decision, session) =
        plan(state, dialect, headers, &caller, &parsed, &body).map_err(reject)?;
    ex.record.route_reason = Some(decision.reason.clone());
    ex.record.route_category = decision.category().map(|c| c.as_str().to_owned());
    ex.record.route_decision = Some(decision.to_json());
    ex.route = Some(crate::exchange::RouteTrack {
        category: decision.category(),
        session: decision
            .features
            .as_ref()
            .filter(|f| crate::routing::sticky_shape(f))
            .and(session),
        deployment: None,
    });

    let retry = state.router.retry;
    let mut last: Option<Failure> = None;
    let mut skipped: Vec<String> = Vec::new();
    let count = decision.targets.len();
    for (n, target) in decision.targets.iter().enumerate() {
        let provider = &state.providers[target.provider];
        let deployment = format!("{}:{}", provider.name, target.model);
        let mut attempt = 0u32;
        loop {
            if !state.router.admit(&deployment) {
                skipped.push(deployment.clone());
                break;
            }
            let last_chance = n + 1 == count && attempt >= retry.retries;
            let started = std::time::Instant::now();
            ex.record.provider = Some(provider.name.clone());
            ex.record.route_deployment = Some(deployment.clone());
            if let Some(r) = ex.route.as_mut() {
                r.deployment = Some(deployment.clone());
            }
            ex.routed =
                Some((provider.name.clone(), target.model.clone(), decision.reason.clone()));
            let result =
                attempt_target(state, op, ex, headers, &body, &parsed, target, last_chance).await;
            match result {
                Ok(resp) => {
                    if n > 0 || attempt > 0 {
                        tracing::info!(
                            request_id = %ex.record.request_id,
                            deployment = %deployment,
                            attempt,
                            "served after falling back or retrying"
                        );
                    }
                    return Ok(resp);
                }
                Err(Attempt { failure, next }) => {
                    if let Some(r) = ex.route.as_mut() {
                        r.deployment = None;
                    }
                    state.router.finished(&deployment, false, Some(started.elapsed()));
                    tracing::warn!(
                        request_id = %ex.record.request_id,
                        deployment = %deployment,
                        attempt,
                        error = %failure.0.message,
                        "attempt failed"
                    );
                    if let Next::Stop = next {
                        return Err(failure);
                    }
                    last = Some(failure);
                    match next {
                        Next::Stop | Next::Fallback => break,
                        Next::Retry(after) => {
                            attempt += 1;
                            let wait = retry.backoff(attempt, rand::random(), after);
                            match wait {
                                Some(d) => tokio::time::sleep(d).await,
                                None => break,
                            }
                        }
                    }
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| reject(unavailable(&skipped))))
}

fn unavailable(skipped: &[String]) -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        format!(
            "every deployment for this request is failing (circuit breaker open: {}); retry shortly",
            skipped.join(", ")
        ),
    )
}

/// What to do after a failed attempt.
pub(crate) enum Next {
    /// The request itself is at fault (or a stream already reached the client): answer now.
    Stop,
    /// This deployment cannot serve it; try the next without retrying.
    Fallback,
    /// A transient failure: retry after the backoff (at least this long), then fall back.
    Retry(Option<std::time::Duration>),
}

pub(crate) struct Attempt {
    pub failure: Failure,
    pub next: Next,
}

impl From<Failure> for Attempt {
    fn from(failure: Failure) -> Self {
        Self { failure, next: Next::Stop }
    }
}

/// Sends `rb`; a connection failure or an error status is a failed attempt, classified for
/// retry and fallback.
pub(crate) async fn send_upstream(
    state: &AppState,
    provider: &Provider,
    client_dialect: Dialect,
    rb: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Attempt> {
    let resp = match state.client.send(rb).await {
        Ok(r) => r,
        Err(e) => {
            return Err(Attempt { failure: send_failure(provider, e), next: Next::Retry(None) });
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| tollgate_routing::retry::parse_retry_after(v, crate::clock::unix_s()));
    let next = match status.as_u16() {
        s if tollgate_routing::retry::retryable_status(s) => Next::Retry(retry_after),
        // The deployment's key, model or endpoint is wrong: another deployment may serve it.
        401 | 403 | 404 => Next::Fallback,
        _ => Next::Stop,
    };
    Err(Attempt { failure: upstream_failure(state, provider, client_dialect, resp).await, next })
}

/// A stream whose first frame is an error event failed before anything reached the client: it
/// may still fall back, unless this is the last chance, when it passes through as it came.
/// The first chunk is awaited at most one keep-alive interval: a provider that is slow to
/// start (a reasoning model) gets its stream committed to the client, keep-alive comments and
/// all, and can no longer fall back.
pub(crate) async fn open_stream(
    resp: reqwest::Response,
    timeouts: &tollgate_config::Timeouts,
    last_chance: bool,
) -> Result<crate::relay::Upstream, Attempt> {
    use futures_util::StreamExt;
    let mut stream = Box::pin(resp.bytes_stream());
    if last_chance {
        return Ok(stream);
    }
    let window = timeouts.keepalive.min(timeouts.first_byte);
    // `next` is cancel-safe: a chunk not ready when the window closes stays in the stream.
    let first = match tokio::time::timeout(window, stream.next()).await {
        Ok(Some(Ok(chunk))) => chunk,
        Ok(Some(Err(e))) => {
            let msg = format!(
                "the provider's response failed: {}",
                tollgate_providers::client::error_chain(&e)
            );
            return Err(Attempt {
                failure: (ApiError::new(ErrorKind::UpstreamError, msg), Outcome::UpstreamBrokeOff),
                next: Next::Retry(None),
            });
        }
        Ok(None) => {
            return Err(Attempt {
                failure: (
                    ApiError::new(ErrorKind::UpstreamError, "the provider's stream was empty"),
                    Outcome::UpstreamBrokeOff,
                ),
                next: Next::Retry(None),
            });
        }
        Err(_) => return Ok(stream),
    };
    if let Some(message) = opens_with_error(&first) {
        return Err(Attempt {
            failure: (
                ApiError::new(
                    ErrorKind::Overloaded,
                    format!("the provider's stream opened with an error: {message}"),
                ),
                Outcome::StreamError,
            ),
            next: Next::Retry(None),
        });
    }
    Ok(Box::pin(futures_util::stream::once(async move { Ok(first) }).chain(stream)))
}

/// The data of an SSE error event that opens a stream (`event: error`, or a first `data:` JSON
/// object whose `type` is `error` or that holds only an `error`).
fn opens_with_error(chunk: &[u8]) -> Option<String> {
    let mut frames = Vec::new();
    tollgate_wire::sse::SseDecoder::new().feed(chunk, &mut frames);
    let first = frames.into_iter().find(|f| f.event.is_some() || !f.data.is_empty())?;
    let is_error = first.event.as_deref() == Some("error") || {
        let v: serde_json::Value = serde_json::from_str(&first.data).ok()?;
        v.get("type").and_then(|t| t.as_str()) == Some("error")
            || (v.get("error").is_some()
                && v.get("choices").is_none()
                && v.get("candidates").is_none())
    };
    is_error.then(|| first.data.chars().take(300).collect())
}

/// Serves the request from one deployment.
#[expect(
    clippy::too_many_arguments,
    reason = "one attempt of the request path; every input is distinct"
)]
async fn attempt_target(
    state: &Arc<AppState>,
    op: Operation,
    ex: &mut Exchange,
    headers: &HeaderMap,
    body: &Bytes,
    parsed: &Parsed,
    target: &Target,
    last_chance: bool,
) -> Result<Response, Attempt> {
    let dialect = op.dialect();
    let provider = &state.providers[target.provider];
    // A session resumed on another model may replay thinking signed elsewhere: that body is
    // translated (Anthropic to Anthropic), which strips what the target did not issue.
    let foreign_thinking = op == Operation::Messages
        && state.translation.replays_foreign_thinking(
            body,
            &tollgate_wire::canonical::Origin {
                provider: provider.name.clone(),
                family: tollgate_wire::canonical::target::model_family(&target.model),
            },
        );
    // OpenAI-compatible servers other than OpenAI reject the `developer` role: such a body is
    // translated (Chat to Chat), which writes it as `system`.
    let developer_role = dialect == Dialect::OpenAiChat
        && provider.dialect == Dialect::OpenAiChat
        && memchr::memmem::find(body, b"\"developer\"").is_some()
        && tollgate_providers::quirks::quirks(provider, &target.model).developer_as_system;
    if !provider.speaks(dialect) || foreign_thinking || developer_role {
        if op == Operation::CountTokens {
            return Ok(local_count_tokens(ex, body));
        }
        let mut resp = crate::translate::forward::forward(
            state,
            dialect,
            ex,
            headers,
            body,
            target,
            provider,
            last_chance,
        )
        .await?;
        route_headers(&mut resp, ex);
        return Ok(resp);
    }

    let upstream_body = rewrite_body(body, parsed, target);
    if ex.record_bodies() && upstream_body != *body {
        ex.record.forwarded_body = Some(upstream_body.clone());
    }
    let passthrough = headers::upstream(headers, &ex.record.request_id);
    let Some(rb) = provider.request(
        state.client.http(),
        Method::POST,
        op.endpoint(),
        &passthrough,
        Some(upstream_body),
    ) else {
        return Err(Attempt {
            failure: reject(ApiError::new(
                ErrorKind::NotFound,
                format!("provider `{}` has no {} endpoint", provider.name, op.name()),
            )),
            next: Next::Fallback,
        });
    };
    let resp = send_upstream(state, provider, dialect, rb).await?;
    ex.record.upstream_request_id = headers::upstream_request_id(resp.headers());
    let status = resp.status();
    let is_sse = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let mut out_headers = headers::downstream(resp.headers());
    if is_sse {
        let meter = Meter::new(dialect, parsed.usage_body.is_some());
        let stream = open_stream(resp, &state.config.timeouts, last_chance).await?;
        let pump = Relay::new(dialect, meter, ex.hand_off());
        let relay = Driven::new(stream, pump, &state.config.timeouts, state.in_flight.cancelled());
        out_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        out_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // Tells nginx-style proxies in front of Tollgate not to buffer the stream.
        out_headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        let mut resp = response(StatusCode::OK, out_headers, Body::from_stream(relay));
        route_headers(&mut resp, ex);
        return Ok(resp);
    }
    let bytes = read_upstream(resp, state.config.timeouts.idle)
        .await
        .map_err(|e| Attempt { failure: (e, Outcome::UpstreamError), next: Next::Retry(None) })?;
    ex.mark_first_byte();
    meter_whole(ex, dialect, op, &bytes);
    if ex.record_bodies() {
        ex.record.response_body = Some(bytes.clone());
    }
    out_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    ex.finish(status.as_u16(), Outcome::Ok);
    let mut resp = response(status, out_headers, Body::from(bytes));
    route_headers(&mut resp, ex);
    Ok(resp)
}

/// `x-tollgate-provider`, `x-tollgate-model` and `x-tollgate-route` on a response, once a
/// deployment was tried.
fn route_headers(resp: &mut Response, ex: &Exchange) {
    if let Some((provider, model, reason)) = &ex.routed {
        headers::set_route(resp.headers_mut(), provider, model, reason);
    }
}

pub(crate) fn response(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// The body to send upstream: the model replaced when routing changed it, and for OpenAI streams
/// the usage request added. Everything else is the client's bytes.
fn rewrite_body(body: &Bytes, parsed: &Parsed, target: &Target) -> Bytes {
    let base = parsed.usage_body.clone().unwrap_or_else(|| body.clone());
    if target.model == parsed.model {
        return base;
    }
    let Ok(model_json) = serde_json::to_string(&target.model) else { return base };
    // The usage splice only ever inserts after the opening brace or rewrites `stream_options`;
    // re-locate the model in whichever body we start from.
    let span = if parsed.usage_body.is_some() {
        locate_model(&base)
    } else {
        Some(parsed.model_span.clone())
    };
    match span {
        Some(span) => splice::replace(&base, span, model_json.as_bytes()),
        None => base,
    }
}

/// The model a body names, when it names one as a string (for the history of a rejected request,
/// and for the admin API's route explain).
pub(crate) fn loose_model(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct M {
        model: String,
    }
    serde_json::from_slice::<M>(body).ok().map(|m| m.model)
}

fn locate_model(body: &[u8]) -> Option<std::ops::Range<usize>> {
    #[derive(serde::Deserialize)]
    struct M<'a> {
        #[serde(borrow)]
        model: &'a serde_json::value::RawValue,
    }
    let m: M<'_> = serde_json::from_slice(body).ok()?;
    splice::span_of(body, m.model)
}

pub(crate) fn send_failure(provider: &Provider, e: SendError) -> Failure {
    match e {
        SendError::FirstByteTimeout(_) => (
            ApiError::new(ErrorKind::UpstreamTimeout, format!("provider `{}`: {e}", provider.name)),
            Outcome::Timeout,
        ),
        SendError::Connect(_) | SendError::Other(_) => (
            ApiError::new(ErrorKind::UpstreamError, format!("provider `{}`: {e}", provider.name)),
            Outcome::UpstreamError,
        ),
    }
}

/// Largest upstream error body read; error bodies are small, and an HTML error page need not be
/// read whole to be reported.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub(crate) async fn upstream_failure(
    state: &AppState,
    provider: &Provider,
    dialect: Dialect,
    resp: reqwest::Response,
) -> Failure {
    let status = resp.status();
    let down = headers::downstream(resp.headers());
    let body =
        match tokio::time::timeout(state.config.timeouts.idle, read_limited(resp, MAX_ERROR_BODY))
            .await
        {
            Ok(b) => b,
            Err(_) => Bytes::new(),
        };
    let f = classify(provider.dialect, status.as_u16(), &body);
    let passthrough =
        f.well_formed && provider.dialect == dialect && f.kind != FailureKind::GatewayCredentials;
    let kind = match f.kind {
        FailureKind::InvalidRequest if status == StatusCode::NOT_FOUND => ErrorKind::NotFound,
        FailureKind::InvalidRequest if status == StatusCode::PAYLOAD_TOO_LARGE => {
            ErrorKind::RequestTooLarge
        }
        FailureKind::InvalidRequest => ErrorKind::InvalidRequest,
        FailureKind::GatewayCredentials => ErrorKind::UpstreamError,
        FailureKind::RateLimited => ErrorKind::RateLimited,
        FailureKind::Overloaded => ErrorKind::Overloaded,
        FailureKind::ProviderError if status == StatusCode::GATEWAY_TIMEOUT => {
            ErrorKind::UpstreamTimeout
        }
        FailureKind::ProviderError => ErrorKind::UpstreamError,
    };
    let message = match f.kind {
        FailureKind::GatewayCredentials => format!(
            "provider `{}` rejected Tollgate's credentials (HTTP {}): {}; the gateway operator must fix the provider key",
            provider.name,
            status.as_u16(),
            f.message
        ),
        _ if passthrough => f.message.clone(),
        _ => {
            format!("provider `{}` answered HTTP {}: {}", provider.name, status.as_u16(), f.message)
        }
    };
    let mut e = ApiError::new(kind, message).with_headers(down);
    if passthrough {
        e = e.with_passthrough(status, body);
    }
    (e, Outcome::UpstreamError)
}

async fn read_limited(resp: reqwest::Response, limit: usize) -> Bytes {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = limit - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    Bytes::from(out)
}

/// Reads a whole upstream body, failing if it goes silent for `idle`.
async fn read_upstream(
    resp: reqwest::Response,
    idle: std::time::Duration,
) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut out = bytes::BytesMut::new();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => {
                return Err(ApiError::new(
                    ErrorKind::UpstreamTimeout,
                    format!("the provider sent nothing for {idle:?}"),
                ));
            }
            Ok(None) => return Ok(out.freeze()),
            Ok(Some(Ok(chunk))) => out.extend_from_slice(&chunk),
            Ok(Some(Err(e))) => {
                return Err(ApiError::new(
                    ErrorKind::UpstreamError,
                    format!(
                        "the provider's response failed: {}",
                        tollgate_providers::client::error_chain(&e)
                    ),
                ));
            }
        }
    }
}

fn meter_whole(ex: &mut Exchange, dialect: Dialect, op: Operation, bytes: &[u8]) {
    if op == Operation::CountTokens {
        return;
    }
    match dialect {
        Dialect::Anthropic => {
            if let Some(s) = anthropic::read_response(bytes) {
                ex.set_usage(&s.usage);
                ex.record.model_served = s.model;
                ex.record.stop_reason = s.stop_reason;
            }
        }
        Dialect::OpenAiChat => {
            if let Some(s) = openai::read_response(bytes) {
                ex.set_usage(&s.usage);
                ex.record.model_served = s.model;
                ex.record.stop_reason = s.finish_reason;
            }
        }
        Dialect::OpenAiResponses | Dialect::Gemini | Dialect::Ollama => {
            if let Ok(r) = crate::translate::decode_response(dialect, bytes) {
                ex.set_usage(&r.usage);
                ex.record.model_served = Some(r.model);
                ex.record.stop_reason = r.stop_reason.map(|s| s.as_anthropic().to_owned());
            }
        }
    }
}

/// `count_tokens` for a provider that has none: a local estimate, never zero.
fn local_count_tokens(ex: &mut Exchange, body: &[u8]) -> Response {
    let n = tollgate_wire::estimate::input_tokens(body);
    let out = serde_json::json!({ "input_tokens": n }).to_string();
    ex.mark_first_byte();
    ex.finish(200, Outcome::Ok);
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response(StatusCode::OK, h, Body::from(out))
}

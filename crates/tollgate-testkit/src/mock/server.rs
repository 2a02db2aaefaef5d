//! The HTTP side: an HTTP/1.1 accept loop owning every connection task (so dropping the mock
//! closes them), routing to the dialects, scripted behaviours, and the turn of a [`Reply`] into
//! a response body script. Dialect formats live in `anthropic` and `openai`, not here.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::body::{FLUSH_BEFORE_BREAK, InFlight, MockBody, Step};
use super::conversation::asks_to_stream;
use super::json::Json;
use super::sse::SseEvent;
use super::{Behaviour, RecordedRequest, State, anthropic, gemini, ids, ollama, openai, responses};

/// What a route answers, before behaviours and framing.
pub(crate) enum Reply {
    /// A complete JSON body, success or error.
    Json { status: StatusCode, body: Bytes },
    /// A `200` SSE stream.
    Stream { events: Vec<SseEvent> },
    /// A `200` NDJSON stream (Ollama): one JSON object per line.
    Lines { lines: Vec<String> },
}

impl Reply {
    pub(crate) fn json(status: StatusCode, value: &Json) -> Reply {
        Reply::Json { status, body: Bytes::from(value.to_string()) }
    }

    /// OpenAI pretty-prints its JSON bodies.
    pub(crate) fn pretty_json(status: StatusCode, value: &Json) -> Reply {
        Reply::Json { status, body: Bytes::from(value.to_pretty_string()) }
    }
}

pub(crate) fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        headers.insert(name, value);
    }
}

pub(super) async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&state)));
                }
                // Out of file descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    // Streamed events must leave at once, not wait for Nagle.
    stream.set_nodelay(true).ok();
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(state, request).await) }
    });
    // An error here is a client hanging up or a break-off the mock caused on purpose.
    http1::Builder::new().serve_connection(TokioIo::new(stream), service).await.ok();
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Anthropic,
    OpenAi,
    /// OpenAI's Responses API: OpenAI's headers and errors, its own stream error.
    Responses,
    Gemini,
    Ollama,
}

impl Dialect {
    fn request_id(self) -> String {
        match self {
            Dialect::Anthropic => ids::anthropic_request_id(),
            Dialect::OpenAi | Dialect::Responses => ids::openai_request_id(),
            // Neither sends a request-id header.
            Dialect::Gemini | Dialect::Ollama => String::new(),
        }
    }

    fn headers(self, request_id: &str, status: StatusCode, streaming: bool) -> HeaderMap {
        match self {
            Dialect::Anthropic => anthropic::response_headers(request_id, status, streaming),
            Dialect::OpenAi | Dialect::Responses => {
                openai::response_headers(request_id, status, streaming)
            }
            Dialect::Gemini => gemini::response_headers(streaming),
            Dialect::Ollama => ollama::response_headers(status, streaming),
        }
    }

    fn overloaded(self, request_id: &str) -> Reply {
        match self {
            Dialect::Anthropic => anthropic::overloaded(request_id),
            Dialect::OpenAi | Dialect::Responses => openai::overloaded(),
            Dialect::Gemini => gemini::overloaded(),
            Dialect::Ollama => ollama::overloaded(),
        }
    }

    /// The dialect's error event, framed as its stream frames are.
    fn stream_error(self) -> Bytes {
        match self {
            Dialect::Anthropic => anthropic::stream_error_event().to_bytes(),
            Dialect::OpenAi => openai::stream_error_event().to_bytes(),
            Dialect::Responses => responses::stream_error_event().to_bytes(),
            Dialect::Gemini => gemini::stream_error_event().to_bytes(),
            Dialect::Ollama => Bytes::from(ollama::stream_error_line() + "\n"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Messages,
    CountTokens,
    Models(Dialect),
    ChatCompletions,
    Responses,
    /// `POST /v1beta/models/{model}:{method}`; model and method are read from the path.
    Gemini,
    OllamaChat,
    OllamaPs,
    NotFound(Dialect),
}

impl Route {
    fn of(method: &Method, path: &str, headers: &HeaderMap) -> Route {
        let anthropic_headers =
            headers.contains_key("anthropic-version") || headers.contains_key("x-api-key");
        match (method, path) {
            (&Method::POST, "/v1/messages") => Route::Messages,
            (&Method::POST, "/v1/messages/count_tokens") => Route::CountTokens,
            (&Method::POST, "/v1/chat/completions") => Route::ChatCompletions,
            (&Method::POST, "/v1/responses") => Route::Responses,
            (&Method::GET, "/v1/models") if headers.contains_key("anthropic-version") => {
                Route::Models(Dialect::Anthropic)
            }
            (&Method::GET, "/v1/models") => Route::Models(Dialect::OpenAi),
            (&Method::POST, path) if path.starts_with("/v1beta/models/") => Route::Gemini,
            (&Method::POST, "/api/chat") => Route::OllamaChat,
            (&Method::GET, "/api/tags") => Route::Models(Dialect::Ollama),
            (&Method::GET, "/api/ps") => Route::OllamaPs,
            (_, path) if path.starts_with("/v1beta/") => Route::NotFound(Dialect::Gemini),
            (_, path) if path.starts_with("/api/") => Route::NotFound(Dialect::Ollama),
            (_, path) if path.starts_with("/v1/messages") || anthropic_headers => {
                Route::NotFound(Dialect::Anthropic)
            }
            _ => Route::NotFound(Dialect::OpenAi),
        }
    }

    fn dialect(self) -> Dialect {
        match self {
            Route::Messages | Route::CountTokens => Dialect::Anthropic,
            Route::ChatCompletions => Dialect::OpenAi,
            Route::Responses => Dialect::Responses,
            Route::Gemini => Dialect::Gemini,
            Route::OllamaChat | Route::OllamaPs => Dialect::Ollama,
            Route::Models(dialect) | Route::NotFound(dialect) => dialect,
        }
    }

    /// Whether the request asks for a stream: a body flag for most, the method and `alt=sse`
    /// for Gemini, a flag that defaults to true for Ollama.
    fn streams(self, request: &http::request::Parts, body: &[u8]) -> bool {
        match self {
            Route::Messages | Route::ChatCompletions | Route::Responses => asks_to_stream(body),
            Route::Gemini => {
                request.uri.path().ends_with(":streamGenerateContent")
                    && request.uri.query().is_some_and(|q| q.split('&').any(|p| p == "alt=sse"))
            }
            Route::OllamaChat => serde_json::from_slice::<serde_json::Value>(body)
                .is_ok_and(|v| v["stream"] != false),
            _ => false,
        }
    }

    fn reply(self, request: &http::request::Parts, body: &[u8], request_id: &str) -> Reply {
        let headers = &request.headers;
        match self {
            Route::Messages => anthropic::messages(headers, body, request_id),
            Route::CountTokens => anthropic::count_tokens(headers, body, request_id),
            Route::Models(Dialect::Anthropic) => anthropic::models(headers, request_id),
            Route::Models(Dialect::OpenAi | Dialect::Responses) => openai::models(headers),
            Route::Models(Dialect::Ollama) => ollama::tags(),
            // Gemini's model list (`GET /v1beta/models`) is not mocked.
            Route::Models(Dialect::Gemini) => gemini::not_found(request.uri.path()),
            Route::ChatCompletions => openai::chat_completions(headers, body),
            Route::Responses => responses::responses(headers, body),
            Route::Gemini => {
                let path = request.uri.path().trim_start_matches("/v1beta/models/");
                let (model, method) = path.rsplit_once(':').unwrap_or((path, ""));
                gemini::generate(headers, model, method, request.uri.query().unwrap_or(""), body)
            }
            Route::OllamaChat => ollama::chat(body),
            Route::OllamaPs => ollama::ps(),
            Route::NotFound(Dialect::Gemini) => gemini::not_found(request.uri.path()),
            Route::NotFound(Dialect::Ollama) => ollama::not_found(),
            Route::NotFound(Dialect::Anthropic) => anthropic::not_found(request_id),
            Route::NotFound(Dialect::OpenAi | Dialect::Responses) => {
                openai::not_found(&request.method, request.uri.path())
            }
        }
    }
}

/// How a behaviour alters an otherwise normal reply.
#[derive(Clone, Copy)]
enum Fault {
    None,
    MidStreamError(usize),
    BreakOff(usize),
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<MockBody> {
    let in_flight = InFlight::enter(&state);
    let (parts, incoming) = request.into_parts();
    let body = incoming.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    state.record(RecordedRequest {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.to_string()),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    let route = Route::of(&parts.method, parts.uri.path(), &parts.headers);
    let dialect = route.dialect();
    let request_id = dialect.request_id();

    let fault = match state.next_behaviour() {
        None => Fault::None,
        Some(Behaviour::Status { status, body, headers }) => {
            return scripted_status(dialect, &request_id, status, body, &headers, in_flight);
        }
        Some(Behaviour::NoResponse) => {
            // Pending until hyper drops this future because the client went away.
            let never = std::future::pending::<Infallible>().await;
            match never {}
        }
        Some(Behaviour::StallAfterHeaders) => {
            let streaming = route.streams(&parts, &body);
            let headers = dialect.headers(&request_id, StatusCode::OK, streaming);
            return response(StatusCode::OK, headers, MockBody::new(vec![Step::Stall], in_flight));
        }
        Some(Behaviour::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Fault::None
        }
        Some(Behaviour::MidStreamError { after_events }) => Fault::MidStreamError(after_events),
        Some(Behaviour::BreakOff { after_events }) => Fault::BreakOff(after_events),
    };
    let reply = route.reply(&parts, &body, &request_id);
    respond(dialect, &request_id, reply, fault, state.event_interval(), in_flight)
}

fn respond(
    dialect: Dialect,
    request_id: &str,
    reply: Reply,
    fault: Fault,
    interval: Duration,
    in_flight: InFlight,
) -> Response<MockBody> {
    match reply {
        Reply::Json { status, body } => {
            // A stream error has no place in a JSON body: the overloaded status stands in.
            let (status, body) = match fault {
                Fault::MidStreamError(_) if status.is_success() => {
                    match dialect.overloaded(request_id) {
                        Reply::Json { status, body } => (status, body),
                        Reply::Stream { .. } | Reply::Lines { .. } => (status, body),
                    }
                }
                _ => (status, body),
            };
            let steps = match fault {
                Fault::BreakOff(_) if status.is_success() => {
                    vec![
                        Step::Data(body.slice(..body.len() / 2)),
                        Step::Pause(FLUSH_BEFORE_BREAK),
                        Step::BreakOff,
                    ]
                }
                _ => vec![Step::Data(body.clone())],
            };
            let mut headers = dialect.headers(request_id, status, false);
            insert_header(&mut headers, CONTENT_LENGTH.as_str(), &body.len().to_string());
            response(status, headers, MockBody::new(steps, in_flight))
        }
        Reply::Stream { .. } | Reply::Lines { .. } => {
            let frames: Vec<Bytes> = match reply {
                Reply::Stream { events } => events.iter().map(SseEvent::to_bytes).collect(),
                Reply::Lines { lines } => {
                    lines.into_iter().map(|l| Bytes::from(l + "\n")).collect()
                }
                Reply::Json { .. } => Vec::new(),
            };
            let last = frames.len().saturating_sub(1);
            let mut steps = Vec::new();
            let mut send = |frame: &Bytes| {
                if !steps.is_empty() && !interval.is_zero() {
                    steps.push(Step::Pause(interval));
                }
                steps.push(Step::Data(frame.clone()));
            };
            match fault {
                Fault::None => frames.iter().for_each(&mut send),
                Fault::MidStreamError(after) => {
                    frames[..after.min(last)].iter().for_each(&mut send);
                    send(&dialect.stream_error());
                }
                Fault::BreakOff(after) => {
                    let cut = after.min(last);
                    frames[..cut].iter().for_each(&mut send);
                    let torn = frames.get(cut).cloned().unwrap_or_default();
                    steps.push(Step::Data(torn.slice(..torn.len() / 2)));
                    steps.push(Step::Pause(FLUSH_BEFORE_BREAK));
                    steps.push(Step::BreakOff);
                }
            }
            let headers = dialect.headers(request_id, StatusCode::OK, true);
            response(StatusCode::OK, headers, MockBody::new(steps, in_flight))
        }
    }
}

/// [`Behaviour::Status`]: the test's status, body and headers over the dialect's own headers.
fn scripted_status(
    dialect: Dialect,
    request_id: &str,
    status: u16,
    body: String,
    extra: &[(String, String)],
    in_flight: InFlight,
) -> Response<MockBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = dialect.headers(request_id, status, false);
    if !body.trim_start().starts_with(['{', '[']) {
        insert_header(&mut headers, CONTENT_TYPE.as_str(), "text/html; charset=utf-8");
    }
    insert_header(&mut headers, CONTENT_LENGTH.as_str(), &body.len().to_string());
    for (name, value) in extra {
        insert_header(&mut headers, &name.to_ascii_lowercase(), value);
    }
    response(status, headers, MockBody::new(vec![Step::Data(Bytes::from(body))], in_flight))
}

fn response(status: StatusCode, headers: HeaderMap, body: MockBody) -> Response<MockBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

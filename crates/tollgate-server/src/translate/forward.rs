//! The request path when the provider speaks another dialect than the client: decode the body
//! into the canonical model, restore what the client could not carry (thinking, a Responses
//! conversation), encode it for the provider, always stream upstream (principle 9), and
//! translate the stream back, or assemble it for a client that asked for a whole response.

use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tollgate_providers::Provider;
use tollgate_routing::Target;
use tollgate_wire::Dialect;
use tollgate_wire::canonical::names::ToolNames;
use tollgate_wire::canonical::{self, Block, Message, Origin, Request, Role, StopReason};

use super::memory::Conversation;
use super::relay::{End, Framing, OnComplete, TranslatingRelay, Translation, failure_kind};
use super::{client_encoder, client_response, decode_client_request, encoder_context};
use crate::error::{ApiError, ErrorKind};
use crate::exchange::{Exchange, Outcome};
use crate::headers;
use crate::pipeline::{
    Attempt, Failure, Next, invalid, open_stream, reject, response, send_upstream,
};
use crate::state::AppState;

/// Client headers that still mean something to a provider of another dialect.
const TRANSLATED_UPSTREAM: &[&str] = &["user-agent", "idempotency-key"];

#[expect(
    clippy::too_many_arguments,
    reason = "one attempt of the request path; every input is distinct"
)]
pub(crate) async fn forward(
    state: &Arc<AppState>,
    client: Dialect,
    ex: &mut Exchange,
    client_headers: &HeaderMap,
    body: &Bytes,
    target: &Target,
    provider: &Provider,
    last_chance: bool,
) -> Result<Response, Attempt> {
    let mut req = decode_client_request(state, client, body).map_err(|e| reject(invalid(e)))?;
    let previous = previous_conversation(state, client, &req).await?;
    if let Some(conv) = &previous {
        req.messages.splice(0..0, conv.messages.iter().cloned());
    }
    if client == Dialect::OpenAiChat {
        state.translation.load_thinking(state.store.as_ref(), &req).await;
    }
    state.translation.restore(&mut req, client == Dialect::OpenAiChat);

    let canon_target = canonical::Target {
        model: target.model.clone(),
        provider: provider.name.clone(),
        quirks: tollgate_providers::quirks::quirks(provider, &target.model),
    };
    let client_streams = req.stream;
    req.stream = true;
    let mut notes = Vec::new();
    // Tool names the provider's grammar rejects (MCP `server.tool`, over 64 characters) are
    // renamed on the way up and back on the way down; the request kept for memory keeps the
    // client's names.
    let names = ToolNames::for_request(&req, provider.dialect);
    let upstream_body = Bytes::from(if names.is_identity() {
        super::encode_request(provider.dialect, &req, &canon_target, &mut notes)
    } else {
        let mut renamed = req.clone();
        names.rename_request(&mut renamed);
        super::encode_request(provider.dialect, &renamed, &canon_target, &mut notes)
    });
    if !notes.is_empty() {
        let notes: Vec<&str> = notes.iter().map(|n| n.0.as_str()).collect();
        tracing::info!(
            request_id = %ex.record.request_id,
            provider = %provider.name,
            notes = ?notes,
            "translation dropped or changed what the provider cannot take"
        );
    }
    if ex.record_bodies() {
        ex.record.forwarded_body = Some(upstream_body.clone());
    }

    let passthrough: HeaderMap = headers::upstream(client_headers, &ex.record.request_id)
        .into_iter()
        .filter_map(|(k, v)| k.map(|k| (k, v)))
        .filter(|(k, _)| {
            TRANSLATED_UPSTREAM.contains(&k.as_str()) || k.as_str() == headers::REQUEST_ID
        })
        .collect();
    let rb = provider.chat_request(state.client.http(), &target.model, &passthrough, upstream_body);
    let resp = send_upstream(state, provider, client, rb).await?;
    ex.record.upstream_request_id = headers::upstream_request_id(resp.headers());

    let ctx = encoder_context(state, client, &req, body);
    let origin = Origin {
        provider: provider.name.clone(),
        family: canonical::target::model_family(&target.model),
    };
    let on_complete =
        remember(state.clone(), client, origin.clone(), req.messages, ctx.response_id.clone());
    let framing = match provider.dialect {
        Dialect::Ollama => Framing::Lines(Vec::new()),
        _ => Framing::Sse(tollgate_wire::sse::SseDecoder::new()),
    };
    let decoder = super::decoder(provider.dialect);
    let stop_name = stop_name(client);
    let mut out_headers = headers::downstream(resp.headers());
    let upstream = open_stream(resp, &state.config.timeouts, last_chance).await?;
    let idle = state.config.timeouts.idle;

    if client_streams {
        let encoder = Some(client_encoder(client, &ctx));
        let translation = Translation::new(
            framing,
            decoder,
            encoder,
            origin.clone(),
            client == Dialect::Anthropic,
        )
        .with_names(names);
        let pump = TranslatingRelay::new(translation, ex.hand_off(), stop_name, on_complete);
        let shutdown = state.in_flight.cancelled();
        let relay = crate::relay::Driven::new(upstream, pump, &state.config.timeouts, shutdown);
        out_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        out_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        out_headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        return Ok(response(StatusCode::OK, out_headers, Body::from_stream(relay)));
    }

    // A whole response: read the stream to its end, then answer in one piece. Nothing has
    // reached the client yet, so a failure is still an HTTP error status.
    // The assembler is fed renamed events, so the whole answer has the client's names too.
    let mut t =
        Translation::new(framing, decoder, None, origin.clone(), client == Dialect::Anthropic)
            .with_names(names);
    let mut sink = Vec::new();
    let mut upstream = upstream;
    loop {
        match tokio::time::timeout(idle, upstream.next()).await {
            Err(_) => {
                let msg = format!("the provider sent nothing for {idle:?}");
                return Err(Attempt {
                    failure: (ApiError::new(ErrorKind::UpstreamTimeout, msg), Outcome::Timeout),
                    next: Next::Retry(None),
                });
            }
            Ok(None) => {
                t.end_of_input(&mut sink);
                break;
            }
            Ok(Some(Ok(chunk))) => {
                t.push(&chunk, &mut sink);
                if t.end.is_some() {
                    break;
                }
            }
            Ok(Some(Err(e))) => {
                let msg = format!(
                    "the provider's response failed: {}",
                    tollgate_providers::client::error_chain(&e)
                );
                return Err(Attempt {
                    failure: (
                        ApiError::new(ErrorKind::UpstreamError, msg),
                        Outcome::UpstreamBrokeOff,
                    ),
                    next: Next::Retry(None),
                });
            }
        }
    }
    ex.mark_first_byte();
    super::relay::apply(&t, ex, stop_name);
    match t.take_response() {
        Ok(answer) => {
            on_complete(&answer);
            let bytes = Bytes::from(client_response(client, &answer, &ctx));
            if ex.record_bodies() {
                ex.record.response_body = Some(bytes.clone());
            }
            out_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            ex.finish(200, Outcome::Ok);
            Ok(response(StatusCode::OK, out_headers, Body::from(bytes)))
        }
        Err(f) => {
            let outcome = match t.end {
                Some(End::Failed(_)) => Outcome::StreamError,
                _ => Outcome::UpstreamBrokeOff,
            };
            let message = format!("provider `{}`: {}", provider.name, f.message);
            // Nothing reached the client: a provider's transient error event can still be
            // retried or fall back.
            let kind = failure_kind(&f.kind);
            let next = match kind {
                ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::UpstreamError
                | ErrorKind::UpstreamTimeout => Next::Retry(None),
                _ => Next::Stop,
            };
            Err(Attempt { failure: (ApiError::new(kind, message), outcome), next })
        }
    }
}

/// `previous_response_id` for a Responses client whose provider keeps no state: the
/// conversation Tollgate kept, or a 400 naming the id, as OpenAI answers.
async fn previous_conversation(
    state: &AppState,
    client: Dialect,
    req: &Request,
) -> Result<Option<Arc<Conversation>>, Failure> {
    if client != Dialect::OpenAiResponses {
        return Ok(None);
    }
    let Some(id) = tollgate_wire::responses::previous_response_id(req) else {
        return Ok(None);
    };
    match state.translation.find_conversation(state.store.as_ref(), id).await {
        Some(c) => Ok(Some(c)),
        None => Err(reject(
            ApiError::new(
                ErrorKind::InvalidRequest,
                format!("Previous response with id '{id}' not found."),
            )
            .with_param(Some("previous_response_id".into())),
        )),
    }
}

/// What the gateway keeps once an answer is complete: signature origins always; thinking by
/// tool-call id for Chat clients; the conversation for Responses clients.
fn remember(
    state: Arc<AppState>,
    client: Dialect,
    origin: Origin,
    input: Vec<Message>,
    response_id: String,
) -> OnComplete {
    Box::new(move |answer| {
        let mut content = answer.content.clone();
        for b in &mut content {
            match b {
                Block::Thinking(t) => t.origin = Some(origin.clone()),
                Block::RedactedThinking(r) => r.origin = Some(origin.clone()),
                _ => {}
            }
        }
        let chat = client == Dialect::OpenAiChat;
        state.translation.remember_answer(&content, chat);
        let thinking: Vec<Block> = content
            .iter()
            .filter(|b| matches!(b, Block::Thinking(_) | Block::RedactedThinking(_)))
            .cloned()
            .collect();
        let call_ids: Vec<String> = content
            .iter()
            .filter_map(|b| match b {
                Block::ToolUse(t) => Some(t.id.clone()),
                _ => None,
            })
            .collect();
        let durable_thinking =
            (chat && !thinking.is_empty() && !call_ids.is_empty()).then_some((call_ids, thinking));
        let conversation = (client == Dialect::OpenAiResponses).then(|| {
            let mut messages = input;
            messages.push(Message { role: Role::Assistant, content });
            let c = Conversation { messages };
            state.translation.keep_conversation(response_id.clone(), c.clone());
            (response_id, c)
        });
        if durable_thinking.is_some() || conversation.is_some() {
            super::memory::Memory::persist(state.store.clone(), durable_thinking, conversation);
        }
    })
}

/// The stop reason as the client's dialect names it, for the history.
fn stop_name(client: Dialect) -> fn(&StopReason) -> String {
    match client {
        Dialect::OpenAiChat => |s| s.as_openai().to_owned(),
        _ => |s| s.as_anthropic().to_owned(),
    }
}

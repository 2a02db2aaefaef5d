//! The wire-edge-case catalogue (`shared/reference/wire-edge-cases.md`), case by case: one test or
//! a few per numbered case, named `case_NN_<what>`, each asserting what the catalogue demands of a
//! translator between Anthropic Messages, OpenAI Chat Completions and OpenAI Responses. Cases about
//! the server (errors, rate limits, count_tokens, keepalive timers, other endpoints) and about
//! clients (Claude Code, Codex) are covered by the testkit and e2e suites;
//! `docs/TRANSLATION-CATALOGUE.md` maps every case to its tests.
//!
//! # Layout
//! - this file: helpers (decode a client body, encode it for a provider, run a stream through a
//!   decoder, the [`StreamBuilder`] and an encoder).
//! - [`messages`], cases 1-6: roles, turns and content blocks.
//! - [`thinking`], cases 7-14: extended thinking and reasoning.
//! - [`tools`], cases 15-22: definitions, choice, ids, results, arguments.
//! - [`streaming`], cases 23-30: the three stream grammars and the state machines between them.
//! - [`stops_usage`], cases 31-35: stop reasons, usage and caching.
//! - [`params`], cases 36-44: images, documents, request parameters, errors in streams.
//! - [`hosted`], cases 48-58: server tools, Responses specifics, client behaviours.

#![expect(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

mod hosted;
mod messages;
mod params;
mod stops_usage;
mod streaming;
mod thinking;
mod tools;

use serde_json::Value;
use tollgate_wire::canonical::{
    Note, Quirks, Request, StreamBuilder, StreamDecoder, StreamEncoder, StreamEvent, Target,
};
use tollgate_wire::sse::{SseDecoder, SseFrame};
use tollgate_wire::{anthropic, openai, responses};

/// A Claude model without adaptive thinking, served by the provider named `anthropic`.
pub fn claude() -> Target {
    Target {
        model: "claude-sonnet-4-5-20250929".into(),
        provider: "anthropic".into(),
        quirks: Quirks::default(),
    }
}

/// An OpenAI model served by the provider named `openai`.
pub fn gpt() -> Target {
    Target { model: "gpt-5".into(), provider: "openai".into(), quirks: Quirks::default() }
}

pub fn from_anthropic(body: &Value) -> Request {
    anthropic::convert::decode_request(body.to_string().as_bytes()).unwrap()
}

pub fn from_chat(body: &Value) -> Request {
    openai::convert::decode_request(body.to_string().as_bytes()).unwrap()
}

pub fn from_responses(body: &Value) -> Request {
    responses::convert::decode_request(body.to_string().as_bytes()).unwrap()
}

fn texts(notes: &[Note]) -> Vec<String> {
    notes.iter().map(|n| n.0.clone()).collect()
}

/// The body written for an Anthropic provider, and the notes.
pub fn for_anthropic(req: &Request, target: &Target) -> (Value, Vec<String>) {
    let mut notes = Vec::new();
    let body = anthropic::convert::encode_request(req, target, &mut notes);
    (serde_json::from_slice(&body).unwrap(), texts(&notes))
}

/// The body written for an OpenAI Chat provider, and the notes.
pub fn for_chat(req: &Request, target: &Target) -> (Value, Vec<String>) {
    let mut notes = Vec::new();
    let body = openai::convert::encode_request(req, target, &mut notes);
    (serde_json::from_slice(&body).unwrap(), texts(&notes))
}

/// The body written for an OpenAI Responses provider, and the notes.
pub fn for_responses(req: &Request, target: &Target) -> (Value, Vec<String>) {
    let mut notes = Vec::new();
    let body = responses::convert::encode_request(req, target, &mut notes);
    (serde_json::from_slice(&body).unwrap(), texts(&notes))
}

/// Whether any note contains `needle`.
pub fn noted(notes: &[String], needle: &str) -> bool {
    notes.iter().any(|n| n.contains(needle))
}

pub fn frames(sse: &str) -> Vec<SseFrame> {
    let mut decoder = SseDecoder::new();
    let mut frames = Vec::new();
    decoder.feed(sse.as_bytes(), &mut frames);
    decoder.finish();
    frames
}

/// A provider stream decoded into canonical events (the decoder finished).
pub fn decode(mut decoder: impl StreamDecoder, sse: &str) -> Vec<StreamEvent> {
    let mut events = Vec::new();
    for f in frames(sse) {
        decoder.decode(&f, &mut events);
    }
    decoder.finish(&mut events);
    events
}

/// Events through the [`StreamBuilder`], as every translated stream goes.
pub fn build(events: Vec<StreamEvent>) -> Vec<StreamEvent> {
    let mut builder = StreamBuilder::new();
    let mut out = Vec::new();
    for e in events {
        builder.push(e, &mut out);
    }
    builder.finish(&mut out);
    out
}

/// Events written by a client encoder (finished), as text.
pub fn encode(mut encoder: impl StreamEncoder, events: &[StreamEvent]) -> String {
    let mut out = Vec::new();
    for e in events {
        encoder.encode(e, &mut out);
    }
    encoder.finish(&mut out);
    String::from_utf8(out).unwrap()
}

/// The JSON data of every frame with data that is JSON, with its event name.
pub fn json_frames(sse: &str) -> Vec<(Option<String>, Value)> {
    frames(sse)
        .into_iter()
        .filter_map(|f| serde_json::from_str(&f.data).ok().map(|v| (f.event, v)))
        .collect()
}

/// A fixture of `crates/tollgate-testkit/fixtures/<dialect>/`.
#[macro_export]
macro_rules! fixture {
    ($dialect:literal, $name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tollgate-testkit/fixtures/",
            $dialect,
            "/",
            $name
        ))
    };
}

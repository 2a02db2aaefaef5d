//! Translation cost: a large coding-agent request (about 200 KB: a long system prompt, 40
//! tools, a hundred turns of tool calls with file contents) decoded from one dialect and encoded
//! for another, and a 2,000-event stream decoded, passed through the stream builder and encoded
//! for a client of another dialect. Targets (issue 3): under 2 ms per request, under 2 µs per
//! stream event. Results are in docs/PERFORMANCE.md.
//!
//! `cargo bench -p tollgate-wire --bench translate`

#![expect(clippy::unwrap_used, reason = "a benchmark binary")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tollgate_wire::canonical::{StreamBuilder, StreamDecoder, StreamEncoder, Target};
use tollgate_wire::sse::{SseDecoder, write_frame};
use tollgate_wire::{anthropic, openai};

/// A Claude Code-shaped request of about 200 KB.
fn agent_request() -> Vec<u8> {
    let line =
        "    let value = parse(&input).map_err(|e| Error::Parse(e.to_string()))?; // keep going\n";
    let file: String = line.repeat(18);
    let tools: Vec<Value> = (0..40)
        .map(|i| {
            json!({"name": format!("tool_{i}"), "description": "Reads a file from the workspace and returns its contents with line numbers.",
                   "input_schema": {"type": "object", "properties": {"path": {"type": "string", "description": "absolute path"},
                   "offset": {"type": "integer"}, "limit": {"type": "integer"}}, "required": ["path"]}})
        })
        .collect();
    let mut messages =
        vec![json!({"role": "user", "content": "Fix the failing parser test in src/lib.rs"})];
    for i in 0..50 {
        let id = format!("toolu_{i:020}");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look at the next file."},
            {"type": "tool_use", "id": id, "name": "tool_1", "input": {"path": format!("/work/src/m{i}.rs")}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": file}]}));
    }
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code. ".repeat(400)}],
        "tools": tools, "messages": messages});
    serde_json::to_vec(&body).unwrap()
}

/// An Anthropic stream of 2,000 events: text deltas, then a tool call's argument deltas.
fn anthropic_stream() -> Vec<u8> {
    let mut out = Vec::new();
    let mut frame =
        |event: &str, data: Value| write_frame(&mut out, Some(event), &data.to_string());
    frame(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    );
    frame(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    for _ in 0..1500 {
        frame(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "some words "}}),
        );
    }
    frame("content_block_stop", json!({"type": "content_block_stop", "index": 0}));
    frame(
        "content_block_start",
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "tool_1", "input": {}}}),
    );
    for _ in 0..493 {
        frame(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"ab"}}),
        );
    }
    frame("content_block_stop", json!({"type": "content_block_stop", "index": 1}));
    frame(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 2000}}),
    );
    frame("message_stop", json!({"type": "message_stop"}));
    out
}

fn requests(c: &mut Criterion) {
    let body = agent_request();
    let target = Target { model: "gpt-4o".into(), provider: "openai".into(), ..Target::default() };
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("anthropic_to_openai_chat_200KB", |b| {
        b.iter(|| {
            let req = anthropic::convert::decode_request(black_box(&body)).unwrap();
            let mut notes = Vec::new();
            black_box(openai::convert::encode_request(&req, &target, &mut notes))
        });
    });
    let chat = {
        let req = anthropic::convert::decode_request(&body).unwrap();
        openai::convert::encode_request(&req, &target, &mut Vec::new())
    };
    let claude = Target {
        model: "claude-sonnet-4-5".into(),
        provider: "anthropic".into(),
        ..Target::default()
    };
    g.bench_function("openai_chat_to_anthropic_200KB", |b| {
        b.iter(|| {
            let req = openai::convert::decode_request(black_box(&chat)).unwrap();
            let mut notes = Vec::new();
            black_box(anthropic::convert::encode_request(&req, &claude, &mut notes))
        });
    });
    let gemini =
        Target { model: "gemini-2.5-pro".into(), provider: "gemini".into(), ..Target::default() };
    g.bench_function("anthropic_to_gemini_200KB", |b| {
        b.iter(|| {
            let req = anthropic::convert::decode_request(black_box(&body)).unwrap();
            let mut notes = Vec::new();
            black_box(tollgate_wire::gemini::convert::encode_request(&req, &gemini, &mut notes))
        });
    });
    g.finish();
}

fn streams(c: &mut Criterion) {
    let sse = anthropic_stream();
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Elements(2000));
    g.bench_function("anthropic_to_openai_chat_2000_events", |b| {
        b.iter(|| translate(black_box(&sse), Box::new(openai::codec::Encoder::new())));
    });
    g.bench_function("anthropic_to_openai_responses_2000_events", |b| {
        b.iter(|| {
            let opts = tollgate_wire::responses::ResponseOptions {
                response_id: "resp_1".into(),
                sealer: Some(tollgate_wire::responses::Sealer::new(b"bench key")),
                ..Default::default()
            };
            translate(
                black_box(&sse),
                Box::new(tollgate_wire::responses::codec::Encoder::with_options(opts)),
            )
        });
    });
    g.finish();
}

/// SSE bytes of an Anthropic stream -> frames -> decoder -> builder -> `encoder`.
fn translate(sse: &[u8], mut encoder: Box<dyn StreamEncoder>) -> Vec<u8> {
    let mut sse_decoder = SseDecoder::new();
    let mut frames = Vec::new();
    sse_decoder.feed(sse, &mut frames);
    let mut decoder = anthropic::codec::Decoder::new();
    let mut builder = StreamBuilder::new();
    let (mut events, mut built, mut out) = (Vec::new(), Vec::new(), Vec::new());
    for f in &frames {
        decoder.decode(f, &mut events);
        for e in events.drain(..) {
            builder.push(e, &mut built);
        }
        for e in built.drain(..) {
            encoder.encode(&e, &mut out);
        }
    }
    encoder.finish(&mut out);
    out
}

criterion_group!(benches, requests, streams);
criterion_main!(benches);

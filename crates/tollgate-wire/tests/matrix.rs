//! The pure conformance matrix (catalogue 4.14): every scenario, written once as the canonical
//! events a provider would produce, is encoded as each provider dialect's bytes by that
//! dialect's own stream encoder, then driven through the server's translation path (decoder,
//! stream builder, the relay's issuer stamping, client encoder or assembler) for each client
//! dialect, streaming and whole. It covers what the mock upstreams of the server-level matrix
//! (`tollgate-testkit/tests/it/conformance.rs`) cannot produce: redacted and signature-only
//! thinking, `max_tokens` cuts, refusals, stop sequences, cached-prompt usage, errors mid-stream
//! and upstreams that break off.
//!
//! For every (scenario, provider, client, stream|whole):
//! - the built stream satisfies the invariants, and so does the client's stream decoded back
//!   with the client dialect's decoder (a Chat client's empty turn aside: empty is legal there);
//! - the client's result, read from its own wire format ([`seen`]), equals the expectation
//!   ([`expect`]): the scenario less what the provider dialect cannot carry, in the client's
//!   words; and the reader found no shape problem;
//! - a whole response decodes with the client dialect's own response decoder;
//! - an insta snapshot of the client-visible result (one JSON line per stream frame, or the
//!   whole response JSON) under `tests/matrix/snapshots/`.

#[path = "matrix/expect.rs"]
mod expect;
#[path = "matrix/pipeline.rs"]
mod pipeline;
#[path = "matrix/scenario.rs"]
mod scenario;
#[path = "matrix/seen.rs"]
mod seen;

use std::collections::HashSet;

use serde_json::{Value, json};
use tollgate_wire::canonical::assemble::events_of;
use tollgate_wire::canonical::{StreamEvent, validate};
use tollgate_wire::sse::SseFrame;
use tollgate_wire::{Dialect, anthropic, openai, responses};

use expect::Mode;
use pipeline::{CLIENTS, PROVIDERS};
use scenario::Scenario;
use seen::Seen;

fn short(d: Dialect) -> &'static str {
    match d {
        Dialect::Anthropic => "anthropic",
        Dialect::OpenAiChat => "chat",
        Dialect::OpenAiResponses => "responses",
        Dialect::Gemini => "gemini",
        Dialect::Ollama => "ollama",
    }
}

/// Replaces what is long and checked elsewhere (the sealed blob, opened by [`seen`]).
fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "encrypted_content"
                    && value.as_str().is_some_and(|s| s.starts_with("tg1."))
                {
                    *value = json!("[sealed]");
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn stream_snapshot(frames: &[SseFrame]) -> String {
    let mut lines = Vec::new();
    for f in frames {
        let event = f.event.as_deref().unwrap_or("data:");
        match serde_json::from_str::<Value>(&f.data) {
            Ok(mut data) => {
                redact(&mut data);
                lines.push(format!("{event} {data}"));
            }
            Err(_) => lines.push(format!("{event} {}", f.data)),
        }
    }
    lines.join("\n")
}

/// Wanted call ids the provider could not carry are any non-empty, unique ids.
fn adopt_ids(want: &mut Seen, seen: &Seen) -> Result<(), String> {
    let ids: HashSet<&str> = seen.calls.iter().filter_map(|c| c.id.as_deref()).collect();
    if ids.len() != seen.calls.len() || ids.contains("") {
        return Err(format!("tool call ids missing or repeated: {:?}", seen.calls));
    }
    for (w, s) in want.calls.iter_mut().zip(&seen.calls) {
        if w.id.is_none() {
            w.id.clone_from(&s.id);
        }
    }
    Ok(())
}

fn compare(mut want: Seen, seen: &Seen) -> Result<(), String> {
    adopt_ids(&mut want, seen)?;
    if !seen.problems.is_empty() {
        return Err(format!("shape problems: {:#?}", seen.problems));
    }
    let diff = want.diff(seen);
    if !diff.is_empty() {
        return Err(diff.join("\n  "));
    }
    Ok(())
}

/// What the client got, decoded back with the client dialect's own decoder, must satisfy the
/// invariants, except that a Chat client may get a turn with no content at all (thinking it
/// cannot show, cut by max_tokens): legal in Chat, and not a canonical stream.
fn check_decoded(c: Dialect, decoded: &[StreamEvent], want: &Seen) -> Result<(), String> {
    let empty = want.text.is_empty() && want.calls.is_empty() && want.error.is_none();
    match validate(decoded) {
        Ok(()) if c == Dialect::OpenAiChat && empty => {
            Err("an empty Chat turn decoded as a non-empty one?".into())
        }
        Ok(()) => Ok(()),
        Err(v) if c == Dialect::OpenAiChat && empty && v.message.starts_with("empty turn") => {
            Ok(())
        }
        Err(v) => Err(format!("decoded back: {v:?}\n{decoded:#?}")),
    }
}

/// A whole body decoded with the client dialect's own response decoder, as the events a stream
/// of it would carry.
fn decode_whole(c: Dialect, body: &[u8]) -> Result<Vec<StreamEvent>, String> {
    let r = match c {
        Dialect::Anthropic => anthropic::convert::decode_response(body),
        Dialect::OpenAiChat => openai::convert::decode_response(body),
        _ => responses::decode_response(body),
    };
    r.map(|resp| events_of(&resp))
        .map_err(|e| format!("the client dialect's decoder rejects the body: {e}"))
}

struct Run {
    failures: Vec<String>,
    snapshots: Vec<(String, String)>,
}

impl Run {
    fn check(&mut self, name: &str, r: Result<(), String>) {
        if let Err(e) = r {
            self.failures.push(format!("{name}: {e}"));
        }
    }
}

fn run(s: Scenario) {
    let mut run = Run { failures: Vec::new(), snapshots: Vec::new() };
    for p in PROVIDERS {
        let (_, model) = pipeline::provider(p);
        let bytes = pipeline::provider_bytes(p, &s.events(model));
        let built = match pipeline::built(p, &bytes) {
            Ok(b) => b,
            Err(e) => {
                run.failures.push(format!("{}/{}: {e}", s.name(), short(p)));
                continue;
            }
        };
        let through = expect::through_provider(s, p);
        for c in CLIENTS {
            let events = pipeline::relayed(built.clone(), &pipeline::origin(p), c);
            for mode in [Mode::Stream, Mode::Whole] {
                let name = format!("{}__{}__{}__{}", s.name(), short(p), short(c), mode.name());
                let want = expect::view(p, c, mode, &through);
                match mode {
                    Mode::Stream => {
                        let frames = pipeline::frames(c, &pipeline::client_stream(c, &events));
                        let decoded = pipeline::decode(c, &frames);
                        run.check(&name, check_decoded(c, &decoded, &want));
                        run.check(&name, compare(want, &seen::stream(c, &frames)));
                        run.snapshots.push((name, stream_snapshot(&frames)));
                    }
                    Mode::Whole => match pipeline::assembled(&events) {
                        Ok(resp) => {
                            let body = pipeline::client_response(c, &resp);
                            let decoded = decode_whole(c, &body);
                            run.check(&name, decoded.and_then(|d| check_decoded(c, &d, &want)));
                            run.check(&name, compare(want, &seen::whole(c, &body)));
                            let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            redact(&mut v);
                            run.snapshots
                                .push((name, serde_json::to_string_pretty(&v).unwrap_or_default()));
                        }
                        Err(failure) => {
                            // Nothing reached the client yet: the server answers with an error
                            // status of this type, in the client's error shape.
                            if through.error.as_deref() != Some(failure.kind.as_str()) {
                                run.failures.push(format!(
                                    "{name}: failure {failure:?}, want error {:?}",
                                    through.error
                                ));
                            }
                            let v = json!({"failure": {"kind": failure.kind, "message": failure.message}});
                            run.snapshots
                                .push((name, serde_json::to_string_pretty(&v).unwrap_or_default()));
                        }
                    },
                }
            }
        }
    }
    assert!(
        run.failures.is_empty(),
        "{} failure(s):\n{}",
        run.failures.len(),
        run.failures.join("\n\n")
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("matrix/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for (name, snapshot) in &run.snapshots {
            insta::assert_snapshot!(name.as_str(), snapshot);
        }
    });
}

macro_rules! scenarios {
    ($($test:ident => $scenario:ident,)*) => {
        $(
            #[test]
            fn $test() {
                run(Scenario::$scenario);
            }
        )*

        #[test]
        fn every_scenario_has_a_test() {
            let tested = [$(Scenario::$scenario),*];
            assert_eq!(tested.len(), scenario::ALL.len());
            assert!(scenario::ALL.iter().all(|s| tested.contains(s)));
        }
    };
}

scenarios! {
    plain_text => PlainText,
    one_tool => OneTool,
    parallel_tools => ParallelTools,
    thinking_then_tool => ThinkingTool,
    redacted_thinking => RedactedThinking,
    signature_only_thinking => SignatureOnly,
    max_tokens_during_text => MaxTokensText,
    max_tokens_during_tool_arguments => MaxTokensTool,
    max_tokens_during_thinking => MaxTokensThinking,
    refusal => Refusal,
    stop_sequence => StopSequence,
    cached_prompt_usage => CachedUsage,
    overloaded_mid_stream => Overloaded,
    upstream_breaks_off => BrokeOff,
}

/// The whole-response side of the Ollama fix the matrix led to: `length` stays `max_tokens` even
/// when the answer carries a tool call (catalogue 32), as in the stream decoder.
#[test]
fn ollama_length_with_a_tool_call_is_max_tokens() {
    let body = json!({
        "model": "qwen3", "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        "done": true, "done_reason": "length", "prompt_eval_count": 5, "eval_count": 9
    });
    let resp = tollgate_wire::ollama::convert::decode_response(body.to_string().as_bytes());
    let resp = resp.map_err(|e| e.to_string());
    assert_eq!(
        resp.map(|r| (r.has_tool_use(), r.stop_reason)),
        Ok((true, Some(tollgate_wire::canonical::StopReason::MaxTokens)))
    );
    let stop = json!({"model": "qwen3", "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        "done": true, "done_reason": "stop"});
    let resp = tollgate_wire::ollama::convert::decode_response(stop.to_string().as_bytes());
    assert_eq!(
        resp.map(|r| r.stop_reason).map_err(|e| e.to_string()),
        Ok(Some(tollgate_wire::canonical::StopReason::ToolUse))
    );
}

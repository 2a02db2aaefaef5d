//! The expectation table: what survives each provider dialect (its documented degradations,
//! one rule per line), what each client dialect can show of it, and the result written in the
//! client's own words (catalogue 31 for stop reasons, 33 for usage, 43/44 for errors). The
//! mappings are spelled out here as literals, not taken from the code under test.

use tollgate_wire::canonical::{self, StopReason};
use tollgate_wire::{Dialect, Usage};

use super::pipeline::origin;
use super::scenario::{Args, Scenario, Thought, Want};
use super::seen::Seen;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Stream,
    Whole,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Whole => "whole",
        }
    }
}

/// The builder's text for an otherwise empty turn.
const NO_CONTENT: &str = "(no content)";

/// What reaches the gateway's decoder-and-builder when provider `p` produced the scenario.
pub fn through_provider(s: Scenario, p: Dialect) -> Want {
    let mut w = s.ideal();
    match p {
        Dialect::Anthropic => {}
        Dialect::OpenAiChat => {
            // A Chat stream written with standard fields only has no reasoning (catalogue 11).
            w.thinking.clear();
            fold_cache_write(&mut w);
            plain_stop_sequence(&mut w);
        }
        Dialect::OpenAiResponses => {
            // A reasoning item shows its summary, unsigned; signatures, signature-only and
            // redacted thinking live only in the provider's own (opaque) item.
            // KNOWN: a Responses client also gets that opaque item back whole, beside the sealed
            // item made from its summary, so it sees the summary twice. Only a Responses ->
            // Responses translation does this, and the server passes that pair through untouched.
            if !w.thinking.is_empty() {
                w.foreign_reasoning = 1;
            }
            w.thinking = w.thinking.into_iter().filter_map(shown_summary).collect();
            plain_stop_sequence(&mut w);
        }
        Dialect::Gemini => {
            // A signature rides the part after the thought (as Gemini 3 sends it), so it comes
            // back as a signature-only block after the thinking text. No redacted thinking.
            w.thinking = w.thinking.into_iter().flat_map(gemini_thought).collect();
            // Function calls arrive whole and, as most Gemini models send them, without an id.
            w.calls.iter_mut().for_each(|c| c.id = None);
            // KNOWN: a call cut by max_tokens cannot be written as a partial functionCall; the
            // encoder writes it whole with `{}` arguments (the stop reason still says max_tokens).
            if s == Scenario::MaxTokensTool {
                w.calls.iter_mut().for_each(|c| c.args = Args::Json(serde_json::json!({})));
            }
            fold_cache_write(&mut w);
            plain_stop_sequence(&mut w);
        }
        Dialect::Ollama => {
            // Thinking text only: no signatures, no signature-only or redacted blocks.
            w.thinking = w
                .thinking
                .into_iter()
                .filter_map(|t| match t {
                    Thought::Thinking { text, .. } if !text.is_empty() => {
                        Some(Thought::Thinking { text, signature: None })
                    }
                    _ => None,
                })
                .collect();
            w.calls.iter_mut().for_each(|c| c.id = None);
            // KNOWN: as for Gemini, a cut call goes out whole with `{}` arguments.
            if s == Scenario::MaxTokensTool {
                w.calls.iter_mut().for_each(|c| c.args = Args::Json(serde_json::json!({})));
            }
            // No cache fields: every input token is plain input.
            if let Some(u) = &mut w.usage {
                *u = Usage {
                    input_tokens: u.total_input(),
                    output_tokens: u.output_tokens,
                    ..Usage::default()
                };
            }
            // `done_reason` is `stop` or `length`: no refusal, no stop sequence.
            if w.stop == Some(StopReason::Refusal) {
                w.stop = Some(StopReason::EndTurn);
            }
            plain_stop_sequence(&mut w);
            // The error line is a bare string: its type is lost.
            if w.error.is_some() {
                w.error = Some("api_error".into());
            }
        }
    }
    // The builder never lets a turn be empty.
    if w.error.is_none() && w.text.is_empty() && w.calls.is_empty() && w.thinking.is_empty() {
        w.text = NO_CONTENT.into();
    }
    w
}

/// Chat and Gemini count cache writes as plain input (they have no field for them).
fn fold_cache_write(w: &mut Want) {
    if let Some(u) = &mut w.usage {
        u.input_tokens += u.cache_write_tokens;
        u.cache_write_tokens = 0;
    }
}

/// Dialects without a stop-sequence reason end the turn normally, and which sequence matched is
/// lost (31).
fn plain_stop_sequence(w: &mut Want) {
    if w.stop == Some(StopReason::StopSequence) {
        w.stop = Some(StopReason::EndTurn);
        w.stop_sequence = None;
    }
}

fn shown_summary(t: Thought) -> Option<Thought> {
    match t {
        Thought::Thinking { text, .. } if !text.is_empty() => {
            Some(Thought::Thinking { text, signature: None })
        }
        _ => None,
    }
}

fn gemini_thought(t: Thought) -> Vec<Thought> {
    match t {
        Thought::Thinking { text, signature: Some(sig) } if !text.is_empty() => vec![
            Thought::Thinking { text, signature: None },
            Thought::Thinking { text: String::new(), signature: Some(sig) },
        ],
        Thought::Thinking { .. } => vec![t],
        Thought::Redacted { .. } => Vec::new(),
    }
}

fn anthropic_stop(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
        other => unreachable_stop(other),
    }
}

fn chat_finish(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence => "stop",
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
        other => unreachable_stop(other),
    }
}

fn responses_status(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::ToolUse => "completed",
        StopReason::MaxTokens => "incomplete/max_output_tokens",
        StopReason::Refusal => "incomplete/content_filter",
        other => unreachable_stop(other),
    }
}

fn unreachable_stop(stop: &StopReason) -> &'static str {
    panic!("no scenario ends with {stop:?}")
}

/// Anthropic error type -> what a Chat client reads (`type/code`, 43) and what a Responses
/// client's `error` event names (`code`).
fn chat_error(kind: &str) -> &'static str {
    match kind {
        "overloaded_error" => "server_error/overloaded",
        "api_error" => "server_error/-",
        other => panic!("no scenario fails with {other}"),
    }
}

fn responses_error(kind: &str) -> &'static str {
    match kind {
        "overloaded_error" => "server_is_overloaded",
        "api_error" => "server_error",
        other => panic!("no scenario fails with {other}"),
    }
}

/// What client `c` must see of `w` (already through provider `p`), in its own words.
pub fn view(p: Dialect, c: Dialect, mode: Mode, w: &Want) -> Seen {
    let mut calls = w.calls.clone();
    if mode == Mode::Whole {
        // The assembler parses a call's arguments; a call cut short has none it can parse.
        for call in &mut calls {
            if matches!(call.args, Args::Raw(_)) {
                call.args = Args::Json(serde_json::json!({}));
            }
        }
    }
    let issuer = origin(p);
    let mut seen = Seen { text: w.text.clone(), calls, ..Seen::default() };
    match c {
        Dialect::Anthropic => {
            seen.stop = w.stop.as_ref().map(|r| anthropic_stop(r).to_owned());
            seen.stop_sequence.clone_from(&w.stop_sequence);
            seen.usage = w.usage.map(|u| {
                vec![
                    ("input_tokens", u.input_tokens),
                    ("cache_creation_input_tokens", u.cache_write_tokens),
                    ("cache_read_input_tokens", u.cache_read_tokens),
                    ("output_tokens", u.output_tokens),
                ]
            });
            // Unsigned thinking reaches an Anthropic client with the stand-in naming its issuer.
            let marker = canonical::unsigned_marker(&issuer);
            seen.thinking = w
                .thinking
                .iter()
                .map(|t| match t {
                    Thought::Thinking { text, signature: None } => {
                        Thought::Thinking { text: text.clone(), signature: Some(marker.clone()) }
                    }
                    other => other.clone(),
                })
                .collect();
            seen.error.clone_from(&w.error);
        }
        Dialect::OpenAiChat => {
            seen.stop = w.stop.as_ref().map(|r| chat_finish(r).to_owned());
            seen.usage = w.usage.map(|u| {
                vec![
                    ("prompt_tokens", u.total_input()),
                    ("completion_tokens", u.output_tokens),
                    ("total_tokens", u.total_input() + u.output_tokens),
                    ("cached_tokens", u.cache_read_tokens),
                ]
            });
            seen.error = w.error.as_deref().map(|k| chat_error(k).to_owned());
        }
        _ => {
            seen.stop = match (&w.stop, &w.error) {
                (Some(r), _) => Some(responses_status(r).to_owned()),
                (None, _) if mode == Mode::Stream => Some("failed".to_owned()),
                (None, _) => None,
            };
            seen.usage = w.usage.map(|u| {
                vec![
                    ("input_tokens", u.total_input()),
                    ("cached_tokens", u.cache_read_tokens),
                    ("output_tokens", u.output_tokens),
                    ("total_tokens", u.total_input() + u.output_tokens),
                ]
            });
            seen.thinking.clone_from(&w.thinking);
            let who = format!("{}/{}", issuer.provider, issuer.family);
            seen.origins = w.thinking.iter().map(|_| who.clone()).collect();
            seen.summaries = w
                .thinking
                .iter()
                .filter_map(|t| match t {
                    Thought::Thinking { text, .. } if !text.is_empty() => Some(text.clone()),
                    _ => None,
                })
                .collect();
            seen.foreign_reasoning = w.foreign_reasoning;
            seen.error = w.error.as_deref().map(|k| responses_error(k).to_owned());
        }
    }
    seen
}

//! Route planning cost on a Claude Code-shaped request of about 200 KB (an ~8 KB system prompt,
//! 40 tool definitions, 100 rounds of `tool_use` and `tool_result` carrying file contents,
//! thinking on): [`Features::extract`], [`classify`], and [`Catalog::plan`] (automatic routing
//! over the built-in models of Anthropic, OpenAI and Gemini), separately and end to end.
//! Target (issue 5): under 50 µs to plan.
//! `serde_json` skipping the same body into `IgnoredAny` is measured beside it as a yardstick.
//!
//! `cargo bench -p tollgate-routing --bench plan`

#![expect(clippy::unwrap_used, reason = "a benchmark binary")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tollgate_routing::classify::classify;
use tollgate_routing::features::{ANTHROPIC, Features};
use tollgate_routing::health::Health;
use tollgate_routing::plan::PlanInput;
use tollgate_routing::{Catalog, ProviderEntry};

fn catalog() -> Catalog {
    let p = |name: &str, dialect: &'static str, pattern: &str| ProviderEntry {
        name: name.into(),
        dialects: vec![dialect],
        patterns: vec![pattern.into()],
        ..Default::default()
    };
    Catalog {
        providers: vec![
            p("anthropic", "anthropic", "claude-*"),
            p("openai", "openai-chat", "gpt-*"),
            p("gemini", "gemini", "gemini-*"),
        ],
        ..Default::default()
    }
}

/// A Claude Code request of about 200 KB.
fn claude_code_request() -> Vec<u8> {
    // A Read result: `cat -n` lines, with tabs and quoted strings (escapes on every line).
    let mut file = String::new();
    for n in 1..=16 {
        file.push_str(&format!(
            "{n:>6}\t    let value = parse(&input, \"key\").map_err(|e| Error::Parse(e.to_string()))?;\n"
        ));
    }
    let tools: Vec<Value> = (0..40)
        .map(|i| {
            json!({"name": format!("Tool{i}"),
                "description": "Reads a file from the local filesystem. You can access any file directly by using this tool.\nUsage:\n- The file_path parameter must be an absolute path, not a relative path\n- By default, it reads up to 2000 lines starting from the beginning of the file",
                "input_schema": {"type": "object", "properties": {
                    "file_path": {"type": "string", "description": "The absolute path to the file to read"},
                    "offset": {"type": "number", "description": "The line number to start reading from"},
                    "limit": {"type": "number", "description": "The number of lines to read"}},
                    "required": ["file_path"], "additionalProperties": false,
                    "$schema": "http://json-schema.org/draft-07/schema#"}})
        })
        .collect();
    let mut messages = vec![json!({"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\n...\n</system-reminder>"},
        {"type": "text", "text": "The test `parses_dates` fails with this stack trace:\n```\nthread 'parses_dates' panicked at src/date.rs:41:9\n```\nFix it; the parser is in src/date.rs and the callers in src/api/handlers.rs."}]})];
    for i in 0..100 {
        let id = format!("toolu_01{i:022}");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look at the next module."},
            {"type": "tool_use", "id": id, "name": "Read", "input": {"file_path": format!("/work/app/src/module_{i}.rs")}}]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": file}]}));
    }
    let system = "You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.\n".repeat(52);
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "metadata": {"user_id": "user_0123456789abcdef_account__session_0123"},
        "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "tools": tools, "messages": messages});
    serde_json::to_vec(&body).unwrap()
}

fn bench(c: &mut Criterion) {
    let body = claude_code_request();
    let f = Features::extract(ANTHROPIC, &body);
    assert_eq!((f.tools, f.turns, f.tool_loop_depth, f.thinking), (40, 201, 100, true));
    let class = classify(&f);

    let mut g = c.benchmark_group("plan");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function(format!("extract+classify {} KB", body.len() / 1000), |b| {
        b.iter(|| classify(&Features::extract(ANTHROPIC, black_box(&body))))
    });
    g.bench_function("extract", |b| b.iter(|| Features::extract(ANTHROPIC, black_box(&body))));
    g.bench_function("classify", |b| b.iter(|| classify(black_box(&f))));
    let cat = catalog();
    let health = Health::default();
    fn input(f: &Features) -> PlanInput<'_> {
        PlanInput {
            requested: "auto",
            client_dialect: ANTHROPIC,
            features: Some(f),
            session: Some("s"),
            sticky: None,
            local_only: false,
            random: 1,
            now_ms: 0,
        }
    }
    assert_eq!(cat.plan(&health, &input(&f)).unwrap().chosen.len(), 4);
    g.bench_function("plan (classify, filter, choose)", |b| {
        b.iter(|| cat.plan(&health, &input(black_box(&f))).unwrap())
    });
    g.bench_function(format!("extract+plan {} KB", body.len() / 1000), |b| {
        b.iter(|| {
            let f = Features::extract(ANTHROPIC, black_box(&body));
            cat.plan(&health, &input(&f)).unwrap().chosen.len()
        })
    });
    g.bench_function("serde_json IgnoredAny (yardstick)", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&body)).unwrap())
    });
    g.finish();
    let _ = class;
}

criterion_group!(benches, bench);
criterion_main!(benches);

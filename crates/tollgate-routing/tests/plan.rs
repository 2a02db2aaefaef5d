//! Route planning against a catalog like a real deployment's: Anthropic, OpenAI, Gemini and a
//! local Ollama. Includes the routing fixtures' expected routes (`expect.route` in
//! `fixtures/features/*.json`).

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on unexpected shapes")]

use std::path::Path;

use serde_json::{Value, json};
use tollgate_routing::balance::Strategy;
use tollgate_routing::classify::Category;
use tollgate_routing::features::Features;
use tollgate_routing::health::{BreakerConfig, Health, Outcomes, SuccessConfig};
use tollgate_routing::models::Tier;
use tollgate_routing::plan::{
    AliasTarget, Condition, Decision, Deployment, Experiment, LocalStatus, PlanInput, Rule,
    RuleTarget,
};
use tollgate_routing::{Catalog, ProviderEntry, ResolveError};

fn provider(name: &str, dialect: &'static str, patterns: &[&str], local: bool) -> ProviderEntry {
    ProviderEntry {
        name: name.into(),
        dialects: vec![dialect],
        patterns: patterns.iter().map(|s| (*s).into()).collect(),
        local,
        ..Default::default()
    }
}

fn catalog() -> Catalog {
    Catalog {
        providers: vec![
            provider("anthropic", "anthropic", &["claude-*"], false),
            provider("openai", "openai-chat", &["gpt-*", "o3*", "o4*"], false),
            provider("gemini", "gemini", &["gemini-*"], false),
        ],
        ..Default::default()
    }
}

fn with_ollama(mut c: Catalog) -> Catalog {
    let mut o = provider("ollama", "openai-chat", &[], true);
    o.discovered = vec!["qwen2.5-coder:7b".into()];
    o.up = Some(true);
    c.providers.push(o);
    c
}

fn plan_with(
    c: &Catalog,
    h: &Health,
    dialect: &str,
    body: &Value,
    sticky: Option<&str>,
) -> Result<Decision, ResolveError> {
    let bytes = serde_json::to_vec(body).unwrap();
    let f = Features::extract(dialect, &bytes);
    let model = body["model"].as_str().unwrap_or("auto").to_owned();
    c.plan(
        h,
        &PlanInput {
            requested: &model,
            client_dialect: dialect,
            features: Some(&f),
            session: Some("session-1"),
            sticky,
            local_only: false,
            random: 7,
            now_ms: 1_000,
        },
    )
}

fn plan(c: &Catalog, body: Value) -> Decision {
    plan_with(c, &Health::default(), "anthropic", &body, None).unwrap()
}

fn ask(prompt: &str) -> Value {
    json!({"model": "auto", "max_tokens": 1024, "messages": [{"role": "user", "content": prompt}]})
}

/// A long multi-file debugging request: ~150 KB of context, thinking, a deep tool loop.
fn hard_debugging() -> Value {
    let file = "    let v = parse(&input).map_err(|e| Error::Parse(e.to_string()))?;\n".repeat(40);
    let mut messages = vec![
        json!({"role": "user", "content": "The integration test fails with this stack trace: thread 'main' panicked at src/parser.rs:88, called from src/lexer.rs and src/driver.rs. Why does it crash and how do I fix the bug?"}),
    ];
    for i in 0..10 {
        let id = format!("toolu_{i}");
        messages.push(json!({"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "Read", "input": {"file_path": format!("/w/src/m{i}.rs")}}]}));
        messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": file.repeat(6)}]}));
    }
    json!({"model": "auto", "max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": 16000},
           "tools": [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}}],
           "messages": messages})
}

#[test]
fn what_is_two_plus_two_goes_to_the_cheapest_tier_and_hard_debugging_to_the_strongest() {
    let c = catalog();
    let easy = plan(&c, ask("What is 2+2?"));
    assert_eq!(easy.mode, "auto");
    assert_eq!(easy.tier, Some(Tier::Cheap), "{}", easy.reason);
    assert_eq!(easy.chosen[0], "openai:gpt-5-nano", "the cheapest cheap model: {}", easy.reason);
    assert_eq!(easy.category(), Some(Category::SimpleQa));

    let hard = plan(&c, hard_debugging());
    assert_eq!(hard.category(), Some(Category::Debug), "{:?}", hard.classification);
    assert_eq!(hard.tier, Some(Tier::Strong), "{}", hard.reason);
    let first = &hard.chosen[0];
    assert!(
        ["anthropic:claude-opus-4-5", "openai:gpt-5", "gemini:gemini-2.5-pro"]
            .contains(&first.as_str()),
        "{first}"
    );
    // Fallbacks: the rest of the strong tier first, then lower tiers, at most 4.
    assert_eq!(hard.chosen.len(), 4);
    let tiers: Vec<_> =
        hard.candidates.iter().filter(|c| hard.chosen[1] == c.deployment).map(|c| c.tier).collect();
    assert_eq!(tiers, [Some(Tier::Strong)]);
}

#[test]
fn tools_never_land_on_a_model_without_tools_and_vision_needs_vision() {
    let mut c = with_ollama(catalog());
    // A local model without tool use, and the only model left in the cheap tier locally.
    c.settings.models.overrides.insert(
        "ollama:qwen2.5-coder:7b".into(),
        tollgate_routing::models::ModelOverride { tools: Some(false), ..Default::default() },
    );
    let mut body = ask("What is 2+2?");
    body["tools"] =
        json!([{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}]);
    let d = plan(&c, body);
    assert!(!d.chosen.iter().any(|t| t.starts_with("ollama:")), "{:?}", d.chosen);
    let ollama = d.candidates.iter().find(|c| c.deployment.starts_with("ollama:")).unwrap();
    assert_eq!(ollama.excluded.as_deref(), Some("no tool use"));

    // Without tools the local model is first (local first, free).
    let d = plan(&c, ask("What is 2+2?"));
    assert_eq!(d.chosen[0], "ollama:qwen2.5-coder:7b", "{}", d.reason);

    let img = json!({"model": "auto", "max_tokens": 100, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "What is in this picture?"}]}]});
    let d = plan(&c, img);
    assert!(!d.chosen.iter().any(|t| t.starts_with("ollama:")), "{:?}", d.chosen);
}

#[test]
fn long_contexts_skip_small_windows_and_local_only_stays_local() {
    let c = with_ollama(catalog());
    let mut body = ask(&"word ".repeat(200_000 / 5 * 4));
    body["max_tokens"] = json!(1000);
    let d = plan(&c, body.clone());
    assert!(!d.chosen.iter().any(|t| t.starts_with("ollama:")), "32K local window: {:?}", d.chosen);

    let bytes = serde_json::to_vec(&ask("Summarise our secret plan")).unwrap();
    let f = Features::extract("anthropic", &bytes);
    let input = PlanInput {
        requested: "auto",
        client_dialect: "anthropic",
        features: Some(&f),
        session: None,
        sticky: None,
        local_only: true,
        random: 0,
        now_ms: 0,
    };
    let d = c.plan(&Health::default(), &input).unwrap();
    assert_eq!(d.chosen, ["ollama:qwen2.5-coder:7b"]);
    // Explicit remote targets are refused for a local-only request.
    let explicit = PlanInput { requested: "anthropic:claude-haiku-4-5", ..input };
    assert!(matches!(c.plan(&Health::default(), &explicit), Err(ResolveError::NotEligible { .. })));
    // No local model: refused with the reasons.
    let e = catalog().plan(&Health::default(), &input).unwrap_err().to_string();
    assert!(e.contains("local-only request"), "{e}");
}

#[test]
fn open_breakers_and_cooling_models_are_skipped() {
    let c = catalog();
    let mut h =
        Health::new(BreakerConfig { failures: 2, cooldown_ms: 60_000 }, SuccessConfig::default());
    for _ in 0..2 {
        h.finished("gemini:gemini-2.5-flash-lite", false, None, 500);
    }
    let d = plan_with(&c, &h, "anthropic", &ask("What is 2+2?"), None).unwrap();
    assert_ne!(d.chosen[0], "gemini:gemini-2.5-flash-lite");
    assert_eq!(d.tier, Some(Tier::Cheap));
    let skipped =
        d.candidates.iter().find(|c| c.deployment == "gemini:gemini-2.5-flash-lite").unwrap();
    assert_eq!(skipped.excluded.as_deref(), Some("circuit breaker open"));

    let mut h = Health::default();
    for _ in 0..3 {
        h.outcome("gemini:gemini-2.5-flash-lite", Category::SimpleQa, false, 900);
    }
    let d = plan_with(&c, &h, "anthropic", &ask("What is 2+2?"), None).unwrap();
    let cooled =
        d.candidates.iter().find(|c| c.deployment == "gemini:gemini-2.5-flash-lite").unwrap();
    assert!(cooled.excluded.as_deref().unwrap().starts_with("cooling down"), "{cooled:?}");
}

#[test]
fn measured_success_picks_a_cheaper_model_that_proved_itself() {
    let c = catalog();
    let mut h = Health::default();
    // Debugging of middling complexity needs the standard tier; a cheap model with a strong
    // record on debugging is chosen instead.
    h.seed("anthropic:claude-haiku-4-5", Category::Debug, Outcomes { ok: 95, total: 100 });
    h.seed("gemini:gemini-2.5-flash-lite", Category::Debug, Outcomes { ok: 50, total: 100 });
    let body = ask(
        "The test fails with a panic in src/lib.rs, here is the error: index out of bounds. Why does it crash? Please debug it and explain the root cause of the bug in detail.",
    );
    let d = plan_with(&c, &h, "anthropic", &body, None).unwrap();
    assert_eq!(d.category(), Some(Category::Debug));
    if d.tier == Some(Tier::Standard) {
        assert_eq!(d.chosen[0], "anthropic:claude-haiku-4-5", "{}", d.reason);
        assert!(d.reason.contains("measured success 95%"), "{}", d.reason);
    }
    // Without enough samples, tier rules decide.
    let d = plan(&c, body);
    assert!(!d.reason.contains("measured"), "{}", d.reason);
}

#[test]
fn sessions_stay_on_their_model_unless_a_rule_escalates() {
    let mut c = catalog();
    let d = plan_with(
        &c,
        &Health::default(),
        "anthropic",
        &ask("What is 2+2?"),
        Some("anthropic:claude-sonnet-4-5"),
    )
    .unwrap();
    assert_eq!(d.chosen[0], "anthropic:claude-sonnet-4-5");
    assert_eq!(d.reason.split(": ").last(), Some("session stays on its model"));

    c.settings.rules = vec![Rule {
        name: "hard-debug".into(),
        when: vec![Condition::Category(Category::Debug)],
        target: RuleTarget::Deployment("anthropic:claude-opus-4-5".into()),
        escalate: true,
    }];
    let d = plan_with(
        &c,
        &Health::default(),
        "anthropic",
        &hard_debugging(),
        Some("anthropic:claude-sonnet-4-5"),
    )
    .unwrap();
    assert_eq!(d.chosen[0], "anthropic:claude-opus-4-5");
    assert_eq!(d.rule.as_deref(), Some("hard-debug"));
}

#[test]
fn background_calls_go_cheap_by_the_builtin_rule_and_configured_rules_win() {
    let mut c = catalog();
    let title = json!({"model": "auto", "max_tokens": 64, "system": "Generate a concise, sentence-case title (3-7 words) that captures the main topic or goal of this coding session.",
                       "messages": [{"role": "user", "content": "Refactor the whole storage layer to use traits, then fix every failing test and explain the design in detail"}]});
    let d = plan(&c, title.clone());
    assert_eq!(d.rule.as_deref(), Some("builtin:background"));
    assert_eq!(d.tier, Some(Tier::Cheap));

    c.settings.rules = vec![Rule {
        name: "titles-on-haiku".into(),
        when: vec![Condition::Background],
        target: RuleTarget::Deployment("anthropic:claude-haiku-4-5".into()),
        escalate: false,
    }];
    let d = plan(&c, title);
    assert_eq!(d.chosen[0], "anthropic:claude-haiku-4-5");
    assert!(d.reason.contains("rule titles-on-haiku"), "{}", d.reason);
}

#[test]
fn experiments_are_sticky_per_session() {
    let mut c = catalog();
    c.settings.experiments = vec![Experiment {
        name: "qa".into(),
        category: Some(Category::SimpleQa),
        arms: vec![
            Deployment { target: "anthropic:claude-haiku-4-5".into(), weight: 1 },
            Deployment { target: "openai:gpt-5-nano".into(), weight: 1 },
        ],
    }];
    let arm = |session: &str| {
        let bytes = serde_json::to_vec(&ask("What is 2+2?")).unwrap();
        let f = Features::extract("anthropic", &bytes);
        let input = PlanInput {
            requested: "auto",
            client_dialect: "anthropic",
            features: Some(&f),
            session: Some(session),
            sticky: None,
            local_only: false,
            random: 0,
            now_ms: 0,
        };
        let d = c.plan(&Health::default(), &input).unwrap();
        (d.chosen[0].clone(), d.experiment.unwrap().arm)
    };
    let arms: std::collections::BTreeSet<String> =
        (0..40).map(|i| arm(&format!("s{i}")).1).collect();
    assert_eq!(arms.len(), 2, "both arms get sessions");
    for i in 0..10 {
        let s = format!("s{i}");
        assert_eq!(arm(&s), arm(&s), "the same session, the same arm");
        assert_eq!(arm(&s).0, arm(&s).1);
    }
}

#[test]
fn aliases_balance_filter_and_match_wildcards() {
    let mut c = catalog();
    c.aliases.insert(
        "fast".into(),
        AliasTarget {
            deployments: vec![
                Deployment { target: "openai:gpt-5-nano".into(), weight: 3 },
                Deployment { target: "anthropic:claude-haiku-4-5".into(), weight: 1 },
            ],
            strategy: Strategy::Weighted,
        },
    );
    c.aliases.insert("claude-sonnet-*".into(), AliasTarget::single("auto"));
    assert!(c.needs_features("fast"));
    assert!(c.needs_features("claude-sonnet-4-5-20250929"));
    assert!(!c.needs_features("claude-haiku-4-5"));
    let firsts: std::collections::BTreeMap<String, usize> =
        (0..400u64).fold(Default::default(), |mut m, r| {
            let f = Features::default();
            let input = PlanInput {
                requested: "fast",
                client_dialect: "anthropic",
                features: Some(&f),
                session: None,
                sticky: None,
                local_only: false,
                random: r.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                now_ms: 0,
            };
            let d = c.plan(&Health::default(), &input).unwrap();
            assert_eq!(d.chosen.len(), 2, "the other deployment is the fallback");
            *m.entry(d.chosen[0].clone()).or_default() += 1;
            m
        });
    let nano = firsts["openai:gpt-5-nano"];
    assert!((250..350).contains(&nano), "3:1 weights: {firsts:?}");

    // Claude Code's model name mapped to auto by a wildcard alias.
    let d = plan(
        &c,
        json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 10, "messages": [{"role": "user", "content": "What is 2+2?"}]}),
    );
    assert_eq!(d.mode, "auto");
    assert!(d.reason.starts_with("alias claude-sonnet-4-5-20250929 -> auto"), "{}", d.reason);
}

#[test]
fn local_runtimes_under_memory_pressure_use_only_what_is_loaded() {
    let mut c = with_ollama(catalog());
    c.providers[3].discovered.push("llama3.3:70b".into());
    c.settings.models.overrides.insert(
        "ollama:llama3.3:70b".into(),
        tollgate_routing::models::ModelOverride {
            tier: Some(Tier::Standard),
            ..Default::default()
        },
    );
    c.providers[3].status =
        LocalStatus { loaded: vec![("qwen2.5-coder:7b".into(), 6 << 30)], pressure: true };
    let body = ask(
        "Write a Python function that parses ISO dates and a few unit tests for it, with edge cases for time zones",
    );
    let d = plan(&c, body.clone());
    let big = d.candidates.iter().find(|c| c.deployment == "ollama:llama3.3:70b").unwrap();
    assert_eq!(big.excluded.as_deref(), Some("GPU memory pressure and not loaded"));
    c.providers[3].status.pressure = false;
    let d = plan(&c, body);
    if d.tier == Some(Tier::Standard) {
        assert_eq!(d.chosen[0], "ollama:llama3.3:70b", "{}", d.reason);
    }
}

#[test]
fn explicit_and_pattern_targets_plan_to_one_deployment() {
    let c = catalog();
    let d = plan(&c, json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []}));
    assert_eq!(
        (d.mode, d.chosen.as_slice()),
        ("pattern", &["anthropic:claude-sonnet-4-5".to_owned()][..])
    );
    let d = plan(&c, json!({"model": "openai:gpt-4o", "max_tokens": 5, "messages": []}));
    assert_eq!(d.mode, "explicit");
    let json = d.to_json();
    assert!(json.starts_with(r#"{"version":1,"#), "{json}");
}

/// The routing fixtures' expected routes: `expect.route` holds `tier` and/or `first` (the
/// first deployment) under [`catalog`].
#[test]
fn routing_fixtures_route_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/features");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let c = catalog();
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &paths {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let Some(route) = case["expect"].get("route") else { continue };
        checked += 1;
        let mut body = case["body"].clone();
        body["model"] = json!("auto");
        let d = plan_with(&c, &Health::default(), case["dialect"].as_str().unwrap(), &body, None)
            .unwrap();
        if let Some(tier) = route.get("tier").and_then(Value::as_str)
            && d.tier.map(Tier::as_str) != Some(tier)
        {
            failures.push(format!("{file}: tier {:?}, expected {tier} ({})", d.tier, d.reason));
        }
        if let Some(first) = route.get("first").and_then(Value::as_str)
            && d.chosen[0] != first
        {
            failures
                .push(format!("{file}: first {}, expected {first} ({})", d.chosen[0], d.reason));
        }
    }
    assert!(checked >= 10, "only {checked} fixtures have expected routes");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

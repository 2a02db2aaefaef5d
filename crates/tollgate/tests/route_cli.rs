//! `tollgate route` as a user runs it: no config file, provider keys in the environment,
//! nothing sent anywhere.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on unexpected shapes")]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

/// The binary in an empty directory (so no ./tollgate.toml), with its data directory there too.
fn tollgate(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TOLLGATE_DATA_DIR", dir.join("data"))
        .env("ANTHROPIC_API_KEY", "x")
        .env("OPENAI_API_KEY", "y")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn explain_json_plans_a_bare_prompt_as_auto() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(dir.path(), &["route", "explain", "--json", "What is 2+2?"]);
    let decision: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(decision["mode"], "auto", "{decision:#}");
    assert_eq!(decision["requested"], "auto");
    let chosen = decision["chosen"].as_array().unwrap();
    assert!(!chosen.is_empty(), "{decision:#}");
    assert!(chosen.iter().all(|c| c.as_str().is_some_and(|c| c.contains(':'))), "{decision:#}");
    assert!(!dir.path().join("data").exists(), "explain must not write a data directory");

    // The readable form, for another dialect and words given one by one.
    let out = tollgate(
        dir.path(),
        &["route", "explain", "--dialect", "openai-chat", "What", "is", "2+2?"],
    );
    let text = stdout(&out);
    for label in
        ["requested   auto", "mode        auto", "category", "chosen      1. ", "candidates"]
    {
        assert!(text.contains(label), "{label}: {text}");
    }
}

#[test]
fn explain_without_providers_says_so_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["route", "explain", "hello"])
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .env("TOLLGATE_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no providers are enabled"), "{err}");
}

#[test]
fn synthetic_report_covers_every_fixture_category() {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tollgate-routing/fixtures/features");
    let categories: BTreeSet<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v["expect"]["category"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(categories.len() >= 5, "{categories:?}");

    let dir = tempfile::tempdir().unwrap();
    let text = stdout(&tollgate(dir.path(), &["route", "report", "--synthetic"]));
    for c in &categories {
        assert!(text.lines().any(|l| l.starts_with(c.as_str())), "{c} missing:\n{text}");
    }
    assert!(text.contains("Baseline: anthropic:claude-opus-4-5"), "{text}");
    assert!(text.contains("TOTAL"), "{text}");
    assert!(!text.contains("not planned"), "{text}");

    // The JSON form, from a directory of fixtures, agrees.
    let json = stdout(&tollgate(
        dir.path(),
        &["route", "report", "--json", "--synthetic", fixtures.to_str().unwrap()],
    ));
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["source"], "synthetic");
    let got: BTreeSet<String> = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, categories);
    let total = &report["total"];
    assert_eq!(
        total["requests"].as_u64().unwrap() as usize,
        std::fs::read_dir(&fixtures).unwrap().count()
    );
    assert!(
        total["baseline_cost_micros"].as_u64().unwrap() >= total["cost_micros"].as_u64().unwrap()
    );
}

#[test]
fn history_report_without_a_database_explains_and_synthetic_excludes_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(dir.path(), &["route", "report"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no history database"), "{err}");
    let out = tollgate(dir.path(), &["route", "report", "--synthetic", "--database", "x.db"]);
    assert!(!out.status.success());
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap()
}

/// A routed exchange as the gateway records it.
fn routed(
    n: u32,
    at: i64,
    category: Option<&str>,
    deployment: &str,
    tokens: (i64, i64),
    cost: i64,
    ok: bool,
) -> tollgate_store::ExchangeRecord {
    let (provider, model) = deployment.split_once(':').unwrap();
    tollgate_store::ExchangeRecord {
        id: format!("0193a000-0000-7000-8000-0000000000{n:02}"),
        request_id: format!("req_route_{n}"),
        started_at_ms: at,
        client_dialect: "anthropic".into(),
        endpoint: "messages".into(),
        provider: Some(provider.into()),
        model_requested: Some("auto".into()),
        model_served: Some(model.into()),
        route_category: category.map(Into::into),
        route_deployment: category.map(|_| deployment.into()),
        status: if ok { 200 } else { 502 },
        outcome: if ok { "ok" } else { "upstream_error" }.into(),
        input_tokens: tokens.0,
        output_tokens: tokens.1,
        cost_micros: cost,
        stop_reason: ok.then(|| "end_turn".into()),
        total_ms: 1_000,
        ..Default::default()
    }
}

#[tokio::test]
async fn history_report_compares_the_routes_taken_with_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("routed.db");
    let store = tollgate_store::open(db.to_str().unwrap()).await.unwrap();
    let now = now_ms();
    let nano = "openai:gpt-5-nano";
    let sonnet = "anthropic:claude-sonnet-4-5";
    store
        .append(&[
            routed(1, now - 3_000, Some("simple_qa"), nano, (1_000, 100), 90, true),
            routed(2, now - 2_000, Some("simple_qa"), nano, (1_000, 100), 90, true),
            routed(3, now - 1_000, Some("simple_qa"), nano, (1_000, 100), 90, true),
            routed(4, now - 1_000, Some("debug"), sonnet, (10_000, 1_000), 45_000, true),
            routed(5, now - 500, Some("debug"), sonnet, (0, 0), 0, false),
            // Older than the default week.
            routed(
                6,
                now - 10 * 86_400_000,
                Some("code_gen"),
                sonnet,
                (1_000, 1_000),
                18_000,
                true,
            ),
            // Not automatically routed.
            routed(7, now - 100, None, sonnet, (1_000, 1_000), 18_000, true),
        ])
        .await
        .unwrap();
    drop(store);
    let db = db.to_str().unwrap();

    let json = stdout(&tollgate(dir.path(), &["route", "report", "--json", "--database", db]));
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["source"], "history");
    assert_eq!(report["baseline"], "anthropic:claude-opus-4-5");
    let categories: Vec<&str> = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["debug", "simple_qa"]);
    let debug = &report["categories"][0]["deployments"][0];
    assert_eq!(
        (debug["deployment"].as_str(), debug["requests"].as_u64(), debug["ok"].as_u64()),
        (Some(sonnet), Some(2), Some(1))
    );
    // Opus: simple_qa 3 x ($0.005 + $0.0025), debug $0.05 + $0.025.
    let total = &report["total"];
    assert_eq!(total["cost_micros"], 45_270);
    assert_eq!(total["baseline_cost_micros"], 97_500);
    assert_eq!(total["saving_micros"], 52_230);

    let text = stdout(&tollgate(dir.path(), &["route", "report", "--database", db]));
    assert!(text.contains("Saved $0.0522 against anthropic:claude-opus-4-5 (53.6%)"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("debug") && l.contains("50.0%")), "{text}");
    assert!(!text.contains("code_gen"), "{text}");

    let text = stdout(&tollgate(
        dir.path(),
        &["route", "report", "--database", db, "--since", "30d", "--baseline", "openai:gpt-5"],
    ));
    assert!(text.lines().any(|l| l.starts_with("code_gen")), "{text}");
    assert!(text.contains("Baseline: openai:gpt-5 ($1.25/M input, $10.00/M output)"), "{text}");
}

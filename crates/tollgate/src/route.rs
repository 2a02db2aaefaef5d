//! `tollgate route`: automatic routing, inspected offline.
//!
//! - `explain` plans one request with the config's catalog and a fresh [`Health`] (nothing
//!   probed, no breaker open, no measured success) and prints the [`Decision`]. Nothing is sent.
//! - `report` sets the cost of the routes taken (from the history's `route_stats`), or that
//!   would be taken (`--synthetic`: routing fixtures planned here), against the same tokens
//!   sent to one strong baseline model, per category.
//!
//! The pure parts (request building, aggregation, savings, baseline choice) are functions of
//! their inputs, unit-tested below; `run` does the I/O.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use tollgate_routing::features::Features;
use tollgate_routing::health::Health;
use tollgate_routing::models::Tier;
use tollgate_routing::plan::{Decision, PlanInput};
use tollgate_routing::prices::{self, Price};
use tollgate_routing::{Catalog, ResolveError, glob_match};
use tollgate_store::RouteStat;
use tollgate_store::export::human;

use crate::cli::{DialectArg, RouteCommand};
use crate::history::table::{Align, Table};

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

/// The baseline when no enabled provider serves a current strong-tier built-in model.
pub const DEFAULT_BASELINE: &str = "anthropic:claude-opus-4-5";
/// Output tokens assumed per synthetic request (capped by its `max_tokens`).
pub const SYNTHETIC_OUTPUT: u32 = 1_000;
/// `max_tokens` of a request built from a bare prompt in the Anthropic dialect (which requires
/// one).
const PROMPT_MAX_TOKENS: u32 = 4_096;
/// History window when `--since` is not given.
const DEFAULT_SINCE: &str = "7d";

/// Runs one `tollgate route` command to completion.
pub fn run(command: RouteCommand, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let result = match command {
        RouteCommand::Explain { config, dialect, model, json, input } => {
            explain(config, dialect, model.as_deref(), json, &input, env)
        }
        RouteCommand::Report { config, database, since, baseline, synthetic, json } => {
            let options = ReportOptions { config, database, since, baseline, synthetic, json };
            report(options, env)
        }
    };
    match result {
        Err(e) if crate::history::is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn load_config(
    flag: Option<PathBuf>,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<tollgate_config::Config> {
    let file = crate::find_config(flag, env);
    tollgate_config::load(file.as_deref(), env)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("loading the configuration")
}

// ---------------------------------------------------------------------------------------------
// explain
// ---------------------------------------------------------------------------------------------

fn explain(
    config: Option<PathBuf>,
    dialect: Option<DialectArg>,
    model: Option<&str>,
    as_json: bool,
    input: &[String],
    env: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let config = load_config(config, env)?;
    let (dialect, body) = read_request(input, dialect, model, || {
        let mut buf = Vec::new();
        io::stdin().lock().read_to_end(&mut buf).map(|_| buf)
    })?;
    let requested = body
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("the request has no `model`: pass --model (e.g. --model auto)")?;
    let catalog = tollgate_server::catalog(&config);
    let bytes = serde_json::to_vec(&body)?;
    let decision = plan_body(&catalog, dialect.as_str(), &bytes, &requested)?;
    let mut out = io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&decision)?)?;
    } else {
        out.write_all(render_decision(&decision).as_bytes())?;
    }
    Ok(out.flush()?)
}

/// The request `input` names, in its dialect: the body of a file, of stdin (`-`), or one built
/// from a prompt. A routing fixture (`name`, `dialect`, `body`) stands for its body, in its
/// dialect unless `--dialect` says otherwise. `model` replaces the body's model.
pub fn read_request(
    input: &[String],
    dialect: Option<DialectArg>,
    model: Option<&str>,
    stdin: impl FnOnce() -> io::Result<Vec<u8>>,
) -> anyhow::Result<(DialectArg, Value)> {
    let from_bytes = |bytes: &[u8], what: &str| -> anyhow::Result<(DialectArg, Value)> {
        let value: Value = serde_json::from_slice(bytes)
            .with_context(|| format!("{what} is not a JSON request body"))?;
        let (fixture_dialect, body) = unwrap_fixture(value);
        let dialect = dialect.or(fixture_dialect).unwrap_or(DialectArg::Anthropic);
        if !body.is_object() {
            bail!("{what} is not a JSON object");
        }
        Ok((dialect, body))
    };
    let (dialect, mut body) = match input {
        [] => bail!("give a request body file, `-` for stdin, or a prompt"),
        [dash] if dash == "-" => from_bytes(&stdin().context("reading stdin")?, "stdin")?,
        [one] if Path::new(one).is_file() => {
            let bytes = std::fs::read(one).with_context(|| format!("reading {one}"))?;
            from_bytes(&bytes, one)?
        }
        [one] if one.ends_with(".json") && !one.contains(char::is_whitespace) => {
            bail!("no such file: {one}")
        }
        words => {
            let dialect = dialect.unwrap_or(DialectArg::Anthropic);
            (dialect, prompt_request(dialect, &words.join(" "), model.unwrap_or("auto")))
        }
    };
    if let (Some(m), Some(obj)) = (model, body.as_object_mut()) {
        obj.insert("model".into(), Value::String(m.to_owned()));
    }
    Ok((dialect, body))
}

/// A routing fixture's dialect and body; any other document as it is.
fn unwrap_fixture(mut value: Value) -> (Option<DialectArg>, Value) {
    let is_fixture = value.get("body").is_some_and(Value::is_object)
        && value.get("dialect").is_some_and(Value::is_string)
        && value.get("messages").is_none()
        && value.get("input").is_none();
    if !is_fixture {
        return (None, value);
    }
    let dialect = value.get("dialect").and_then(Value::as_str).and_then(DialectArg::parse);
    (dialect, value.get_mut("body").map(Value::take).unwrap_or_default())
}

/// The smallest request of `dialect` with `prompt` as its only user message.
pub fn prompt_request(dialect: DialectArg, prompt: &str, model: &str) -> Value {
    match dialect {
        DialectArg::Anthropic => json!({
            "model": model,
            "max_tokens": PROMPT_MAX_TOKENS,
            "messages": [{"role": "user", "content": prompt}],
        }),
        DialectArg::OpenaiChat => json!({
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
        }),
        DialectArg::OpenaiResponses => json!({
            "model": model,
            "input": [{"role": "user", "content": prompt}],
        }),
    }
}

/// Plans `body` as the gateway would with nothing yet called. Deterministic: a weighted choice
/// takes the first arm of its draw.
pub fn plan_body(
    catalog: &Catalog,
    dialect: &str,
    body: &[u8],
    requested: &str,
) -> Result<Decision, ResolveError> {
    let features = Features::extract(dialect, body);
    let now_ms = u64::try_from(crate::history::now_ms()).unwrap_or_default();
    let input = PlanInput {
        requested,
        client_dialect: dialect,
        features: Some(&features),
        session: None,
        sticky: None,
        local_only: false,
        random: 0,
        now_ms,
    };
    catalog.plan(&Health::default(), &input)
}

/// The decision as a person reads it.
pub fn render_decision(d: &Decision) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| out.push_str(&format!("{label:<12}{value}\n"));
    line("requested", &d.requested);
    line("mode", d.mode);
    line("reason", &d.reason);
    if let Some(c) = &d.classification {
        line("category", c.category.as_str());
        line("complexity", &c.complexity.to_string());
    }
    if let Some(t) = d.tier {
        line("tier", t.as_str());
    }
    if let Some(c) = &d.classification {
        let signals = if c.signals.is_empty() { "-".to_owned() } else { c.signals.join(", ") };
        line("signals", &signals);
    }
    if let Some(f) = &d.features {
        line("features", &describe_features(f));
    }
    if let Some(r) = &d.rule {
        line("rule", r);
    }
    if let Some(e) = &d.experiment {
        line("experiment", &format!("{} (arm {})", e.experiment, e.arm));
    }
    for (i, c) in d.chosen.iter().enumerate() {
        line(if i == 0 { "chosen" } else { "" }, &format!("{}. {c}", i + 1));
    }
    if d.candidates.is_empty() {
        return out;
    }
    out.push_str("\ncandidates\n");
    let rank = |name: &str| d.chosen.iter().position(|c| c == name).unwrap_or(usize::MAX);
    let mut candidates: Vec<_> = d.candidates.iter().collect();
    candidates.sort_by(|a, b| {
        (rank(&a.deployment), a.excluded.is_some(), a.est_cost_micros, &a.deployment).cmp(&(
            rank(&b.deployment),
            b.excluded.is_some(),
            b.est_cost_micros,
            &b.deployment,
        ))
    });
    let mut t = Table::new(&[
        ("DEPLOYMENT", Align::Left),
        ("TIER", Align::Left),
        ("LOCAL", Align::Left),
        ("EST. COST", Align::Right),
        ("SUCCESS", Align::Right),
        ("STATUS", Align::Left),
    ]);
    for c in candidates {
        let status = match (&c.excluded, rank(&c.deployment)) {
            (Some(why), _) => format!("excluded: {why}"),
            (None, usize::MAX) => "eligible".to_owned(),
            (None, i) => format!("chosen #{}", i + 1),
        };
        t.row(vec![
            c.deployment.clone(),
            c.tier.map_or("-", Tier::as_str).to_owned(),
            if c.local { "yes" } else { "no" }.to_owned(),
            c.est_cost_micros.map_or_else(|| "-".to_owned(), |m| dollars(to_i64(m))),
            c.success.map_or_else(|| "-".to_owned(), |(ok, n)| format!("{ok}/{n}")),
            status,
        ]);
    }
    let mut table = Vec::new();
    let _ = t.write(&mut table);
    out.push_str(&String::from_utf8_lossy(&table));
    out
}

fn describe_features(f: &Features) -> String {
    let mut parts = vec![
        format!("~{} input tokens", human::count(i64::from(f.token_estimate))),
        format!("{} turn{}", f.turns, if f.turns == 1 { "" } else { "s" }),
        format!("{} tool{}", f.tools, if f.tools == 1 { "" } else { "s" }),
    ];
    if f.tool_loop_depth > 0 {
        parts.push(format!("tool loop depth {}", f.tool_loop_depth));
    }
    if let Some(m) = f.max_tokens {
        parts.push(format!("max_tokens {m}"));
    }
    for (flag, name) in [
        (f.thinking, "thinking"),
        (f.images, "images"),
        (f.web_search, "web search"),
        (f.json_output, "JSON output"),
    ] {
        if flag {
            parts.push(name.to_owned());
        }
    }
    let shape = serde_json::to_value(f.shape).ok();
    parts.push(format!("shape {}", shape.as_ref().and_then(Value::as_str).unwrap_or("turn")));
    parts.join(", ")
}

// ---------------------------------------------------------------------------------------------
// report
// ---------------------------------------------------------------------------------------------

struct ReportOptions {
    config: Option<PathBuf>,
    database: Option<String>,
    since: Option<String>,
    baseline: Option<String>,
    synthetic: Option<Option<PathBuf>>,
    json: bool,
}

/// What `route report` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `history` or `synthetic`.
    pub source: &'static str,
    /// History: exchanges started at or after this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Synthetic: where the fixtures came from (`built-in` or a directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<String>,
    /// `provider:model`.
    pub baseline: String,
    pub categories: Vec<CategoryReport>,
    pub total: Totals,
    /// Synthetic: deployments chosen whose price is unknown (counted as free).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
    /// Synthetic: fixtures that could not be planned, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryReport {
    pub category: String,
    pub deployments: Vec<DeploymentRow>,
    pub total: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentRow {
    pub deployment: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// Sums over some routed requests. Money in millionths of a dollar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    pub requests: u64,
    /// Requests answered well; `None` for synthetic requests (never sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// What the chosen deployments cost (history) or would cost (synthetic).
    pub cost_micros: u64,
    /// The same tokens on the baseline.
    pub baseline_cost_micros: u64,
    /// `baseline_cost_micros - cost_micros` (negative when routing cost more).
    pub saving_micros: i64,
    /// The saving as a percentage of the baseline cost, when that is not zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saving_percent: Option<f64>,
}

impl Totals {
    fn of(s: &RouteStat, baseline: Price, measured: bool) -> Self {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        let (input, output, read, write) = (
            n(s.input_tokens),
            n(s.output_tokens),
            n(s.cache_read_tokens),
            n(s.cache_write_tokens),
        );
        Self {
            requests: n(s.requests),
            ok: measured.then(|| n(s.ok)),
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
            cost_micros: n(s.cost_micros),
            baseline_cost_micros: prices::cost_micros(baseline, input, output, read, write),
            ..Self::default()
        }
        .settled()
    }

    fn add(self, o: Self) -> Self {
        Self {
            requests: self.requests + o.requests,
            ok: match (self.ok, o.ok) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            },
            input_tokens: self.input_tokens + o.input_tokens,
            output_tokens: self.output_tokens + o.output_tokens,
            cache_read_tokens: self.cache_read_tokens + o.cache_read_tokens,
            cache_write_tokens: self.cache_write_tokens + o.cache_write_tokens,
            cost_micros: self.cost_micros + o.cost_micros,
            baseline_cost_micros: self.baseline_cost_micros + o.baseline_cost_micros,
            ..Self::default()
        }
        .settled()
    }

    /// Fills in the saving from the costs.
    fn settled(self) -> Self {
        let saving = to_i64(self.baseline_cost_micros) - to_i64(self.cost_micros);
        let percent = (self.baseline_cost_micros > 0).then(|| {
            let p = saving as f64 * 100.0 / self.baseline_cost_micros as f64;
            (p * 100.0).round() / 100.0
        });
        Self { saving_micros: saving, saving_percent: percent, ..self }
    }
}

/// Groups route stats by category (sorted) and deployment (sorted), pricing each row's tokens
/// on the baseline. `measured`: the stats are outcomes (history), so `ok` counts.
pub fn aggregate(
    stats: &[RouteStat],
    baseline: Price,
    measured: bool,
) -> (Vec<CategoryReport>, Totals) {
    let mut by: BTreeMap<&str, BTreeMap<&str, Totals>> = BTreeMap::new();
    for s in stats {
        let row = by.entry(&s.category).or_default().entry(&s.deployment).or_default();
        *row = row.add(Totals::of(s, baseline, measured));
    }
    let mut total: Option<Totals> = None;
    let categories = by
        .into_iter()
        .map(|(category, rows)| {
            let deployments: Vec<DeploymentRow> = rows
                .into_iter()
                .map(|(d, totals)| DeploymentRow { deployment: d.to_owned(), totals })
                .collect();
            let sum = deployments.iter().map(|d| d.totals).reduce(Totals::add).unwrap_or_default();
            total = Some(total.map_or(sum, |t| t.add(sum)));
            CategoryReport { category: category.to_owned(), deployments, total: sum }
        })
        .collect();
    (categories, total.unwrap_or_default())
}

/// The baseline `provider:model` when `--baseline` is not given: the most expensive current
/// built-in model of the strong tier (by output, then input price) that an enabled remote
/// provider serves, the first in config order on a tie; else [`DEFAULT_BASELINE`].
pub fn default_baseline(catalog: &Catalog) -> String {
    let mut best: Option<((u64, u64), String)> = None;
    for p in catalog.providers.iter().filter(|p| !p.local) {
        for (name, _, current) in tollgate_routing::models::BUILTIN {
            let serves = p.patterns.iter().any(|pat| glob_match(pat, name))
                || p.models.iter().chain(&p.discovered).any(|m| m == name);
            let info = catalog.settings.models.info(&p.name, name, p.local);
            if !*current || !serves || info.is_none_or(|i| i.tier != Tier::Strong) {
                continue;
            }
            let Some(price) = catalog.settings.models.price(&p.name, name) else { continue };
            let key = (price.output, price.input);
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, format!("{}:{name}", p.name)));
            }
        }
    }
    best.map_or_else(|| DEFAULT_BASELINE.to_owned(), |(_, d)| d)
}

/// The price of a `provider:model` deployment: the config's override, else the built-in one.
pub fn deployment_price(catalog: &Catalog, deployment: &str) -> Option<Price> {
    let (provider, model) = deployment.split_once(':')?;
    let local = catalog.providers.iter().find(|p| p.name == provider).is_some_and(|p| p.local);
    catalog
        .settings
        .models
        .info(provider, model, local)
        .and_then(|i| i.price)
        .or_else(|| prices::price_of(model))
}

fn report(o: ReportOptions, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let config = load_config(o.config.clone(), env)?;
    let catalog = tollgate_server::catalog(&config);
    let baseline = match &o.baseline {
        Some(b) if !b.contains(':') => bail!("--baseline takes provider:model, not `{b}`"),
        Some(b) => b.clone(),
        None => default_baseline(&catalog),
    };
    let price = deployment_price(&catalog, &baseline).with_context(|| {
        format!("no price is known for {baseline}: give it one under [models] or pick another --baseline")
    })?;
    let report = match &o.synthetic {
        Some(dir) => {
            if catalog.providers.is_empty() {
                bail!("{}", ResolveError::NoProviders);
            }
            let fixtures = load_fixtures(dir.as_deref())?;
            let (stats, unpriced, errors) = synthetic_stats(&catalog, &fixtures);
            let (categories, total) = aggregate(&stats, price, false);
            Report {
                source: "synthetic",
                since_ms: None,
                fixtures: Some(
                    dir.as_ref().map_or_else(|| "built-in".to_owned(), |d| d.display().to_string()),
                ),
                baseline,
                categories,
                total,
                unpriced,
                errors,
            }
        }
        None => {
            let now = crate::history::now_ms();
            let since = o.since.as_deref().unwrap_or(DEFAULT_SINCE);
            let since_ms =
                human::parse_instant(since, now).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let stats = runtime.block_on(async {
                let store = crate::history::open(o.config.clone(), o.database.clone(), env).await?;
                anyhow::Ok(store.route_stats(since_ms).await?)
            })?;
            let (categories, total) = aggregate(&stats, price, true);
            Report {
                source: "history",
                since_ms: Some(since_ms),
                fixtures: None,
                baseline,
                categories,
                total,
                unpriced: Vec::new(),
                errors: Vec::new(),
            }
        }
    };
    let mut out = io::stdout().lock();
    if o.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out.write_all(render_report(&report, price).as_bytes())?;
    }
    Ok(out.flush()?)
}

/// One routing fixture: a request body and its dialect.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub dialect: String,
    pub body: Value,
}

fn parse_fixture(file: &str, text: &str) -> anyhow::Result<Fixture> {
    let v: Value = serde_json::from_str(text).with_context(|| format!("{file}: not JSON"))?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or(file).to_owned();
    let dialect = v
        .get("dialect")
        .and_then(Value::as_str)
        .with_context(|| format!("{file}: no `dialect`"))?
        .to_owned();
    let body = v.get("body").filter(|b| b.is_object()).cloned();
    let body = body.with_context(|| format!("{file}: no `body` object"))?;
    Ok(Fixture { name, dialect, body })
}

/// The fixtures in `dir` (`*.json`, by file name), or the built-in ones.
pub fn load_fixtures(dir: Option<&Path>) -> anyhow::Result<Vec<Fixture>> {
    let Some(dir) = dir else {
        return bundled::FIXTURES.iter().map(|(file, text)| parse_fixture(file, text)).collect();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no *.json fixtures in {}", dir.display());
    }
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            parse_fixture(&f.display().to_string(), &text)
        })
        .collect()
}

/// Plans each fixture as automatic routing would and estimates its cost on the first
/// deployment chosen: its estimated input tokens and min(max_tokens, 1000) output tokens.
/// Returns one stat per planned fixture, the chosen deployments without a known price, and the
/// fixtures that could not be planned.
pub fn synthetic_stats(
    catalog: &Catalog,
    fixtures: &[Fixture],
) -> (Vec<RouteStat>, Vec<String>, Vec<String>) {
    let requested = catalog.settings.auto.names.first().map_or("auto", String::as_str);
    let (mut stats, mut unpriced, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for f in fixtures {
        let body = serde_json::to_vec(&f.body).unwrap_or_default();
        let planned = plan_body(catalog, &f.dialect, &body, requested);
        let (decision, deployment) = match planned {
            Ok(d) => match d.chosen.first().cloned() {
                Some(first) => (d, first),
                None => {
                    errors.push(format!("{}: no deployment chosen", f.name));
                    continue;
                }
            },
            Err(e) => {
                errors.push(format!("{}: {e}", f.name));
                continue;
            }
        };
        let (input, output) = decision.features.as_ref().map_or((0, SYNTHETIC_OUTPUT), |x| {
            (x.token_estimate, x.max_tokens.unwrap_or(SYNTHETIC_OUTPUT).min(SYNTHETIC_OUTPUT))
        });
        let cost = match deployment_price(catalog, &deployment) {
            Some(p) => prices::cost_micros(p, u64::from(input), u64::from(output), 0, 0),
            None => {
                if !unpriced.contains(&deployment) {
                    unpriced.push(deployment.clone());
                }
                0
            }
        };
        stats.push(RouteStat {
            category: decision.category().map_or("unclassified", |c| c.as_str()).to_owned(),
            deployment,
            requests: 1,
            ok: 0,
            input_tokens: i64::from(input),
            output_tokens: i64::from(output),
            cost_micros: to_i64(cost),
            ..RouteStat::default()
        });
    }
    unpriced.sort();
    (stats, unpriced, errors)
}

/// The report as a person reads it.
pub fn render_report(r: &Report, baseline: Price) -> String {
    let mut out = String::new();
    match (r.source, r.since_ms, &r.fixtures) {
        ("synthetic", _, fixtures) => out.push_str(&format!(
            "Synthetic routing report: {} fixtures ({}) planned as auto\n",
            r.total.requests + r.errors.len() as u64,
            fixtures.as_deref().unwrap_or("built-in"),
        )),
        (_, Some(since), _) => out.push_str(&format!(
            "Routing report: routed exchanges since {} UTC\n",
            human::utc(since)
        )),
        _ => out.push_str("Routing report\n"),
    }
    out.push_str(&format!(
        "Baseline: {} (${}/M input, ${}/M output)\n\n",
        r.baseline,
        per_million(baseline.input),
        per_million(baseline.output)
    ));
    if r.categories.is_empty() {
        out.push_str(if r.source == "history" {
            "No routed exchanges in this window (only automatically routed requests are counted).\n"
        } else {
            "No fixture could be planned.\n"
        });
    } else {
        let measured = r.source == "history";
        // Synthetic requests were never sent: no success column.
        let headers: Vec<(&'static str, Align)> = [
            ("CATEGORY", Align::Left),
            ("DEPLOYMENT", Align::Left),
            ("REQUESTS", Align::Right),
            ("SUCCESS", Align::Right),
            ("IN", Align::Right),
            ("OUT", Align::Right),
            (if measured { "COST" } else { "EST. COST" }, Align::Right),
            ("BASELINE", Align::Right),
            ("SAVING", Align::Right),
        ]
        .into_iter()
        .filter(|(h, _)| measured || *h != "SUCCESS")
        .collect();
        let mut t = Table::new(&headers);
        let cells = |category: &str, deployment: &str, x: &Totals| {
            let success = match x.ok {
                Some(ok) if x.requests > 0 => {
                    Some(format!("{:.1}%", ok as f64 * 100.0 / x.requests as f64))
                }
                Some(_) => Some("-".to_owned()),
                None => None,
            };
            [category.to_owned(), deployment.to_owned(), human::count(to_i64(x.requests))]
                .into_iter()
                .chain(success)
                .chain([
                    human::count(to_i64(
                        x.input_tokens + x.cache_read_tokens + x.cache_write_tokens,
                    )),
                    human::count(to_i64(x.output_tokens)),
                    dollars(to_i64(x.cost_micros)),
                    dollars(to_i64(x.baseline_cost_micros)),
                    saving(x),
                ])
                .collect::<Vec<_>>()
        };
        for c in &r.categories {
            for d in &c.deployments {
                t.row(cells(&c.category, &d.deployment, &d.totals));
            }
            if c.deployments.len() > 1 {
                t.row(cells(&c.category, "(all)", &c.total));
            }
        }
        t.row(cells("TOTAL", "", &r.total));
        let mut table = Vec::new();
        let _ = t.write(&mut table);
        out.push_str(&String::from_utf8_lossy(&table));
        out.push_str(&format!(
            "\n{} {} against {} ({})\n",
            if r.total.saving_micros >= 0 { "Saved" } else { "Cost" },
            dollars(r.total.saving_micros.abs()),
            r.baseline,
            r.total.saving_percent.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%"))
        ));
    }
    for d in &r.unpriced {
        out.push_str(&format!("note: no price known for {d}; counted as free\n"));
    }
    for e in &r.errors {
        out.push_str(&format!("not planned: {e}\n"));
    }
    out
}

fn saving(x: &Totals) -> String {
    match x.saving_percent {
        Some(p) => format!("{} ({p:.1}%)", dollars(x.saving_micros)),
        None => dollars(x.saving_micros),
    }
}

/// Micro-dollars as dollars with 4 decimals, rounded half away from zero: `$0.0123`.
pub fn dollars(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let units = (micros.unsigned_abs() + 50) / 100;
    format!("{sign}${}.{:04}", units / 10_000, units % 10_000)
}

/// A per-million-token price in micro-dollars, as dollars: `3.00`, `0.075`.
fn per_million(micros: u64) -> String {
    let s = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    let s = s.trim_end_matches('0');
    let decimals = s.split_once('.').map_or(0, |(_, d)| d.len());
    if decimals < 2 { format!("{s}{}", "0".repeat(2 - decimals)) } else { s.to_owned() }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tollgate_routing::ProviderEntry;
    use tollgate_routing::features::{ANTHROPIC, OPENAI_CHAT, OPENAI_RESPONSES};
    use tollgate_routing::models::ModelOverride;

    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_owned()).collect()
    }

    fn no_stdin() -> io::Result<Vec<u8>> {
        Err(io::Error::other("stdin must not be read"))
    }

    fn provider(name: &str, patterns: &[&str]) -> ProviderEntry {
        ProviderEntry {
            name: name.to_owned(),
            dialects: vec![if name == "anthropic" { ANTHROPIC } else { OPENAI_CHAT }],
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            ..ProviderEntry::default()
        }
    }

    fn catalog(providers: Vec<ProviderEntry>) -> Catalog {
        Catalog { providers, ..Catalog::default() }
    }

    /// The catalog the gateway builds with both provider keys set and no config file.
    fn configured_catalog() -> Catalog {
        let env: BTreeMap<String, String> = [
            ("ANTHROPIC_API_KEY", "x"),
            ("OPENAI_API_KEY", "y"),
            ("TOLLGATE_DATA_DIR", "/nonexistent/tollgate-test"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        tollgate_server::catalog(&tollgate_config::load(None, &env).unwrap())
    }

    #[test]
    fn a_bare_prompt_becomes_the_only_user_message_of_each_dialect() {
        let cases = [
            (DialectArg::Anthropic, ANTHROPIC),
            (DialectArg::OpenaiChat, OPENAI_CHAT),
            (DialectArg::OpenaiResponses, OPENAI_RESPONSES),
        ];
        for (arg, tag) in cases {
            let (dialect, body) =
                read_request(&words(&["What", "is", "2+2?"]), Some(arg), None, no_stdin).unwrap();
            assert_eq!(dialect, arg);
            assert_eq!(dialect.as_str(), tag);
            assert_eq!(body["model"], "auto");
            let f = Features::extract(tag, &serde_json::to_vec(&body).unwrap());
            assert_eq!((f.prompt.as_str(), f.turns, f.tools), ("What is 2+2?", 1, 0), "{tag}");
        }
        assert_eq!(
            prompt_request(DialectArg::Anthropic, "hi there", "m"),
            json!({"model": "m", "max_tokens": 4096, "messages": [{"role": "user", "content": "hi there"}]})
        );
        assert_eq!(
            prompt_request(DialectArg::OpenaiChat, "hi there", "m"),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi there"}]})
        );
        assert_eq!(
            prompt_request(DialectArg::OpenaiResponses, "hi there", "m"),
            json!({"model": "m", "input": [{"role": "user", "content": "hi there"}]})
        );
        // Anthropic by default; --model names the model.
        let (dialect, body) =
            read_request(&words(&["hello"]), None, Some("openai:gpt-5"), no_stdin).unwrap();
        assert_eq!(
            (dialect, body["model"].as_str()),
            (DialectArg::Anthropic, Some("openai:gpt-5"))
        );
    }

    #[test]
    fn bodies_come_from_stdin_files_and_fixtures_and_model_overrides_theirs() {
        let stdin = || Ok(br#"{"model": "gpt-4o", "messages": []}"#.to_vec());
        let (d, body) =
            read_request(&words(&["-"]), Some(DialectArg::OpenaiChat), Some("auto"), stdin)
                .unwrap();
        assert_eq!((d, body["model"].as_str()), (DialectArg::OpenaiChat, Some("auto")));

        let dir = tempfile::tempdir().unwrap();
        let fixture = dir.path().join("f.json");
        std::fs::write(
            &fixture,
            r#"{"name": "f", "dialect": "openai-responses", "body": {"model": "gpt-5", "input": "ping"}}"#,
        )
        .unwrap();
        let path = fixture.display().to_string();
        let (d, body) = read_request(std::slice::from_ref(&path), None, None, no_stdin).unwrap();
        assert_eq!(
            (d, body),
            (DialectArg::OpenaiResponses, json!({"model": "gpt-5", "input": "ping"}))
        );
        // --dialect wins over the fixture's.
        let (d, _) = read_request(&[path], Some(DialectArg::Anthropic), None, no_stdin).unwrap();
        assert_eq!(d, DialectArg::Anthropic);

        let missing = read_request(&words(&["nope.json"]), None, None, no_stdin).unwrap_err();
        assert!(missing.to_string().contains("no such file"), "{missing}");
        let bad = read_request(&words(&["-"]), None, None, || Ok(b"[1]".to_vec())).unwrap_err();
        assert!(bad.to_string().contains("not a JSON object"), "{bad}");
    }

    fn stat(
        category: &str,
        deployment: &str,
        requests: i64,
        ok: i64,
        tokens: [i64; 4],
        cost: i64,
    ) -> RouteStat {
        RouteStat {
            category: category.to_owned(),
            deployment: deployment.to_owned(),
            requests,
            ok,
            input_tokens: tokens[0],
            output_tokens: tokens[1],
            cache_read_tokens: tokens[2],
            cache_write_tokens: tokens[3],
            cost_micros: cost,
            total_ms: 0,
        }
    }

    #[test]
    fn report_groups_by_category_and_deployment_and_prices_the_same_tokens_on_the_baseline() {
        // $5/M input, $25/M output, $6.25/M cache write, $0.50/M cache read.
        let opus = prices::price_of("claude-opus-4-5").unwrap();
        let stats = vec![
            stat("simple_qa", "openai:gpt-5-nano", 4, 3, [10_000, 2_000, 0, 0], 1_300),
            stat(
                "debug",
                "anthropic:claude-sonnet-4-5",
                2,
                2,
                [100_000, 10_000, 1_000_000, 20_000],
                870_000,
            ),
            stat("debug", "anthropic:claude-haiku-4-5", 1, 0, [1_000, 1_000, 0, 0], 6_000),
            // The same pair twice (as two windows would give) adds up.
            stat("simple_qa", "openai:gpt-5-nano", 1, 1, [0, 0, 0, 0], 0),
        ];
        let (categories, total) = aggregate(&stats, opus, true);
        let names: Vec<_> = categories.iter().map(|c| c.category.as_str()).collect();
        assert_eq!(names, ["debug", "simple_qa"]);
        let debug = &categories[0];
        let rows: Vec<_> = debug.deployments.iter().map(|d| d.deployment.as_str()).collect();
        assert_eq!(rows, ["anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5"]);
        // Sonnet's tokens on Opus: 0.5 + 0.25 + 0.5 + 0.125 dollars.
        let sonnet = &debug.deployments[1].totals;
        assert_eq!(sonnet.baseline_cost_micros, 500_000 + 250_000 + 500_000 + 125_000);
        assert_eq!(sonnet.saving_micros, 1_375_000 - 870_000);
        assert_eq!(sonnet.ok, Some(2));
        // Haiku: 1,000 in ($0.005) + 1,000 out ($0.025) on Opus.
        assert_eq!(debug.deployments[0].totals.baseline_cost_micros, 30_000);
        assert_eq!(debug.total.requests, 3);
        assert_eq!(debug.total.ok, Some(2));
        assert_eq!(debug.total.cost_micros, 876_000);
        assert_eq!(debug.total.baseline_cost_micros, 1_405_000);

        let qa = &categories[1];
        assert_eq!(qa.deployments.len(), 1);
        let nano = &qa.deployments[0].totals;
        assert_eq!((nano.requests, nano.ok, nano.input_tokens), (5, Some(4), 10_000));
        assert_eq!(nano.baseline_cost_micros, 50_000 + 50_000);
        assert_eq!(nano.saving_micros, 98_700);
        assert_eq!(nano.saving_percent, Some(98.7));

        assert_eq!(total.requests, 8);
        assert_eq!(total.cost_micros, 877_300);
        assert_eq!(total.baseline_cost_micros, 1_505_000);
        assert_eq!(total.saving_micros, 627_700);
        assert_eq!(total.saving_percent, Some(41.71));

        // Synthetic stats carry no outcomes; an empty history totals nothing.
        let (_, synthetic) = aggregate(&stats, opus, false);
        assert_eq!(synthetic.ok, None);
        let (none, zero) = aggregate(&[], opus, true);
        assert!(none.is_empty());
        assert_eq!((zero.requests, zero.saving_micros, zero.saving_percent), (0, 0, None));
        // Routing dearer than the baseline is a negative saving.
        let (_, dearer) =
            aggregate(&[stat("x", "a:b", 1, 1, [1_000, 0, 0, 0], 10_000)], opus, true);
        assert_eq!((dearer.saving_micros, dearer.saving_percent), (-5_000, Some(-100.0)));
    }

    #[test]
    fn the_baseline_is_the_dearest_current_strong_model_an_enabled_provider_serves() {
        let anthropic = provider("anthropic", &["claude-*"]);
        let openai = provider("openai", &["gpt-*", "o3*"]);
        assert_eq!(
            default_baseline(&catalog(vec![openai.clone(), anthropic.clone()])),
            "anthropic:claude-opus-4-5"
        );
        // gpt-5 ($10/M out) over o3 ($8/M out, and not a current model).
        assert_eq!(default_baseline(&catalog(vec![openai.clone()])), "openai:gpt-5");
        assert_eq!(default_baseline(&catalog(vec![])), DEFAULT_BASELINE);
        let local = ProviderEntry { local: true, ..provider("ollama", &["*"]) };
        assert_eq!(default_baseline(&catalog(vec![local])), DEFAULT_BASELINE);
        // A price override in the config counts.
        let mut dear = catalog(vec![anthropic, openai]);
        dear.settings.models.overrides.insert(
            "openai:gpt-5".into(),
            ModelOverride {
                price: Some(Price { input: 1, output: 90_000_000, cache_write: 0, cache_read: 0 }),
                ..ModelOverride::default()
            },
        );
        assert_eq!(default_baseline(&dear), "openai:gpt-5");
        assert_eq!(deployment_price(&dear, "openai:gpt-5").unwrap().output, 90_000_000);
        assert_eq!(deployment_price(&dear, "anthropic:claude-opus-4-5").unwrap().input, 5_000_000);
        assert!(deployment_price(&dear, "ollama:llama3").is_none());
        assert!(deployment_price(&dear, "no-colon").is_none());
        // The real presets, as the config enables them.
        assert_eq!(default_baseline(&configured_catalog()), "anthropic:claude-opus-4-5");
    }

    #[test]
    fn every_bundled_fixture_is_planned_and_costed() {
        let fixtures = load_fixtures(None).unwrap();
        assert!(fixtures.len() >= 10, "{}", fixtures.len());
        let catalog = configured_catalog();
        let (stats, unpriced, errors) = synthetic_stats(&catalog, &fixtures);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(unpriced.is_empty(), "{unpriced:?}");
        assert_eq!(stats.len(), fixtures.len());
        for s in &stats {
            assert!(s.output_tokens <= 1_000 && s.output_tokens >= 1, "{s:?}");
        }
        let opus = deployment_price(&catalog, DEFAULT_BASELINE).unwrap();
        let (categories, total) = aggregate(&stats, opus, false);
        assert!(total.cost_micros > 0 && total.saving_micros > 0, "{total:?}");
        let names: BTreeSet<_> = categories.iter().map(|c| c.category.as_str()).collect();
        for name in ["simple_qa", "debug", "code_gen"] {
            assert!(names.contains(name), "{names:?}");
        }
        let text = render_report(
            &Report {
                source: "synthetic",
                since_ms: None,
                fixtures: None,
                baseline: DEFAULT_BASELINE.into(),
                categories,
                total,
                unpriced,
                errors,
            },
            opus,
        );
        assert!(
            text.contains("Baseline: anthropic:claude-opus-4-5 ($5.00/M input, $25.00/M output)"),
            "{text}"
        );
        assert!(text.contains("TOTAL"), "{text}");
    }

    #[test]
    fn explain_renders_the_decision_and_no_providers_is_an_error() {
        let catalog = configured_catalog();
        let body =
            serde_json::to_vec(&prompt_request(DialectArg::Anthropic, "What is 2+2?", "auto"))
                .unwrap();
        let d = plan_body(&catalog, ANTHROPIC, &body, "auto").unwrap();
        let text = render_decision(&d);
        for label in [
            "requested   auto",
            "mode        auto",
            "category",
            "signals",
            "chosen      1. ",
            "DEPLOYMENT",
        ] {
            assert!(text.contains(label), "{label}: {text}");
        }
        let err = plan_body(&Catalog::default(), ANTHROPIC, &body, "auto").unwrap_err();
        assert_eq!(err, ResolveError::NoProviders);
    }

    #[test]
    fn money_has_four_decimals() {
        assert_eq!(dollars(0), "$0.0000");
        assert_eq!(dollars(1_234_567), "$1.2346");
        assert_eq!(dollars(49), "$0.0000");
        assert_eq!(dollars(50), "$0.0001");
        assert_eq!(dollars(-98_700), "-$0.0987");
        assert_eq!(per_million(3_000_000), "3.00");
        assert_eq!(per_million(75_000), "0.075");
        assert_eq!(per_million(1_250_000), "1.25");
    }
}

//! The `tollgate` binary: parses the command line, loads the configuration, sets up logging and
//! runs the gateway. Everything else lives in the library crates.

mod cli;
mod history;
mod route;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tollgate_config::{CONFIG_FILE_NAME, Config, LogFormat};
use tollgate_server::Gateway;
use tollgate_server::telemetry::Tracing;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    match cli.command {
        Command::Init { path, force } => report(init(&path, force)),
        Command::CheckConfig { path } => check_config(path, &env),
        Command::History { config, database, command } => {
            report(history::run(config, database, command, &env))
        }
        Command::Route { command } => report(route::run(command, &env)),
        Command::Serve { config } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return report(Err(e.into())),
            };
            report(runtime.block_on(serve(config, &env)))
        }
    }
}

#[expect(clippy::print_stderr, reason = "the CLI reports fatal errors on stderr")]
fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config file to load: the flag or `TOLLGATE_CONFIG`, else `./tollgate.toml`, else the
/// one in the data directory. `None` when none exists.
fn find_config(flag: Option<PathBuf>, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if let Some(p) = flag.or_else(|| env.get("TOLLGATE_CONFIG").map(PathBuf::from)) {
        return Some(p);
    }
    let local = PathBuf::from(CONFIG_FILE_NAME);
    if local.exists() {
        return Some(local);
    }
    let in_data = data_dir(env).join(CONFIG_FILE_NAME);
    in_data.exists().then_some(in_data)
}

fn data_dir(env: &BTreeMap<String, String>) -> PathBuf {
    env.get("TOLLGATE_DATA_DIR")
        .map_or_else(|| tollgate_config::default_data_dir(env), PathBuf::from)
}

fn init(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        anyhow::bail!("{} already exists (use --force to overwrite)", path.display());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, tollgate_config::template::TEMPLATE)
        .with_context(|| format!("writing {}", path.display()))?;
    say(&format!("wrote {}", path.display()));
    Ok(())
}

#[expect(clippy::print_stdout, reason = "CLI output")]
fn say(line: &str) {
    println!("{line}");
}

fn check_config(path: Option<PathBuf>, env: &BTreeMap<String, String>) -> ExitCode {
    let file = find_config(path, env);
    match tollgate_config::load(file.as_deref(), env) {
        Err(errors) => {
            #[expect(clippy::print_stderr, reason = "CLI output")]
            {
                eprint!("{errors}");
            }
            ExitCode::from(2)
        }
        Ok(c) => {
            say(&summary(&c));
            for w in &c.warnings {
                say(&format!("warning: {w}"));
            }
            ExitCode::SUCCESS
        }
    }
}

fn summary(c: &Config) -> String {
    let mut out = String::new();
    let file = c
        .file
        .as_ref()
        .map_or_else(|| "(none: built-in defaults)".to_owned(), |f| f.display().to_string());
    out.push_str(&format!(
        "configuration is valid\n  file:      {file}\n  listen:    {}\n  data dir:  {}\n",
        c.listen,
        c.data_dir.display()
    ));
    let db =
        c.database_url.clone().unwrap_or_else(|| format!("sqlite {}", c.sqlite_path().display()));
    out.push_str(&format!(
        "  database:  {db}\n  master key: {}\n",
        if c.master_key.is_some() { "set" } else { "generated on first run" }
    ));
    if c.providers.is_empty() {
        out.push_str("  providers: none enabled (set ANTHROPIC_API_KEY, OPENAI_API_KEY, ... or add [providers.NAME])\n");
    }
    for p in &c.providers {
        out.push_str(&format!(
            "  provider {:<12} {} {} (key {}; enabled by {})\n",
            p.name,
            p.dialect(),
            p.base_url,
            if p.api_key.is_some() { "set" } else { "none" },
            p.origin
        ));
    }
    for (a, t) in &c.routing.aliases {
        let targets: Vec<String> = t
            .deployments
            .iter()
            .map(|d| {
                if d.weight == 1 {
                    d.target.clone()
                } else {
                    format!("{} (weight {})", d.target, d.weight)
                }
            })
            .collect();
        out.push_str(&format!("  alias {a} -> {}\n", targets.join(", ")));
    }
    for r in &c.routing.settings.rules {
        out.push_str(&format!("  rule {}\n", r.name));
    }
    for e in &c.routing.settings.experiments {
        out.push_str(&format!("  experiment {} ({} arms)\n", e.name, e.arms.len()));
    }
    out
}

/// Logs to stderr, filtered by the log level; with trace export configured, also spans to the
/// OTLP collector, filtered on their own (the log level does not silence traces). Returns the
/// trace pipeline, to be shut down (and flushed) on exit.
fn init_logging(c: &Config) -> anyhow::Result<Option<Tracing>> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_new(&c.log.level)
        .with_context(|| format!("log level `{}` is not a valid filter", c.log.level))?;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match c.log.format {
        LogFormat::Json => fmt.json().flatten_event(true).with_current_span(false).boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let traces = Tracing::start(&c.telemetry).context("starting trace export")?;
    let otel = traces.as_ref().map(Tracing::layer);
    tracing_subscriber::registry().with(fmt.with_filter(filter)).with(otel).init();
    Ok(traces)
}

async fn serve(flag: Option<PathBuf>, env: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let mut file = find_config(flag, env);
    let mut wrote_template = None;
    if file.is_none() {
        // First run: write the commented default config where the next run will find it.
        let path = data_dir(env).join(CONFIG_FILE_NAME);
        if init(&path, false).is_ok() {
            wrote_template = Some(path.clone());
            file = Some(path);
        }
    }
    let mut config =
        tollgate_config::load(file.as_deref(), env).map_err(|e| anyhow::anyhow!("{e}"))?;
    let traces = init_logging(&config)?;
    if let Some(url) = config.telemetry.traces_url() {
        tracing::info!(endpoint = %url, service = %config.telemetry.service_name, "exporting traces over OTLP/HTTP");
    }
    for w in &config.warnings {
        tracing::warn!(warning = %w, "configuration warning");
    }
    if let Some(p) = wrote_template {
        tracing::info!(path = %p.display(), "wrote a default config file");
    }
    if let Some(key) = tollgate_server::bootstrap::ensure_master_key(&mut config)
        .with_context(|| format!("keeping the master key in {}", config.data_dir.display()))?
    {
        show_master_key(&key, &config.data_dir);
    }
    let store = match &config.database_url {
        Some(url) => tollgate_store::open(url).await,
        None => tollgate_store::open(&config.sqlite_path().display().to_string()).await,
    }
    .context("opening the history database")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    if config.providers.is_empty() {
        tracing::warn!(
            "no providers enabled: set ANTHROPIC_API_KEY, OPENAI_API_KEY, ... or add [providers.NAME] to the config"
        );
    }
    for p in &config.providers {
        tracing::info!(provider = %p.name, dialect = %p.dialect(), base_url = %p.base_url, "provider enabled");
    }
    let gateway = Gateway::new(config, store)?;
    tracing::info!(address = %addr, "tollgate listening on http://{addr}");
    let served = gateway.serve(listener, shutdown_signal()).await;
    if let Some(t) = traces {
        t.shutdown().await;
    }
    served?;
    Ok(())
}

/// Shown once, on stderr, when the key is generated: never logged.
fn show_master_key(key: &str, data_dir: &Path) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\nGenerated a master key (kept in {}):\n\n    {key}\n\nUse it as the API key in your clients, e.g. ANTHROPIC_API_KEY={key}\n",
        data_dir.join(tollgate_server::bootstrap::MASTER_KEY_FILE).display()
    );
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown signal received");
}

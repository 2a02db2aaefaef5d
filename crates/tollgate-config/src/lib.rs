//! Configuration: what Tollgate reads at startup, and how it turns that into typed settings.
//!
//! Layers, each overriding the one before: built-in defaults < `tollgate.toml` < `TOLLGATE_*`
//! environment variables. Raw input is deserialised with unknown fields denied, then validated
//! into [`Config`]: addresses and durations parsed, secrets wrapped, cross-references checked.
//! Every error names where the bad value came from (the file or the variable) and its path.
//!
//! This crate does no I/O except reading the one file it is pointed at; the environment is passed
//! in as a map so tests never touch the process environment.
//!
//! # Layout
//! - [`raw`]: the file format, exactly as users write it.
//! - [`env`]: the documented `TOLLGATE_*` variables and how they map onto the raw config.
//! - [`presets`]: the provider presets (Anthropic, OpenAI, OpenRouter, ... ) as data.
//! - [`validate`]: raw -> typed, collecting every error.
//! - [`template`]: the commented file `tollgate init` writes.
//! - [`units`]: durations (`30s`) and sizes (`32MiB`).

pub mod env;
pub mod presets;
pub mod raw;
pub mod routing;
pub mod template;
pub mod units;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use presets::{AuthScheme, PRESETS, Preset};
pub use tollgate_wire::Dialect;

/// The default listen address. Port 4747 is documented in the README.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4747);
/// The config file name looked for in the working directory and the data directory.
pub const CONFIG_FILE_NAME: &str = "tollgate.toml";

/// A secret string: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where a setting came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("built-in default"),
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// One configuration problem: where, which setting, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: Origin,
    /// Dotted path of the setting (`server.listen`, `providers.openai.base_url`); empty for
    /// file-level problems such as TOML syntax.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.path, self.message)
        }
    }
}

/// Every problem found, so a user can fix them in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} configuration error{}:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    /// An `EnvFilter` directive (`info`, `tollgate=debug,warn`).
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted, in bytes. Default 32 MiB, Anthropic's own limit.
    pub max_body_bytes: usize,
    /// Most messages in one request.
    pub max_messages: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP + TLS connect to an upstream.
    pub connect: Duration,
    /// From sending the request to the upstream's response headers.
    pub first_byte: Duration,
    /// Longest silence between two chunks of an upstream body.
    pub idle: Duration,
    /// While an upstream stream is silent, an SSE comment goes to the client this often, so
    /// idle-connection timeouts of proxies in between do not cut a long thinking phase.
    pub keepalive: Duration,
}

/// Trace export. Metrics need no setting: `GET /metrics` is always served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// OTLP/HTTP (protobuf) collector base URL, without a trailing `/`; spans are posted to
    /// [`Self::traces_url`]. `None`: no exporter, no per-request span, nothing spent.
    pub otlp_endpoint: Option<String>,
    /// `service.name` on every exported span.
    pub service_name: String,
}

impl TelemetryConfig {
    /// Where spans are posted: the endpoint as given when it already names the traces path,
    /// else the endpoint plus `/v1/traces` (the OTLP convention for a base URL).
    pub fn traces_url(&self) -> Option<String> {
        self.otlp_endpoint
            .as_ref()
            .map(|e| if e.ends_with("/v1/traces") { e.clone() } else { format!("{e}/v1/traces") })
    }
}

/// What the history keeps, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// Request and response bodies (and their search text) older than this are dropped, once
    /// at startup and then hourly; metadata, usage and cost stay, so totals do not change.
    /// `None`: kept forever. A shorter retention holds less private text on disk and keeps the
    /// database small, at the price of older conversations no longer being readable or
    /// searchable.
    pub retention: Option<Duration>,
    /// The model that writes a short title for each session once it has gone quiet, called
    /// directly on its provider (never recorded as an exchange). `None`: no titles.
    pub title_model: Option<TitleModel>,
    /// How long a session must be quiet (no exchange) before it is titled.
    pub title_after: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self { retention: None, title_model: None, title_after: DEFAULT_TITLE_AFTER }
    }
}

/// The default of `history.title_after`.
pub const DEFAULT_TITLE_AFTER: Duration = Duration::from_secs(600);

/// `history.title_model`: an enabled provider and one of its models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleModel {
    pub provider: String,
    pub model: String,
}

/// A gateway key a client may present.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    pub name: String,
    pub key: Secret,
}

/// One enabled provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The name used in `provider:model` targets and in logs.
    pub name: String,
    pub preset: &'static Preset,
    pub base_url: String,
    pub api_key: Option<Secret>,
    /// Models this provider serves, beyond its preset's patterns.
    pub models: Vec<String>,
    /// Extra headers sent upstream with every request.
    pub headers: BTreeMap<String, String>,
    /// Configured request transforms, replacing the built-in table when set.
    pub quirks: Option<tollgate_wire::canonical::Quirks>,
    /// Where it was enabled from (a file section or an environment variable).
    pub origin: Origin,
    /// A local runtime (the preset's default unless configured).
    pub local: bool,
    /// GPU memory limit in bytes and the pressure ratio, for local runtimes.
    pub gpu_memory: Option<u64>,
    pub gpu_pressure: f64,
}

impl ProviderConfig {
    pub fn dialect(&self) -> Dialect {
        self.preset.dialect
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: the embedded SQLite database in the data directory.
    pub database_url: Option<String>,
    /// Whether exchanges are recorded in the history at all. Off: no journal writes, no
    /// database writes; logs and metrics still see every request.
    pub record: bool,
    /// Whether request and response bodies are stored in the history.
    pub record_bodies: bool,
    pub limits: Limits,
    pub timeouts: Timeouts,
    /// How long in-flight requests may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    pub log: LogConfig,
    pub telemetry: TelemetryConfig,
    pub history: HistoryConfig,
    pub master_key: Option<Secret>,
    pub keys: Vec<KeyConfig>,
    pub providers: Vec<ProviderConfig>,
    /// Aliases, automatic routing, retries, breakers, the model catalog's overrides.
    pub routing: routing::RoutingConfig,
    /// The file this was loaded from, if any.
    pub file: Option<PathBuf>,
    /// Problems that do not stop the gateway (an unrelated `TOLLGATE_*` variable), to show.
    pub warnings: Vec<ConfigError>,
}

impl Config {
    /// The SQLite database path used when no `database_url` is set.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("tollgate.db")
    }
}

/// Loads the configuration: defaults, then `file` if given, then `env`.
pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Config, ConfigErrors> {
    let (raw, origin) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigErrors(vec![ConfigError {
                    origin: Origin::File(path.to_owned()),
                    path: String::new(),
                    message: format!("cannot read: {e}"),
                }])
            })?;
            (parse_file(&text, path)?, Origin::File(path.to_owned()))
        }
        None => (raw::RawConfig::default(), Origin::Default),
    };
    validate::validate(raw, origin, env)
}

/// Parses file text; unknown fields and TOML syntax errors are reported with their location.
pub fn parse_file(text: &str, path: &Path) -> Result<raw::RawConfig, ConfigErrors> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().to_owned();
        let location = e.span().map(|s| {
            let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: ")
        });
        ConfigErrors(vec![ConfigError {
            origin: Origin::File(path.to_owned()),
            path: String::new(),
            message: format!("{}{message}", location.unwrap_or_default()),
        }])
    })
}

/// The default data directory: `$XDG_DATA_HOME/tollgate`, else `~/.local/share/tollgate`, else
/// `./.tollgate`.
pub fn default_data_dir(env: &BTreeMap<String, String>) -> PathBuf {
    if let Some(x) = env.get("XDG_DATA_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(x).join("tollgate");
    }
    if let Some(h) = env.get("HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(h).join(".local/share/tollgate");
    }
    PathBuf::from(".tollgate")
}

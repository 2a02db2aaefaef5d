//! The file format, exactly as users write it. Unknown fields are errors everywhere.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub telemetry: RawTelemetry,
    #[serde(default)]
    pub history: RawHistory,
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    /// Name (or `*` pattern) -> `provider:model`, a list of them, or `{ targets, strategy }`.
    #[serde(default)]
    pub aliases: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub routing: crate::routing::RawRouting,
    #[serde(default)]
    pub models: BTreeMap<String, crate::routing::RawModel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub shutdown_grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub database_url: Option<String>,
    pub record: Option<bool>,
    pub record_bodies: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_body_size: Option<String>,
    pub max_messages: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect: Option<String>,
    pub first_byte: Option<String>,
    pub idle: Option<String>,
    pub keepalive: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    /// OTLP/HTTP collector base URL; spans go to `<url>/v1/traces`. Empty: off.
    pub otlp_endpoint: Option<String>,
    pub service_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    /// How long request and response bodies are kept (`30d`); unset or `off`: forever.
    pub retention: Option<String>,
    /// `provider:model` that titles quiet sessions (`anthropic:claude-haiku-4-5`); unset or
    /// `off`: no titles are generated.
    pub title_model: Option<String>,
    /// How long a session must be quiet before it is titled (`10m`).
    pub title_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub master_key: Option<String>,
    #[serde(default)]
    pub keys: Vec<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub name: String,
    /// The key itself, or `env:VAR` to read it from a variable.
    pub key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// A preset name; defaults to the section name when that is a preset, else
    /// `openai-compatible`.
    pub preset: Option<String>,
    pub base_url: Option<String>,
    /// The key itself (prefer `api_key_env`).
    pub api_key: Option<String>,
    /// The variable holding the key; defaults to the preset's (`OPENAI_API_KEY`, ...).
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    /// Set `false` to keep a provider configured but off.
    pub enabled: Option<bool>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request transforms for this provider, replacing the built-in per-model table
    /// (`tollgate_providers::quirks`) for every model it serves.
    pub quirks: Option<tollgate_wire::canonical::Quirks>,
    /// Treat as a local runtime (free, private; eligible for local-only requests). Defaults to
    /// the preset's.
    pub local: Option<bool>,
    /// For local runtimes: the GPU memory the runtime may use (`24GiB`); with `gpu_pressure`,
    /// when the models it has loaded use more than that share, models not loaded are not chosen.
    pub gpu_memory: Option<String>,
    /// Share of `gpu_memory` (0 to 1) above which the runtime is under pressure (default 0.9).
    pub gpu_pressure: Option<f64>,
}

//! The commented `tollgate.toml` written by `tollgate init` and on first run. Every setting is
//! shown at its default, commented out, so the file documents itself and changes nothing until
//! a line is uncommented.

pub const TEMPLATE: &str = r#"# Tollgate configuration.
#
# Layers: built-in defaults < this file < TOLLGATE_* environment variables.
# Unknown fields are errors. Check a file with `tollgate check-config [PATH]`.

[server]
# Address and port to listen on (TOLLGATE_LISTEN).
# listen = "127.0.0.1:4747"
# Directory for the SQLite database and the generated master key (TOLLGATE_DATA_DIR).
# Default: $XDG_DATA_HOME/tollgate, else ~/.local/share/tollgate.
# data_dir = "/var/lib/tollgate"
# How long in-flight requests and streams may finish after SIGINT/SIGTERM.
# shutdown_grace = "30s"

[storage]
# Where history is stored (TOLLGATE_DATABASE_URL). Default: tollgate.db in the data directory.
# database_url = "sqlite:///var/lib/tollgate/tollgate.db"
# Record exchanges in the history at all (TOLLGATE_RECORD). Logs and metrics are unaffected.
# record = true
# Store request and response bodies, not only metadata and usage (TOLLGATE_RECORD_BODIES).
# record_bodies = true

[limits]
# Largest request body accepted; larger ones get a 413 (Anthropic's own limit is 32 MB).
# max_body_size = "32MiB"
# Most messages in one request.
# max_messages = 20000

[timeouts]
# Upstream TCP/TLS connect.
# connect = "10s"
# From sending a request upstream to its response headers. Non-streaming requests with large
# max_tokens can take minutes before the first byte.
# first_byte = "600s"
# Longest silence between two chunks of an upstream body. Anthropic pings every few seconds.
# idle = "300s"
# While an upstream stream is silent (a long thinking phase), an SSE comment goes to the client
# this often, so proxies and load balancers in between do not drop the idle connection.
# keepalive = "15s"

[log]
# A tracing filter (TOLLGATE_LOG): "info", "debug", "tollgate_server=debug,warn".
# level = "info"
# "json" (one object per line) or "pretty" (TOLLGATE_LOG_FORMAT).
# format = "json"

[telemetry]
# GET /metrics (Prometheus) is always served: aggregate counts only, no keys or bodies.
# Traces: an OTLP/HTTP collector to send one span per request to; off when unset. Default:
# OTEL_EXPORTER_OTLP_ENDPOINT. Spans go to <endpoint>/v1/traces (TOLLGATE_OTLP_ENDPOINT).
# otlp_endpoint = "http://127.0.0.1:4318"
# service.name on the spans. Default: OTEL_SERVICE_NAME, else "tollgate" (TOLLGATE_SERVICE_NAME).
# service_name = "tollgate"

[history]
# Drop request and response bodies (and their search text) older than this, at startup and
# then hourly; metadata, usage and cost stay (TOLLGATE_HISTORY_RETENTION). Default: keep forever.
# retention = "30d"
# Give each session a short title, written by this model ("provider:model", an enabled
# provider) once the session has been quiet for title_after. It is called directly, with the
# session's first prompt, and never recorded (TOLLGATE_HISTORY_TITLE_MODEL). Default: off.
# title_model = "anthropic:claude-haiku-4-5"
# How long a session must be quiet before it is titled (TOLLGATE_HISTORY_TITLE_AFTER).
# title_after = "10m"

[auth]
# The admin key, also accepted as a client key (TOLLGATE_MASTER_KEY). When unset, one is
# generated on first run, kept in the data directory as master.key, and printed once.
# "env:VAR" reads the key from a variable.
# master_key = "env:TOLLGATE_ADMIN_KEY"

# Client keys: clients send them as `x-api-key` or `Authorization: Bearer`.
# [[auth.keys]]
# name = "laptop"
# key = "env:TOLLGATE_LAPTOP_KEY"

# Providers. Each preset is enabled automatically when its vendor's key variable is set:
#   anthropic (ANTHROPIC_API_KEY), openai (OPENAI_API_KEY), openrouter (OPENROUTER_API_KEY),
#   deepseek (DEEPSEEK_API_KEY), groq (GROQ_API_KEY), together (TOGETHER_API_KEY),
#   vllm (VLLM_BASE_URL), llamacpp (LLAMACPP_BASE_URL), ollama (OLLAMA_BASE_URL).
# TOLLGATE_<NAME>_BASE_URL points any provider at another endpoint.
# A section here configures one explicitly; the section name is the provider's name in
# `provider:model` targets.
#
# [providers.anthropic]
# api_key_env = "ANTHROPIC_API_KEY"
#
# [providers.openai]
# base_url = "https://api.openai.com/v1"
# api_key_env = "OPENAI_API_KEY"
#
# Any OpenAI-compatible server:
# [providers.workstation]
# preset = "openai-compatible"
# base_url = "http://192.168.1.20:8000/v1"
# models = ["qwen2.5-coder-32b"]

# Aliases: a model name clients may use (or a `*` pattern) -> provider:model, a list tried in
# order, weighted deployments, or `auto` (see docs/ROUTING.md).
[aliases]
# fast = "openai:gpt-4o-mini"
# coder = "workstation:qwen2.5-coder-32b"
# "claude-sonnet-*" = "auto"

# Routing: `model: "auto"` picks a model per request; retries, fallbacks and breakers.
[routing]
# retries = 0
# backoff = "250ms"
# max_backoff = "5s"
# breaker = { failures = 5, cooldown = "30s" }
# sticky_sessions = true
# probe_interval = "60s"
#
# [routing.auto]
# models = ["anthropic:claude-haiku-4-5", "anthropic:claude-sonnet-4-5", "anthropic:claude-opus-4-5"]
# cheap_max = 30
# standard_max = 65
# success_threshold = 0.8
# local_first = true
#
# [[routing.rules]]
# name = "long-context"
# when = "tokens>=150000"
# target = "openai:gpt-5"

# Model facts and prices (per million tokens), overriding the built-in catalog.
[models]
# "workstation:qwen2.5-coder-32b" = { tier = "standard", context = 32768, tools = true }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_template_is_valid_and_changes_nothing() {
        let path = std::path::Path::new("tollgate.toml");
        let raw = crate::parse_file(TEMPLATE, path).unwrap();
        let c = crate::validate::validate(raw, crate::Origin::File(path.into()), &BTreeMap::new())
            .unwrap();
        assert_eq!(c.listen, crate::DEFAULT_LISTEN);
        assert!(c.providers.is_empty());
    }

    #[test]
    fn every_uncommented_example_is_valid() {
        // Uncomment every `# key = value` line and section header that is not prose.
        let text: String = TEMPLATE
            .lines()
            .map(|l| {
                let t = l.strip_prefix("# ").unwrap_or(l);
                let looks_like_toml =
                    t.starts_with('[') || (t.contains(" = ") && !t.contains("  "));
                if l.starts_with("# ")
                    && looks_like_toml
                    && !t.contains("data_dir")
                    && !t.contains("database_url")
                {
                    t
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let path = std::path::Path::new("tollgate.toml");
        let raw = crate::parse_file(&text, path).unwrap();
        let env: BTreeMap<String, String> = [
            ("TOLLGATE_ADMIN_KEY", "a"),
            ("TOLLGATE_LAPTOP_KEY", "b"),
            ("ANTHROPIC_API_KEY", "c"),
            ("OPENAI_API_KEY", "d"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let c = crate::validate::validate(raw, crate::Origin::File(path.into()), &env).unwrap();
        assert_eq!(c.providers.len(), 3);
        assert_eq!(c.routing.aliases.len(), 3);
        assert_eq!(c.routing.settings.rules.len(), 1);
        assert_eq!(c.routing.settings.auto.models.len(), 3);
    }
}

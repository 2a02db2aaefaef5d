//! The `TOLLGATE_*` environment variables. Each one is listed here with the setting it overrides;
//! any other `TOLLGATE_*` variable is an error, so a typo never passes silently.

/// Variable -> the dotted setting it overrides. `TOLLGATE_<PROVIDER>_BASE_URL` is handled apart.
pub const VARS: &[(&str, &str, &str)] = &[
    ("TOLLGATE_CONFIG", "(config file path)", "path of the config file to load"),
    ("TOLLGATE_LISTEN", "server.listen", "address:port to listen on"),
    (
        "TOLLGATE_DATA_DIR",
        "server.data_dir",
        "directory for the database, master key and default config",
    ),
    (
        "TOLLGATE_SHUTDOWN_GRACE",
        "server.shutdown_grace",
        "how long in-flight requests may finish on shutdown",
    ),
    ("TOLLGATE_MASTER_KEY", "auth.master_key", "the admin key, also accepted as a client key"),
    (
        "TOLLGATE_DATABASE_URL",
        "storage.database_url",
        "database URL (default: SQLite in the data directory)",
    ),
    ("TOLLGATE_RECORD", "storage.record", "record exchanges in the history at all (true/false)"),
    (
        "TOLLGATE_RECORD_BODIES",
        "storage.record_bodies",
        "store request and response bodies (true/false)",
    ),
    (
        "TOLLGATE_HISTORY_RETENTION",
        "history.retention",
        "drop stored bodies older than this (30d; off: keep forever); totals stay",
    ),
    (
        "TOLLGATE_HISTORY_TITLE_MODEL",
        "history.title_model",
        "provider:model that writes a short title for each quiet session (default: off)",
    ),
    (
        "TOLLGATE_HISTORY_TITLE_AFTER",
        "history.title_after",
        "how long a session is quiet before it is titled (default 10m)",
    ),
    ("TOLLGATE_MAX_BODY_SIZE", "limits.max_body_size", "largest request body accepted"),
    ("TOLLGATE_MAX_MESSAGES", "limits.max_messages", "most messages in one request"),
    ("TOLLGATE_CONNECT_TIMEOUT", "timeouts.connect", "upstream connect timeout"),
    ("TOLLGATE_FIRST_BYTE_TIMEOUT", "timeouts.first_byte", "upstream time to response headers"),
    ("TOLLGATE_IDLE_TIMEOUT", "timeouts.idle", "longest upstream silence mid-body"),
    (
        "TOLLGATE_KEEPALIVE",
        "timeouts.keepalive",
        "SSE keep-alive comment to clients while an upstream stream is silent (default 15s)",
    ),
    ("TOLLGATE_LOG", "log.level", "log filter (info, debug, tollgate=debug,warn)"),
    ("TOLLGATE_LOG_FORMAT", "log.format", "json or pretty"),
    (
        "TOLLGATE_OTLP_ENDPOINT",
        "telemetry.otlp_endpoint",
        "OTLP/HTTP collector for traces (default OTEL_EXPORTER_OTLP_ENDPOINT; empty: off)",
    ),
    (
        "TOLLGATE_SERVICE_NAME",
        "telemetry.service_name",
        "service.name on exported spans (default OTEL_SERVICE_NAME, else tollgate)",
    ),
];

/// The setting path a variable overrides, if it is a known fixed variable.
pub fn setting_for(var: &str) -> Option<&'static str> {
    VARS.iter().find(|(v, _, _)| *v == var).map(|(_, path, _)| *path)
}

/// The closest known variable name, for "did you mean" hints.
/// A near miss: about one edit per three characters of the part after `TOLLGATE_`, so
/// `TOLLGATE_LISTN` suggests `TOLLGATE_LISTEN` but `TOLLGATE_BIN` suggests nothing.
pub fn suggest(var: &str) -> Option<&'static str> {
    let suffix = var.strip_prefix("TOLLGATE_").unwrap_or(var);
    let allowed = (suffix.chars().count() / 3).max(1);
    VARS.iter()
        .map(|(v, _, _)| (*v, distance(suffix, v.strip_prefix("TOLLGATE_").unwrap_or(v))))
        .filter(|(_, d)| *d <= allowed)
        .min_by_key(|(_, d)| *d)
        .map(|(v, _)| v)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

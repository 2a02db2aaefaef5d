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
    (
        "TOLLGATE_RECORD_BODIES",
        "storage.record_bodies",
        "store request and response bodies (true/false)",
    ),
    ("TOLLGATE_MAX_BODY_SIZE", "limits.max_body_size", "largest request body accepted"),
    ("TOLLGATE_MAX_MESSAGES", "limits.max_messages", "most messages in one request"),
    ("TOLLGATE_CONNECT_TIMEOUT", "timeouts.connect", "upstream connect timeout"),
    ("TOLLGATE_FIRST_BYTE_TIMEOUT", "timeouts.first_byte", "upstream time to response headers"),
    ("TOLLGATE_IDLE_TIMEOUT", "timeouts.idle", "longest upstream silence mid-body"),
    ("TOLLGATE_LOG", "log.level", "log filter (info, debug, tollgate=debug,warn)"),
    ("TOLLGATE_LOG_FORMAT", "log.format", "json or pretty"),
];

/// The setting path a variable overrides, if it is a known fixed variable.
pub fn setting_for(var: &str) -> Option<&'static str> {
    VARS.iter().find(|(v, _, _)| *v == var).map(|(_, path, _)| *path)
}

/// The closest known variable name, for "did you mean" hints.
pub fn suggest(var: &str) -> Option<&'static str> {
    VARS.iter()
        .map(|(v, _, _)| (*v, distance(var, v)))
        .filter(|(_, d)| *d <= 3)
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

//! Raw config + environment -> [`Config`], collecting every error instead of stopping at the
//! first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::raw::{RawConfig, RawProvider, RawTelemetry};
use crate::units::{parse_duration, parse_size};
use crate::{
    Config, ConfigError, ConfigErrors, HistoryConfig, KeyConfig, Limits, LogConfig, LogFormat,
    Origin, ProviderConfig, Secret, TelemetryConfig, Timeouts, TitleModel, env, presets,
};

struct Ctx<'a> {
    file: Origin,
    env: &'a BTreeMap<String, String>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
    /// Variables the file refers to (`env:VAR`, `api_key_env`): never "unknown".
    referenced: Vec<String>,
}

impl Ctx<'_> {
    fn err(&mut self, origin: Origin, path: &str, message: impl Into<String>) {
        self.errors.push(ConfigError { origin, path: path.to_owned(), message: message.into() });
    }

    /// The value of a setting: its variable if set, else the file's value, with its origin.
    fn pick(&self, path: &str, file_value: Option<String>) -> Option<(String, Origin)> {
        let var = env::VARS.iter().find(|(_, p, _)| *p == path).map(|(v, _, _)| *v);
        if let Some(var) = var
            && let Some(v) = self.env.get(var)
        {
            return Some((v.clone(), Origin::Env(var.to_owned())));
        }
        file_value.map(|v| (v, self.file.clone()))
    }

    fn parse<T>(
        &mut self,
        path: &str,
        file_value: Option<String>,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        match self.pick(path, file_value) {
            None => default,
            Some((raw, origin)) => match parse(&raw) {
                Ok(v) => v,
                Err(e) => {
                    self.err(origin, path, e);
                    default
                }
            },
        }
    }

    /// Resolves `env:VAR` indirection for secrets written in the file.
    fn secret(&mut self, origin: Origin, path: &str, value: &str) -> Option<Secret> {
        if let Some(var) = value.strip_prefix("env:") {
            self.referenced.push(var.to_owned());
            match self.env.get(var).filter(|v| !v.is_empty()) {
                Some(v) => Some(Secret::new(v.clone())),
                None => {
                    self.err(
                        origin,
                        path,
                        format!("refers to environment variable {var}, which is not set"),
                    );
                    None
                }
            }
        } else if value.is_empty() {
            self.err(origin, path, "must not be empty");
            None
        } else {
            Some(Secret::new(value))
        }
    }
}

pub fn validate(
    raw: RawConfig,
    file: Origin,
    env_map: &BTreeMap<String, String>,
) -> Result<Config, ConfigErrors> {
    let mut cx = Ctx {
        file: file.clone(),
        env: env_map,
        errors: Vec::new(),
        warnings: Vec::new(),
        referenced: Vec::new(),
    };

    let listen = cx.parse("server.listen", raw.server.listen, default_listen(), |s| {
        s.parse::<SocketAddr>().map_err(|e| format!("`{s}` is not an address:port ({e})"))
    });
    let data_dir =
        match cx.pick("server.data_dir", raw.server.data_dir.map(|p| p.display().to_string())) {
            Some((d, _)) => PathBuf::from(d),
            None => crate::default_data_dir(env_map),
        };
    let shutdown_grace = cx.parse(
        "server.shutdown_grace",
        raw.server.shutdown_grace,
        Duration::from_secs(30),
        parse_duration,
    );

    let database_url = cx.pick("storage.database_url", raw.storage.database_url);
    let database_url = match database_url {
        Some((u, o))
            if !(u.starts_with("sqlite:")
                || u.starts_with("postgres://")
                || u.starts_with("postgresql://")) =>
        {
            cx.err(
                o,
                "storage.database_url",
                format!("unsupported database URL `{}`: use `sqlite://PATH` or `postgres://USER@HOST/DB`", redact_url(&u)),
            );
            None
        }
        other => other.map(|(u, _)| u),
    };
    let record =
        cx.parse("storage.record", raw.storage.record.map(|b| b.to_string()), true, parse_bool);
    let record_bodies = cx.parse(
        "storage.record_bodies",
        raw.storage.record_bodies.map(|b| b.to_string()),
        true,
        parse_bool,
    );

    let limits = Limits {
        max_body_bytes: cx.parse(
            "limits.max_body_size",
            raw.limits.max_body_size,
            32 * 1024 * 1024,
            parse_size,
        ),
        max_messages: cx.parse(
            "limits.max_messages",
            raw.limits.max_messages.map(|n| n.to_string()),
            20_000,
            |s| s.parse::<usize>().map_err(|_| format!("`{s}` is not a whole number")),
        ),
    };
    if limits.max_messages == 0 {
        cx.err(file.clone(), "limits.max_messages", "must be at least 1");
    }
    let timeouts = Timeouts {
        connect: cx.parse(
            "timeouts.connect",
            raw.timeouts.connect,
            Duration::from_secs(10),
            parse_duration,
        ),
        first_byte: cx.parse(
            "timeouts.first_byte",
            raw.timeouts.first_byte,
            Duration::from_secs(600),
            parse_duration,
        ),
        idle: cx.parse(
            "timeouts.idle",
            raw.timeouts.idle,
            Duration::from_secs(300),
            parse_duration,
        ),
        keepalive: cx.parse(
            "timeouts.keepalive",
            raw.timeouts.keepalive,
            Duration::from_secs(15),
            parse_duration,
        ),
    };

    let log = LogConfig {
        level: cx.pick("log.level", raw.log.level).map_or_else(|| "info".to_owned(), |(l, _)| l),
        format: cx.parse("log.format", raw.log.format, LogFormat::Json, |s| match s {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            other => Err(format!("`{other}` is not a log format (use json or pretty)")),
        }),
    };

    let telemetry = telemetry(&mut cx, raw.telemetry);
    let title_model = cx.pick("history.title_model", raw.history.title_model);
    let mut history = HistoryConfig {
        retention: cx.parse("history.retention", raw.history.retention, None, parse_retention),
        title_model: None,
        title_after: cx.parse(
            "history.title_after",
            raw.history.title_after,
            crate::DEFAULT_TITLE_AFTER,
            parse_duration,
        ),
    };

    let master_key = match cx.pick("auth.master_key", raw.auth.master_key) {
        Some((k, o)) => cx.secret(o, "auth.master_key", &k),
        None => None,
    };
    let mut keys: Vec<KeyConfig> = Vec::new();
    for (i, k) in raw.auth.keys.iter().enumerate() {
        let path = format!("auth.keys[{i}]");
        if keys.iter().any(|e| e.name == k.name) {
            cx.err(
                file.clone(),
                &format!("{path}.name"),
                format!("duplicate key name `{}`", k.name),
            );
        }
        if let Some(key) = cx.secret(file.clone(), &format!("{path}.key"), &k.key) {
            keys.push(KeyConfig { name: k.name.clone(), key });
        }
    }

    let providers = providers(&mut cx, raw.providers);
    check_env_names(&mut cx, &providers);
    history.title_model =
        title_model.and_then(|(t, o)| parse_title_model(&mut cx, o, &t, &providers));

    let check = |target: &str| -> Result<(), String> { check_target(target, &providers) };
    let mut routing_errors = Vec::new();
    let aliases = crate::routing::aliases(&raw.aliases, &check, &mut routing_errors);
    let routing =
        crate::routing::routing(raw.routing, raw.models, aliases, &check, &mut routing_errors);
    for (path, message) in routing_errors {
        cx.err(file.clone(), &path, message);
    }

    if cx.errors.is_empty() {
        Ok(Config {
            listen,
            data_dir,
            database_url,
            record,
            record_bodies,
            limits,
            timeouts,
            shutdown_grace,
            log,
            telemetry,
            history,
            master_key,
            keys,
            providers,
            routing,
            file: match file {
                Origin::File(p) => Some(p),
                _ => None,
            },
            warnings: cx.warnings,
        })
    } else {
        Err(ConfigErrors(cx.errors))
    }
}

/// `[telemetry]`. Tollgate's own variable or setting wins; otherwise the standard
/// OpenTelemetry variables apply, so a collector configured for the whole host or pod is used
/// without repeating it. An empty endpoint turns export off, also against the standard variable.
fn telemetry(cx: &mut Ctx<'_>, raw: RawTelemetry) -> TelemetryConfig {
    let standard = |var: &str| cx.env.get(var).map(|v| (v.clone(), Origin::Env(var.to_owned())));
    let endpoint = cx
        .pick("telemetry.otlp_endpoint", raw.otlp_endpoint)
        .or_else(|| standard("OTEL_EXPORTER_OTLP_ENDPOINT"));
    let service_name = cx
        .pick("telemetry.service_name", raw.service_name)
        .or_else(|| standard("OTEL_SERVICE_NAME"))
        .map(|(s, _)| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "tollgate".to_owned());
    let otlp_endpoint = match endpoint {
        Some((url, origin)) if !url.trim().is_empty() => {
            let url = url.trim().trim_end_matches('/');
            let host = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
            if host.is_some_and(|h| !h.is_empty()) {
                Some(url.to_owned())
            } else {
                cx.err(
                    origin,
                    "telemetry.otlp_endpoint",
                    format!(
                        "`{}` is not an http:// or https:// URL (OTLP over HTTP)",
                        redact_url(url)
                    ),
                );
                None
            }
        }
        _ => None,
    };
    TelemetryConfig { otlp_endpoint, service_name }
}

/// `history.title_model`: `provider:model` naming an enabled provider (like an alias target),
/// or `off` (or empty) for none.
fn parse_title_model(
    cx: &mut Ctx<'_>,
    origin: Origin,
    value: &str,
    providers: &[ProviderConfig],
) -> Option<TitleModel> {
    const PATH: &str = "history.title_model";
    let value = value.trim();
    if value.is_empty() || value.eq_ignore_ascii_case("off") {
        return None;
    }
    let Some((p, m)) = value.split_once(':') else {
        cx.err(
            origin,
            PATH,
            format!("`{value}` must be `provider:model` (e.g. `anthropic:claude-haiku-4-5`)"),
        );
        return None;
    };
    if m.is_empty() {
        cx.err(origin, PATH, format!("`{value}` names no model"));
        return None;
    }
    if !providers.iter().any(|c| c.name == p) {
        let hint = match presets::find(p).and_then(|pr| pr.key_env) {
            Some(var) => format!(" (set {var} or add a [providers.{p}] section)"),
            None => format!(" (add a [providers.{p}] section)"),
        };
        cx.err(origin, PATH, format!("provider `{p}` is not enabled{hint}"));
        return None;
    }
    Some(TitleModel { provider: p.to_owned(), model: m.to_owned() })
}

/// A retention: a duration of at least a minute, or `off` (or empty) for none, so a variable
/// can switch off a retention the file sets.
fn parse_retention(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let d = parse_duration(s)?;
    if d < Duration::from_secs(60) {
        return Err(format!(
            "`{s}` is shorter than a minute (use e.g. `30d`, or `off` to keep bodies forever)"
        ));
    }
    Ok(Some(d))
}

fn default_listen() -> SocketAddr {
    crate::DEFAULT_LISTEN
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}

fn normalise_base_url(
    cx: &mut Ctx<'_>,
    origin: Origin,
    path: &str,
    url: &str,
    preset: &presets::Preset,
) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        cx.err(origin, path, format!("`{url}` is not an http:// or https:// URL"));
        return None;
    }
    let mut url = url.to_owned();
    if let Some(suffix) = preset.required_suffix
        && !url.ends_with(suffix)
    {
        url.push_str(suffix);
    }
    Some(url)
}

fn providers(cx: &mut Ctx<'_>, raw: BTreeMap<String, RawProvider>) -> Vec<ProviderConfig> {
    let mut out = Vec::new();
    for (name, rp) in &raw {
        let path = format!("providers.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            cx.err(
                cx.file.clone(),
                &path,
                "provider names use lowercase letters, digits, `-` and `_`",
            );
            continue;
        }
        let preset_name = rp.preset.as_deref().unwrap_or_else(|| {
            if presets::find(name).is_some() { name.as_str() } else { "openai-compatible" }
        });
        let Some(preset) = presets::find(preset_name) else {
            let known: Vec<_> = presets::PRESETS.iter().map(|p| p.name).collect();
            cx.err(
                cx.file.clone(),
                &format!("{path}.preset"),
                format!("unknown preset `{preset_name}` (known: {})", known.join(", ")),
            );
            continue;
        };
        if rp.enabled == Some(false) {
            continue;
        }
        let override_var = presets::base_url_override_var(name);
        let (url, origin) = if let Some(u) = cx.env.get(&override_var) {
            (u.clone(), Origin::Env(override_var.clone()))
        } else if let Some(u) = &rp.base_url {
            (u.clone(), cx.file.clone())
        } else if let Some(u) = preset.base_url_env.and_then(|v| cx.env.get(v).map(|u| (u, v))) {
            (u.0.clone(), Origin::Env(u.1.to_owned()))
        } else if preset.base_url.is_empty() {
            cx.err(
                cx.file.clone(),
                &format!("{path}.base_url"),
                "required for an openai-compatible provider",
            );
            continue;
        } else {
            (preset.base_url.to_owned(), Origin::Default)
        };
        let Some(base_url) =
            normalise_base_url(cx, origin, &format!("{path}.base_url"), &url, preset)
        else {
            continue;
        };
        let api_key = if let Some(k) = &rp.api_key {
            cx.secret(cx.file.clone(), &format!("{path}.api_key"), k)
        } else if let Some(var) = &rp.api_key_env {
            cx.referenced.push(var.clone());
            match cx.env.get(var).filter(|v| !v.is_empty()) {
                Some(v) => Some(Secret::new(v.clone())),
                None => {
                    cx.err(
                        cx.file.clone(),
                        &format!("{path}.api_key_env"),
                        format!("environment variable {var} is not set"),
                    );
                    None
                }
            }
        } else {
            preset
                .key_env
                .and_then(|v| cx.env.get(v))
                .filter(|v| !v.is_empty())
                .map(|v| Secret::new(v.clone()))
        };
        out.push(ProviderConfig {
            name: name.clone(),
            preset,
            base_url,
            api_key,
            models: rp.models.clone(),
            headers: rp.headers.clone(),
            quirks: rp.quirks.clone(),
            origin: cx.file.clone(),
            local: rp.local.unwrap_or(preset.local),
            gpu_memory: rp.gpu_memory.as_deref().and_then(|v| {
                crate::units::parse_size(v)
                    .map(|n| n as u64)
                    .map_err(|e| cx.err(cx.file.clone(), &format!("{path}.gpu_memory"), e))
                    .ok()
            }),
            gpu_pressure: match rp.gpu_pressure {
                Some(r) if (0.0..=1.0).contains(&r) => r,
                Some(_) => {
                    cx.err(
                        cx.file.clone(),
                        &format!("{path}.gpu_pressure"),
                        "must be between 0 and 1",
                    );
                    0.9
                }
                None => 0.9,
            },
        });
    }

    // Presets enabled by the environment alone.
    for preset in presets::PRESETS {
        if raw.contains_key(preset.name) || preset.name == "openai-compatible" {
            continue;
        }
        let override_var = presets::base_url_override_var(preset.name);
        let key =
            preset.key_env.and_then(|v| cx.env.get(v).filter(|s| !s.is_empty()).map(|k| (v, k)));
        let url_override = cx.env.get(&override_var).map(|u| (override_var.clone(), u));
        let vendor_url = preset.base_url_env.and_then(|v| cx.env.get(v).map(|u| (v.to_owned(), u)));
        let Some(trigger) = key
            .map(|(v, _)| v.to_owned())
            .or_else(|| url_override.as_ref().map(|(v, _)| v.clone()))
            .or_else(|| vendor_url.as_ref().map(|(v, _)| v.clone()))
        else {
            continue;
        };
        let (url, origin) = match (&url_override, &vendor_url) {
            (Some((v, u)), _) | (None, Some((v, u))) => ((*u).clone(), Origin::Env(v.clone())),
            (None, None) => (preset.base_url.to_owned(), Origin::Default),
        };
        let path = format!("providers.{}.base_url", preset.name);
        let Some(base_url) = normalise_base_url(cx, origin, &path, &url, preset) else { continue };
        out.push(ProviderConfig {
            name: preset.name.to_owned(),
            preset,
            base_url,
            api_key: key.map(|(_, k)| Secret::new(k.clone())),
            models: Vec::new(),
            headers: BTreeMap::new(),
            quirks: None,
            origin: Origin::Env(trigger),
            local: preset.local,
            gpu_memory: None,
            gpu_pressure: 0.9,
        });
    }
    out
}

/// A routing target: `auto`, or `provider:model` with an enabled provider.
fn check_target(target: &str, providers: &[ProviderConfig]) -> Result<(), String> {
    if target == "auto" {
        return Ok(());
    }
    let Some((p, m)) = target.split_once(':') else {
        return Err(format!("target `{target}` must be `provider:model` or `auto`"));
    };
    if m.is_empty() {
        return Err(format!("target `{target}` names no model"));
    }
    if providers.iter().any(|c| c.name == p) {
        return Ok(());
    }
    Err(match presets::find(p).and_then(|pr| pr.key_env) {
        Some(var) => {
            format!("provider `{p}` is not enabled (set {var} or add a [providers.{p}] section)")
        }
        None => format!("provider `{p}` is not enabled (add a [providers.{p}] section)"),
    })
}

fn check_env_names(cx: &mut Ctx<'_>, providers: &[ProviderConfig]) {
    let unknown: Vec<String> = cx
        .env
        .keys()
        .filter(|k| k.starts_with("TOLLGATE_"))
        .filter(|k| env::setting_for(k).is_none() && !cx.referenced.contains(k))
        .filter(|k| {
            let known_provider = |name: &str| presets::base_url_override_var(name) == **k;
            !(presets::PRESETS.iter().any(|p| known_provider(p.name))
                || providers.iter().any(|p| known_provider(&p.name)))
        })
        .cloned()
        .collect();
    // A near-miss of a known name is a typo and an error: the setting the user meant would be
    // silently missing. Anything else may be a script's own variable: a warning.
    for var in unknown {
        let error = ConfigError {
            origin: Origin::Env(var.clone()),
            path: String::new(),
            message: String::new(),
        };
        match env::suggest(&var) {
            Some(s) => cx.errors.push(ConfigError {
                message: format!("unknown Tollgate variable (did you mean {s}?); see `tollgate check-config --help` for the list"),
                ..error
            }),
            None => cx.warnings.push(ConfigError {
                message: "not a Tollgate setting; ignored (see `tollgate check-config --help` for the list)".into(),
                ..error
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthScheme, Dialect, load, parse_file};

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn from_toml(text: &str, e: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let path = std::path::Path::new("tollgate.toml");
        validate(parse_file(text, path)?, Origin::File(path.into()), &env(e))
    }

    #[test]
    fn no_config_at_all_works_with_defaults() {
        let c = load(None, &env(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:4747");
        assert_eq!(c.data_dir, PathBuf::from("/home/u/.local/share/tollgate"));
        assert!(c.providers.is_empty());
        assert_eq!(c.limits.max_body_bytes, 32 * 1024 * 1024);
    }

    #[test]
    fn providers_are_enabled_by_their_vendor_key_variables() {
        let c = load(
            None,
            &env(&[
                ("ANTHROPIC_API_KEY", "sk-ant"),
                ("OPENAI_API_KEY", "sk-oai"),
                ("OLLAMA_BASE_URL", "http://localhost:11434"),
                ("TOLLGATE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
            ]),
        )
        .unwrap();
        let names: Vec<_> = c.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["anthropic", "openai", "ollama"]);
        let a = &c.providers[0];
        assert_eq!(a.base_url, "https://api.anthropic.com");
        assert_eq!(a.api_key.as_ref().unwrap().expose(), "sk-ant");
        assert_eq!(a.preset.auth, AuthScheme::XApiKey);
        assert_eq!(c.providers[1].base_url, "http://127.0.0.1:9/v1");
        assert_eq!(c.providers[1].dialect(), Dialect::OpenAiChat);
        assert_eq!(c.providers[2].base_url, "http://localhost:11434/v1");
        assert!(c.providers[2].api_key.is_none());
    }

    #[test]
    fn a_base_url_override_alone_enables_a_provider() {
        let c =
            load(None, &env(&[("TOLLGATE_ANTHROPIC_BASE_URL", "http://127.0.0.1:1234")])).unwrap();
        assert_eq!(c.providers[0].name, "anthropic");
        assert_eq!(c.providers[0].base_url, "http://127.0.0.1:1234");
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let c = from_toml(
            "[server]\nlisten = \"127.0.0.1:9000\"\n[limits]\nmax_body_size = \"1MiB\"\n",
            &[("TOLLGATE_LISTEN", "0.0.0.0:7000")],
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(c.limits.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn unknown_fields_are_errors_with_a_line() {
        let e =
            from_toml("[server]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n", &[]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("tollgate.toml: line 3: unknown field `listen_port`"), "{msg}");
    }

    #[test]
    fn errors_name_their_origin_and_path_and_are_all_collected() {
        let e = from_toml(
            "[server]\nlisten = \"nope\"\n[timeouts]\nidle = \"5 parsecs\"\n[aliases]\nfast = \"openai:gpt-4o-mini\"\nbad = \"nocolon\"\n",
            &[("TOLLGATE_MAX_MESSAGES", "many"), ("TOLLGATE_LISTN", "x")],
        )
        .unwrap_err();
        let msgs: Vec<String> = e.0.iter().map(ToString::to_string).collect();
        assert!(
            msgs.iter()
                .any(|m| m
                    .starts_with("tollgate.toml: server.listen: `nope` is not an address:port")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("tollgate.toml: timeouts.idle: unknown duration unit")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with(
                "environment variable TOLLGATE_MAX_MESSAGES: limits.max_messages: `many`"
            )),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains(
                "TOLLGATE_LISTN: unknown Tollgate variable (did you mean TOLLGATE_LISTEN?)"
            )),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m
                .contains("aliases.fast: provider `openai` is not enabled (set OPENAI_API_KEY")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("aliases.bad: target `nocolon` must be `provider:model`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn configured_providers_resolve_keys_and_presets() {
        let c = from_toml(
            "[providers.local]\nbase_url = \"http://127.0.0.1:8000/v1\"\nmodels = [\"qwen\"]\n[providers.openai]\napi_key_env = \"MY_KEY\"\n[providers.off]\npreset = \"groq\"\nenabled = false\n[aliases]\nq = \"local:qwen\"\n",
            &[("MY_KEY", "k1"), ("TOLLGATE_LOCAL_BASE_URL", "http://127.0.0.1:8001/v1")],
        )
        .unwrap();
        assert_eq!(c.providers.len(), 2);
        let local = c.providers.iter().find(|p| p.name == "local").unwrap();
        assert_eq!(local.preset.name, "openai-compatible");
        assert_eq!(local.base_url, "http://127.0.0.1:8001/v1");
        let openai = c.providers.iter().find(|p| p.name == "openai").unwrap();
        assert_eq!(openai.api_key.as_ref().unwrap().expose(), "k1");
        assert_eq!(c.routing.aliases["q"].deployments[0].target, "local:qwen");
    }

    #[test]
    fn bad_providers_are_explained() {
        let e = from_toml(
            "[providers.custom]\nmodels = []\n[providers.x]\npreset = \"nope\"\n[providers.y]\napi_key_env = \"UNSET_VAR\"\nbase_url = \"ftp://x\"\n",
            &[],
        )
        .unwrap_err();
        let msgs = e.to_string();
        assert!(
            msgs.contains("providers.custom.base_url: required for an openai-compatible provider"),
            "{msgs}"
        );
        assert!(msgs.contains("providers.x.preset: unknown preset `nope`"), "{msgs}");
        assert!(
            msgs.contains("providers.y.base_url: `ftp://x` is not an http:// or https:// URL"),
            "{msgs}"
        );
    }

    #[test]
    fn telemetry_is_off_unless_an_endpoint_is_given() {
        let c = load(None, &env(&[])).unwrap();
        assert_eq!(c.telemetry.otlp_endpoint, None);
        assert_eq!(c.telemetry.traces_url(), None);
        assert_eq!(c.telemetry.service_name, "tollgate");
    }

    #[test]
    fn telemetry_settings_layer_over_the_standard_otel_variables() {
        // The standard variables alone enable export.
        let c = load(
            None,
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
                ("OTEL_SERVICE_NAME", "gw"),
            ]),
        )
        .unwrap();
        assert_eq!(c.telemetry.otlp_endpoint.as_deref(), Some("http://collector:4318"));
        assert_eq!(c.telemetry.traces_url().as_deref(), Some("http://collector:4318/v1/traces"));
        assert_eq!(c.telemetry.service_name, "gw");

        // The file beats the standard variables; Tollgate's variables beat the file.
        let file = "[telemetry]\notlp_endpoint = \"https://otel.example/v1/traces\"\nservice_name = \"file\"\n";
        let c =
            from_toml(file, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]).unwrap();
        assert_eq!(c.telemetry.traces_url().as_deref(), Some("https://otel.example/v1/traces"));
        assert_eq!(c.telemetry.service_name, "file");
        let c = from_toml(
            file,
            &[
                ("TOLLGATE_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("TOLLGATE_SERVICE_NAME", "env"),
            ],
        )
        .unwrap();
        assert_eq!(c.telemetry.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4318"));
        assert_eq!(c.telemetry.service_name, "env");

        // An empty endpoint turns export off even when the standard variable is set.
        let c = load(
            None,
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                ("TOLLGATE_OTLP_ENDPOINT", ""),
            ]),
        )
        .unwrap();
        assert_eq!(c.telemetry.otlp_endpoint, None);
    }

    #[test]
    fn a_bad_telemetry_endpoint_is_explained() {
        let e = load(None, &env(&[("TOLLGATE_OTLP_ENDPOINT", "collector:4317")])).unwrap_err();
        assert!(
            e.to_string().contains(
                "environment variable TOLLGATE_OTLP_ENDPOINT: telemetry.otlp_endpoint: `collector:4317` is not an http:// or https:// URL"
            ),
            "{e}"
        );
        let e = from_toml("[telemetry]\notlp_endpoint = \"grpc://x\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("tollgate.toml: telemetry.otlp_endpoint:"), "{e}");
    }

    #[test]
    fn history_retention_is_a_duration_in_days_or_off() {
        assert_eq!(load(None, &env(&[])).unwrap().history.retention, None);
        let c = from_toml("[history]\nretention = \"30d\"\n", &[]).unwrap();
        assert_eq!(c.history.retention, Some(Duration::from_secs(30 * 86_400)));
        let c =
            from_toml("[history]\nretention = \"30d\"\n", &[("TOLLGATE_HISTORY_RETENTION", "12h")])
                .unwrap();
        assert_eq!(c.history.retention, Some(Duration::from_secs(12 * 3600)));
        let c =
            from_toml("[history]\nretention = \"30d\"\n", &[("TOLLGATE_HISTORY_RETENTION", "off")])
                .unwrap();
        assert_eq!(c.history.retention, None);
        let e = from_toml("[history]\nretention = \"30 fortnights\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("tollgate.toml: history.retention: unknown duration unit"));
        let e = load(None, &env(&[("TOLLGATE_HISTORY_RETENTION", "5s")])).unwrap_err();
        assert!(
            e.to_string().contains(
                "environment variable TOLLGATE_HISTORY_RETENTION: history.retention: `5s` is shorter than a minute"
            ),
            "{e}"
        );
    }

    #[test]
    fn history_title_model_names_an_enabled_provider() {
        let c = load(None, &env(&[])).unwrap();
        assert_eq!(c.history.title_model, None);
        assert_eq!(c.history.title_after, Duration::from_secs(600));
        let c = from_toml(
            "[history]\ntitle_model = \"anthropic:claude-haiku-4-5\"\ntitle_after = \"5m\"\n",
            &[("ANTHROPIC_API_KEY", "sk-a")],
        )
        .unwrap();
        assert_eq!(
            c.history.title_model,
            Some(TitleModel { provider: "anthropic".into(), model: "claude-haiku-4-5".into() })
        );
        assert_eq!(c.history.title_after, Duration::from_secs(300));
        let c = from_toml(
            "[history]\ntitle_model = \"anthropic:claude-haiku-4-5\"\n",
            &[("ANTHROPIC_API_KEY", "sk-a"), ("TOLLGATE_HISTORY_TITLE_MODEL", "off")],
        )
        .unwrap();
        assert_eq!(c.history.title_model, None);

        let e = load(None, &env(&[("TOLLGATE_HISTORY_TITLE_MODEL", "openai:gpt-4o-mini")]))
            .unwrap_err();
        assert!(
            e.to_string().contains(
                "environment variable TOLLGATE_HISTORY_TITLE_MODEL: history.title_model: provider `openai` is not enabled (set OPENAI_API_KEY"
            ),
            "{e}"
        );
        let e = from_toml("[history]\ntitle_model = \"haiku\"\n", &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("tollgate.toml: history.title_model: `haiku` must be `provider:model`"),
            "{e}"
        );
        let e = load(None, &env(&[("TOLLGATE_HISTORY_TITLE_AFTER", "soon")])).unwrap_err();
        assert!(e.to_string().contains("history.title_after:"), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        let c = load(None, &env(&[("TOLLGATE_MASTER_KEY", "super-secret")])).unwrap();
        assert!(!format!("{c:?}").contains("super-secret"));
        assert_eq!(c.master_key.unwrap().expose(), "super-secret");
    }

    #[test]
    fn key_references_resolve_from_env() {
        let c = from_toml(
            "[auth]\nmaster_key = \"env:ADMIN\"\n[[auth.keys]]\nname = \"ci\"\nkey = \"tg-ci-123\"\n",
            &[("ADMIN", "adm")],
        )
        .unwrap();
        assert_eq!(c.master_key.unwrap().expose(), "adm");
        assert_eq!(c.keys[0].name, "ci");
        let e = from_toml("[auth]\nmaster_key = \"env:NOPE\"\n", &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("auth.master_key: refers to environment variable NOPE, which is not set")
        );
    }
}

#[cfg(test)]
mod env_name_tests {
    use super::*;

    #[test]
    fn an_unrelated_tollgate_variable_is_a_warning_not_an_error() {
        let env: BTreeMap<String, String> =
            [("TOLLGATE_BIN".to_owned(), "/usr/bin/tollgate".to_owned())].into_iter().collect();
        let c = crate::load(None, &env).unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(c.warnings[0].origin, Origin::Env("TOLLGATE_BIN".into()));
    }
}

//! `tollgate history`: reads the history database directly (the one the config names, or
//! `--database`), so it works whether or not the gateway runs. SQLite in WAL mode lets it read
//! beside a running gateway; what the gateway recorded in the last moment may still be in its
//! write queue.
//!
//! Rendering lives in `tollgate-store::export` (shared with the admin API); this module parses
//! arguments, queries, and writes to stdout. A closed pipe (`| head`) ends output quietly.
//!
//! - `history/table.rs`: aligned text tables.
//! - `history/export.rs`: `export`, with a progress bar on long exports.

mod export;
pub(crate) mod table;

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use tollgate_store::export::{Exporter, Format, Scope, SearchHitDoc, SummaryDoc, human, json};
use tollgate_store::{
    ExchangeFilter, ExchangeRecord, SNIPPET_CLOSE, SNIPPET_OPEN, SessionFilter, Store,
};

use crate::cli::{HistoryCommand, HistoryFilter};
use table::{Align, Table};

/// Runs one `tollgate history` command to completion.
pub fn run(
    config: Option<PathBuf>,
    database: Option<String>,
    command: HistoryCommand,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let store = open(config, database, env).await?;
        dispatch(store.as_ref(), command).await
    });
    match result {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// The store `--database` names, else the configured one (`database_url`, else the SQLite
/// file in the data directory). A SQLite file that does not exist is an error, not a new
/// empty database.
pub(crate) async fn open(
    config: Option<PathBuf>,
    database: Option<String>,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<Arc<dyn Store>> {
    let target = match database {
        Some(d) => d,
        None => {
            let file = crate::find_config(config, env);
            let config = tollgate_config::load(file.as_deref(), env)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("loading the configuration (or pass --database)")?;
            config
                .database_url
                .clone()
                .unwrap_or_else(|| config.sqlite_path().display().to_string())
        }
    };
    let is_file = !target.contains("://") && !target.starts_with("sqlite:");
    if is_file && !std::path::Path::new(&target).exists() {
        bail!(
            "no history database at {target}: has the gateway run with this configuration? \
             (`tollgate serve` creates it; --database names another)"
        );
    }
    tollgate_store::open(&target).await.with_context(|| {
        format!("opening the history database {}", tollgate_store::redact_url(&target))
    })
}

async fn dispatch(store: &dyn Store, command: HistoryCommand) -> anyhow::Result<()> {
    let now = now_ms();
    match command {
        HistoryCommand::List { filter, limit, sessions: true, json } => {
            list_sessions(store, &session_filter(&filter, limit, now)?, json).await
        }
        HistoryCommand::List { filter, limit, sessions: false, json } => {
            list(store, &exchange_filter(&filter, limit, now)?, json).await
        }
        HistoryCommand::Show { id, json } => show(store, &id, json).await,
        HistoryCommand::Search { words, filter, limit, json } => {
            search(store, &words.join(" "), &exchange_filter(&filter, limit, now)?, json).await
        }
        HistoryCommand::Export { filter, format, output } => {
            export::run(store, &filter, format, output, now).await
        }
        HistoryCommand::Purge { older_than } => purge(store, &older_than, now).await,
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn instant(flag: &str, value: Option<&String>, now: i64) -> anyhow::Result<Option<i64>> {
    value
        .map(|v| human::parse_instant(v, now).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
        .transpose()
}

pub(crate) fn exchange_filter(
    f: &HistoryFilter,
    limit: Option<u32>,
    now: i64,
) -> anyhow::Result<ExchangeFilter> {
    Ok(ExchangeFilter {
        since_ms: instant("since", f.since.as_ref(), now)?,
        until_ms: instant("until", f.until.as_ref(), now)?,
        session_id: f.session.clone(),
        model: f.model.clone(),
        provider: f.provider.clone(),
        key_name: f.key.clone(),
        status: f.status,
        before_id: None,
        limit,
    })
}

fn session_filter(
    f: &HistoryFilter,
    limit: Option<u32>,
    now: i64,
) -> anyhow::Result<SessionFilter> {
    let ignored = [
        ("--session", f.session.is_some()),
        ("--model", f.model.is_some()),
        ("--provider", f.provider.is_some()),
        ("--status", f.status.is_some()),
    ];
    if let Some((flag, _)) = ignored.iter().find(|(_, set)| *set) {
        bail!("{flag} does not apply to --sessions (only --since, --until, --key and --limit do)");
    }
    Ok(SessionFilter {
        since_ms: instant("since", f.since.as_ref(), now)?,
        until_ms: instant("until", f.until.as_ref(), now)?,
        key_name: f.key.clone(),
        limit,
    })
}

async fn list(store: &dyn Store, filter: &ExchangeFilter, as_json: bool) -> anyhow::Result<()> {
    let rows = store.list_exchanges(filter).await?;
    let mut out = io::stdout().lock();
    if as_json {
        for r in &rows {
            writeln!(out, "{}", json::to_string(&SummaryDoc::from(r)))?;
        }
        return Ok(out.flush()?);
    }
    if rows.is_empty() {
        writeln!(io::stderr(), "no exchanges match")?;
        return Ok(());
    }
    let mut t = Table::new(&[
        ("ID", Align::Left),
        ("TIME (UTC)", Align::Left),
        ("SESSION", Align::Left),
        ("CLIENT", Align::Left),
        ("MODEL", Align::Left),
        ("STATUS", Align::Right),
        ("IN", Align::Right),
        ("OUT", Align::Right),
        ("COST", Align::Right),
        ("LATENCY", Align::Right),
    ]);
    for r in &rows {
        let model = r.model_served.as_deref().or(r.model_requested.as_deref()).unwrap_or("-");
        t.row(vec![
            r.id.clone(),
            human::utc(r.started_at_ms),
            table::clip(r.session_id.as_deref().unwrap_or("-"), 16),
            table::clip(r.client.as_deref().unwrap_or("-"), 16),
            table::clip(model, 32),
            r.status.to_string(),
            human::count(r.input_tokens + r.cache_read_tokens + r.cache_write_tokens),
            human::count(r.output_tokens),
            human::cost(r.cost_micros),
            human::millis(r.total_ms),
        ]);
    }
    t.write(&mut out)?;
    if rows.len() as u64 == u64::from(filter.effective_limit()) {
        writeln!(
            io::stderr(),
            "(showing the newest {}; --limit shows more, --until narrows)",
            rows.len()
        )?;
    }
    Ok(out.flush()?)
}

async fn list_sessions(
    store: &dyn Store,
    filter: &SessionFilter,
    as_json: bool,
) -> anyhow::Result<()> {
    let rows = store.list_sessions(filter).await?;
    let mut out = io::stdout().lock();
    if as_json {
        for s in &rows {
            writeln!(out, "{}", json::to_string(&s))?;
        }
        return Ok(out.flush()?);
    }
    if rows.is_empty() {
        writeln!(io::stderr(), "no sessions match")?;
        return Ok(());
    }
    let mut t = Table::new(&[
        ("LAST SEEN (UTC)", Align::Left),
        ("SESSION", Align::Left),
        ("CLIENT", Align::Left),
        ("EXCHANGES", Align::Right),
        ("IN", Align::Right),
        ("OUT", Align::Right),
        ("COST", Align::Right),
        ("TITLE", Align::Left),
    ]);
    for s in &rows {
        let title = s.title.as_deref().or(s.preview.as_deref()).unwrap_or("");
        t.row(vec![
            human::utc(s.last_seen_ms),
            s.id.clone(),
            table::clip(s.client.as_deref().unwrap_or("-"), 16),
            human::count(s.exchange_count),
            human::count(s.input_tokens + s.cache_read_tokens + s.cache_write_tokens),
            human::count(s.output_tokens),
            human::cost(s.cost_micros),
            table::clip(title, 60),
        ]);
    }
    t.write(&mut out)?;
    Ok(out.flush()?)
}

async fn search(
    store: &dyn Store,
    query: &str,
    filter: &ExchangeFilter,
    as_json: bool,
) -> anyhow::Result<()> {
    let hits = store.search(query, filter).await?;
    let mut out = io::stdout().lock();
    if as_json {
        for h in &hits {
            writeln!(out, "{}", json::to_string(&SearchHitDoc::from(h)))?;
        }
        return Ok(out.flush()?);
    }
    if hits.is_empty() {
        writeln!(io::stderr(), "nothing found for `{query}`")?;
        return Ok(());
    }
    // Matched words in bold on a terminal; elsewhere the «markers» stay.
    let bold = io::stdout().is_terminal();
    for h in &hits {
        let e = &h.exchange;
        let model = e.model_served.as_deref().or(e.model_requested.as_deref()).unwrap_or("-");
        writeln!(
            out,
            "{}  {}  {}  session {}",
            human::utc(e.started_at_ms),
            e.id,
            model,
            e.session_id.as_deref().unwrap_or("-")
        )?;
        let snippet = h.snippet.split_whitespace().collect::<Vec<_>>().join(" ");
        let snippet = if bold {
            snippet.replace(SNIPPET_OPEN, "\x1b[1m").replace(SNIPPET_CLOSE, "\x1b[0m")
        } else {
            snippet
        };
        writeln!(out, "    {snippet}\n")?;
    }
    Ok(out.flush()?)
}

/// An exchange by its id, then a session by its id, then an exchange by its request id.
async fn show(store: &dyn Store, id: &str, as_json: bool) -> anyhow::Result<()> {
    let id = id.trim();
    if let Some(e) = store.get_exchange(id).await? {
        return show_exchange(&e, as_json);
    }
    if let Some(s) = store.get_session(id).await? {
        let exchanges = store.session_exchanges(id).await?;
        let format = if as_json { Format::Json } else { Format::Markdown };
        let mut x = Exporter::new(format, Scope::Session(s));
        let mut out = io::stdout().lock();
        out.write_all(x.head().as_bytes())?;
        for e in &exchanges {
            out.write_all(x.exchange(e).as_bytes())?;
        }
        out.write_all(x.tail().as_bytes())?;
        return Ok(out.flush()?);
    }
    match by_request_id(store, id).await? {
        Some(e) => show_exchange(&e, as_json),
        None => bail!("no exchange, session or request with id `{id}`"),
    }
}

/// Request ids are not indexed by the read API, but Tollgate's own (`req_<UUIDv7>`) carry the
/// time they were made: look there first, then page back through everything.
async fn by_request_id(store: &dyn Store, id: &str) -> anyhow::Result<Option<ExchangeRecord>> {
    const PAGE: u32 = 1000;
    const WINDOW_MS: i64 = 60_000;
    let around = uuid_v7_ms(id.strip_prefix("req_").unwrap_or(id));
    let windows = around
        .map(|t| ExchangeFilter {
            since_ms: Some(t - WINDOW_MS),
            until_ms: Some(t + WINDOW_MS),
            ..Default::default()
        })
        .into_iter()
        .chain([ExchangeFilter::default()]);
    for mut filter in windows {
        filter.limit = Some(PAGE);
        loop {
            let page = store.list_exchanges(&filter).await?;
            if let Some(hit) = page.iter().find(|s| s.request_id == id) {
                return Ok(store.get_exchange(&hit.id).await?);
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => {
                    filter.before_id = Some(last.id.clone())
                }
                _ => break,
            }
        }
    }
    Ok(None)
}

/// The unix milliseconds in a UUIDv7, hyphenated or not.
fn uuid_v7_ms(s: &str) -> Option<i64> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32
        || !hex.chars().all(|c| c.is_ascii_hexdigit())
        || hex.get(12..13) != Some("7")
    {
        return None;
    }
    i64::from_str_radix(hex.get(0..12)?, 16).ok()
}

fn show_exchange(e: &ExchangeRecord, as_json: bool) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    if as_json {
        let doc = tollgate_store::export::ExchangeDoc::from(e);
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(out.flush()?);
    }
    let mut fields: Vec<(&str, String)> = vec![
        ("Exchange", e.id.clone()),
        ("Request", e.request_id.clone()),
        ("Time", format!("{} UTC", human::utc(e.started_at_ms))),
    ];
    let mut push = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            fields.push((k, v));
        }
    };
    push("Session", e.session_id.clone());
    push(
        "Client",
        match (&e.client, &e.user_agent) {
            (Some(c), Some(ua)) => Some(format!("{c} ({ua})")),
            (c, ua) => c.clone().or_else(|| ua.clone()),
        },
    );
    push("Key", e.key_name.clone());
    push(
        "Endpoint",
        Some(format!(
            "{} ({}{})",
            e.endpoint,
            e.client_dialect,
            if e.stream { ", stream" } else { "" }
        )),
    );
    let model = match (&e.model_requested, &e.model_served) {
        (Some(r), Some(s)) if r != s => format!("{r} → {s}"),
        (_, Some(m)) | (Some(m), None) => m.clone(),
        (None, None) => "-".to_owned(),
    };
    push(
        "Route",
        Some(format!(
            "{} · {model}{}",
            e.provider.as_deref().unwrap_or("-"),
            e.route_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
        )),
    );
    push(
        "Status",
        Some(format!(
            "{} {}{}",
            e.status,
            e.outcome,
            e.stop_reason.as_ref().map(|s| format!(" · stop {s}")).unwrap_or_default()
        )),
    );
    push(
        "Error",
        match (&e.error_type, &e.error_message) {
            (None, None) => None,
            (t, m) => Some(format!(
                "{}{}",
                t.as_deref().unwrap_or("error"),
                m.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
            )),
        },
    );
    push(
        "Usage",
        Some(format!(
            "{} in · {} out · {} cache read · {} cache write",
            human::count(e.input_tokens),
            human::count(e.output_tokens),
            human::count(e.cache_read_tokens),
            human::count(e.cache_write_tokens)
        )),
    );
    push("Cost", Some(human::cost(e.cost_micros)));
    push(
        "Latency",
        Some(match e.ttfb_ms {
            Some(t) => {
                format!("first byte {} · total {}", human::millis(t), human::millis(e.total_ms))
            }
            None => format!("total {}", human::millis(e.total_ms)),
        }),
    );
    push("Upstream id", e.upstream_request_id.clone());
    push("Asked", e.request_body.as_deref().and_then(tollgate_store::export::request_summary));
    for (k, v) in &fields {
        writeln!(out, "{k:<12} {v}")?;
    }
    writeln!(out)?;
    out.write_all(tollgate_store::export::transcript(e).as_bytes())?;
    Ok(out.flush()?)
}

async fn purge(store: &dyn Store, older_than: &str, now: i64) -> anyhow::Result<()> {
    let age = tollgate_config::units::parse_duration(older_than)
        .map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
    let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
    let before = now.saturating_sub(age_ms);
    let purged = store.purge_bodies(before).await?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "dropped the bodies of {} exchange{} that started before {} UTC; metadata, usage and cost are kept",
        human::count(i64::try_from(purged).unwrap_or(i64::MAX)),
        if purged == 1 { "" } else { "s" },
        human::utc(before)
    )?;
    Ok(out.flush()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_made_by_tollgate_carry_their_time() {
        assert_eq!(uuid_v7_ms("0193a4c2e1d47c3a9f1e2d3c4b5a6978"), Some(0x0193_a4c2_e1d4));
        assert_eq!(uuid_v7_ms("0193a4c2-e1d4-7c3a-9f1e-2d3c4b5a6978"), Some(0x0193_a4c2_e1d4));
        assert_eq!(uuid_v7_ms("0193a4c2e1d44c3a9f1e2d3c4b5a6978"), None, "v4");
        assert_eq!(uuid_v7_ms("my-request"), None);
    }
}

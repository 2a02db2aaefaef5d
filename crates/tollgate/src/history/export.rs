//! `tollgate history export`: one session, or every exchange in a time range, rendered by
//! `tollgate_store::export` and written as it is read, with a progress bar on stderr when that
//! is a terminal and the export is long.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tollgate_store::export::{Exporter, Format, Scope, Totals};
use tollgate_store::{ExchangeFilter, ExchangeRecord, ExchangeSummary, SessionRecord, Store};

use crate::cli::HistoryFilter;

/// Exports shorter than this finish before a bar would be worth drawing.
const PROGRESS_FROM: u64 = 200;
/// Summaries read per query while collecting a range.
const PAGE: u32 = 1000;

pub async fn run(
    store: &dyn Store,
    filter: &HistoryFilter,
    format: Format,
    output: Option<PathBuf>,
    now: i64,
) -> anyhow::Result<()> {
    let exchange_filter = super::exchange_filter(filter, None, now)?;
    if filter.session.is_none() && filter.since.is_none() && filter.until.is_none() {
        bail!("name what to export: --session ID, or a range with --since and/or --until");
    }
    let mut out: Box<dyn Write> = match &output {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let written = match &filter.session {
        Some(id) => session(store, id, &exchange_filter, format, &mut out).await?,
        None => range(store, &exchange_filter, format, &mut out).await?,
    };
    out.flush()?;
    if let Some(path) = output {
        writeln!(
            io::stderr(),
            "wrote {written} exchange{} to {}",
            if written == 1 { "" } else { "s" },
            path.display()
        )?;
    }
    Ok(())
}

/// A session's exchanges, narrowed by any other filter given.
async fn session(
    store: &dyn Store,
    id: &str,
    filter: &ExchangeFilter,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let Some(s) = store.get_session(id).await? else {
        bail!("no session `{id}` (`tollgate history list --sessions` lists them)");
    };
    let exchanges: Vec<ExchangeRecord> =
        store.session_exchanges(id).await?.into_iter().filter(|e| matches(filter, e)).collect();
    let bar = progress(exchanges.len() as u64);
    let mut x = Exporter::new(format, Scope::Session(s));
    out.write_all(x.head().as_bytes())?;
    for e in &exchanges {
        out.write_all(x.exchange(e).as_bytes())?;
        bar.inc(1);
    }
    out.write_all(x.tail().as_bytes())?;
    bar.finish_and_clear();
    Ok(exchanges.len() as u64)
}

/// Every exchange in the range: summaries first (cheap), to know the sessions and totals for
/// the header, then each exchange read and written in turn, so memory holds one at a time.
async fn range(
    store: &dyn Store,
    filter: &ExchangeFilter,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut summaries = all_summaries(store, filter).await?;
    summaries.reverse(); // oldest first
    if format == Format::Markdown {
        // Grouped by session, sessions in order of their first exchange, so each session's
        // header is written once.
        let mut first_seen: HashMap<Option<String>, usize> = HashMap::new();
        for (i, s) in summaries.iter().enumerate() {
            first_seen.entry(s.session_id.clone()).or_insert(i);
        }
        summaries.sort_by_key(|s| first_seen.get(&s.session_id).copied().unwrap_or(usize::MAX));
    }
    let mut totals = Totals::default();
    let mut sessions: Vec<SessionRecord> = Vec::new();
    let mut looked_up: HashSet<&str> = HashSet::new();
    for s in &summaries {
        totals.add(s);
        if let Some(id) = s.session_id.as_deref()
            && looked_up.insert(id)
            && let Some(record) = store.get_session(id).await?
        {
            sessions.push(record);
        }
    }
    let bar = progress(summaries.len() as u64);
    let scope =
        Scope::Range { since_ms: filter.since_ms, until_ms: filter.until_ms, sessions, totals };
    let mut x = Exporter::new(format, scope);
    out.write_all(x.head().as_bytes())?;
    let mut written = 0;
    for s in &summaries {
        // Gone since the list was read (nothing deletes rows today): skipped, not an error.
        if let Some(e) = store.get_exchange(&s.id).await? {
            out.write_all(x.exchange(&e).as_bytes())?;
            written += 1;
        }
        bar.inc(1);
    }
    out.write_all(x.tail().as_bytes())?;
    bar.finish_and_clear();
    Ok(written)
}

/// Every summary the filter matches, newest first, page by page.
async fn all_summaries(
    store: &dyn Store,
    filter: &ExchangeFilter,
) -> anyhow::Result<Vec<ExchangeSummary>> {
    let mut filter = ExchangeFilter { limit: Some(PAGE), before_id: None, ..filter.clone() };
    let mut all = Vec::new();
    loop {
        let page = store.list_exchanges(&filter).await?;
        let full = page.len() == PAGE as usize;
        filter.before_id = page.last().map(|s| s.id.clone());
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// Whether a record passes the filter (for a session export narrowed further).
fn matches(f: &ExchangeFilter, e: &ExchangeRecord) -> bool {
    f.since_ms.is_none_or(|t| e.started_at_ms >= t)
        && f.until_ms.is_none_or(|t| e.started_at_ms < t)
        && f.model.as_ref().is_none_or(|m| {
            e.model_requested.as_ref() == Some(m) || e.model_served.as_ref() == Some(m)
        })
        && f.provider.as_ref().is_none_or(|p| e.provider.as_ref() == Some(p))
        && f.key_name.as_ref().is_none_or(|k| e.key_name.as_ref() == Some(k))
        && f.status.is_none_or(|s| e.status == s)
}

/// A bar on stderr for long exports to a terminal; hidden otherwise (a hidden bar costs
/// nothing to update).
fn progress(len: u64) -> ProgressBar {
    if len < PROGRESS_FROM || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "exporting {bar:40} {pos}/{len} exchanges, {per_sec}, {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

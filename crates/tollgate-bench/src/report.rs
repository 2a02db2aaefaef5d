//! The results as Markdown: the comparison table, the targets with pass/fail marks, notes, the
//! method, and rewriting our section of `docs/PERFORMANCE.md` while leaving other sections alone.
//! Pure formatting: nothing here measures or starts anything.

use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use crate::load::{Phase, To};
use crate::procfs::Machine;
use crate::scenario::{Measured, Settings};

/// Our heading in `docs/PERFORMANCE.md`; everything from it to the next `## ` heading is ours.
pub const HEADING: &str = "## Gateway load benchmark";

/// The targets Tollgate is held to.
const ADDED_P50_MS: f64 = 0.1;
const ADDED_P99_MS: f64 = 1.0;
const ADDED_TTFB_MS: f64 = 0.2;
const CPU_RATIO: f64 = 1.5;
const OPEN_RSS_MIB: f64 = 64.0;

/// Renders one row's cell for one scenario.
type Cell<'a> = Box<dyn Fn(&Measured) -> String + 'a>;

/// One column of the table.
pub struct Outcome {
    pub name: &'static str,
    pub status: Status,
    pub notes: Vec<String>,
}

pub enum Status {
    Measured(Box<Measured>),
    Skipped(String),
    Failed(String),
}

impl Outcome {
    fn measured(&self) -> Option<&Measured> {
        match &self.status {
            Status::Measured(m) => Some(m),
            Status::Skipped(_) | Status::Failed(_) => None,
        }
    }
}

/// How the run was made, for the section header.
pub struct RunInfo {
    pub command: String,
    pub date: String,
    pub machine: Machine,
    pub pinning: String,
    pub nginx: String,
    /// The commit the bench ran at, if in a git checkout.
    pub revision: Option<String>,
    pub took: Duration,
    pub background: Option<Background>,
    pub settings: Settings,
}

/// CPU used during the run by everything but the bench and the proxies, in CPUs (1.0 = one CPU).
#[derive(Debug, Clone, Copy)]
pub struct Background {
    pub other: f64,
    pub steal: f64,
}

/// Background load above this (in CPUs) makes the run noisy enough to say so.
pub const NOISY_BACKGROUND: f64 = 0.05;

/// `10000` as `10,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn p50_p99(phase: &Phase, to: To) -> Option<(f64, f64)> {
    Some((ms(phase.quantile(to, 0.5)?), ms(phase.quantile(to, 0.99)?)))
}

/// `this` minus `direct`, at p50 and p99, in ms.
fn added(this: &Phase, direct: &Phase, to: To) -> Option<(f64, f64)> {
    let (a50, a99) = p50_p99(this, to)?;
    let (d50, d99) = p50_p99(direct, to)?;
    Some((a50 - d50, a99 - d99))
}

fn pair(value: Option<(f64, f64)>) -> String {
    value.map_or_else(|| "—".to_owned(), |(a, b)| format!("{a:.3} / {b:.3}"))
}

fn signed_pair(value: Option<(f64, f64)>) -> String {
    value.map_or_else(|| "—".to_owned(), |(a, b)| format!("{a:+.3} / {b:+.3}"))
}

/// The facts the targets need, for one proxy.
struct Facts {
    added_c1: Option<(f64, f64)>,
    added_ttfb: Option<(f64, f64)>,
    cpu_per_request: Option<Duration>,
    open_rss_mib: Option<f64>,
    opened_all: bool,
}

fn facts(outcome: Option<&Outcome>, direct: Option<&Measured>) -> Option<Facts> {
    let m = outcome?.measured()?;
    let process = m.process.as_ref();
    Some(Facts {
        added_c1: direct.and_then(|d| added(&m.c1, &d.c1, To::LastByte)),
        added_ttfb: direct.and_then(|d| added(&m.stream, &d.stream, To::FirstByte)),
        cpu_per_request: process.and_then(|p| p.cpu_per_request(&m.loaded)),
        open_rss_mib: process.map(|p| mib(p.open.rss_kib)),
        opened_all: m.open.opened == m.open.wanted,
    })
}

fn mark(pass: bool) -> &'static str {
    if pass { "✅ pass" } else { "❌ fail" }
}

/// The whole section, starting with [`HEADING`].
pub fn section(info: &RunInfo, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let find = |name: &str| outcomes.iter().find(|o| o.name == name);
    let direct = find("direct").and_then(Outcome::measured);

    let _ = writeln!(out, "{HEADING}\n");
    let _ = writeln!(
        out,
        "Tollgate, a plain nginx reverse proxy, and no proxy at all, each in front of the same fast \
         mock Anthropic upstream, measured in one run. Regenerate with the command below; it \
         rewrites this section only. It needs `target/release/tollgate` (`cargo build --release \
         -p tollgate`) and nginx (`apt-get install -y nginx`; without it that column is \
         skipped), and re-executes itself under `taskset` to pin CPUs (`--no-pin` to opt out; \
         `--help` for phase sizes).\n"
    );
    let _ = writeln!(out, "- Command: `{}`", info.command);
    let _ = writeln!(out, "- Date: {} (the run took {:.0} s)", info.date, info.took.as_secs_f64());
    let _ = writeln!(
        out,
        "- Machine: {} CPUs ({}), Linux {}; {}",
        info.machine.cpus, info.machine.cpu_model, info.machine.kernel, info.nginx
    );
    if let Some(revision) = &info.revision {
        let _ = writeln!(out, "- Source: commit {revision}");
    }
    let _ = writeln!(out, "- Pinning: {}", info.pinning);
    if let Some(load) = info.background {
        let verdict = if load.other > NOISY_BACKGROUND {
            "**the machine was not quiet: numbers are noisy**"
        } else {
            "quiet"
        };
        let _ = writeln!(
            out,
            "- Other load during the run: {:.1}% of a CPU, hypervisor steal {:.1}% ({verdict})",
            load.other * 100.0,
            load.steal * 100.0
        );
    }
    let s = &info.settings;
    let _ = writeln!(
        out,
        "- Phases per scenario: warm-up {:?} at c={} + 2,000 streams; {} requests at c=1; {} \
         streams at c=1; {:?} at c={}; {} open streams\n",
        s.warmup,
        s.concurrency,
        thousands(s.c1_requests),
        thousands(s.stream_requests),
        s.duration,
        s.concurrency,
        thousands(s.open_streams as u64)
    );

    // The comparison table.
    let _ = writeln!(out, "### Results\n");
    let mut header = "| |".to_owned();
    let mut rule = "|---|".to_owned();
    for outcome in outcomes {
        let _ = write!(header, " {} |", outcome.name);
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let c = s.concurrency;
    // The direct column has nothing to add to itself.
    let versus = move |m: &Measured| direct.filter(|d| !std::ptr::eq(*d, m));
    let rows: Vec<(String, Cell<'_>)> = vec![
        ("Latency at c=1, p50 / p99 (ms)".into(), Box::new(|m| pair(p50_p99(&m.c1, To::LastByte)))),
        (
            "Added vs direct at c=1, p50 / p99 (ms)".into(),
            Box::new(move |m| {
                signed_pair(versus(m).and_then(|d| added(&m.c1, &d.c1, To::LastByte)))
            }),
        ),
        (
            format!("Throughput at c={c} (req/s)"),
            Box::new(|m| thousands(m.loaded.throughput().round() as u64)),
        ),
        (
            format!("Latency at c={c}, p50 / p99 (ms)"),
            Box::new(|m| pair(p50_p99(&m.loaded, To::LastByte))),
        ),
        (
            "Stream time to first byte, p50 / p99 (ms)".into(),
            Box::new(|m| pair(p50_p99(&m.stream, To::FirstByte))),
        ),
        (
            "Added TTFB vs direct, p50 / p99 (ms)".into(),
            Box::new(move |m| {
                signed_pair(versus(m).and_then(|d| added(&m.stream, &d.stream, To::FirstByte)))
            }),
        ),
        (
            "Stream time to last byte, p50 / p99 (ms)".into(),
            Box::new(|m| pair(p50_p99(&m.stream, To::LastByte))),
        ),
        (
            "Added stream time to last byte vs direct, p50 / p99 (ms)".into(),
            Box::new(move |m| {
                signed_pair(versus(m).and_then(|d| added(&m.stream, &d.stream, To::LastByte)))
            }),
        ),
        (
            format!("Proxy CPU per request at c={c} (µs)"),
            Box::new(|m| {
                m.process
                    .as_ref()
                    .and_then(|p| p.cpu_per_request(&m.loaded))
                    .map_or_else(|| "—".to_owned(), |d| format!("{:.1}", d.as_secs_f64() * 1e6))
            }),
        ),
        (
            format!("Proxy CPU use at c={c} (% of its core)"),
            Box::new(|m| {
                m.process.as_ref().map_or_else(
                    || "—".to_owned(),
                    |p| format!("{:.0}%", p.busy(&m.loaded) * 100.0),
                )
            }),
        ),
        (
            "RSS idle (MiB)".into(),
            Box::new(|m| {
                m.process
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |p| format!("{:.1}", mib(p.idle.rss_kib)))
            }),
        ),
        (
            "RSS after the load phases (MiB)".into(),
            Box::new(|m| {
                m.process
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |p| format!("{:.1}", mib(p.loaded.rss_kib)))
            }),
        ),
        (
            format!("RSS with {} open streams (MiB)", thousands(s.open_streams as u64)),
            Box::new(|m| {
                m.process
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |p| format!("{:.1}", mib(p.open.rss_kib)))
            }),
        ),
        (
            "Peak RSS, VmHWM (MiB)".into(),
            Box::new(|m| {
                m.process
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |p| format!("{:.1}", mib(p.peak.peak_kib)))
            }),
        ),
        (
            "Open streams held / left open upstream after hang-up".into(),
            Box::new(|m| format!("{}/{} / {}", m.open.opened, m.open.wanted, m.open.upstream_left)),
        ),
        (
            format!("Errors (c=1 / streams / c={c})"),
            Box::new(|m| format!("{} / {} / {}", m.c1.errors, m.stream.errors, m.loaded.errors)),
        ),
    ];
    for (label, cell) in &rows {
        let _ = write!(out, "| {label} |");
        for outcome in outcomes {
            let text = match &outcome.status {
                Status::Measured(m) => cell(m),
                Status::Skipped(_) => "skipped".to_owned(),
                Status::Failed(_) => "failed".to_owned(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');

    // The targets.
    let nginx = facts(find("nginx"), direct);
    let tollgate = facts(find("tollgate"), direct);
    let _ = writeln!(out, "### Targets\n");
    let _ = writeln!(out, "| Target | nginx (reference) | Tollgate | Tollgate result |");
    let _ = writeln!(out, "|---|---:|---:|---|");
    let latency_row = |label: &str, pick: &dyn Fn(&Facts) -> Option<f64>, limit: f64| {
        let value = |f: &Option<Facts>| f.as_ref().and_then(pick);
        let show = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:+.3} ms"));
        let verdict = match (value(&tollgate), value(&nginx)) {
            (None, _) => "not measured",
            (Some(t), Some(n)) if t >= limit && n >= limit => {
                "❌ fail (nginx misses it too: on this machine the extra hop alone costs more)"
            }
            (Some(t), _) => mark(t < limit),
        };
        format!("| {label} | {} | {} | {verdict} |\n", show(value(&nginx)), show(value(&tollgate)))
    };
    out.push_str(&latency_row(
        &format!("Added p50 latency at c=1 < {ADDED_P50_MS} ms"),
        &|f| f.added_c1.map(|a| a.0),
        ADDED_P50_MS,
    ));
    out.push_str(&latency_row(
        &format!("Added p99 latency at c=1 < {ADDED_P99_MS} ms"),
        &|f| f.added_c1.map(|a| a.1),
        ADDED_P99_MS,
    ));
    out.push_str(&latency_row(
        &format!("Added stream time to first byte (p50) < {ADDED_TTFB_MS} ms"),
        &|f| f.added_ttfb.map(|a| a.0),
        ADDED_TTFB_MS,
    ));
    let nginx_cpu = nginx.as_ref().and_then(|f| f.cpu_per_request);
    let tollgate_cpu = tollgate.as_ref().and_then(|f| f.cpu_per_request);
    let us = |d: Option<Duration>| {
        d.map_or_else(|| "—".to_owned(), |d| format!("{:.1} µs", d.as_secs_f64() * 1e6))
    };
    let (ratio, verdict) = match (nginx_cpu, tollgate_cpu) {
        (Some(n), Some(t)) if !n.is_zero() => {
            let ratio = t.as_secs_f64() / n.as_secs_f64();
            (format!("{} ({ratio:.2}×)", us(Some(t))), mark(ratio <= CPU_RATIO))
        }
        _ => (us(tollgate_cpu), "not measured"),
    };
    let _ = writeln!(
        out,
        "| CPU per request at c={c} ≤ {CPU_RATIO}× nginx | {} | {ratio} | {verdict} |",
        us(nginx_cpu)
    );
    let rss = |f: &Option<Facts>| {
        f.as_ref()
            .and_then(|f| f.open_rss_mib)
            .map_or_else(|| "—".to_owned(), |v| format!("{v:.1} MiB"))
    };
    let verdict = match &tollgate {
        Some(Facts { open_rss_mib: Some(v), opened_all: true, .. }) => mark(*v < OPEN_RSS_MIB),
        Some(Facts { open_rss_mib: Some(_), opened_all: false, .. }) => {
            "❌ fail (not all streams opened)"
        }
        _ => "not measured",
    };
    let _ = writeln!(
        out,
        "| RSS with {} open streams < {OPEN_RSS_MIB} MiB | {} | {} | {verdict} |\n",
        thousands(s.open_streams as u64),
        rss(&nginx),
        rss(&tollgate)
    );

    // Notes.
    let notes: Vec<String> = outcomes
        .iter()
        .flat_map(|o| {
            let status = match &o.status {
                Status::Measured(_) => None,
                Status::Skipped(why) => Some(format!("skipped: {why}")),
                Status::Failed(why) => Some(format!("failed: {why}")),
            };
            status
                .into_iter()
                .chain(o.notes.iter().cloned())
                .map(move |n| format!("- {}: {n}", o.name))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "### Notes\n\n{}\n", notes.join("\n"));
    }

    let _ = writeln!(out, "### Method\n\n{METHOD}");
    out
}

const METHOD: &str = "\
- The mock upstream, inside the bench binary, answers `POST /v1/messages` from precomputed bytes: a \
~1 KB message, or a 11-event SSE stream (`message_start` … `message_stop`) sent chunked. The load \
generator is a hyper HTTP/1.1 client with one keep-alive connection per concurrent worker, sending \
~1 KB Anthropic Messages requests with `x-api-key`.
- The bench runs itself under `taskset` on the load core (mock and load generator, each on its own \
single-threaded tokio runtime); the proxy runs under `taskset` on the other core. With fewer than \
two CPUs, or `--no-pin`, nothing is pinned and the numbers are noisier.
- Latency is from sending the request to the last body byte; stream time to first byte is to the \
first body byte, and stream time to last byte to the end of `message_stop`, both at c=1. \"Added\" \
is the proxy's percentile minus the direct percentile, so it includes the extra hop's loopback and \
cross-core wake-ups, as any proxy pays. Counted phases stop after 30 s even if short of their count \
(the notes say so).
- CPU per request is the proxy's utime+stime (from `/proc/<pid>/stat`, all threads; nginx master + \
worker) over the concurrency-64 phase, divided by requests completed. The phase starts when the \
proxy is idle, and the count runs until it is idle again, so deferred work such as writing \
history is charged to the requests that caused it. \"CPU use\" is the proxy's CPU within the \
phase over its length: near 100% means the proxy set the throughput; well below means the load \
generator's core did.
- Memory is `VmRSS`/`VmHWM` from `/proc/<pid>/status` (nginx: master + worker summed). Open streams \
are held by the mock (`message_start`, then a ping every 5 s) and measured 1 s after all have their \
first event. \"Left open upstream\" counts mock-side streams still open 5 s after the clients hung up.
- nginx: `worker_processes 1`, upstream `keepalive 256`, `proxy_http_version 1.1`, \
`proxy_buffering off`, no access log. Tollgate: `tollgate serve` from the release build, \
`TOLLGATE_LOG=warn`, history recorded to SQLite in a temp data dir, as users run it.
";

/// Replaces our section of the Markdown file at `path` (creating the file if needed), keeping
/// every other section as it was.
pub fn write_section(path: &Path, section: &str) -> anyhow::Result<()> {
    let existing = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            "# Performance\n\nHow fast Tollgate is, and how we know.\n".to_owned()
        }
        Err(error) => return Err(error.into()),
    };
    let updated = splice(&existing, section);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, updated)?;
    Ok(())
}

fn splice(existing: &str, section: &str) -> String {
    let lines: Vec<&str> = existing.lines().collect();
    let section = section.trim_end();
    let Some(start) = lines.iter().position(|l| l.trim_end() == HEADING) else {
        return format!("{}\n\n{section}\n", existing.trim_end());
    };
    let end = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| l.starts_with("## "))
        .map_or(lines.len(), |(i, _)| i);
    let before = lines.get(..start).unwrap_or_default().join("\n");
    let after = lines.get(end..).unwrap_or_default().join("\n");
    let mut out = String::new();
    if !before.trim().is_empty() {
        out.push_str(before.trim_end());
        out.push_str("\n\n");
    }
    out.push_str(section);
    out.push('\n');
    if !after.trim().is_empty() {
        out.push('\n');
        out.push_str(after.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_our_section() {
        let doc = "# Performance\n\nIntro.\n\n## Other\n\nKeep.\n\n## Gateway load benchmark\n\nOld.\n\n### Sub\n\nOld too.\n\n## After\n\nKeep too.\n";
        let new = splice(doc, "## Gateway load benchmark\n\nNew.\n");
        assert_eq!(
            new,
            "# Performance\n\nIntro.\n\n## Other\n\nKeep.\n\n## Gateway load benchmark\n\nNew.\n\n## After\n\nKeep too.\n"
        );
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn splice_appends_when_missing() {
        let new = splice("# Performance\n\nIntro.\n", "## Gateway load benchmark\n\nNew.");
        assert_eq!(new, "# Performance\n\nIntro.\n\n## Gateway load benchmark\n\nNew.\n");
    }
}

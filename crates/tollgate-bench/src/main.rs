//! `tollgate-bench`: a load benchmark of Tollgate against a plain nginx reverse proxy and against
//! no proxy at all, each in front of the same fast mock upstream, with the proxy pinned to its own
//! core. A benchmark, not a test: it reports numbers and pass/fail marks against targets.
//!
//! # Layout
//! - `main.rs`: command line, pinning by re-exec under `taskset`, the run from start to report.
//! - `scenario.rs`: one scenario's phases and the numbers they produce.
//! - `load.rs`: the HTTP/1.1 load generator and its latency histograms.
//! - `mock.rs`: the fast mock upstream.
//! - `fixtures.rs`: precomputed request and response bodies.
//! - `proxy.rs`: nginx and Tollgate as child processes, and the guard that kills them.
//! - `procfs.rs`: CPU time, memory, affinity and machine facts from `/proc`.
//! - `report.rs`: the Markdown tables, targets, and the `docs/PERFORMANCE.md` section.

mod fixtures;
mod load;
mod mock;
mod procfs;
mod proxy;
mod report;
mod scenario;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use clap::{Parser, ValueEnum};

use crate::mock::Mock;
use crate::proxy::Proxy;
use crate::report::{Background, Outcome, RunInfo, Status};
use crate::scenario::{Measured, Settings};

/// Set in the re-executed bench so that it does not re-execute itself again.
const PINNED_ENV: &str = "TOLLGATE_BENCH_PINNED";

/// Load benchmark: Tollgate versus nginx versus no proxy, in front of a fast mock upstream.
///
/// The bench re-executes itself under `taskset -c <load-cpu>` (mock upstream and load generator)
/// and runs each proxy under `taskset -c <proxy-cpu>`. It needs the release Tollgate binary:
/// build it with `cargo build --release -p tollgate`. nginx comes from Debian's `nginx` package.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Rewrite the "Gateway load benchmark" section of this Markdown file with the results.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Tollgate binary [default: target/release/tollgate in this binary's target dir].
    #[arg(long)]
    tollgate_bin: Option<PathBuf>,
    /// Extra environment for Tollgate as KEY=VALUE; repeatable.
    #[arg(long = "tollgate-env", value_name = "KEY=VALUE", value_parser = parse_env)]
    tollgate_env: Vec<(String, String)>,
    /// nginx binary [default: nginx on PATH, then /usr/sbin/nginx].
    #[arg(long)]
    nginx_bin: Option<PathBuf>,
    /// Scenarios to run, in this order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "direct,nginx,tollgate")]
    scenarios: Vec<ScenarioKind>,
    /// Warm-up at full concurrency before measuring each scenario, in seconds.
    #[arg(long, default_value_t = 3.0)]
    warmup_secs: f64,
    /// Non-streaming requests timed at concurrency 1.
    #[arg(long, default_value_t = 10_000)]
    c1_requests: u64,
    /// Streams timed (to first byte) at concurrency 1.
    #[arg(long, default_value_t = 5_000)]
    stream_requests: u64,
    /// Concurrent keep-alive connections in the throughput phase.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Length of the throughput phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Streams held open at once for the memory measurement.
    #[arg(long, default_value_t = 1_000)]
    open_streams: usize,
    /// CPU for the bench itself (mock upstream and load generator).
    #[arg(long, default_value_t = 0)]
    load_cpu: usize,
    /// CPU for the proxy under test.
    #[arg(long, default_value_t = 1)]
    proxy_cpu: usize,
    /// Do not pin anything to CPUs (numbers get noisier).
    #[arg(long)]
    no_pin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScenarioKind {
    Direct,
    Nginx,
    Tollgate,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}

/// Where things run.
enum Pinning {
    On { load: usize, proxy: usize },
    Off(String),
}

impl Pinning {
    fn proxy_cpu(&self) -> Option<usize> {
        match self {
            Pinning::On { proxy, .. } => Some(*proxy),
            Pinning::Off(_) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Pinning::On { load, proxy } => {
                format!("proxy on CPU {proxy}; mock upstream and load generator on CPU {load}")
            }
            Pinning::Off(why) => format!("none ({why})"),
        }
    }
}

/// Progress lines go to stderr, so stdout carries only the report.
#[expect(clippy::print_stderr, reason = "progress for the person running the bench")]
pub fn progress(message: std::fmt::Arguments<'_>) {
    eprintln!("{message}");
}

#[expect(clippy::print_stdout, reason = "the report is this command's output")]
fn print_report(section: &str) {
    println!("{section}");
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let pinning = plan_pinning(&args)?;
    if let Some(code) = reexec_if_needed(&args, &pinning)? {
        return Ok(code);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        tokio::select! {
            result = run(&args, &pinning) => result,
            // Dropping `run` drops the proxy guards, which kill the children.
            signal = interrupted() => Err(anyhow!("interrupted by {}", signal?)),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn plan_pinning(args: &Args) -> anyhow::Result<Pinning> {
    if args.no_pin {
        return Ok(Pinning::Off("--no-pin".to_owned()));
    }
    let (load, proxy) = (args.load_cpu, args.proxy_cpu);
    let cpus = procfs::machine().cpus;
    if load == proxy || load.max(proxy) >= cpus {
        return Ok(Pinning::Off(format!(
            "pinning needs two distinct CPUs; asked for {load} and {proxy} on a {cpus}-CPU machine"
        )));
    }
    if which("taskset").is_none() {
        bail!("`taskset` is needed to pin CPUs: install util-linux, or pass --no-pin");
    }
    Ok(Pinning::On { load, proxy })
}

/// Re-runs the bench under `taskset` (and `prlimit`, if it needs more descriptors than the soft
/// limit allows) unless that is already the case. `Some(exit code)` when it did.
fn reexec_if_needed(args: &Args, pinning: &Pinning) -> anyhow::Result<Option<ExitCode>> {
    if std::env::var_os(PINNED_ENV).is_some() {
        return Ok(None);
    }
    // The bench holds both ends of every open stream when there is no proxy, plus slack.
    let needed_files = 2 * args.open_streams as u64 + 256;
    let (soft, hard) = procfs::open_files_limit()?;
    let mut command: Vec<OsString> = Vec::new();
    if soft < needed_files {
        if hard < needed_files || which("prlimit").is_none() {
            bail!(
                "{needed_files} open files are needed but the limit is {soft} (hard {hard}): \
                 raise it with `ulimit -n {needed_files}` or lower --open-streams"
            );
        }
        command.extend(["prlimit".into(), format!("--nofile={hard}:{hard}").into()]);
    }
    if let Pinning::On { load, .. } = pinning
        && procfs::allowed_cpus()? != [*load]
    {
        command.extend(["taskset".into(), "-c".into(), load.to_string().into()]);
    }
    if command.is_empty() {
        return Ok(None);
    }
    command.push(std::env::current_exe()?.into());
    command.extend(std::env::args_os().skip(1));
    let (program, rest) = command.split_first().ok_or_else(|| anyhow!("empty command"))?;
    let mut child = Command::new(program)
        .args(rest)
        .env(PINNED_ENV, "1")
        .spawn()
        .with_context(|| format!("re-running the bench under {}", program.to_string_lossy()))?;
    let pid = child.id();
    // A signal sent to this process alone (not to the terminal's process group) must still reach
    // the real bench, so that it stops its proxies.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let status = runtime.block_on(async move {
        let mut wait = tokio::task::spawn_blocking(move || child.wait());
        loop {
            tokio::select! {
                status = &mut wait => return anyhow::Ok(status??),
                signal = interrupted() => {
                    signal?;
                    proxy::signal(pid, "INT");
                }
            }
        }
    })?;
    Ok(Some(ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1))))
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
async fn interrupted() -> anyhow::Result<&'static str> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.map(|()| "SIGINT").map_err(Into::into),
        _ = terminate.recv() => Ok("SIGTERM"),
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| anyhow!("{flag} must be a number of seconds"))
}

async fn run(args: &Args, pinning: &Pinning) -> anyhow::Result<()> {
    let started = Instant::now();
    let cpu_at_start = cpu_snapshot();
    let settings = Settings {
        warmup: seconds(args.warmup_secs, "--warmup-secs")?,
        c1_requests: args.c1_requests,
        stream_requests: args.stream_requests,
        concurrency: args.concurrency.max(1),
        duration: seconds(args.duration_secs, "--duration-secs")?,
        open_streams: args.open_streams,
    };
    let wants = |kind| args.scenarios.contains(&kind);
    // Fail before measuring anything if the gateway is not built.
    let tollgate_bin = if wants(ScenarioKind::Tollgate) {
        Some(proxy::tollgate_binary(args.tollgate_bin.as_deref())?)
    } else {
        None
    };
    let nginx_bin = proxy::find_nginx(args.nginx_bin.as_deref());
    if cfg!(debug_assertions) {
        progress(format_args!(
            "warning: this is a debug build of the bench; its load generator is slow. \
             Use `cargo run --release -p tollgate-bench`."
        ));
    }
    progress(format_args!("pinning: {}", pinning.describe()));

    let mock = Mock::start()?;
    let mut outcomes = Vec::new();
    for &kind in &args.scenarios {
        let outcome = match kind {
            ScenarioKind::Direct => {
                progress(format_args!("direct (mock upstream at {})", mock.addr()));
                let result = scenario::measure(mock.addr(), None, &mock, &settings).await;
                outcome("direct", result, Vec::new())
            }
            ScenarioKind::Nginx => match &nginx_bin {
                None => {
                    let why = "nginx is not installed. Install it with `apt-get install -y nginx` \
                               (Debian/Ubuntu) or pass --nginx-bin PATH";
                    progress(format_args!("nginx: skipped: {why}"));
                    Outcome {
                        name: "nginx",
                        status: Status::Skipped(why.to_owned()),
                        notes: vec![],
                    }
                }
                Some(bin) => {
                    progress(format_args!("nginx ({})", bin.display()));
                    let started = proxy::start_nginx(bin, mock.addr(), pinning.proxy_cpu()).await;
                    proxied("nginx", started, &mock, &settings).await
                }
            },
            ScenarioKind::Tollgate => {
                let bin = tollgate_bin.as_deref().unwrap_or(Path::new("tollgate"));
                progress(format_args!("tollgate ({})", bin.display()));
                let started = proxy::start_tollgate(
                    bin,
                    mock.addr(),
                    pinning.proxy_cpu(),
                    &args.tollgate_env,
                )
                .await;
                proxied("tollgate", started, &mock, &settings).await
            }
        };
        if let Status::Failed(why) = &outcome.status {
            progress(format_args!("{}: failed: {why}", outcome.name));
        }
        outcomes.push(outcome);
    }
    drop(mock);
    // Every proxy has exited and been reaped by now, so its CPU time is in our children's.
    let background = background_load(cpu_at_start, started.elapsed());
    if let Some(load) = background
        && load.other > report::NOISY_BACKGROUND
    {
        progress(format_args!(
            "warning: other processes used {:.0}% of a CPU during the run; the numbers are noisy",
            load.other * 100.0
        ));
    }

    let info = RunInfo {
        command: command_line(),
        date: utc_now(),
        machine: procfs::machine(),
        pinning: pinning.describe(),
        nginx: nginx_bin
            .as_deref()
            .map_or_else(|| "nginx not installed".into(), proxy::nginx_version),
        revision: git_revision(),
        took: started.elapsed(),
        background,
        settings,
    };
    let section = report::section(&info, &outcomes);
    print_report(&section);
    let failed: Vec<_> =
        outcomes.iter().filter(|o| matches!(o.status, Status::Failed(_))).map(|o| o.name).collect();
    if let Some(out) = &args.out {
        if !failed.is_empty() {
            bail!("not writing {}: scenarios failed: {}", out.display(), failed.join(", "));
        }
        report::write_section(out, &section)
            .with_context(|| format!("writing {}", out.display()))?;
        progress(format_args!("wrote the results to {}", out.display()));
    } else if !failed.is_empty() {
        bail!("scenarios failed: {}", failed.join(", "));
    }
    progress(format_args!("the run took {:.0} s", started.elapsed().as_secs_f64()));
    Ok(())
}

/// Measures through a started proxy, then stops it and notes how it behaved.
async fn proxied(
    name: &'static str,
    started: anyhow::Result<Proxy>,
    mock: &Mock,
    settings: &Settings,
) -> Outcome {
    let mut proxy = match started {
        Ok(proxy) => proxy,
        Err(error) => {
            return Outcome { name, status: Status::Failed(format!("{error:#}")), notes: vec![] };
        }
    };
    let result = scenario::measure(proxy.addr, Some(&proxy), mock, settings).await;
    let mut notes = Vec::new();
    notes.push(match proxy.stop().await {
        Some(took) => format!("exited {:.0} ms after SIGTERM", took.as_secs_f64() * 1e3),
        None => "did not exit within 5 s of SIGTERM and was killed".to_owned(),
    });
    let data = proxy.data_bytes();
    if data > 0 {
        notes.push(format!(
            "data dir (history database) after the run: {:.1} MiB",
            data as f64 / 1048576.0
        ));
    }
    let log = proxy.log_lines();
    if !log.is_empty() {
        let first: Vec<_> = log.iter().take(3).map(|l| format!("`{}`", l.trim())).collect();
        notes.push(format!("{} log lines; first: {}", log.len(), first.join("; ")));
    }
    outcome(name, result, notes)
}

fn outcome(
    name: &'static str,
    result: anyhow::Result<Measured>,
    mut notes: Vec<String>,
) -> Outcome {
    let measured = match result {
        Ok(measured) => measured,
        Err(error) => return Outcome { name, status: Status::Failed(format!("{error:#}")), notes },
    };
    for (phase, label) in
        [(&measured.c1, "c=1"), (&measured.stream, "streams"), (&measured.loaded, "loaded")]
    {
        if let Some(error) = &phase.first_error {
            notes
                .insert(0, format!("{} errors in the {label} phase; first: {error}", phase.errors));
        }
        if phase.cut_short {
            let sent = phase.ok + phase.errors;
            notes.insert(
                0,
                format!("the {label} phase stopped at its time cap after {sent} requests"),
            );
        }
    }
    if let Some(process) = &measured.process {
        match process.drained_in {
            Some(took) if took >= Duration::from_millis(500) => notes.push(format!(
                "kept working {:.1} s after the loaded phase (deferred work such as history \
                 writes); that CPU is counted in CPU per request",
                took.as_secs_f64()
            )),
            Some(_) => {}
            None => notes.push(
                "was still busy 20 s after the loaded phase; CPU per request counts only those \
                 20 s of deferred work"
                    .to_owned(),
            ),
        }
    }
    let open = &measured.open;
    if open.opened < open.wanted {
        notes.insert(
            0,
            format!(
                "only {} of {} streams stayed open; first error: {}",
                open.opened,
                open.wanted,
                open.first_error.as_deref().unwrap_or("none")
            ),
        );
    }
    if open.upstream_open != open.opened {
        notes.push(format!(
            "{} streams were open at the client but {} at the mock upstream",
            open.opened, open.upstream_open
        ));
    }
    if open.upstream_left > 0 {
        notes.push(format!(
            "{} upstream streams were still open 5 s after their clients hung up: the proxy does \
             not cancel upstream requests whose client went away",
            open.upstream_left
        ));
    }
    Outcome { name, status: Status::Measured(Box::new(measured)), notes }
}

type CpuSnapshot = Option<(procfs::SystemCpu, Duration)>;

fn cpu_snapshot() -> CpuSnapshot {
    Some((procfs::system_cpu().ok()?, procfs::own_cpu_time_with_children().ok()?))
}

/// CPU used by everything except the bench and its children since `start`, in CPUs.
fn background_load(start: CpuSnapshot, wall: Duration) -> Option<Background> {
    let ((system_start, own_start), (system_end, own_end)) = (start?, cpu_snapshot()?);
    let wall = wall.as_secs_f64().max(f64::EPSILON);
    let system = system_end.busy.saturating_sub(system_start.busy);
    let own = own_end.saturating_sub(own_start);
    Some(Background {
        other: system.saturating_sub(own).as_secs_f64() / wall,
        steal: system_end.steal.saturating_sub(system_start.steal).as_secs_f64() / wall,
    })
}

/// `abc1234`, or `abc1234 with uncommitted changes`, for the repository the bench runs in.
fn git_revision() -> Option<String> {
    let git = |args: &[&str]| {
        let out = Command::new("git").args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{commit} with uncommitted changes") } else { commit })
}

/// How the run was invoked, as the command a user would type.
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .map(|arg| {
            if arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:".contains(c)) {
                arg
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect();
    let mut line = "cargo run --release -p tollgate-bench".to_owned();
    if !args.is_empty() {
        line.push_str(" -- ");
        line.push_str(&args.join(" "));
    }
    line
}

/// `2025-01-31 14:05 UTC`, without a date crate.
fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

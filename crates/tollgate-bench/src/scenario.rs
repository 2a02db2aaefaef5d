//! One scenario, start to end: warm-up, latency at concurrency 1, stream time to first byte,
//! throughput and CPU per request at concurrency 64, then memory with 1,000 streams held open.
//! Produces numbers only; turning them into tables is `report.rs`'s job.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::{self, Client, Kind, Phase, Until};
use crate::mock::Mock;
use crate::procfs::Memory;
use crate::progress;
use crate::proxy::Proxy;

/// Work a proxy defers past the response (Tollgate writing history) belongs to the requests that
/// caused it: the concurrency-64 phase starts once the proxy is idle and its CPU count ends once
/// it is idle again, waiting at most this long each time.
const IDLE_WAIT_MAX: Duration = Duration::from_secs(20);
/// The proxy is idle when it uses at most [`IDLE_CPU`] in this window. `/proc` counts CPU in
/// 10 ms ticks, so the window must span many ticks.
const IDLE_WINDOW: Duration = Duration::from_millis(250);
const IDLE_CPU: Duration = Duration::from_millis(10);
/// How long the open streams are left alone before memory is read.
const OPEN_STREAMS_SETTLE: Duration = Duration::from_secs(1);
/// How long to wait for all open streams to get their first event.
const OPEN_STREAMS_WAIT: Duration = Duration::from_secs(30);
/// How long a proxy gets to close its upstream streams once its clients have gone.
const CLOSE_PROPAGATION_WAIT: Duration = Duration::from_secs(5);
/// Streams in the warm-up, after the non-streaming part.
const WARMUP_STREAMS: u64 = 2_000;

/// The sizes of each phase, from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warmup: Duration,
    pub c1_requests: u64,
    pub stream_requests: u64,
    pub concurrency: usize,
    pub duration: Duration,
    pub open_streams: usize,
}

/// Everything measured in one scenario.
pub struct Measured {
    pub c1: Phase,
    pub stream: Phase,
    pub loaded: Phase,
    /// `None` for the direct scenario, which has no proxy process.
    pub process: Option<ProcessStats>,
    pub open: OpenStreams,
}

/// The proxy process's cost.
pub struct ProcessStats {
    pub idle: Memory,
    /// Memory after the load phases, just before the streams open.
    pub loaded: Memory,
    /// CPU time for the concurrency-64 phase, including deferred work until idle again.
    pub loaded_cpu: Duration,
    /// CPU time within the concurrency-64 phase itself.
    pub in_phase_cpu: Duration,
    /// How long the proxy kept working after the phase; `None` if it never went idle.
    pub drained_in: Option<Duration>,
    /// Memory with the open streams held.
    pub open: Memory,
    /// `VmHWM` at the end of the scenario: the peak over all phases.
    pub peak: Memory,
}

impl ProcessStats {
    /// CPU time per successful request at concurrency 64.
    pub fn cpu_per_request(&self, loaded: &Phase) -> Option<Duration> {
        (loaded.ok > 0).then(|| self.loaded_cpu.div_f64(loaded.ok as f64))
    }

    /// Share of one core the proxy used at concurrency 64; near 1.0 means the proxy, not the load
    /// generator, set the throughput.
    pub fn busy(&self, loaded: &Phase) -> f64 {
        self.in_phase_cpu.as_secs_f64() / loaded.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// The open-streams phase.
pub struct OpenStreams {
    pub wanted: usize,
    pub opened: usize,
    pub first_error: Option<String>,
    /// Held streams the mock saw while the clients held theirs.
    pub upstream_open: usize,
    /// Held streams still open at the mock [`CLOSE_PROPAGATION_WAIT`] after clients hung up.
    pub upstream_left: usize,
}

/// Runs every phase against `addr` (the mock itself, or a proxy in front of it).
pub async fn measure(
    addr: SocketAddr,
    proxy: Option<&Proxy>,
    mock: &Mock,
    settings: &Settings,
) -> anyhow::Result<Measured> {
    let begun = Instant::now();
    // Each line says when its phase started, so a slow phase shows as a gap.
    let step = |what: std::fmt::Arguments<'_>| {
        progress(format_args!("  {:6.1} s  {what}", begun.elapsed().as_secs_f64()));
    };
    let client = Arc::new(Client::new(addr)?);
    let idle = proxy.map(Proxy::memory).transpose()?;

    step(format_args!("warm-up ({:?} + {WARMUP_STREAMS} streams)", settings.warmup));
    load::run(&client, Kind::Message, settings.concurrency, Until::For(settings.warmup)).await?;
    load::run(&client, Kind::Stream, settings.concurrency, Until::Count(WARMUP_STREAMS)).await?;

    step(format_args!("latency at c=1 ({} requests)", settings.c1_requests));
    let c1 = load::run(&client, Kind::Message, 1, Until::Count(settings.c1_requests)).await?;

    step(format_args!("stream time to first byte ({} streams)", settings.stream_requests));
    let stream =
        load::run(&client, Kind::Stream, 1, Until::Count(settings.stream_requests)).await?;

    step(format_args!("throughput at c={} ({:?})", settings.concurrency, settings.duration));
    if let Some(proxy) = proxy {
        wait_idle(proxy).await?;
    }
    let cpu_before = proxy.map(Proxy::cpu_time).transpose()?;
    let loaded =
        load::run(&client, Kind::Message, settings.concurrency, Until::For(settings.duration))
            .await?;
    let cpu_at_end = proxy.map(Proxy::cpu_time).transpose()?;
    let drained_in = match proxy {
        Some(proxy) => wait_idle(proxy).await?,
        None => None,
    };
    let cpu_after = proxy.map(Proxy::cpu_time).transpose()?;
    let loaded_memory = proxy.map(Proxy::memory).transpose()?;

    step(format_args!("{} open streams", settings.open_streams));
    mock.set_hold(true);
    let held = load::open_streams(&client, settings.open_streams, OPEN_STREAMS_WAIT).await;
    tokio::time::sleep(OPEN_STREAMS_SETTLE).await;
    let open_memory = proxy.map(Proxy::memory).transpose();
    let upstream_open = mock.open_holds();
    let (opened, first_error) = (held.opened, held.first_error.clone());
    held.close().await;
    mock.set_hold(false);
    let closing = Instant::now();
    while mock.open_holds() > 0 && closing.elapsed() < CLOSE_PROPAGATION_WAIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let upstream_left = mock.open_holds();
    step(format_args!("done"));
    let open_memory = open_memory?;

    let process = match (proxy, idle, loaded_memory, cpu_before, cpu_at_end, cpu_after, open_memory)
    {
        (
            Some(proxy),
            Some(idle),
            Some(loaded),
            Some(before),
            Some(at_end),
            Some(after),
            Some(open),
        ) => Some(ProcessStats {
            idle,
            loaded,
            loaded_cpu: after.saturating_sub(before),
            in_phase_cpu: at_end.saturating_sub(before),
            drained_in,
            open,
            peak: proxy.memory()?,
        }),
        _ => None,
    };
    Ok(Measured {
        c1,
        stream,
        loaded,
        process,
        open: OpenStreams {
            wanted: settings.open_streams,
            opened,
            first_error,
            upstream_open,
            upstream_left,
        },
    })
}

/// Waits until `proxy` uses (almost) no CPU; how long that took, or `None` if it was still busy
/// after [`IDLE_WAIT_MAX`].
async fn wait_idle(proxy: &Proxy) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    let mut before = proxy.cpu_time()?;
    while started.elapsed() < IDLE_WAIT_MAX {
        tokio::time::sleep(IDLE_WINDOW).await;
        let now = proxy.cpu_time()?;
        if now.saturating_sub(before) <= IDLE_CPU {
            return Ok(Some(started.elapsed().saturating_sub(IDLE_WINDOW)));
        }
        before = now;
    }
    Ok(None)
}

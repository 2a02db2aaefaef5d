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

/// Time for work a proxy defers past the response (Tollgate writing history) to land in the CPU
/// count of the concurrency-64 phase.
const SETTLE: Duration = Duration::from_millis(500);
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
    /// CPU time spent in the concurrency-64 phase (plus [`SETTLE`]).
    pub loaded_cpu: Duration,
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
        self.loaded_cpu.as_secs_f64() / (loaded.elapsed + SETTLE).as_secs_f64()
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
    let cpu_before = proxy.map(Proxy::cpu_time).transpose()?;
    let loaded =
        load::run(&client, Kind::Message, settings.concurrency, Until::For(settings.duration))
            .await?;
    tokio::time::sleep(SETTLE).await;
    let cpu_after = proxy.map(Proxy::cpu_time).transpose()?;

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

    let process = match (proxy, idle, cpu_before, cpu_after, open_memory) {
        (Some(proxy), Some(idle), Some(before), Some(after), Some(open)) => Some(ProcessStats {
            idle,
            loaded_cpu: after.saturating_sub(before),
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

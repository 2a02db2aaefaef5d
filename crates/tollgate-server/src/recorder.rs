//! The write-behind history recorder. The request path appends each finished exchange to the
//! [`Journal`] and returns; one writer task tails the journal and writes batches to the store,
//! one transaction each, then advances the checkpoint.
//!
//! Nothing is dropped: a failed database write is retried with backoff while the journal keeps
//! the records on disk (the spool), and a record the journal itself could not take (disk full)
//! is kept in memory for the writer. On restart, whatever the journal holds past the checkpoint
//! is written first, in order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tollgate_store::{ExchangeLog, ExchangeRecord};

use crate::journal::{Journal, Resume};
use crate::metrics::Metrics;

/// Records per transaction. Larger batches amortise the commit; beyond a few hundred the gain is
/// small and the transaction holds the write lock longer.
const MAX_BATCH: usize = 256;
/// Under light load, how long the writer lets records gather before a transaction, so that
/// one request does not cost one transaction (and the thread hand-offs into the database
/// driver). History becomes visible this much later; `flush` skips the wait.
const LINGER: Duration = Duration::from_millis(20);
/// Pending journal bytes past which the writer does not linger.
const LINGER_BYTES: u64 = 512 * 1024;
/// The journal lag (bytes) past which a warning is logged: the database is behind.
const LAG_WARN_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    journal: Journal,
    /// Records the journal could not take, for the writer to write from memory.
    fallback: Mutex<Vec<ExchangeRecord>>,
    fallback_count: AtomicU64,
    /// Records written to the database since start (for the queue-depth gauge).
    records_written: AtomicU64,
    /// Logical journal offset written to the database so far.
    applied: watch::Sender<u64>,
    metrics: Metrics,
    /// Set by `flush`: write now, do not linger.
    urgent: std::sync::atomic::AtomicBool,
    /// Wakes a lingering writer (only `flush` fires it; every append fires the journal's).
    urgent_notify: tokio::sync::Notify,
}

impl Recorder {
    /// Opens the journal in `dir` and starts the writer.
    pub fn spawn(
        store: Arc<dyn ExchangeLog>,
        journal: Journal,
        resume: Resume,
        metrics: Metrics,
    ) -> (Self, JoinHandle<()>) {
        let (applied, _) = watch::channel(resume.applied);
        let inner = Arc::new(Inner {
            journal,
            fallback: Mutex::new(Vec::new()),
            fallback_count: AtomicU64::new(0),
            records_written: AtomicU64::new(0),
            applied,
            metrics,
            urgent: std::sync::atomic::AtomicBool::new(false),
            urgent_notify: tokio::sync::Notify::new(),
        });
        let task = tokio::spawn(writer(store, inner.clone(), resume));
        (Self { inner }, task)
    }

    /// Records an exchange. Returns once the record is in the journal (or, if the disk refuses
    /// it, in memory); never waits on the database.
    pub fn record(&self, record: ExchangeRecord) {
        let appended = self.inner.journal.append(&record);
        self.inner.metrics.set_spool_bytes(self.spool_bytes());
        if let Err(e) = appended {
            self.inner.metrics.inc_history_overflow();
            let n = self.inner.fallback_count.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(error = %e, held_in_memory = n, "history journal write failed; holding the record in memory");
            self.inner
                .fallback
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(record);
            self.inner.journal.notify.notify_one();
        }
    }

    /// Bytes in the journal not yet written to the database.
    pub fn spool_bytes(&self) -> u64 {
        self.inner.journal.written().saturating_sub(*self.inner.applied.borrow())
    }

    /// Records that had to be held in memory because the journal refused them.
    pub fn fallbacks(&self) -> u64 {
        self.inner.fallback_count.load(Ordering::Relaxed)
    }

    /// Waits until every record appended before this call is in the database.
    pub async fn flush(&self) {
        let target = self.inner.journal.written();
        let mut rx = self.inner.applied.subscribe();
        self.inner.urgent.store(true, Ordering::Release);
        self.inner.urgent_notify.notify_one();
        self.inner.journal.notify.notify_one();
        let _ = rx.wait_for(|applied| *applied >= target).await;
        loop {
            let empty = self.inner.fallback.lock().map(|f| f.is_empty()).unwrap_or(true);
            if empty {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn writer(store: Arc<dyn ExchangeLog>, inner: Arc<Inner>, resume: Resume) {
    let mut reader = match inner.journal.reader(resume.applied) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the history journal; history is not being written");
            return;
        }
    };
    // Two stages: while one batch is being written, the next is read and enriched (on a
    // blocking thread), so enrichment and the database use the two cores at once. One write is
    // in flight at a time, so batches land and are checkpointed in journal order.
    let mut inflight: Option<Inflight> = None;
    let mut warned_lag = false;
    loop {
        let notified = inner.journal.notify.notified();
        let fallback: Vec<ExchangeRecord> = std::mem::take(
            &mut *inner.fallback.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if !fallback.is_empty() {
            let fallback = enrich_all(fallback).await.unwrap_or_default();
            for chunk in fallback.chunks(MAX_BATCH) {
                write_with_retry(store.as_ref(), chunk).await;
            }
        }
        let mut target = inner.journal.written();
        if reader.applied < target
            && inflight.is_none()
            && target - reader.applied < LINGER_BYTES
            && !inner.urgent.load(Ordering::Acquire)
        {
            let _ = tokio::time::timeout(LINGER, inner.urgent_notify.notified()).await;
            target = inner.journal.written();
        }
        inner.urgent.store(false, Ordering::Release);
        if reader.applied < target {
            match reader.read_batch(target, MAX_BATCH) {
                Ok((batch, end)) => {
                    let start = std::mem::replace(&mut reader.applied, end);
                    let (_, batch) =
                        tokio::join!(settle(&inner, &mut reader, &mut inflight), enrich_all(batch));
                    let Some(batch) = batch else {
                        // Not written: read it again next time round.
                        reader.applied = start;
                        continue;
                    };
                    let records = batch.len() as u64;
                    let store = store.clone();
                    let task =
                        tokio::spawn(async move { write_with_retry(store.as_ref(), &batch).await });
                    inflight = Some(Inflight { task, end, records });
                }
                Err(e) => {
                    settle(&inner, &mut reader, &mut inflight).await;
                    tracing::error!(error = %e, "reading the history journal failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            let lag = inner.journal.written().saturating_sub(*inner.applied.borrow());
            if lag > LAG_WARN_BYTES && !warned_lag {
                tracing::warn!(
                    lag_bytes = lag,
                    "the history database is falling behind; records wait in the journal"
                );
                warned_lag = true;
            } else if lag == 0 {
                warned_lag = false;
            }
            continue;
        }
        settle(&inner, &mut reader, &mut inflight).await;
        if inner.journal.written() > reader.applied {
            continue;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
    }
}

/// A batch being written, and the journal offset just past it.
struct Inflight {
    task: JoinHandle<()>,
    end: u64,
    records: u64,
}

/// Waits for the batch in flight, then checkpoints it.
async fn settle(
    inner: &Inner,
    reader: &mut crate::journal::JournalReader,
    inflight: &mut Option<Inflight>,
) {
    let Some(Inflight { task, end, records }) = inflight.take() else { return };
    if let Err(e) = task.await {
        // write_with_retry only returns once written; a join error means the runtime is
        // shutting down, and the journal still holds the batch for the next start.
        tracing::warn!(error = %e, "history write interrupted; the journal keeps the records");
        return;
    }
    if let Err(e) = inner.journal.checkpoint(reader, end) {
        tracing::warn!(error = %e, "could not save the history checkpoint; a restart will re-write some records");
    }
    inner.applied.send_replace(end);
    inner.metrics.set_spool_bytes(inner.journal.written().saturating_sub(end));
    let written = inner.records_written.fetch_add(records, Ordering::Relaxed) + records;
    // Records appended since start and not yet in the database (a replay at startup counts
    // as written without having been appended, hence saturating).
    let depth = inner.journal.records_appended().saturating_sub(written);
    inner.metrics.set_queue_depth(usize::try_from(depth).unwrap_or(usize::MAX));
}

/// Enriches a batch on a blocking thread. A record whose enrichment panics is stored as far as
/// it got. `None` only when the blocking pool is gone (runtime shutdown).
async fn enrich_all(batch: Vec<ExchangeRecord>) -> Option<Vec<ExchangeRecord>> {
    let work = tokio::task::spawn_blocking(move || {
        let mut batch = batch;
        for r in &mut batch {
            let enriched =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| crate::enrich::enrich(r)));
            if enriched.is_err() {
                tracing::error!(id = %r.id, "history enrichment panicked; stored without it");
            }
        }
        batch
    });
    work.await.ok()
}

async fn write_with_retry(store: &dyn ExchangeLog, batch: &[ExchangeRecord]) {
    let mut delay = Duration::from_millis(100);
    loop {
        match store.append(batch).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), retry_in_ms = delay.as_millis() as u64, "history write failed; records stay in the journal and will be retried");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

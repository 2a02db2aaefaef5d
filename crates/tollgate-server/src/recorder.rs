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
    /// Logical journal offset written to the database so far.
    applied: watch::Sender<u64>,
    metrics: Metrics,
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
            applied,
            metrics,
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
    let mut warned_lag = false;
    loop {
        let notified = inner.journal.notify.notified();
        let fallback: Vec<ExchangeRecord> = std::mem::take(
            &mut *inner.fallback.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if !fallback.is_empty() {
            let mut fallback = fallback;
            fallback.iter_mut().for_each(crate::enrich::enrich);
            for chunk in fallback.chunks(MAX_BATCH) {
                write_with_retry(store.as_ref(), chunk).await;
            }
        }
        let target = inner.journal.written();
        if reader.applied < target {
            match reader.read_batch(target, MAX_BATCH) {
                Ok((mut batch, end)) => {
                    batch.iter_mut().for_each(crate::enrich::enrich);
                    if !batch.is_empty() {
                        write_with_retry(store.as_ref(), &batch).await;
                    }
                    reader.applied = end;
                    if let Err(e) = inner.journal.checkpoint(&mut reader) {
                        tracing::warn!(error = %e, "could not save the history checkpoint; a restart will re-write some records");
                    }
                    inner.applied.send_replace(end);
                    inner.metrics.set_spool_bytes(inner.journal.written().saturating_sub(end));
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading the history journal failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            let lag = inner.journal.written().saturating_sub(reader.applied);
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
        let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
    }
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

//! The write-behind history recorder. The request path hands records to a bounded queue and
//! never waits on the database; one writer task drains it in batches, one transaction each.
//!
//! Nothing is dropped: when the queue is full the record is handed to a task that waits for
//! room (and the overflow is counted and logged), and when the database fails the writer keeps
//! the batch and retries with backoff. (A durable spool for a database that stays down is the
//! history issue's to add.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tollgate_store::{ExchangeLog, ExchangeRecord};

/// Records buffered before the request path has to hand off to overflow tasks. At ~4 KB a record
/// this is ~32 MB at worst, and absorbs several seconds of a stalled disk at thousands of req/s.
const QUEUE_CAPACITY: usize = 8192;
/// Records per transaction. Larger batches amortise SQLite's commit; beyond a few hundred the
/// gain is small and the transaction holds the write lock longer.
const MAX_BATCH: usize = 256;

enum Msg {
    Record(Box<ExchangeRecord>),
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    overflowed: Arc<AtomicU64>,
}

impl Recorder {
    pub fn spawn(store: Arc<dyn ExchangeLog>) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(writer(store, rx));
        (Self { tx, overflowed: Arc::new(AtomicU64::new(0)) }, task)
    }

    /// Queues a record. Never blocks and never drops.
    pub fn record(&self, record: ExchangeRecord) {
        match self.tx.try_send(Msg::Record(Box::new(record))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let n = self.overflowed.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        overflowed = n,
                        "history queue full; records wait in overflow tasks"
                    );
                }
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(msg).await;
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("history writer has stopped; a record could not be queued");
            }
        }
    }

    /// Records that had to wait for queue space since start.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Records currently queued.
    pub fn depth(&self) -> usize {
        QUEUE_CAPACITY - self.tx.capacity()
    }

    /// Waits until every record queued before this call is written.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

async fn writer(store: Arc<dyn ExchangeLog>, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<ExchangeRecord> = Vec::with_capacity(MAX_BATCH);
    let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(r) => batch.push(*r),
                Msg::Flush(ack) => acks.push(ack),
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            write_with_retry(store.as_ref(), &batch).await;
            batch.clear();
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

async fn write_with_retry(store: &dyn ExchangeLog, batch: &[ExchangeRecord]) {
    let mut delay = Duration::from_millis(100);
    loop {
        match store.append(batch).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), retry_in_ms = delay.as_millis() as u64, "history write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

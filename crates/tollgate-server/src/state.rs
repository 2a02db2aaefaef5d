//! Shared state: configuration, providers, the routing catalog, the upstream client, keys, the
//! recorder, and the in-flight tracker that graceful shutdown drains.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tollgate_config::Config;
use tollgate_providers::{Provider, UpstreamClient};
use tollgate_routing::Catalog;
use tollgate_store::Store;

use crate::auth::KeyRing;
use crate::metrics::Metrics;
use crate::recorder::Recorder;

pub struct AppState {
    pub config: Config,
    pub providers: Vec<Provider>,
    /// Swapped whole when discovery learns new model lists; readers clone the `Arc`.
    pub catalog: RwLock<Arc<Catalog>>,
    pub health: Vec<RwLock<ProviderHealth>>,
    pub client: UpstreamClient,
    pub keys: KeyRing,
    pub recorder: Recorder,
    pub store: Arc<dyn Store>,
    pub in_flight: InFlight,
    pub metrics: Metrics,
    /// Sessions whose title call failed recently ([`crate::titles`]).
    pub titles: crate::titles::Backoff,
    /// What translation keeps between turns ([`crate::translate::memory`]).
    pub translation: crate::translate::memory::Memory,
    /// Routing's health, load and session memory ([`crate::routing`]).
    pub router: crate::routing::Router,
}

impl AppState {
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// What the last probe of a provider found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProviderHealth {
    /// Not probed yet.
    #[default]
    Unknown,
    Up,
    Down(String),
}

/// Counts exchanges in flight and tells them when the gateway is shutting down.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
    shutting_down: AtomicBool,
    cancel: CancellationToken,
}

impl InFlight {
    pub fn start(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    pub fn end(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Ends every open stream with an error event (after the grace period).
    pub fn cancel_all(&self) {
        self.cancel.cancel();
    }

    pub fn cancelled(&self) -> WaitForCancellationFutureOwned {
        self.cancel.clone().cancelled_owned()
    }

    /// Waits until nothing is in flight.
    pub async fn drained(&self) {
        loop {
            let notified = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

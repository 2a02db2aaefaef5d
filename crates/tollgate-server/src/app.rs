//! The gateway as a value: built from a validated config and a store, served on a listener,
//! shut down gracefully.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tollgate_config::Config;
use tollgate_providers::{Provider, UpstreamClient};
use tollgate_routing::{Catalog, ProviderEntry};
use tollgate_store::Store;

use crate::auth::KeyRing;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::recorder::Recorder;
use crate::state::{AppState, InFlight, ProviderHealth};
use crate::{discovery, routes};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Header(#[from] tollgate_providers::provider::BadHeader),
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot open the history journal in {path}: {source}")]
    Journal { path: String, source: std::io::Error },
}

pub struct Gateway {
    state: Arc<AppState>,
    writer: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

/// After the grace period, streams still open get this long to send their error event.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// The routing catalog a config describes, before any probe has run (no discovered models,
/// providers not yet known up or down). Also what `tollgate route explain` plans with.
pub fn catalog(config: &Config) -> Catalog {
    Catalog {
        providers: config
            .providers
            .iter()
            .map(|p| ProviderEntry {
                name: p.name.clone(),
                dialects: std::iter::once(p.dialect())
                    .chain(p.preset.also_speaks.iter().copied())
                    .map(tollgate_wire::Dialect::as_str)
                    .collect(),
                models: p.models.clone(),
                discovered: Vec::new(),
                patterns: p.preset.model_patterns.iter().map(|s| (*s).to_owned()).collect(),
                local: p.local,
                up: None,
                status: Default::default(),
            })
            .collect(),
        aliases: config.routing.aliases.clone(),
        settings: config.routing.settings.clone(),
    }
}

impl Gateway {
    /// Builds the gateway and starts its background tasks (history writer, provider probes).
    pub fn new(config: Config, store: Arc<dyn Store>) -> Result<Self, BuildError> {
        let providers: Vec<Provider> =
            config.providers.iter().map(Provider::from_config).collect::<Result<_, _>>()?;
        let catalog = catalog(&config);
        let client = UpstreamClient::new(&config.timeouts)?;
        let keys = KeyRing::new(config.master_key.as_ref(), &config.keys);
        let seal_secret =
            config.master_key.as_ref().map(|k| k.expose().as_bytes().to_vec()).unwrap_or_default();
        let metrics = Metrics::new();
        let journal_dir = config.data_dir.join("spool");
        let (journal, resume) = Journal::open(&journal_dir).map_err(|source| {
            BuildError::Journal { path: journal_dir.display().to_string(), source }
        })?;
        let (recorder, writer) = Recorder::spawn(store.clone(), journal, resume, metrics.clone());
        let health = providers.iter().map(|_| RwLock::new(ProviderHealth::Unknown)).collect();
        let config_routing = config.routing.clone();
        let state = Arc::new(AppState {
            config,
            providers,
            catalog: RwLock::new(Arc::new(catalog)),
            health,
            client,
            keys,
            recorder,
            store,
            in_flight: InFlight::default(),
            metrics,
            titles: crate::titles::Backoff::default(),
            translation: crate::translate::memory::Memory::new(&seal_secret),
            router: crate::routing::Router::new(&config_routing),
        });
        let mut background = discovery::spawn(state.clone());
        background.push(crate::routing::spawn_seed(state.clone()));
        background.extend(crate::retention::spawn(state.clone()));
        background.extend(crate::titles::spawn(state.clone()));
        Ok(Self { state, writer, background })
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    pub fn router(&self) -> Router {
        routes::router(self.state.clone())
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests and
    /// streams finish for the configured grace period, ends the rest with an error event, and
    /// writes every pending history record before returning.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let signal_state = state.clone();
        let signal = async move {
            shutdown.await;
            signal_state.in_flight.begin_shutdown();
            let _ = started_tx.send(());
        };
        // Small SSE frames must go out as they are written: with Nagle's algorithm on, a frame
        // waits for the client's delayed ACK (40 ms on Linux).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, self.router()).with_graceful_shutdown(signal);
        let mut server = pin!(server.into_future());
        tokio::select! {
            r = &mut server => r?,
            _ = started_rx => {
                let grace = state.config.shutdown_grace;
                tracing::info!(in_flight = state.in_flight.count(), grace_s = grace.as_secs_f64(), "shutting down: draining in-flight requests");
                let drained = tokio::time::timeout(grace, async {
                    let _ = (&mut server).await;
                    state.in_flight.drained().await;
                })
                .await;
                if drained.is_err() {
                    tracing::warn!(in_flight = state.in_flight.count(), "grace period over; ending open streams");
                    state.in_flight.cancel_all();
                    let _ = tokio::time::timeout(CANCEL_GRACE, state.in_flight.drained()).await;
                }
            }
        }
        for task in &self.background {
            task.abort();
        }
        state.recorder.flush().await;
        drop(self.writer);
        tracing::info!("stopped");
        Ok(())
    }
}

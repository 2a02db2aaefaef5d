//! The gateway server: HTTP in, providers out.
//!
//! # Layout
//! - [`app`]: [`Gateway`]: build from config, serve, shut down gracefully.
//! - [`routes`]: axum routes; handlers only extract and call the pipeline.
//! - [`pipeline`]: the request path, top-down: authenticate, validate, route, send, relay.
//! - [`relay`]: same-dialect stream passthrough in whole frames, metered beside the bytes; the
//!   driver both relays share (idle timeout, shutdown, keep-alive).
//! - [`translate`]: the path when client and provider speak different dialects: forward, the
//!   translating relay, and what is kept between turns.
//! - [`exchange`]: the per-request guard that logs the request line and records history once.
//! - [`journal`]: the append-only history journal (queue and spool in one).
//! - [`recorder`]: appends finished exchanges to the journal; its writer tails it into the store.
//! - [`enrich`]: session, reconstructed message, search text and cost, added by the writer.
//! - [`error`]: the error table and rendering in the caller's dialect.
//! - [`auth`]: gateway keys, compared in constant time.
//! - [`headers`]: which headers cross the gateway, each way.
//! - [`discovery`]: background provider probes (model lists, health).
//! - [`retention`]: the background task that drops old history bodies (`[history] retention`)
//!   and week-old translation state.
//! - [`titles`]: the background task that titles quiet sessions (`[history] title_model`).
//! - [`metrics`]: Prometheus metrics, named once, and `GET /metrics`.
//! - [`telemetry`]: OpenTelemetry trace export (OTLP/HTTP) and the per-request span.
//! - [`state`]: shared state and the in-flight tracker.
//! - [`bootstrap`]: first-run master key.
//! - [`clock`]: wall-clock milliseconds for stored timestamps.
//! - [`routing`]: routing's memory between requests (breakers, load, measured success, session
//!   deployments) and the success-signal judge; the decisions themselves are tollgate-routing's.
//!
//! What must not live here: dialect knowledge (tollgate-wire), routing decisions
//! (tollgate-routing), provider specifics (tollgate-providers), SQL (tollgate-store).

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod discovery;
pub mod enrich;
pub mod error;
pub mod exchange;
pub mod headers;
pub mod journal;
pub mod metrics;
pub mod pipeline;
pub mod recorder;
pub mod relay;
pub mod retention;
pub mod routes;
pub mod routing;
pub mod state;
pub mod telemetry;
pub mod titles;
pub mod translate;

pub use app::{BuildError, Gateway, catalog};

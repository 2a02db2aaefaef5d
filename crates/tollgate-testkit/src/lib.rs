//! Test support: mock upstreams that speak each provider's wire format from recorded fixtures,
//! and [`TestGateway`], the whole gateway in-process on a random port in front of them.
//!
//! # Layout
//! - [`mock`]: [`MockUpstream`], scripted with [`Behaviour`]s; fixtures under `fixtures/`.
//! - [`gateway`]: [`TestGateway`] with domain helpers for requests and history.

pub mod gateway;
pub mod mock;
pub use gateway::TestGateway;
pub use mock::{Behaviour, MockUpstream, RecordedRequest};

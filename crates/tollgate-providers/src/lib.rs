//! Providers: where requests go and how they are sent.
//!
//! A provider is data (see `tollgate_config::presets`): a dialect, a base URL, an auth scheme and
//! a key. This crate turns that into upstream requests, owns the one pooled HTTP client, and
//! classifies upstream failures by whose fault they are and whether a retry could help.
//!
//! # Layout
//! - [`provider`]: [`Provider`], endpoint URLs and request preparation.
//! - [`client`]: [`UpstreamClient`], the pooled reqwest client with connect and first-byte
//!   timeouts.
//! - [`classify`]: upstream status + body -> [`UpstreamFailure`].
//! - [`quirks`]: per-provider and per-model request transforms, as a table.

pub mod classify;
pub mod client;
pub mod provider;
pub mod quirks;

pub use classify::{FailureKind, UpstreamFailure, classify};
pub use client::{SendError, UpstreamClient};
pub use provider::{Endpoint, Provider};

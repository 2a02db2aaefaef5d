//! Integration tests: the whole gateway in-process on a random port, against mock upstreams that
//! speak each provider's wire format. One binary, modules by area.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on unexpected shapes")]

mod conformance;
mod errors;
mod front_door;
mod history;
mod lifecycle;
mod metrics;
mod openai;
mod outage;
mod routing;
mod translation;

//! placeholder

pub mod mock;
pub use mock::{Behaviour, MockUpstream, RecordedRequest};

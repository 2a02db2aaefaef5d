//! Retry timing: exponential backoff with full jitter, capped, and `retry-after` honoured.

use std::time::Duration;

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Retries on one deployment before moving to the next (0: no retry).
    pub retries: u32,
    /// The first backoff; doubled each retry.
    pub base: Duration,
    /// No single wait is longer than this (a `retry-after` beyond it moves on to the next
    /// deployment instead of waiting).
    pub max: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { retries: 1, base: Duration::from_millis(250), max: Duration::from_secs(5) }
    }
}

impl RetryConfig {
    /// How long to wait before retry number `attempt` (1 for the first retry), given a random
    /// `u64` for the jitter and the upstream's `retry-after` if it sent one. `None`: do not retry
    /// on this deployment (out of retries, or `retry-after` longer than `max`).
    pub fn backoff(
        &self,
        attempt: u32,
        random: u64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let _ = (attempt, random, retry_after);
        None
    }
}

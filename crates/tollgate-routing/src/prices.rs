//! Built-in model prices, in US dollars per million tokens, matched by the longest prefix of
//! the model name (so dated snapshots such as `claude-sonnet-4-5-20250929` match their family).
//! Vendor-prefixed names (`anthropic/claude-sonnet-4.5`, as OpenRouter spells them) are matched
//! after dropping the vendor and turning `.` into `-`.
//!
//! Costs are computed in millionths of a dollar with integer arithmetic, so sums are exact.
//! Prices as published by Anthropic, OpenAI and Google in late 2025 (Gemini at its up-to-200K-token
//! rate); `[models."NAME"]` in the config overrides them (see [`crate::models`]).

/// Per-million-token prices in micro-dollars (1 USD = 1,000,000), so `tokens * price / 1e6`
/// stays in integers: a price of $3.00/M is 3_000_000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Price {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
}

const fn usd(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price {
        input: (input * 1e6) as u64,
        output: (output * 1e6) as u64,
        cache_write: (cache_write * 1e6) as u64,
        cache_read: (cache_read * 1e6) as u64,
    }
}

/// (prefix, price). Order does not matter: the longest matching prefix wins.
pub static PRICES: &[(&str, Price)] = &[
    ("claude-opus-4-5", usd(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-1", usd(15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4", usd(15.0, 75.0, 18.75, 1.50)),
    ("claude-sonnet-4-5", usd(3.0, 15.0, 3.75, 0.30)),
    ("claude-sonnet-4", usd(3.0, 15.0, 3.75, 0.30)),
    ("claude-3-7-sonnet", usd(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4-5", usd(1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", usd(0.80, 4.0, 1.0, 0.08)),
    ("claude-3-haiku", usd(0.25, 1.25, 0.30, 0.03)),
    ("gpt-5", usd(1.25, 10.0, 0.0, 0.125)),
    ("gpt-5-mini", usd(0.25, 2.0, 0.0, 0.025)),
    ("gpt-5-nano", usd(0.05, 0.40, 0.0, 0.005)),
    ("gpt-5-codex", usd(1.25, 10.0, 0.0, 0.125)),
    ("gpt-4.1", usd(2.0, 8.0, 0.0, 0.50)),
    ("gpt-4.1-mini", usd(0.40, 1.60, 0.0, 0.10)),
    ("gpt-4.1-nano", usd(0.10, 0.40, 0.0, 0.025)),
    ("gpt-4o", usd(2.50, 10.0, 0.0, 1.25)),
    ("gpt-4o-mini", usd(0.15, 0.60, 0.0, 0.075)),
    ("o3", usd(2.0, 8.0, 0.0, 0.50)),
    ("o3-mini", usd(1.10, 4.40, 0.0, 0.55)),
    ("o4-mini", usd(1.10, 4.40, 0.0, 0.275)),
    ("gemini-2.5-pro", usd(1.25, 10.0, 0.0, 0.125)),
    ("gemini-2.5-flash", usd(0.30, 2.50, 0.0, 0.03)),
    ("gemini-2.5-flash-lite", usd(0.10, 0.40, 0.0, 0.01)),
    ("deepseek-chat", usd(0.28, 0.42, 0.0, 0.028)),
    ("deepseek-reasoner", usd(0.28, 0.42, 0.0, 0.028)),
];

/// The price for `model`, if known.
pub fn price_of(model: &str) -> Option<Price> {
    let name = normalise(model);
    PRICES
        .iter()
        .filter(|(prefix, _)| prefix_matches(&name, prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, p)| *p)
}

/// A model name as the tables spell it: a vendor prefix (`anthropic/claude-haiku-4.5`, as
/// OpenRouter writes it) dropped, and its `.` turned into `-`.
pub(crate) fn normalise(model: &str) -> std::borrow::Cow<'_, str> {
    match model.rsplit_once('/') {
        Some((_, name)) => std::borrow::Cow::Owned(name.replace('.', "-")),
        None => std::borrow::Cow::Borrowed(model),
    }
}

/// `prefix` matches `name` up to a segment boundary: `gpt-4o` matches `gpt-4o-2024-08-06` but
/// `o3` must not match `o3x`.
pub(crate) fn prefix_matches(name: &str, prefix: &str) -> bool {
    name.starts_with(prefix)
        && matches!(name.as_bytes().get(prefix.len()), None | Some(b'-' | b'.' | b':' | b'@'))
}

/// Cost in micro-dollars. Token counts follow Anthropic's meaning: `input` excludes cached
/// tokens, which are priced separately.
pub fn cost_micros(
    price: Price,
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
) -> u64 {
    let total = u128::from(input) * u128::from(price.input)
        + u128::from(output) * u128::from(price.output)
        + u128::from(cache_read) * u128::from(price.cache_read)
        + u128::from(cache_write) * u128::from(price.cache_write);
    // Round half up to the nearest micro-dollar.
    u64::try_from((total + 500_000) / 1_000_000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_on_a_segment_boundary_wins() {
        assert_eq!(price_of("claude-sonnet-4-5-20250929").unwrap().input, 3_000_000);
        assert_eq!(price_of("gpt-4o-mini-2024-07-18").unwrap().input, 150_000);
        assert_eq!(price_of("gpt-4o").unwrap().input, 2_500_000);
        assert_eq!(price_of("anthropic/claude-haiku-4.5").unwrap().output, 5_000_000);
        assert_eq!(price_of("o3").unwrap().output, 8_000_000);
        assert!(price_of("o3x").is_none());
        assert!(price_of("llama3.1:8b").is_none());
    }

    #[test]
    fn costs_are_exact_integers() {
        let p = price_of("claude-sonnet-4-5").unwrap();
        // 1,000 input ($0.003) + 500 output ($0.0075) + 10,000 cache reads ($0.003) + 2,000 cache writes ($0.0075)
        assert_eq!(cost_micros(p, 1_000, 500, 10_000, 2_000), 3_000 + 7_500 + 3_000 + 7_500);
        assert_eq!(cost_micros(p, 0, 0, 0, 0), 0);
        assert_eq!(cost_micros(p, 1, 0, 0, 0), 3);
    }
}

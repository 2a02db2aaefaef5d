//! Tool-call ids across dialects. Anthropic wants `tool_use.id` to match `^[a-zA-Z0-9_-]+$`;
//! OpenAI-style ids are opaque (`call_...`, and some providers send `functions.bash:0` or none at
//! all). [`sanitize`] is deterministic and collision-safe, and it is applied to a call's id and to
//! the id its result refers to alike, so the pair still matches.

use sha2::{Digest, Sha256};

/// Whether `id` is already valid for the strictest dialect (Anthropic).
pub fn is_clean(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A clean id for `id`: unchanged when already clean; otherwise every other character becomes `_`
/// and a short digest of the original is appended, so two ids that differ only in replaced
/// characters (`a.b`, `a:b`) stay distinct. The empty id becomes `toolu_` plus the digest of
/// nothing, which callers avoid by assigning ids first ([`fallback`]).
pub fn sanitize(id: &str) -> String {
    if is_clean(id) {
        return id.to_owned();
    }
    let mut out: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .collect();
    if out.is_empty() {
        out.push_str("toolu");
    }
    out.push('_');
    out.push_str(&digest(id));
    out
}

/// An id for a call the provider sent without one (Gemini): stable for the same response id and
/// position, so a replayed stream gets the same ids.
pub fn fallback(response_id: &str, position: usize) -> String {
    format!("toolu_{}", digest(&format!("{response_id}#{position}")))
}

fn digest(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_ids_pass_unchanged() {
        assert_eq!(sanitize("toolu_01A09q90qw90lq917835lq9"), "toolu_01A09q90qw90lq917835lq9");
        assert_eq!(sanitize("call_abc-DEF"), "call_abc-DEF");
    }

    #[test]
    fn dirty_ids_are_cleaned_and_stay_distinct() {
        let a = sanitize("functions.bash:0");
        let b = sanitize("functions:bash.0");
        assert!(is_clean(&a) && is_clean(&b));
        assert!(a.starts_with("functions_bash_0_"));
        assert_ne!(a, b);
        assert_eq!(a, sanitize("functions.bash:0"), "deterministic");
        assert!(is_clean(&sanitize("")));
    }

    #[test]
    fn fallback_ids_are_stable_and_clean() {
        assert_eq!(fallback("r1", 0), fallback("r1", 0));
        assert_ne!(fallback("r1", 0), fallback("r1", 1));
        assert!(is_clean(&fallback("r1", 0)));
    }
}

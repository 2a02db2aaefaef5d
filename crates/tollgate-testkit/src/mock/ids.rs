//! Ids in each provider's style (`msg_01…`, `toolu_01…`, `req_011C…`, `chatcmpl-…`, `call_…`),
//! unique within the process, plus the clock helpers the responses need (unix seconds, RFC 3339).
//! Not cryptographic and not meant to be: they only need to look real and never repeat.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";

/// `msg_01…` (24 characters after the prefix, as the API's own ids).
pub(crate) fn anthropic_message_id() -> String {
    format!("msg_01{}", random_chars(BASE58, 22))
}

/// `toolu_01…`.
pub(crate) fn anthropic_tool_use_id() -> String {
    format!("toolu_01{}", random_chars(BASE58, 22))
}

/// `req_011C…`, the shape of the `request-id` header and the `request_id` field of errors.
pub(crate) fn anthropic_request_id() -> String {
    format!("req_011C{}", random_chars(BASE58, 20))
}

/// `chatcmpl-…` (29 characters after the prefix).
pub(crate) fn openai_completion_id() -> String {
    format!("chatcmpl-{}", random_chars(BASE62, 29))
}

/// `call_…` (24 characters after the prefix).
pub(crate) fn openai_call_id() -> String {
    format!("call_{}", random_chars(BASE62, 24))
}

/// `req_` + 32 hex digits, the shape of OpenAI's `x-request-id`.
pub(crate) fn openai_request_id() -> String {
    format!("req_{}", random_chars(HEX, 32))
}

/// A Gemini `responseId` (23 URL-safe base64 characters, as the API's).
pub(crate) fn gemini_response_id() -> String {
    const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    random_chars(BASE64URL, 23)
}

pub(crate) fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a unix time, as Anthropic's `…-reset` rate-limit headers.
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn random_chars(alphabet: &[u8], len: usize) -> String {
    let mut state = next_seed();
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        state = splitmix64(state);
        let index = usize::try_from(state % alphabet.len() as u64).unwrap_or_default();
        out.push(char::from(alphabet[index]));
    }
    out
}

fn next_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos() & u128::from(u64::MAX)).unwrap_or_default())
            .unwrap_or_default()
    });
    splitmix64(start ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_727_895_263), "2024-10-02T18:54:23Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn ids_have_the_provider_shapes_and_do_not_repeat() {
        let a = anthropic_message_id();
        assert!(a.starts_with("msg_01") && a.len() == 28, "{a}");
        assert_ne!(a, anthropic_message_id());
        assert_eq!(openai_request_id().len(), 36);
        assert!(openai_call_id().starts_with("call_"));
    }
}

//! Retry timing: capped exponential backoff with equal jitter, and `retry-after` honoured.
//!
//! Also the two questions around it: which upstream statuses are worth retrying
//! ([`retryable_status`]) and how long an upstream's `retry-after` header asks to wait
//! ([`parse_retry_after`]).

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
        Self { retries: 0, base: Duration::from_millis(250), max: Duration::from_secs(5) }
    }
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

fn from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below 10^9, so it fits.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, sub)
}

impl RetryConfig {
    /// How long to wait before retry number `attempt` (1 for the first retry), given a random
    /// `u64` for the jitter and the upstream's `retry-after` if it sent one. `None`: do not retry
    /// on this deployment (out of retries, or `retry-after` longer than `max`).
    ///
    /// The rule:
    /// - `attempt > retries`: `None`. An `attempt` of 0 counts as the first retry.
    /// - The cap is `min(max, base * 2^(attempt - 1))`, computed without overflow (a huge
    ///   `attempt` just gives `max`).
    /// - Equal jitter: the wait is uniform in `[cap / 2, cap]` (to the nanosecond), chosen by
    ///   `random % (span + 1)`. Half the wait is fixed so that many clients backing off at once
    ///   spread out without any of them retrying immediately.
    /// - With a `retry-after`: longer than `max` gives `None` (the caller moves on to the next
    ///   deployment instead of waiting); otherwise the wait is the larger of the `retry-after`
    ///   and the jittered backoff, so the upstream's request is always honoured and the wait is
    ///   still never longer than `max`.
    pub fn backoff(
        &self,
        attempt: u32,
        random: u64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let attempt = attempt.max(1);
        if attempt > self.retries {
            return None;
        }
        if retry_after.is_some_and(|ra| ra > self.max) {
            return None;
        }
        let base = self.base.as_nanos();
        let max = self.max.as_nanos();
        let shift = attempt - 1;
        // base < 2^95 (u64 seconds in nanoseconds), so a shift of 64 or more exceeds any `max`.
        let exp = if base == 0 {
            0
        } else if shift >= 64 {
            u128::MAX
        } else {
            base.saturating_mul(1u128 << shift)
        };
        let cap = exp.min(max);
        let low = cap / 2;
        let span = cap - low;
        let jittered = low + u128::from(random) % (span + 1);
        let wait = from_nanos(jittered);
        Some(retry_after.map_or(wait, |ra| ra.max(wait)))
    }
}

/// Whether an upstream status is worth another attempt (on the same deployment after a
/// backoff, or on the next one).
///
/// Retryable: 408 (request timeout), 425 (too early), 429 (rate limited), and every 5xx
/// (including 500, 502, 503, 504 and Anthropic's 529 "overloaded") except 501 (not
/// implemented) and 505 (HTTP version not supported), which another try will not fix. Other
/// 4xx (409 included) are the request's own fault and are not retried.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429)
        || ((500..=599).contains(&status) && !matches!(status, 501 | 505))
}

/// Parses a `retry-after` header value: delta-seconds (`"120"`, or a decimal such as `"1.5"`,
/// which some APIs send) or an HTTP-date in the IMF-fixdate format
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), the latter relative to `now_unix_s`.
///
/// A negative delay or a date in the past gives [`Duration::ZERO`]. Anything else (the obsolete
/// RFC 850 and asctime date formats, exponents, `inf`, garbage) gives `None`. Surrounding
/// whitespace is ignored; fractional digits beyond nanoseconds are ignored; an absurdly large
/// delay saturates at `u64::MAX` seconds.
pub fn parse_retry_after(value: &str, now_unix_s: u64) -> Option<Duration> {
    let value = value.trim();
    if value.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
        return parse_delta_seconds(value);
    }
    let date = parse_imf_fixdate(value)?;
    let now = i128::from(now_unix_s);
    let delta = i128::from(date) - now;
    Some(u64::try_from(delta).map_or(Duration::ZERO, Duration::from_secs))
}

/// `[-]digits[.digits]`.
fn parse_delta_seconds(value: &str) -> Option<Duration> {
    let (negative, unsigned) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    if negative {
        return Some(Duration::ZERO);
    }
    let mut secs: u64 = 0;
    for b in int.bytes() {
        secs = secs.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    let mut nanos: u32 = 0;
    let mut scale: u32 = 100_000_000;
    for b in frac.unwrap_or_default().bytes().take(9) {
        nanos += u32::from(b - b'0') * scale;
        scale /= 10;
    }
    Some(Duration::new(secs, nanos))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` to Unix seconds (negative before 1970). The weekday name
/// must be a valid one but is not checked against the date.
fn parse_imf_fixdate(value: &str) -> Option<i64> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (weekday, rest) = value.split_once(", ")?;
    if !DAYS.contains(&weekday) {
        return None;
    }
    let rest = rest.strip_suffix(" GMT")?;
    let mut parts = rest.split(' ');
    let (day, month, year, time) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let mut clock = time.split(':');
    let (hour, minute, second) = (clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() {
        return None;
    }
    let day = fixed_digits(day, 2)?;
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let month = i64::try_from(month).ok()?;
    let year = fixed_digits(year, 4)?;
    let (hour, minute, second) =
        (fixed_digits(hour, 2)?, fixed_digits(minute, 2)?, fixed_digits(second, 2)?);
    // 60 is a leap second.
    if day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Exactly `len` ASCII digits.
fn fixed_digits(s: &str, len: usize) -> Option<i64> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |n, b| n * 10 + i64::from(b - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A deterministic stream of well-mixed `u64`s.
    fn splitmix64(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn config(retries: u32) -> RetryConfig {
        RetryConfig { retries, base: ms(100), max: ms(1_000) }
    }

    #[test]
    fn out_of_retries_is_none() {
        let c = config(2);
        assert!(c.backoff(1, 0, None).is_some());
        assert!(c.backoff(2, 0, None).is_some());
        assert_eq!(c.backoff(3, 0, None), None);
        assert_eq!(config(0).backoff(1, 0, None), None);
        assert_eq!(config(0).backoff(0, 0, None), None);
        // Attempt 0 counts as the first retry.
        assert_eq!(c.backoff(0, 7, None), c.backoff(1, 7, None));
    }

    #[test]
    fn jitter_stays_within_half_cap_and_cap() {
        let c = config(u32::MAX);
        let mut seed = 42;
        for attempt in 1..=8u32 {
            let cap = ms((100u64 << (attempt - 1)).min(1_000));
            let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
            for _ in 0..10_000 {
                let d = c.backoff(attempt, splitmix64(&mut seed), None).unwrap();
                assert!(
                    d >= cap / 2 && d <= cap,
                    "attempt {attempt}: {d:?} outside [{:?}, {cap:?}]",
                    cap / 2
                );
                lo = lo.min(d);
                hi = hi.max(d);
            }
            // The draws cover the range, not one point of it.
            assert!(
                lo < cap / 2 + cap / 20 && hi > cap - cap / 20,
                "attempt {attempt}: {lo:?}..{hi:?}"
            );
        }
        // The extremes are reachable exactly.
        let span = ms(50).as_nanos() as u64;
        assert_eq!(c.backoff(1, 0, None), Some(ms(50)));
        assert_eq!(c.backoff(1, span, None), Some(ms(100)));
        assert_eq!(c.backoff(1, span + 1, None), Some(ms(50)));
    }

    #[test]
    fn doubling_is_capped_and_never_overflows() {
        let c = config(u32::MAX);
        let top = u64::MAX; // `random % (span + 1)` for the largest draw
        for attempt in [5, 31, 32, 33, 63, 64, 65, 127, 128, 1_000, u32::MAX] {
            let d = c.backoff(attempt, top, None).unwrap();
            assert!(d >= ms(500) && d <= ms(1_000), "attempt {attempt}: {d:?}");
        }
        let huge = RetryConfig { retries: u32::MAX, base: Duration::MAX, max: Duration::MAX };
        for attempt in [1, 2, 64, u32::MAX] {
            let d = huge.backoff(attempt, 3, None).unwrap();
            assert!(d >= Duration::MAX / 2, "attempt {attempt}: {d:?}");
        }
        let tiny =
            RetryConfig { retries: u32::MAX, base: Duration::from_nanos(1), max: Duration::MAX };
        assert_eq!(tiny.backoff(64, 0, None), Some(Duration::from_nanos(1 << 62)));
        assert!(tiny.backoff(200, 0, None).unwrap() >= Duration::MAX / 2);
        let zero = RetryConfig { retries: u32::MAX, base: Duration::ZERO, max: ms(10) };
        assert_eq!(zero.backoff(u32::MAX, u64::MAX, None), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_is_honoured_up_to_max() {
        let c = config(3);
        // Longer than the jittered backoff: waited exactly.
        assert_eq!(c.backoff(1, 0, Some(ms(800))), Some(ms(800)));
        // Shorter: the backoff wins.
        assert_eq!(c.backoff(1, 0, Some(ms(10))), Some(ms(50)));
        assert_eq!(c.backoff(1, 0, Some(Duration::ZERO)), Some(ms(50)));
        // Exactly max still waits; beyond it moves on.
        assert_eq!(c.backoff(1, 0, Some(ms(1_000))), Some(ms(1_000)));
        assert_eq!(c.backoff(1, 0, Some(ms(1_001))), None);
        // Out of retries whatever the header says.
        assert_eq!(c.backoff(4, 0, Some(ms(10))), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 425, 429, 500, 502, 503, 504, 507, 529, 599] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 204, 301, 400, 401, 403, 404, 409, 413, 422, 499, 501, 505, 600, 0] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_delta_seconds() {
        let p = |v| parse_retry_after(v, 1_000);
        assert_eq!(p("120"), Some(Duration::from_secs(120)));
        assert_eq!(p(" 0 "), Some(Duration::ZERO));
        assert_eq!(p("1.5"), Some(ms(1_500)));
        assert_eq!(p("0.25"), Some(ms(250)));
        assert_eq!(p("2.0000000019"), Some(Duration::new(2, 1)));
        assert_eq!(p("-3"), Some(Duration::ZERO));
        assert_eq!(p("-0.5"), Some(Duration::ZERO));
        assert_eq!(p("99999999999999999999999"), Some(Duration::from_secs(u64::MAX)));
        for bad in
            ["", " ", "-", ".", "1.", ".5", "1.5.2", "1e3", "+1", "inf", "NaN", "12s", "1 2", "--1"]
        {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_http_date() {
        // 2015-10-21T07:28:00Z
        let t = 1_445_412_480;
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(date, t - 90), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after(date, t), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(date, t + 5), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&format!(" {date}\t"), t - 1), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", 0), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 0),
            Some(Duration::from_secs(784_111_777))
        );
        // Leap day, end of year, a date before the epoch, a leap second.
        assert_eq!(
            parse_retry_after("Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000 - 1),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 2038 23:59:59 GMT", 0),
            Some(Duration::from_secs(2_177_452_799))
        );
        assert_eq!(parse_retry_after("Fri, 13 Dec 1901 20:45:52 GMT", 0), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sat, 31 Dec 2016 23:59:60 GMT", 1_483_228_800),
            Some(Duration::ZERO)
        );
        for bad in [
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wed, 21 Oct 2015 07:28:00",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
            "Wed, 21 Oct 2015 7:28:00 GMT",
            "Wed, 1 Oct 2015 07:28:00 GMT",
            "Wed, 21 oct 2015 07:28:00 GMT",
            "Xyz, 21 Oct 2015 07:28:00 GMT",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "Wed, 00 Oct 2015 07:28:00 GMT",
            "Thu, 29 Feb 2023 07:28:00 GMT",
            "Wed, 31 Apr 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 24:00:00 GMT",
            "Wed, 21 Oct 2015 07:60:00 GMT",
            "Wed, 21 Oct 2015 07:28:61 GMT",
            "Wed, 21 Oct 2015 07:28 GMT",
            "Wed, 21 Oct 2015 07:28:00:00 GMT",
            "Wed, 21 Oct 2015  07:28:00 GMT",
            "Wed, 21 Oct 15 07:28:00 GMT",
            "Wed, 21 Oct +015 07:28:00 GMT",
            "soon",
        ] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn civil_days_round_trip_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2400, 2, 29), 157_113);
    }
}

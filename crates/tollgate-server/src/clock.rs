//! Wall-clock time, the one way the server reads it for timestamps it stores.

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch (for HTTP dates such as `retry-after`).
pub fn unix_s() -> u64 {
    u64::try_from(now_ms() / 1000).unwrap_or(0)
}

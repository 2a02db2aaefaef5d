//! Human units in config: durations (`250ms`, `30s`, `5m`, `1h`, `30d`) and sizes (`512KiB`, `32MiB`,
//! or a plain byte count).

use std::time::Duration;

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 =
        num.parse().map_err(|_| format!("`{s}` is not a duration (try `30s`, `500ms`, `5m`)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        other => {
            return Err(format!("unknown duration unit `{other}` in `{s}` (use ms, s, m, h or d)"));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{s}` is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().map_err(|_| format!("`{s}` is not a size (try `32MiB`)"))?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "KiB" | "K" => 1024,
        "MB" => 1_000_000,
        "MiB" | "M" => 1024 * 1024,
        "GB" => 1_000_000_000,
        "GiB" | "G" => 1024 * 1024 * 1024,
        other => {
            return Err(format!("unknown size unit `{other}` in `{s}` (use B, KiB, MiB or GiB)"));
        }
    };
    n.checked_mul(mult).ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("x").is_err());
        assert_eq!(parse_size("32MiB").unwrap(), 32 * 1024 * 1024);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("3 lightyears").is_err());
    }
}

//! Times, money and counts as people read them, and instants as people write them
//! (`2h`, `7d`, `2026-11-01`, `2026-11-01T09:30:00+02:00`). All times are UTC: the history
//! stores unix milliseconds, and an export read on another machine must say the same thing.
//!
//! No clock is read here: callers pass `now_ms`.

const MS_PER_DAY: i64 = 86_400_000;

/// `2026-11-22 10:00:05` (UTC), for unix milliseconds.
pub fn utc(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        in_day / 3600,
        (in_day / 60) % 60,
        in_day % 60
    )
}

/// Micro-dollars as dollars, rounded to a hundredth of a cent: `$0.0123`, `$12.5000`, `$0`.
pub fn cost(micros: i64) -> String {
    if micros == 0 {
        return "$0".to_owned();
    }
    let sign = if micros < 0 { "-" } else { "" };
    // In units of $0.0001, rounded half up.
    let units = (micros.unsigned_abs() + 50) / 100;
    format!("{sign}${}.{:04}", units / 10_000, units % 10_000)
}

/// `1,234,567`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `850 ms`, `2.31 s`, `4m 05s`.
pub fn millis(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{:02} s", ms / 1000, (ms % 1000) / 10)
    } else {
        let s = ms / 1000;
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

/// Parses an instant as a person writes one, into unix milliseconds:
/// - a duration back from `now_ms`: `90s`, `30m`, `2h`, `7d`, `2w` (a unit is required);
/// - a date, `2026-11-01` (midnight UTC), or a date and time, `2026-11-01T09:30`,
///   `2026-11-01 09:30:15.250`, with an optional `Z` or `+02:00` offset (default UTC);
/// - unix milliseconds (11 digits or more, so `30` is never mistaken for a time).
pub fn parse_instant(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    if s.len() >= 11 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| format!("`{s}` is out of range"));
    }
    if let Some(ms) = parse_ago(s) {
        return Ok(now_ms.saturating_sub(ms));
    }
    parse_datetime(s).ok_or_else(|| {
        format!(
            "`{s}` is not a time: use a duration back from now (`2h`, `7d`), a date \
             (`2026-11-01`), a date and time (`2026-11-01T09:30:00Z`) or unix milliseconds"
        )
    })
}

/// `<number><unit>` as milliseconds, `None` when `s` is not one.
fn parse_ago(s: &str) -> Option<i64> {
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let unit_ms = match unit.trim() {
        "ms" => 1.0,
        "s" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        "w" => 7.0 * 86_400_000.0,
        _ => return None,
    };
    let ms = n * unit_ms;
    // Far past any real history, and within i64.
    (ms.is_finite() && (0.0..1.0e15).contains(&ms)).then_some(ms as i64)
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH:MM|±HHMM]`.
fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year: i64 = digits(s.get(0..4)?)?;
    let month: u32 = digits(s.get(5..7)?)?;
    let day: u32 = digits(s.get(8..10)?)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * MS_PER_DAY;
    let mut rest = s.get(10..)?;
    if let Some(time) = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')) {
        let hour: i64 = digits(time.get(0..2)?)?;
        if time.get(2..3)? != ":" {
            return None;
        }
        let minute: i64 = digits(time.get(3..5)?)?;
        let mut tail = time.get(5..)?;
        let mut second = 0i64;
        let mut frac_ms = 0i64;
        if let Some(after) = tail.strip_prefix(':') {
            second = digits(after.get(0..2)?)?;
            tail = after.get(2..)?;
            if let Some(frac) = tail.strip_prefix('.') {
                let n = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
                if n == 0 {
                    return None;
                }
                let (f, after_frac) = frac.split_at(n);
                let first3: String = f.chars().chain("00".chars()).take(3).collect();
                frac_ms = digits(&first3)?;
                tail = after_frac;
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        ms += ((hour * 60 + minute) * 60 + second) * 1000 + frac_ms;
        rest = tail;
    }
    match rest {
        "" | "Z" | "z" => Some(ms),
        offset => {
            let sign = match offset.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hm = offset.get(1..)?.replace(':', "");
            if hm.len() != 4 {
                return None;
            }
            let h: i64 = digits(hm.get(0..2)?)?;
            let m: i64 = digits(hm.get(2..4)?)?;
            // Local time minus its offset is UTC.
            Some(ms - sign * (h * 60 + m) * 60_000)
        }
    }
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_22: i64 = 1_795_341_605_000; // 2026-11-22 10:00:05 UTC

    #[test]
    fn formats_times_money_and_counts() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(NOV_22), "2026-11-22 10:00:05");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59");
        assert_eq!(cost(0), "$0");
        assert_eq!(cost(12_345), "$0.0123");
        assert_eq!(cost(12_355), "$0.0124");
        assert_eq!(cost(12_500_000), "$12.5000");
        assert_eq!(cost(-50), "-$0.0001");
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-1000), "-1,000");
        assert_eq!(millis(850), "850 ms");
        assert_eq!(millis(2_314), "2.31 s");
        assert_eq!(millis(245_000), "4m 05s");
    }

    #[test]
    fn parses_instants_people_write() {
        let now = NOV_22;
        assert_eq!(parse_instant("2h", now), Ok(now - 7_200_000));
        assert_eq!(parse_instant("7d", now), Ok(now - 7 * MS_PER_DAY));
        assert_eq!(parse_instant("1.5h", now), Ok(now - 5_400_000));
        assert_eq!(parse_instant("2026-11-22", now), Ok(NOV_22 - 36_005_000));
        assert_eq!(parse_instant("2026-11-22T10:00:05Z", now), Ok(NOV_22));
        assert_eq!(parse_instant("2026-11-22 10:00:05.5", now), Ok(NOV_22 + 500));
        assert_eq!(parse_instant("2026-11-22T12:00:05+02:00", now), Ok(NOV_22));
        assert_eq!(parse_instant("2026-11-22T05:00:05-0500", now), Ok(NOV_22));
        assert_eq!(parse_instant("2026-11-22T10:00", now), Ok(NOV_22 - 5000));
        assert_eq!(parse_instant("1795341605000", now), Ok(NOV_22));
        for bad in [
            "30",
            "yesterday",
            "2026-02-30",
            "2026-13-01",
            "2026-11-22T25:00",
            "5 parsecs",
            "",
            "2026-11-22T10:00:05+2",
        ] {
            assert!(parse_instant(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        for days in (-146_097..146_097).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            let (m, d) = (u32::try_from(m).unwrap(), u32::try_from(d).unwrap());
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}

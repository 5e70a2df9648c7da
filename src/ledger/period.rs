//! Time for the ledger: parsing `since`/`until` ("7d", "24h", "today", RFC 3339 dates and
//! times), the UTC day and month budgets reset at, and formatting timestamps.
//!
//! The ledger stores Unix milliseconds (UTC). Days and months are UTC days and months, so
//! every process on every machine agrees on when "today" began.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};

const MS_PER_DAY: i64 = 86_400_000;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The start of the UTC day containing `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY) * MS_PER_DAY
}

/// The start of the UTC month containing `ms`.
pub fn month_start(ms: i64) -> i64 {
    DateTime::from_timestamp_millis(ms)
        .and_then(|t| NaiveDate::from_ymd_opt(t.year(), t.month(), 1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t).timestamp_millis())
        .unwrap_or_else(|| day_start(ms))
}

/// `ms` as an RFC 3339 UTC time, to the second.
pub fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// The UTC date of `ms`, `YYYY-MM-DD`.
pub fn date(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.date_naive().to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Which end of a period a time names: a bare date means the start of that day for `since`
/// and the end of it for `until` (so `--until 2026-04-30` includes the 30th).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Since,
    Until,
}

/// Parses a point in time relative to `now_ms`: a duration ago (`90m`, `24h`, `7d`, `2w`),
/// `now`, `today` (the start of the UTC day), a date (`2026-04-01`, UTC) or an RFC 3339 time
/// (`2026-04-01T12:00:00Z`, `…+02:00`). The error says which forms are accepted.
pub fn parse_time(text: &str, end: End, now_ms: i64) -> Result<i64, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "'{text}' is not a time: give a duration ago such as 24h, 7d or 2w, \
             `today`, a date such as 2026-04-01, or an RFC 3339 time such as 2026-04-01T12:00:00Z"
        )
    };
    match t {
        "now" => return Ok(now_ms),
        "today" => return Ok(day_start(now_ms)),
        _ => {}
    }
    if let Some(ago) = duration_ms(t) {
        return ago.map(|ms| now_ms - ms).ok_or_else(bad);
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let start = d
            .and_hms_opt(0, 0, 0)
            .map(|t| Utc.from_utc_datetime(&t).timestamp_millis())
            .ok_or_else(bad)?;
        return Ok(match end {
            End::Since => start,
            End::Until => start + MS_PER_DAY,
        });
    }
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .map_err(|_| bad())
}

/// `Some(Some(ms))` for a well-formed duration, `Some(None)` for one that overflows, `None`
/// when `t` is not a duration at all.
fn duration_ms(t: &str) -> Option<Option<i64>> {
    let unit_at = t.len().checked_sub(1)?;
    let (number, unit) = t.split_at(unit_at);
    let per: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => MS_PER_DAY,
        "w" => 7 * MS_PER_DAY,
        _ => return None,
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(number.parse::<i64>().ok().and_then(|n| n.checked_mul(per)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-04-10T15:30:00Z
    const NOW: i64 = 1_775_835_000_000;

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(parse_time("24h", End::Since, NOW), Ok(NOW - MS_PER_DAY));
        assert_eq!(parse_time("7d", End::Since, NOW), Ok(NOW - 7 * MS_PER_DAY));
        assert_eq!(parse_time("2w", End::Since, NOW), Ok(NOW - 14 * MS_PER_DAY));
        assert_eq!(parse_time(" 90m ", End::Since, NOW), Ok(NOW - 90 * 60_000));
        assert_eq!(parse_time("now", End::Until, NOW), Ok(NOW));
    }

    #[test]
    fn dates_and_rfc3339_times_are_utc() {
        assert_eq!(rfc3339(NOW), "2026-04-10T15:30:00Z");
        let today = parse_time("today", End::Since, NOW).unwrap();
        assert_eq!(rfc3339(today), "2026-04-10T00:00:00Z");
        let since = parse_time("2026-04-01", End::Since, NOW).unwrap();
        assert_eq!(rfc3339(since), "2026-04-01T00:00:00Z");
        let until = parse_time("2026-04-01", End::Until, NOW).unwrap();
        assert_eq!(rfc3339(until), "2026-04-02T00:00:00Z", "a date's whole day");
        let t = parse_time("2026-04-01T12:00:00+02:00", End::Since, NOW).unwrap();
        assert_eq!(rfc3339(t), "2026-04-01T10:00:00Z");
    }

    #[test]
    fn budget_periods_start_at_utc_midnight_and_the_first() {
        assert_eq!(rfc3339(day_start(NOW)), "2026-04-10T00:00:00Z");
        assert_eq!(rfc3339(month_start(NOW)), "2026-04-01T00:00:00Z");
        assert_eq!(date(NOW), "2026-04-10");
    }

    #[test]
    fn bad_times_say_what_is_accepted() {
        for bad in [
            "",
            "7",
            "d",
            "7y",
            "-3d",
            "yesterday",
            "2026-13-01",
            "99999999999999999d",
        ] {
            let e = parse_time(bad, End::Since, NOW).unwrap_err();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
        }
    }
}

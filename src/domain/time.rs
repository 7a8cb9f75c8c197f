//! Conversions between stored milliseconds and RFC 3339 text.

use chrono::{DateTime, FixedOffset, Offset, SecondsFormat, TimeZone, Utc};

use super::clock::Millis;

/// `2025-11-02T10:30:00.000Z`: the native API's format.
pub fn rfc3339_ms(ms: Millis) -> String {
    utc(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2024-12-01T08:45:00Z`: whole seconds, UTC, with `Z`.
pub fn rfc3339_seconds(ms: Millis) -> String {
    utc(ms).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2025-11-02T10:30:00+00:00`: whole seconds, UTC, written as the offset `+00:00`.
pub fn rfc3339_seconds_offset(ms: Millis) -> String {
    utc(ms).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `2018-01-23T08:50:39.000-05:00`: milliseconds, at `offset_minutes` east of UTC.
pub fn rfc3339_ms_at(ms: Millis, offset_minutes: i32) -> String {
    let offset = FixedOffset::east_opt(offset_minutes * 60).unwrap_or_else(|| Utc.fix());
    offset
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, false))
        .unwrap_or_default()
}

pub fn utc(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Parses any RFC 3339 timestamp (with offset or `Z`) into UTC milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Parses `+HH:MM` / `-HH:MM` / `Z` into minutes east of UTC.
pub fn parse_utc_offset(text: &str) -> Option<i32> {
    if text == "Z" || text == "+00:00" || text == "-00:00" {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m))
}

pub fn format_utc_offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip() {
        for text in ["-05:00", "+00:00", "+05:30", "-12:00"] {
            let minutes = parse_utc_offset(text).unwrap();
            assert_eq!(format_utc_offset(minutes), text);
        }
        assert_eq!(parse_utc_offset("0500"), None);
        assert_eq!(parse_utc_offset("+25:00"), None);
    }

    #[test]
    fn rfc3339_round_trip_keeps_milliseconds() {
        let ms = parse_rfc3339("2018-01-22T10:38:07.123-05:00").unwrap();
        assert_eq!(rfc3339_ms(ms), "2018-01-22T15:38:07.123Z");
    }
}

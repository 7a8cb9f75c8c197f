//! Conversions between stored milliseconds and RFC 3339 text.

use chrono::{DateTime, FixedOffset, Offset, SecondsFormat, TimeZone, Utc};

use super::clock::Millis;

/// `2025-11-02T10:30:00.000Z`: the native API's format.
pub fn rfc3339_ms(ms: Millis) -> String {
    utc(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `rfc3339_ms` written into `buf` instead of a new `String`, for the years 0000 to 9999 (None
/// outside them). A page of conversations writes dozens of timestamps; each was an allocation
/// and a trip through chrono's formatter.
pub fn rfc3339_ms_into(ms: Millis, buf: &mut [u8; 24]) -> Option<&str> {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (days, in_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let fields = [
        (0, 4, year),
        (5, 2, month),
        (8, 2, day),
        (11, 2, in_day / 3600),
        (14, 2, in_day / 60 % 60),
        (17, 2, in_day % 60),
        (20, 3, millis),
    ];
    *buf = *b"0000-00-00T00:00:00.000Z";
    for (at, width, value) in fields {
        let mut value = value;
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    std::str::from_utf8(buf).ok()
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
    fn the_unallocated_timestamp_is_chronos_to_the_byte() {
        let mut buf = [0u8; 24];
        let mut checked = 0;
        // Every edge that bites a hand-written calendar: the epoch, leap days (2000, 2024, not
        // 1900 or 2100), year ends, before 1970, the first and last years it writes.
        let mut samples = vec![
            0,
            -1,
            951_782_400_000,
            951_868_799_999,
            1_709_164_800_000,
            -2_203_891_200_000,
            4_107_542_400_000,
            -62_167_219_200_000,
            253_402_300_799_999,
        ];
        // And a day's worth of odd steps across 1960..2100.
        let mut t: i64 = -315_619_200_000;
        while t < 4_102_444_800_000 {
            samples.push(t);
            t += 86_399_937 * 37 + 1_234;
        }
        for ms in samples {
            let fast = rfc3339_ms_into(ms, &mut buf).map(str::to_string);
            assert_eq!(fast.as_deref(), Some(rfc3339_ms(ms).as_str()), "at {ms}");
            checked += 1;
        }
        assert!(checked > 1000, "{checked}");
        assert_eq!(rfc3339_ms_into(-62_167_219_200_001, &mut buf), None);
        assert_eq!(rfc3339_ms_into(253_402_300_800_000, &mut buf), None);
        assert_eq!(rfc3339_ms_into(i64::MAX, &mut buf), None);
        assert_eq!(rfc3339_ms_into(i64::MIN, &mut buf), None);
    }

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

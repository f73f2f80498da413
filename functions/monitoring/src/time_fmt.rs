//! Event-time text form: RFC 3339, UTC, millisecond precision (`2026-11-21T08:15:02.113Z`).
//! Writing is fixed-format so the generator's bytes never depend on the platform; reading
//! accepts any RFC 3339 offset and precision (sub-millisecond digits are truncated).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats epoch milliseconds as RFC 3339 UTC with exactly three fractional digits.
pub fn format_event_time(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        // Outside the representable range: still deterministic, still unparseable later.
        Err(_) => format!("invalid-time({millis})"),
    }
}

/// Parses an RFC 3339 timestamp into epoch milliseconds.
pub fn parse_event_time(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_round_trips_through_rfc3339_with_milliseconds() {
        let ms = 1_795_248_902_113; // 2026-11-21T08:15:02.113Z
        let text = format_event_time(ms);
        assert_eq!(text, "2026-11-21T08:15:02.113Z");
        assert_eq!(parse_event_time(&text), Some(ms));
        assert_eq!(parse_event_time("2026-11-21T09:15:02.113+01:00"), Some(ms));
        assert_eq!(parse_event_time("yesterday"), None);
    }
}

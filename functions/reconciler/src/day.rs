//! Which day a run reconciles.
//!
//! The nightly EventBridge schedule sends a scheduled event whose `time` is the firing
//! instant (RFC 3339, e.g. `2026-11-22T02:00:00Z`): the day to reconcile is the UTC day
//! before it. A manual run overrides it with `{"detail": {"day": "YYYY-MM-DD"}}` or a
//! plain `{"day": "YYYY-MM-DD"}` input.
//! Scheduled event shape: <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html>.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// Why an event names no day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayError {
    /// A `day` that is not `YYYY-MM-DD`.
    #[error("day `{0}` is not a YYYY-MM-DD date")]
    BadDay(String),
    /// A `time` that is not RFC 3339.
    #[error("event time `{0}` is not an RFC 3339 timestamp")]
    BadTime(String),
    /// Neither `day` nor `time`.
    #[error("the event has neither a `day` (detail.day or day) nor a `time`")]
    Missing,
}

/// Parses a strict `YYYY-MM-DD` day.
pub fn parse_day(text: &str) -> Result<Date, DayError> {
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| DayError::BadDay(text.to_owned()))
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_day(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The day an invocation asks for (see the module docs for precedence).
pub fn day_to_reconcile(event: &Value) -> Result<String, DayError> {
    let explicit = event
        .get("detail")
        .and_then(|d| d.get("day"))
        .or_else(|| event.get("day"));
    if let Some(day) = explicit {
        let text = day
            .as_str()
            .ok_or_else(|| DayError::BadDay(day.to_string()))?;
        return parse_day(text).map(format_day);
    }
    let time = event.get("time").ok_or(DayError::Missing)?;
    let text = time
        .as_str()
        .ok_or_else(|| DayError::BadTime(time.to_string()))?;
    let at =
        OffsetDateTime::parse(text, &Rfc3339).map_err(|_| DayError::BadTime(text.to_owned()))?;
    let utc = at.to_offset(time::UtcOffset::UTC).date();
    utc.previous_day()
        .map(format_day)
        .ok_or_else(|| DayError::BadTime(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_scheduled_event_reconciles_the_previous_utc_day() {
        let e = json!({"version":"0","detail-type":"Scheduled Event","source":"aws.events",
            "time":"2026-11-22T02:00:00Z","detail":{}});
        assert_eq!(day_to_reconcile(&e).unwrap(), "2026-11-21");
        // An offset is converted to UTC first: 00:30+02:00 is 22:30Z the day before.
        let e = json!({"time":"2026-11-22T00:30:00+02:00"});
        assert_eq!(day_to_reconcile(&e).unwrap(), "2026-11-20");
    }

    #[test]
    fn an_explicit_day_wins_over_the_event_time() {
        let e = json!({"time":"2026-11-22T02:00:00Z","detail":{"day":"2026-11-01"}});
        assert_eq!(day_to_reconcile(&e).unwrap(), "2026-11-01");
        assert_eq!(
            day_to_reconcile(&json!({"day":"2026-01-31"})).unwrap(),
            "2026-01-31"
        );
    }

    #[test]
    fn bad_days_and_times_are_errors() {
        assert_eq!(
            day_to_reconcile(&json!({"day":"2026-13-01"})),
            Err(DayError::BadDay("2026-13-01".into()))
        );
        assert!(day_to_reconcile(&json!({"day":"2026-1-1"})).is_err());
        assert!(day_to_reconcile(&json!({"day": 5})).is_err());
        assert!(day_to_reconcile(&json!({"time":"yesterday"})).is_err());
        assert_eq!(day_to_reconcile(&json!({})), Err(DayError::Missing));
    }
}

//! `rate()` and AWS's six-field `cron()` expressions, validated as EventBridge does.
//!
//! Hand-written because no maintained crate implements AWS's dialect: the `cron` and
//! `croner` crates use Quartz/Vixie numbering (0 or 1 = Sunday differ), require or
//! forbid a seconds field, and accept day-of-month and day-of-week together, which
//! AWS rejects. Rules from
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html>:
//! fields `minutes hours day-of-month month day-of-week year`; day-of-week 1–7 = SUN–SAT;
//! exactly one of day-of-month/day-of-week is `?`; `L` and `W` in day-of-month; `L`
//! and `#` in day-of-week (one `#` at most); `/` increments; times in UTC.
//! `rate(value unit)`: positive integer, unit `minute|minutes|hour|hours|day|days`,
//! singular exactly when the value is 1. `at(yyyy-mm-ddThh:mm:ss)` (Scheduler only) fires
//! once; it is accepted for rules too, which AWS would reject.

use std::time::Duration;

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

/// Why an expression is invalid (AWS answers `ValidationException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schedule expression {expression:?}: {reason}")]
pub struct ExpressionError {
    /// The expression text.
    pub expression: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// Fires every `period`, starting one period after the schedule starts.
    Rate(Duration),
    /// Fires at the matching minutes.
    Cron(Box<Cron>),
    /// EventBridge Scheduler's one-time `at(yyyy-mm-ddThh:mm:ss)` (UTC).
    At(OffsetDateTime),
}

/// A parsed `cron()` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    months: Vec<bool>,
    years: Vec<bool>,
    days: DaySpec,
}

#[derive(Debug, Clone, PartialEq)]
enum DaySpec {
    /// Day-of-month given, day-of-week `?`.
    OfMonth(Vec<DomItem>),
    /// Day-of-week given, day-of-month `?`.
    OfWeek(Vec<DowItem>),
}

#[derive(Debug, Clone, PartialEq)]
enum DomItem {
    Days(Vec<bool>),
    Last,
    LastWeekday,
    NearestWeekday(u8),
}

#[derive(Debug, Clone, PartialEq)]
enum DowItem {
    Days(Vec<bool>),
    /// `5L`: the last Thursday of the month.
    Last(u8),
    /// `3#2`: the second Tuesday.
    Nth(u8, u8),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2199;

impl Expression {
    /// Parses `rate(...)`, `cron(...)` or `at(...)`.
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        let err = |reason: &str| ExpressionError {
            expression: text.to_owned(),
            reason: reason.to_owned(),
        };
        let t = text.trim();
        if let Some(body) = t.strip_prefix("rate(").and_then(|b| b.strip_suffix(')')) {
            parse_rate(body).map(Expression::Rate).map_err(|r| err(&r))
        } else if let Some(body) = t.strip_prefix("cron(").and_then(|b| b.strip_suffix(')')) {
            Cron::parse(body)
                .map(|c| Expression::Cron(Box::new(c)))
                .map_err(|r| err(&r))
        } else if let Some(body) = t.strip_prefix("at(").and_then(|b| b.strip_suffix(')')) {
            let format =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            PrimitiveDateTime::parse(body, &format)
                .map(|t| Expression::At(t.assume_utc()))
                .map_err(|_| err("at() needs yyyy-mm-ddThh:mm:ss"))
        } else {
            Err(err("expected rate(...), cron(...) or at(...)"))
        }
    }

    /// The first firing strictly after `after`, for a schedule that started at `start`.
    pub fn next_after(
        &self,
        start: OffsetDateTime,
        after: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        match self {
            Expression::Rate(period) => {
                let period = time::Duration::try_from(*period).ok()?;
                if after < start {
                    return Some(start + period);
                }
                let elapsed = (after - start).whole_seconds();
                let n = elapsed / period.whole_seconds().max(1) + 1;
                Some(start + period * i32::try_from(n).ok()?)
            }
            Expression::Cron(c) => c.next_after(after),
            Expression::At(t) => (*t > after).then_some(*t),
        }
    }
}

fn parse_rate(body: &str) -> Result<Duration, String> {
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("rate needs exactly a value and a unit".into());
    };
    let value: u64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or("rate value must be a positive integer")?;
    let (singular, secs) = match unit {
        "minute" => (true, 60),
        "minutes" => (false, 60),
        "hour" => (true, 3_600),
        "hours" => (false, 3_600),
        "day" => (true, 86_400),
        "days" => (false, 86_400),
        _ => return Err(format!("unknown rate unit {unit}")),
    };
    if singular != (value == 1) {
        return Err("use the singular unit exactly when the value is 1".into());
    }
    Ok(Duration::from_secs(value * secs))
}

impl Cron {
    fn parse(body: &str) -> Result<Self, String> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [min, hour, dom, month, dow, year] = fields.as_slice() else {
            return Err(format!("cron needs 6 fields, got {}", fields.len()));
        };
        let days = match (*dom, *dow) {
            ("?", "?") => return Err("day-of-month and day-of-week cannot both be ?".into()),
            ("?", dow) => DaySpec::OfWeek(
                dow.split(',')
                    .map(parse_dow_item)
                    .collect::<Result<_, _>>()?,
            ),
            (dom, "?") => DaySpec::OfMonth(
                dom.split(',')
                    .map(parse_dom_item)
                    .collect::<Result<_, _>>()?,
            ),
            _ => {
                return Err(
                    "one of day-of-month and day-of-week must be ? (they cannot both be set)"
                        .into(),
                );
            }
        };
        if dow.matches('#').count() > 1 {
            return Err("only one # expression is allowed".into());
        }
        Ok(Self {
            minutes: field(min, 0, 59, &[])?,
            hours: field(hour, 0, 23, &[])?,
            months: field(month, 1, 12, &MONTHS)?,
            years: field(year, MIN_YEAR as u32, MAX_YEAR as u32, &[])?,
            days,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let year_ok = u32::try_from(date.year())
            .ok()
            .and_then(|y| self.years.get(y as usize))
            .copied()
            .unwrap_or(false);
        if !year_ok || !self.months[u8::from(date.month()) as usize] {
            return false;
        }
        let last = date.month().length(date.year());
        let day = date.day();
        match &self.days {
            DaySpec::OfMonth(items) => items.iter().any(|item| match item {
                DomItem::Days(set) => set[day as usize],
                DomItem::Last => day == last,
                DomItem::LastWeekday => day == nearest_weekday(date, last),
                DomItem::NearestWeekday(n) => day == nearest_weekday(date, (*n).min(last)),
            }),
            DaySpec::OfWeek(items) => {
                let dow = date.weekday().number_from_sunday();
                items.iter().any(|item| match item {
                    DowItem::Days(set) => set[dow as usize],
                    DowItem::Last(d) => dow == *d && day + 7 > last,
                    DowItem::Nth(d, n) => dow == *d && (day - 1) / 7 + 1 == *n,
                })
            }
        }
    }

    /// The first matching minute strictly after `after` (UTC), if any before 2200.
    pub fn next_after(&self, after: OffsetDateTime) -> Option<OffsetDateTime> {
        let after = after.to_offset(time::UtcOffset::UTC);
        // Start at the next whole minute.
        let start =
            after.replace_second(0).ok()?.replace_nanosecond(0).ok()? + time::Duration::minutes(1);
        let mut date = start.date();
        let mut first_day = true;
        while date.year() <= MAX_YEAR {
            if self.day_matches(date) {
                let (h0, m0) = if first_day {
                    (start.hour(), start.minute())
                } else {
                    (0, 0)
                };
                for h in h0..24 {
                    if !self.hours[h as usize] {
                        continue;
                    }
                    let m_start = if h == h0 { m0 } else { 0 };
                    for m in m_start..60 {
                        if self.minutes[m as usize] {
                            let t = Time::from_hms(h, m, 0).ok()?;
                            return Some(PrimitiveDateTime::new(date, t).assume_utc());
                        }
                    }
                }
            }
            date = date.next_day()?;
            first_day = false;
        }
        None
    }
}

/// The weekday nearest to day `target` of `date`'s month, never leaving the month.
fn nearest_weekday(date: Date, target: u8) -> u8 {
    let Ok(d) = Date::from_calendar_date(date.year(), date.month(), target) else {
        return 0;
    };
    let last = date.month().length(date.year());
    match d.weekday() {
        time::Weekday::Saturday => {
            if target == 1 {
                3
            } else {
                target - 1
            }
        }
        time::Weekday::Sunday => {
            if target == last {
                target - 2
            } else {
                target + 1
            }
        }
        _ => target,
    }
}

fn parse_dom_item(item: &str) -> Result<DomItem, String> {
    match item {
        "L" => Ok(DomItem::Last),
        "LW" => Ok(DomItem::LastWeekday),
        _ => {
            if let Some(n) = item.strip_suffix('W') {
                let n: u8 = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=31).contains(n))
                    .ok_or_else(|| format!("bad day-of-month {item}"))?;
                Ok(DomItem::NearestWeekday(n))
            } else {
                field(item, 1, 31, &[]).map(DomItem::Days)
            }
        }
    }
}

fn parse_dow_item(item: &str) -> Result<DowItem, String> {
    if let Some((d, n)) = item.split_once('#') {
        let d = single(d, 1, 7, &WEEKDAYS)?;
        let n: u8 = n
            .parse()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(|| format!("bad # occurrence in {item}"))?;
        return Ok(DowItem::Nth(d as u8, n));
    }
    if item == "L" {
        return Ok(DowItem::Last(7));
    }
    if let Some(d) = item.strip_suffix('L') {
        return Ok(DowItem::Last(single(d, 1, 7, &WEEKDAYS)? as u8));
    }
    field(item, 1, 7, &WEEKDAYS).map(DowItem::Days)
}

fn single(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    let v = names
        .iter()
        .position(|n| *n == upper)
        .map(|i| i as u32 + min)
        .or_else(|| text.parse().ok())
        .ok_or_else(|| format!("bad value {text}"))?;
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside {min}–{max}"))
    }
}

/// A comma list of `*`, `n`, `a-b`, each optionally `/step`, as a membership table
/// indexed by value.
fn field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut set = vec![false; max as usize + 1];
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad increment in {item}"))?;
                (r, s)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (single(a, min, max, names)?, single(b, min, max, names)?);
            if a > b {
                return Err(format!("range {range} runs backwards"));
            }
            (a, b)
        } else {
            let a = single(range, min, max, names)?;
            // `5/10` means from 5 to the end in steps of 10.
            (a, if item.contains('/') { max } else { a })
        };
        let mut v = lo;
        while v <= hi {
            set[v as usize] = true;
            v += step;
        }
    }
    Ok(set)
}

#[cfg(test)]
#[path = "expression_tests.rs"]
mod tests;

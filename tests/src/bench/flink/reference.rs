//! The reference answers of R1 and R2, computed directly from the events.
//!
//! ## Rules (as the Flink SQL in `bench/flink/` states them)
//! - **R1** per `(account, currency)`: every HOP window of [`R1_SIZE_MS`] sliding by
//!   [`R1_SLIDE_MS`] (aligned to the epoch) that holds at least `VELOCITY_MIN_COUNT`
//!   transactions whose amounts sum to more than `VELOCITY_SUM_ABOVE_MINOR` is one alert
//!   row. Currency is part of the key because amounts in different currencies do not
//!   add up (the generator's foreign-currency spending belongs to travel cases).
//! - **R2** per `(merchant, currency, UTC day)`: revenue and transaction count.
//!
//! ## Lateness (Flink's model, made deterministic)
//! With a watermark delay `d`, the watermark after a record is `max(event time so far) - d`
//! (Flink SQL's `WATERMARK FOR t AS t - INTERVAL d`: no `-1`, unlike the DataStream
//! bounded-out-of-orderness generator). A window `[start, end)` has fired once the
//! watermark reaches `end - 1` (Flink's `isWindowFired`); a record is dropped from every
//! window of it that has fired, and still counts in the others (Flink's slicing window
//! operator merges a late slice into the first unfired window).
//!
//! Flink emits watermarks periodically (every 200 ms), so its watermark when a record
//! arrives may trail this per-record model. The difference only matters for a record
//! within that lag of a window end; the generator's on-time records are at most 3 s
//! out of order (< `d`, never late in either model) and its late records hours late
//! (late in both), so on the benchmark input both models drop the same records.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::input::Event;

/// R1 window size (10 minutes).
pub const R1_SIZE_MS: i64 = 10 * 60 * 1000;
/// R1 window slide (1 minute).
pub const R1_SLIDE_MS: i64 = 60 * 1000;
/// R1 fires at this many transactions in a window …
pub const R1_MIN_COUNT: u64 = 3;
/// … whose sum (minor units) exceeds this (2,000.00).
pub const R1_SUM_ABOVE_MINOR: i64 = 200_000;
/// R2 window (one UTC day).
pub const DAY_MS: i64 = 86_400_000;

// The thresholds are the application's (monitoring::rules); kept as literals here so the
// harness library does not depend on the application crate, and checked in the tests.

/// One R1 alert: a window of one account and currency over the thresholds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct R1Alert {
    /// Account.
    pub account_id: String,
    /// Currency of the amounts.
    pub currency: String,
    /// Window start, epoch ms (inclusive).
    pub window_start_ms: i64,
    /// Window end, epoch ms (exclusive).
    pub window_end_ms: i64,
    /// Transactions in the window.
    pub count: u64,
    /// Their sum, minor units.
    pub sum_minor: i64,
}

/// One R2 row: a merchant's revenue and count in one currency on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct R2Total {
    /// Merchant.
    pub merchant_id: String,
    /// Currency.
    pub currency: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Sum of amounts, minor units.
    pub revenue_minor: i64,
    /// Transactions.
    pub count: u64,
}

/// A record the watermark had already passed for at least one of its windows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LateEvent {
    /// Transaction id.
    pub transaction_id: String,
    /// Its event time, epoch ms.
    pub event_time_ms: i64,
    /// The watermark when it arrived.
    pub watermark_ms: i64,
    /// How many of its R1 windows had fired (0 ..= 10).
    pub r1_windows_dropped: u32,
    /// Whether its R2 day had fired.
    pub r2_dropped: bool,
    /// Watermark minus the last millisecond of its earliest R1 window (= its minute):
    /// ≥ 0 when that window had fired. Flink's emitted watermark trails the model by
    /// less than the watermark interval, so a margin below it may go either way there.
    pub first_window_margin_ms: i64,
}

/// Both rules' answers, rows sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    /// R1 alert rows.
    pub r1: Vec<R1Alert>,
    /// R2 rows.
    pub r2: Vec<R2Total>,
    /// Records dropped from some window, in arrival order.
    pub late: Vec<LateEvent>,
}

/// Computes R1 and R2. `watermark_delay_ms = None` ignores lateness (every record counts,
/// the batch answer); `Some(d)` applies Flink's streaming model with delay `d`.
pub fn compute(events: &[Event], watermark_delay_ms: Option<i64>) -> Reference {
    // Watermark seen by each record on arrival (before its own timestamp counts).
    let mut watermark = i64::MIN;
    let arrival_wm: Vec<i64> = events
        .iter()
        .map(|e| {
            let seen = watermark;
            if let Some(d) = watermark_delay_ms {
                watermark = watermark.max(e.event_time_ms.saturating_sub(d));
            }
            seen
        })
        .collect();

    let mut late = Vec::new();
    let mut by_account: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut r2: HashMap<(&str, &str, i64), (i64, u64)> = HashMap::new();
    for (i, (e, &wm)) in events.iter().zip(&arrival_wm).enumerate() {
        by_account
            .entry((&e.account_id, &e.currency))
            .or_default()
            .push(i);
        let day = e.event_time_ms.div_euclid(DAY_MS);
        let r2_dropped = fired(wm, (day + 1) * DAY_MS);
        if !r2_dropped {
            let t = r2.entry((&e.merchant_id, &e.currency, day)).or_default();
            t.0 += e.amount_minor;
            t.1 += 1;
        }
        let r1_dropped = r1_windows(e.event_time_ms)
            .filter(|&start| fired(wm, start + R1_SIZE_MS))
            .count() as u32;
        if r1_dropped > 0 || r2_dropped {
            late.push(LateEvent {
                transaction_id: e.transaction_id.clone(),
                event_time_ms: e.event_time_ms,
                watermark_ms: wm,
                r1_windows_dropped: r1_dropped,
                r2_dropped,
                first_window_margin_ms: wm.saturating_sub(first_window_end(e.event_time_ms) - 1),
            });
        }
    }

    let mut r1 = Vec::new();
    for ((account, currency), indices) in by_account {
        let mut windows: BTreeMap<i64, (u64, i64)> = BTreeMap::new();
        for i in indices {
            let e = &events[i];
            for start in r1_windows(e.event_time_ms) {
                if !fired(arrival_wm[i], start + R1_SIZE_MS) {
                    let w = windows.entry(start).or_default();
                    w.0 += 1;
                    w.1 += e.amount_minor;
                }
            }
        }
        r1.extend(
            windows
                .into_iter()
                .filter(|&(_, (count, sum))| count >= R1_MIN_COUNT && sum > R1_SUM_ABOVE_MINOR)
                .map(|(start, (count, sum_minor))| R1Alert {
                    account_id: account.to_owned(),
                    currency: currency.to_owned(),
                    window_start_ms: start,
                    window_end_ms: start + R1_SIZE_MS,
                    count,
                    sum_minor,
                }),
        );
    }
    r1.sort();
    let mut r2: Vec<R2Total> = r2
        .into_iter()
        .map(
            |((merchant, currency, day), (revenue_minor, count))| R2Total {
                merchant_id: merchant.to_owned(),
                currency: currency.to_owned(),
                day: day_string(day),
                revenue_minor,
                count,
            },
        )
        .collect();
    r2.sort();
    Reference { r1, r2, late }
}

/// Flink's `isWindowFired`: the watermark reached the window's last millisecond.
fn fired(watermark: i64, window_end: i64) -> bool {
    watermark >= window_end - 1
}

/// End of the earliest R1 window holding `t`: the end of its minute.
pub fn first_window_end(t: i64) -> i64 {
    t.div_euclid(R1_SLIDE_MS) * R1_SLIDE_MS + R1_SLIDE_MS
}

/// Starts of the R1 windows holding `t`, earliest first.
fn r1_windows(t: i64) -> impl Iterator<Item = i64> {
    let last = t.div_euclid(R1_SLIDE_MS) * R1_SLIDE_MS;
    let n = R1_SIZE_MS / R1_SLIDE_MS;
    (0..n).rev().map(move |k| last - k * R1_SLIDE_MS)
}

/// `YYYY-MM-DD` of a day number since the epoch (out-of-range days print the number).
pub fn day_string(day: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(day * 86_400) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => format!("day{day}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, account: &str, amount: i64, t: i64) -> Event {
        Event {
            transaction_id: id.into(),
            account_id: account.into(),
            merchant_id: "m-1".into(),
            amount_minor: amount,
            currency: "EUR".into(),
            event_time_ms: t,
        }
    }

    #[test]
    fn r1_windows_cover_the_ten_minutes_ending_at_or_after_the_event() {
        let w: Vec<i64> = r1_windows(10 * R1_SIZE_MS + 5_000).collect();
        assert_eq!(w.len(), 10);
        assert_eq!(w[9], 10 * R1_SIZE_MS);
        assert_eq!(w[0], 10 * R1_SIZE_MS - 9 * R1_SLIDE_MS);
        assert!(w.iter().all(|s| *s <= 10 * R1_SIZE_MS + 5_000));
    }

    #[test]
    fn three_large_transactions_in_ten_minutes_alert_in_every_window_holding_all_three() {
        let base = 1_000 * R1_SLIDE_MS;
        let events = [
            ev("a", "acc", 80_000, base + 1_000),
            ev("b", "acc", 80_000, base + 61_000),
            ev("c", "acc", 80_000, base + 121_000),
            ev("d", "other", 80_000, base + 2_000),
        ];
        let r = compute(&events, None);
        // Windows holding minutes base..base+2: starts base-7..base (8 windows).
        assert_eq!(r.r1.len(), 8);
        assert!(r.r1.iter().all(|a| a.account_id == "acc" && a.count == 3));
        assert!(r.r1.iter().all(|a| a.sum_minor == 240_000));
        assert_eq!(r.r2.len(), 1);
        assert_eq!(r.r2[0].revenue_minor, 320_000);
        assert_eq!(r.r2[0].count, 4);
        assert!(r.late.is_empty());
    }

    #[test]
    fn a_sum_of_exactly_the_threshold_does_not_alert() {
        let events = [
            ev("a", "acc", 100_000, 0),
            ev("b", "acc", 50_000, 1),
            ev("c", "acc", 50_000, 2),
        ];
        assert!(compute(&events, None).r1.is_empty());
    }

    #[test]
    fn a_record_behind_the_watermark_is_dropped_only_from_fired_windows() {
        let h = 3_600_000;
        let events = [
            ev("early", "x", 10, 2 * h),
            // 90 s behind the watermark (2h - 10 s), in minute 2h - 2 min.
            ev("late", "y", 10, 2 * h - 100_000),
        ];
        let r = compute(&events, Some(10_000));
        assert_eq!(r.late.len(), 1);
        let late = &r.late[0];
        assert_eq!(late.transaction_id, "late");
        assert_eq!(late.watermark_ms, 2 * h - 10_000);
        // Its windows end at 2h - 1 min, 2h, …, 2h + 8 min: only the first has fired.
        assert_eq!(late.r1_windows_dropped, 1);
        assert!(!late.r2_dropped);
        assert_eq!(
            r.r2[0].count, 2,
            "the day has not fired: the late record counts"
        );
        let batch = compute(&events, None);
        assert!(batch.late.is_empty());
    }

    #[test]
    fn the_thresholds_are_the_applications() {
        assert_eq!(R1_SIZE_MS, monitoring::rules::WINDOW_MS);
        assert_eq!(R1_MIN_COUNT, monitoring::rules::VELOCITY_MIN_COUNT as u64);
        assert_eq!(
            R1_SUM_ABOVE_MINOR,
            monitoring::rules::VELOCITY_SUM_ABOVE_MINOR
        );
    }

    #[test]
    fn days_print_as_iso_dates() {
        assert_eq!(day_string(1_795_248_902_113 / DAY_MS), "2026-11-21");
    }
}

//! Latency bookkeeping: when each triggering transaction's PutRecords returned, when
//! its alert was seen on the alerts stream, and the percentiles of the differences.
//!
//! Puts and sightings are recorded independently and matched only at the end, by
//! transaction id: the alert consumer and the putting tasks run concurrently, and in
//! the fast polling mode an alert can in principle be read before the task that put
//! its transaction has stored the return time. Such an alert is still matched (its
//! latency clamps to zero and is counted as `early`). Alerts for transactions that were
//! not recorded as triggers (warm-up, or an unexpected rule firing on background
//! traffic) are counted as `unexpected`, not mixed into the figures.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Put and alert times of triggering transactions, by transaction id.
#[derive(Debug, Default)]
pub struct LatencyBook {
    puts: HashMap<String, Instant>,
    alerts: HashMap<String, Instant>,
    duplicate_alerts: u64,
}

impl LatencyBook {
    /// Records that the PutRecords call carrying trigger `id` returned at `at`.
    pub fn put_returned(&mut self, id: &str, at: Instant) {
        self.puts.insert(id.to_owned(), at);
    }

    /// Records that the alert for transaction `id` was read at `at`. The alerts
    /// stream is at-least-once (a retried batch republishes under the same record
    /// id): only the first sighting counts.
    pub fn alert_seen(&mut self, id: &str, at: Instant) {
        if self.alerts.contains_key(id) {
            self.duplicate_alerts += 1;
        } else {
            self.alerts.insert(id.to_owned(), at);
        }
    }

    /// Forgets everything (the end of the warm-up).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Triggers whose alert has not been seen yet.
    pub fn outstanding(&self) -> usize {
        self.puts
            .keys()
            .filter(|id| !self.alerts.contains_key(*id))
            .count()
    }

    /// Triggers put so far.
    pub fn triggers(&self) -> usize {
        self.puts.len()
    }

    /// The `n` largest latencies as (put time − `origin`, latency), largest first: shows
    /// whether a tail is one stall (clustered put times) or spread over the run.
    pub fn worst(&self, n: usize, origin: Instant) -> Vec<(Duration, Duration)> {
        let mut all: Vec<(Duration, Duration)> = self
            .puts
            .iter()
            .filter_map(|(id, put)| {
                let seen = self.alerts.get(id)?;
                Some((
                    put.saturating_duration_since(origin),
                    seen.saturating_duration_since(*put),
                ))
            })
            .collect();
        all.sort_unstable_by_key(|w| std::cmp::Reverse(w.1));
        all.truncate(n);
        all
    }

    /// Matches puts with alerts.
    pub fn report(&self) -> LatencyReport {
        let mut latencies = Vec::with_capacity(self.puts.len());
        let mut early = 0;
        for (id, put) in &self.puts {
            if let Some(seen) = self.alerts.get(id) {
                if seen < put {
                    early += 1;
                }
                latencies.push(seen.saturating_duration_since(*put));
            }
        }
        let unexpected = self
            .alerts
            .keys()
            .filter(|id| !self.puts.contains_key(*id))
            .count();
        LatencyReport {
            triggers: self.puts.len(),
            missing: self.puts.len() - latencies.len(),
            unexpected,
            early,
            duplicate_alerts: self.duplicate_alerts,
            percentiles: Percentiles::of(latencies),
        }
    }
}

/// What [`LatencyBook::report`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyReport {
    /// Triggering transactions put.
    pub triggers: usize,
    /// Triggers whose alert never arrived.
    pub missing: usize,
    /// Alerts for transactions that were not triggers.
    pub unexpected: usize,
    /// Alerts read before their put was recorded (latency counted as 0).
    pub early: usize,
    /// Repeated sightings of an alert already seen.
    pub duplicate_alerts: u64,
    /// Put → alert latencies of the matched triggers.
    pub percentiles: Option<Percentiles>,
}

/// Nearest-rank percentiles of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    /// Sample size.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest.
    pub max: Duration,
}

impl Percentiles {
    /// The percentiles of `sample`, `None` when it is empty.
    pub fn of(mut sample: Vec<Duration>) -> Option<Self> {
        if sample.is_empty() {
            return None;
        }
        sample.sort_unstable();
        let count = sample.len();
        Some(Self {
            count,
            p50: nearest_rank(&sample, 50),
            p90: nearest_rank(&sample, 90),
            p99: nearest_rank(&sample, 99),
            max: sample[count - 1],
        })
    }
}

/// The nearest-rank `p`-th percentile of a sorted, non-empty sample: the smallest
/// value with at least p % of the sample at or below it (rank ⌈p/100 · n⌉).
fn nearest_rank(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Milliseconds with one decimal, for the printed table.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank_of_the_sorted_sample() {
        // 1..=100 ms shuffled: p50 = 50, p90 = 90, p99 = 99, max = 100.
        let mut v: Vec<u64> = (1..=100).collect();
        v.reverse();
        v.swap(3, 70);
        let p = Percentiles::of(millis(&v)).unwrap();
        assert_eq!(p.count, 100);
        assert_eq!(p.p50, Duration::from_millis(50));
        assert_eq!(p.p90, Duration::from_millis(90));
        assert_eq!(p.p99, Duration::from_millis(99));
        assert_eq!(p.max, Duration::from_millis(100));
    }

    #[test]
    fn a_small_sample_reports_its_largest_value_as_p99() {
        let p = Percentiles::of(millis(&[30, 10, 20])).unwrap();
        assert_eq!(p.p50, Duration::from_millis(20));
        assert_eq!(p.p90, Duration::from_millis(30));
        assert_eq!(p.p99, Duration::from_millis(30));
        assert_eq!(
            Percentiles::of(millis(&[7])).unwrap().p50,
            Duration::from_millis(7)
        );
        assert_eq!(Percentiles::of(Vec::new()), None);
    }

    #[test]
    fn latency_is_alert_seen_minus_put_returned_per_transaction() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut book = LatencyBook::default();
        book.put_returned("a", at(0));
        book.put_returned("b", at(10));
        book.put_returned("c", at(20));
        // Out of order, with one alert that no trigger asked for.
        book.alert_seen("b", at(60));
        book.alert_seen("x", at(61));
        book.alert_seen("a", at(100));
        assert_eq!(book.outstanding(), 1);
        let r = book.report();
        assert_eq!(r.triggers, 3);
        assert_eq!(r.missing, 1);
        assert_eq!(r.unexpected, 1);
        let p = r.percentiles.unwrap();
        assert_eq!(p.count, 2);
        assert_eq!(p.p50, Duration::from_millis(50));
        assert_eq!(p.max, Duration::from_millis(100));
    }

    #[test]
    fn the_worst_latencies_come_largest_first_with_their_put_offsets() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut book = LatencyBook::default();
        for (id, put, seen) in [
            ("a", 0, 10),
            ("b", 100, 400),
            ("c", 200, 250),
            ("d", 300, 0),
        ] {
            book.put_returned(id, at(put));
            if seen > 0 {
                book.alert_seen(id, at(seen));
            }
        }
        let worst = book.worst(2, t0);
        assert_eq!(
            worst,
            vec![
                (Duration::from_millis(100), Duration::from_millis(300)),
                (Duration::from_millis(200), Duration::from_millis(50)),
            ]
        );
    }

    #[test]
    fn a_republished_alert_counts_once_from_its_first_sighting() {
        let t0 = Instant::now();
        let mut book = LatencyBook::default();
        book.put_returned("a", t0);
        book.alert_seen("a", t0 + Duration::from_millis(40));
        book.alert_seen("a", t0 + Duration::from_millis(900));
        let r = book.report();
        assert_eq!(r.duplicate_alerts, 1);
        assert_eq!(r.percentiles.unwrap().max, Duration::from_millis(40));
    }

    #[test]
    fn an_alert_read_before_its_put_was_recorded_counts_as_zero_and_early() {
        let t0 = Instant::now();
        let mut book = LatencyBook::default();
        book.alert_seen("a", t0);
        book.put_returned("a", t0 + Duration::from_millis(3));
        let r = book.report();
        assert_eq!(r.early, 1);
        assert_eq!(r.missing, 0);
        assert_eq!(r.percentiles.unwrap().max, Duration::ZERO);
    }
}

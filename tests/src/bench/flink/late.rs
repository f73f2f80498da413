//! Which records Flink dropped as late, against the reference's watermark model.
//!
//! Flink does not report dropped records, only a count. The late-events run therefore
//! adds a probe job (`bench/flink/late.sql`): every transaction id counted in its
//! one-minute window. Ids missing from the probe are the records Flink dropped from its
//! minute, which is the earliest R1 window holding the record, so exactly the records
//! dropped from at least one R1 window.
//!
//! Flink's window operators see a watermark that trails the model's by less than the
//! watermark interval (`WatermarkAssignerOperator` emits eagerly once the watermark has
//! moved by more than the interval, otherwise on its periodic timer). So Flink drops a
//! subset of what the model drops, and the model's extra drops are allowed only within
//! that interval of the window end (`first_window_margin_ms < interval`). With the
//! generator's records hours late, that band is normally empty and the sets are equal.

use std::collections::BTreeSet;

use super::input::Event;
use super::reference::LateEvent;

/// The outcome of the comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LateCheck {
    /// Records the model drops from some R1 window.
    pub model_dropped: usize,
    /// Records missing from Flink's probe.
    pub flink_dropped: usize,
    /// Model drops Flink counted, though the watermark was past the window by more than
    /// the interval: a real difference.
    pub counted_by_flink_only: Vec<String>,
    /// Flink drops the model counts: a real difference.
    pub dropped_by_flink_only: Vec<String>,
    /// Model drops Flink counted within the interval (allowed, reported).
    pub within_interval: Vec<String>,
    /// Ids Flink counted more than once, or that are not in the input.
    pub bogus: Vec<String>,
}

impl LateCheck {
    /// True if Flink dropped exactly what the model explains.
    pub fn is_explained(&self) -> bool {
        self.counted_by_flink_only.is_empty()
            && self.dropped_by_flink_only.is_empty()
            && self.bogus.is_empty()
    }
}

/// Compares Flink's counted ids (from the probe) with the model's late records.
pub fn check<'a>(
    events: &[Event],
    model_late: &[LateEvent],
    flink_counted: impl IntoIterator<Item = &'a str>,
    watermark_interval_ms: i64,
) -> LateCheck {
    let all: BTreeSet<&str> = events.iter().map(|e| e.transaction_id.as_str()).collect();
    let mut counted = BTreeSet::new();
    let mut bogus = Vec::new();
    for id in flink_counted {
        if !all.contains(id) || !counted.insert(id) {
            bogus.push(id.to_owned());
        }
    }
    let flink_dropped: BTreeSet<&str> = all.difference(&counted).copied().collect();
    let model: Vec<&LateEvent> = model_late
        .iter()
        .filter(|l| l.r1_windows_dropped > 0)
        .collect();
    let model_ids: BTreeSet<&str> = model.iter().map(|l| l.transaction_id.as_str()).collect();
    let mut check = LateCheck {
        model_dropped: model.len(),
        flink_dropped: flink_dropped.len(),
        bogus,
        dropped_by_flink_only: flink_dropped
            .difference(&model_ids)
            .map(|s| (*s).to_owned())
            .collect(),
        ..LateCheck::default()
    };
    for l in model {
        if flink_dropped.contains(l.transaction_id.as_str()) {
            continue;
        }
        if l.first_window_margin_ms < watermark_interval_ms {
            check.within_interval.push(l.transaction_id.clone());
        } else {
            check.counted_by_flink_only.push(l.transaction_id.clone());
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str) -> Event {
        Event {
            transaction_id: id.into(),
            account_id: "a".into(),
            merchant_id: "m".into(),
            amount_minor: 1,
            currency: "EUR".into(),
            event_time_ms: 0,
        }
    }

    fn late(id: &str, margin: i64) -> LateEvent {
        LateEvent {
            transaction_id: id.into(),
            event_time_ms: 0,
            watermark_ms: 0,
            r1_windows_dropped: 10,
            r2_dropped: false,
            first_window_margin_ms: margin,
        }
    }

    #[test]
    fn flink_dropping_exactly_the_model_late_records_is_explained() {
        let events = [ev("a"), ev("b"), ev("c")];
        let c = check(&events, &[late("b", 3_600_000)], ["a", "c"], 200);
        assert!(c.is_explained(), "{c:?}");
        assert_eq!((c.model_dropped, c.flink_dropped), (1, 1));
    }

    #[test]
    fn a_late_record_flink_counted_is_a_difference_unless_within_the_interval() {
        let events = [ev("a"), ev("b"), ev("c")];
        let c = check(
            &events,
            &[late("b", 3_600_000), late("c", 150)],
            ["a", "b", "c"],
            200,
        );
        assert_eq!(c.counted_by_flink_only, vec!["b".to_owned()]);
        assert_eq!(c.within_interval, vec!["c".to_owned()]);
        assert!(!c.is_explained());
    }

    #[test]
    fn a_record_only_flink_dropped_or_counted_twice_is_a_difference() {
        let events = [ev("a"), ev("b")];
        let c = check(&events, &[], ["a"], 200);
        assert_eq!(c.dropped_by_flink_only, vec!["b".to_owned()]);
        let c = check(&events, &[], ["a", "b", "b", "zz"], 200);
        assert_eq!(c.bogus, vec!["b".to_owned(), "zz".to_owned()]);
        assert!(!c.is_explained());
    }
}

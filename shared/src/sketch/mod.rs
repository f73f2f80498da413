//! Sketches: compact, mergeable summaries usable as window aggregates.
//!
//! ## Layout
//! - [`hash`] — the stable 64-bit hash both sketches rank items with.
//! - [`hll`] — [`HyperLogLog`] distinct counting (p = 12 → ≈ 1.6 % relative error).
//! - [`reservoir`] — [`Reservoir`], a deterministic bottom-k sample of item ids.
//!
//! Both are idempotent and order-independent (the same items give the same bytes), which
//! is what exactly-once re-application needs: a conflict re-folds the key's records, and
//! a re-delivered or duplicated item must not change the result.
//! [`DistinctCount`] and [`Sample`] wrap them as [`Aggregate`]s over item ids.

pub mod hash;
pub mod hll;
pub mod reservoir;

pub use hll::HyperLogLog;
pub use reservoir::Reservoir;

use crate::window::Aggregate;

/// Distinct ids in a window (HyperLogLog of precision `p`).
#[derive(Debug, Clone, Copy)]
pub struct DistinctCount {
    /// Precision (4..=16).
    pub p: u8,
}

impl Default for DistinctCount {
    fn default() -> Self {
        Self {
            p: hll::DEFAULT_PRECISION,
        }
    }
}

impl Aggregate for DistinctCount {
    type Input = str;
    type Acc = HyperLogLog;
    type Output = u64;
    fn add(&self, acc: &mut HyperLogLog, id: &str) {
        if acc.is_empty() && acc.precision() != self.p {
            *acc = HyperLogLog::new(self.p);
        }
        acc.insert(id.as_bytes());
    }
    fn merge(&self, acc: &mut HyperLogLog, other: HyperLogLog) {
        acc.merge(&other);
    }
    fn result(&self, acc: &HyperLogLog) -> u64 {
        acc.estimate()
    }
}

/// A deterministic sample of at most `k` ids in a window.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Sample size.
    pub k: usize,
}

impl Aggregate for Sample {
    type Input = str;
    type Acc = Reservoir;
    type Output = Vec<String>;
    fn add(&self, acc: &mut Reservoir, id: &str) {
        if acc.capacity() != self.k {
            acc.set_capacity(self.k);
        }
        acc.insert(id);
    }
    fn merge(&self, acc: &mut Reservoir, other: Reservoir) {
        acc.merge(&other);
    }
    fn result(&self, acc: &Reservoir) -> Vec<String> {
        acc.ids().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{Added, Assigner, WindowState, Windows};
    use crate::{Context, Effects, EventTime};

    #[test]
    fn sketches_work_as_window_aggregates() {
        let windows = Windows::new(
            Assigner::tumbling(1_000).unwrap(),
            (DistinctCount::default(), Sample { k: 3 }),
        );
        let mut state: WindowState<(HyperLogLog, Reservoir)> = WindowState::default();
        let mut effects: Effects<()> = Effects::default();
        let mut ctx = Context::new(&mut state, &mut effects, None, EventTime(0));
        for i in 0..50 {
            let id = format!("acc-{}", i % 20);
            let added = windows
                .add(&mut ctx, |s| s, EventTime(i), id.as_str(), "p", &i)
                .unwrap();
            assert_eq!(added, Added::Accepted(Vec::new()));
        }
        let timer = crate::Timer {
            domain: crate::TimeDomain::Event,
            time: EventTime(1_000),
        };
        let results = windows.fire(&mut ctx, |s| s, timer);
        let (distinct, sample) = &results[0].result;
        assert_eq!(*distinct, 20);
        assert_eq!(sample.len(), 3);
    }
}

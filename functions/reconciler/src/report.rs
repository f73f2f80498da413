//! `reconciliation.json`: the verdict, the counts, every difference and the batch totals
//! (query-api serves those totals once a day is reconciled).

use serde::{Deserialize, Serialize};

use crate::batch::{BatchCounts, HOURS};
use crate::compare::{Difference, Explanation, Verdict};
use crate::totals::TotalRow;

/// Counts of everything a run read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCounts {
    /// Raw archive objects read.
    pub raw_objects: u64,
    /// Raw objects that could not be decoded (their records are missing from the totals).
    pub unreadable_objects: u64,
    /// The batch side's record and transaction counts.
    #[serde(flatten)]
    pub batch: BatchCounts,
    /// Batch totals (merchant and product keys).
    pub batch_totals: u64,
    /// Stream totals read from the outputs table.
    pub stream_totals: u64,
    /// Stream total items that could not be read.
    pub unreadable_stream_items: u64,
    /// Distinct late transactions in the late side output.
    pub late_events: u64,
    /// Alerts of the day (0 when no alerts table is configured).
    pub alerts: u64,
    /// Differences found.
    pub differences: u64,
    /// Differences explained by late events.
    pub explained: u64,
    /// Differences nothing explains.
    pub unexplained: u64,
}

/// The whole reconciliation of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// The reconciled UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Overall outcome.
    pub verdict: Verdict,
    /// Counts.
    pub counts: ReportCounts,
    /// Every difference, in key order.
    pub differences: Vec<Difference>,
    /// Transactions per event-time hour.
    pub hourly_transactions: [u64; HOURS],
    /// Alerts per event-time hour.
    pub alerts_per_hour: [u64; HOURS],
    /// The batch totals, in key order.
    pub totals: Vec<TotalRow>,
}

impl Reconciliation {
    /// Fills the difference counts from `differences`.
    pub fn count_differences(&mut self) {
        let explained = self
            .differences
            .iter()
            .filter(|d| d.explanation == Explanation::LateEvents)
            .count() as u64;
        self.counts.differences = self.differences.len() as u64;
        self.counts.explained = explained;
        self.counts.unexplained = self.counts.differences - explained;
    }

    /// Pretty JSON with a trailing newline (deterministic: struct order, BTreeMap keys).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

//! What one rule's Shardwise run found and measured (R1 through fraud-detector, R2
//! through daily-totals): the same figures for both, over the rule's row type.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::compare::Diff;

/// One rule's run on the emulator, compared with the reference.
#[derive(Debug)]
pub struct RuleRun<T> {
    /// Input events.
    pub events: u64,
    /// Emulator start + `up`, seconds.
    pub startup_s: f64,
    /// First put → last record checkpointed, seconds.
    pub drain_s: f64,
    /// Watermark forced → no timer due, seconds.
    pub dispatch_s: f64,
    /// CPU-seconds over drain + dispatch (this process and its children).
    pub cpu_s: f64,
    /// The rule's rows: reference vs Shardwise.
    pub diff: Diff<T>,
    /// Rows read from Shardwise's output table.
    pub rows: usize,
    /// Records the reference drops as late from the rule (Flink drops them too).
    pub late_expected: BTreeSet<String>,
    /// Records in the function's late-events table.
    pub late_actual: BTreeSet<String>,
    /// The shards' watermarks when the input was drained (before forcing).
    pub watermarks_at_drain: String,
    /// Timers the dispatcher fired.
    pub timers_fired: u64,
    /// DynamoDB `TransactWriteItems` calls that failed (conflicts).
    pub failed_transactions: u64,
    /// The run's `ShardwiseUsage` JSON (`/_shardwise/metrics`-equivalent counters).
    pub usage: Value,
}

impl<T> RuleRun<T> {
    /// Identical rows and late records.
    pub fn is_identical(&self) -> bool {
        self.diff.is_empty() && self.late_expected == self.late_actual
    }

    /// Events per second, first put to last timer.
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / (self.drain_s + self.dispatch_s).max(1e-9)
    }

    /// The rule's part (`r1` or `r2`) of the `flink-bench --shardwise-metrics` JSON.
    pub fn rule_metrics(&self) -> Value {
        json!({
            "events_per_s": self.events_per_s(),
            "startup_s": self.startup_s,
            "cpu_s_per_million": self.cpu_s / self.events.max(1) as f64 * 1e6,
        })
    }
}

//! Per-batch counters and their CloudWatch Embedded Metric Format (EMF) line.
//!
//! EMF is a JSON log line with an `_aws` block; CloudWatch Logs turns it into metrics
//! without any API call from the function (no latency, no extra IAM).

use serde_json::json;

/// EMF namespace of every shardwise metric.
pub const METRICS_NAMESPACE: &str = "Shardwise";

/// What happened in one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMetrics {
    /// Records in the batch.
    pub records_in: u64,
    /// Records applied to state.
    pub applied: u64,
    /// Records skipped as already applied (at or below the key's high-water mark).
    pub duplicates_skipped: u64,
    /// Version conflicts that forced a re-read.
    pub conflicts: u64,
    /// Throttled DynamoDB calls that were retried.
    pub throttles: u64,
    /// Records sent to the dead-letter table.
    pub dead_lettered: u64,
    /// Key commits written.
    pub key_commits: u64,
    /// Batch latency, ms.
    pub latency_ms: u64,
    /// Age of the oldest record when processing started, ms.
    pub iterator_age_ms: u64,
    /// 1 when the batch was slower than the configured latency threshold.
    pub slow_batches: u64,
    /// Timers fired in-process before the batch (shard-log backend).
    pub timers_fired: u64,
}

impl BatchMetrics {
    /// Adds another key's counters into these.
    pub fn absorb(&mut self, other: &Self) {
        self.applied += other.applied;
        self.duplicates_skipped += other.duplicates_skipped;
        self.conflicts += other.conflicts;
        self.throttles += other.throttles;
        self.dead_lettered += other.dead_lettered;
        self.key_commits += other.key_commits;
    }

    /// The EMF JSON line for these counters (`timestamp_ms` from the injected clock).
    pub fn emf_line(&self, operator: &str, shard: &str, timestamp_ms: i64) -> String {
        let counts = [
            ("RecordsIn", self.records_in, "Count"),
            ("RecordsApplied", self.applied, "Count"),
            ("DuplicatesSkipped", self.duplicates_skipped, "Count"),
            ("Conflicts", self.conflicts, "Count"),
            ("Throttles", self.throttles, "Count"),
            ("DeadLettered", self.dead_lettered, "Count"),
            ("KeyCommits", self.key_commits, "Count"),
            ("SlowBatches", self.slow_batches, "Count"),
            ("TimersFired", self.timers_fired, "Count"),
            ("BatchLatency", self.latency_ms, "Milliseconds"),
            ("IteratorAge", self.iterator_age_ms, "Milliseconds"),
        ];
        let mut line = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Operator"]],
                    "Metrics": counts.iter().map(|(n, _, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
                }],
            },
            "Operator": operator,
            "ShardId": shard,
        });
        for (name, value, _) in counts {
            line[name] = json!(value);
        }
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_declares_every_metric_and_carries_its_value() {
        let m = BatchMetrics {
            records_in: 5,
            duplicates_skipped: 2,
            ..Default::default()
        };
        let line: serde_json::Value =
            serde_json::from_str(&m.emf_line("fraud", "shardId-000000000000", 7)).unwrap();
        assert_eq!(line["RecordsIn"], 5);
        assert_eq!(line["DuplicatesSkipped"], 2);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            METRICS_NAMESPACE
        );
        let declared = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(declared, 11);
    }
}

//! The printed comparison table.
//!
//! One row per engine; Flink's figures come from `bench/flink/run_rules.py`'s metrics
//! JSON, Shardwise's from its run on the emulator (phase 2: until then its cells print
//! `—`). Throughput excludes job start-up, which has its own column.

use serde::Deserialize;

use super::cost::{ISSUE_PRICES, PriceList, ShardwiseUsage, US_EAST_1_2024_11};

/// Figures of one rule on one engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct RuleMetrics {
    /// Events per second, start-up excluded.
    pub events_per_s: f64,
    /// Start-up (job deployment, or cold start), seconds.
    pub startup_s: f64,
    /// CPU-seconds per million events, start-up excluded.
    pub cpu_s_per_million: f64,
}

/// Flink's metrics file (`run_rules.py --metrics`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FlinkMetrics {
    /// Flink version that ran.
    pub flink_version: String,
    /// Job parallelism.
    pub parallelism: u32,
    /// Watermark delay, seconds.
    pub watermark_delay_s: i64,
    /// Watermark emission interval, ms (Flink's default 200).
    #[serde(default = "default_watermark_interval_ms")]
    pub watermark_interval_ms: i64,
    /// Input records.
    pub events: u64,
    /// JVM (gateway) start-up, seconds.
    pub jvm_start_s: f64,
    /// 1-minute load average when the jobs started (the machine is shared).
    #[serde(default)]
    pub load_avg_1m_before: Option<f64>,
    /// Extra Flink configuration the run used.
    #[serde(default)]
    pub conf: std::collections::BTreeMap<String, String>,
    /// Per rule (`r1`, `r2`).
    pub rules: std::collections::BTreeMap<String, RuleMetrics>,
}

fn default_watermark_interval_ms() -> i64 {
    200
}

/// A Shardwise run's figures (`flink-bench --shardwise-metrics`, written by the phase 2
/// driver): `{"r1": RuleMetrics, "r2": RuleMetrics, "usage": ShardwiseUsage}`, any part
/// optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShardwiseMetrics {
    /// R1 figures.
    pub r1: Option<RuleMetrics>,
    /// R2 figures.
    pub r2: Option<RuleMetrics>,
    /// AWS usage of the whole run.
    pub usage: Option<ShardwiseUsage>,
}

/// One engine's row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineRow {
    /// Engine name.
    pub engine: String,
    /// R1 figures, if measured.
    pub r1: Option<RuleMetrics>,
    /// R2 figures, if measured.
    pub r2: Option<RuleMetrics>,
    /// Shardwise's AWS usage (Flink has none).
    pub usage: Option<ShardwiseUsage>,
}

fn cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

/// Renders the table. The ratio columns are each row's events/s over the first row's
/// (Flink is the first row, so Shardwise's row shows Shardwise/Flink).
pub fn render(rows: &[EngineRow]) -> String {
    let base = rows.first();
    let ratio = |own: Option<RuleMetrics>, pick: fn(&EngineRow) -> Option<RuleMetrics>| {
        let b = base.and_then(pick)?.events_per_s;
        let o = own?.events_per_s;
        (b > 0.0).then(|| o / b)
    };
    let mut out = String::new();
    out.push_str(
        "| engine | R1 events/s | R1 ratio | R1 CPU-s/M | R2 events/s | R2 ratio | R2 CPU-s/M \
         | start-up s (R1/R2) | DDB writes/event | WRU/event | $/M events (issue prices) \
         | $/M events (2024-11 prices) |\n",
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in rows {
        let usage = row.usage.as_ref();
        let cost = |p: &PriceList| usage.map(|u| u.cost_per_million(p).total());
        let startup = match (row.r1, row.r2) {
            (None, None) => "—".to_owned(),
            (a, b) => format!(
                "{}/{}",
                cell(a.map(|m| m.startup_s), 1),
                cell(b.map(|m| m.startup_s), 1)
            ),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.engine,
            cell(row.r1.map(|m| m.events_per_s), 0),
            cell(ratio(row.r1, |r| r.r1), 2),
            cell(row.r1.map(|m| m.cpu_s_per_million), 1),
            cell(row.r2.map(|m| m.events_per_s), 0),
            cell(ratio(row.r2, |r| r.r2), 2),
            cell(row.r2.map(|m| m.cpu_s_per_million), 1),
            startup,
            cell(usage.map(ShardwiseUsage::write_requests_per_event), 3),
            cell(usage.map(ShardwiseUsage::wru_per_event), 3),
            cell(cost(&ISSUE_PRICES), 3),
            cell(cost(&US_EAST_1_2024_11), 3),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(events_per_s: f64) -> RuleMetrics {
        RuleMetrics {
            events_per_s,
            startup_s: 2.0,
            cpu_s_per_million: 30.0,
        }
    }

    #[test]
    fn shardwise_cells_print_dashes_until_measured() {
        let rows = [
            EngineRow {
                engine: "Flink 2.3.0".into(),
                r1: Some(m(50_000.0)),
                r2: Some(m(200_000.0)),
                usage: None,
            },
            EngineRow {
                engine: "Shardwise".into(),
                ..EngineRow::default()
            },
        ];
        let t = render(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[2].starts_with("| Flink 2.3.0 | 50000 | 1.00 | 30.0 | 200000 | 1.00 |"));
        assert_eq!(lines[3].matches('—').count(), 11, "{}", lines[3]);
    }

    #[test]
    fn the_ratio_is_the_engine_over_flink_and_cost_comes_from_usage() {
        let usage = ShardwiseUsage {
            events: 1_000_000,
            dynamodb_write_requests: 200_000,
            dynamodb_wru: 200_000.0,
            ..ShardwiseUsage::default()
        };
        let rows = [
            EngineRow {
                engine: "Flink".into(),
                r1: Some(m(40_000.0)),
                r2: None,
                usage: None,
            },
            EngineRow {
                engine: "Shardwise".into(),
                r1: Some(m(30_000.0)),
                r2: None,
                usage: Some(usage),
            },
        ];
        let t = render(&rows);
        let row = t.lines().nth(3).unwrap();
        assert!(row.contains("| 30000 | 0.75 |"), "{row}");
        assert!(row.contains("| 0.200 | 0.200 | 0.250 | 0.125 |"), "{row}");
    }

    #[test]
    fn a_partial_shardwise_metrics_file_parses_with_zero_defaults() {
        let json = r#"{"r1":{"events_per_s":1.0,"startup_s":0.5,"cpu_s_per_million":9.0},
            "usage":{"events":10,"dynamodb_wru":4.0}}"#;
        let s: ShardwiseMetrics = serde_json::from_str(json).unwrap();
        assert!(s.r2.is_none());
        let u = s.usage.unwrap();
        assert_eq!((u.events, u.dynamodb_write_requests), (10, 0));
        assert!((u.wru_per_event() - 0.4).abs() < 1e-12);
    }

    #[test]
    fn the_metrics_file_of_the_driver_parses() {
        let json = r#"{"flink_version":"2.3.0","parallelism":2,"watermark_delay_s":10,
            "events":2000,"jvm_start_s":2.5,"rules":{"r1":{"startup_s":1.1,"wall_s":2.0,
            "net_s":0.9,"events_per_s":2222.2,"cpu_s":3.0,"startup_cpu_s":1.0,
            "cpu_s_per_million":1000.0}}}"#;
        let f: FlinkMetrics = serde_json::from_str(json).unwrap();
        assert_eq!(f.rules["r1"].events_per_s, 2222.2);
        assert_eq!(f.events, 2000);
    }
}

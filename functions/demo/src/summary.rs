//! The demo's result: a serialisable [`Summary`], the checks that make the demo fail,
//! and its text rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use load_generator::LoadReport;
use monitoring::generator::Score;
use serde::Serialize;

use crate::chaos::FaultCounts;
use crate::results::{DeadLetterSummary, ReconciliationSummary, SessionsSummary, TotalsSummary};
use crate::state::{SHARD_LOG, StateBackendSummary};

/// Precision and recall the demo requires (issue 7's targets).
pub const MIN_PRECISION: f64 = 0.9;
/// See [`MIN_PRECISION`].
pub const MIN_RECALL: f64 = 0.9;

/// Everything the demo found.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The generated UTC day.
    pub day: String,
    /// Generator seed.
    pub seed: u64,
    /// Distinct valid transactions generated.
    pub transactions: u64,
    /// Records generated (with duplicates, late and malformed ones).
    pub records: u64,
    /// Fraud cases injected.
    pub fraud_cases: u64,
    /// Functions that ran (binary names).
    pub functions_running: Vec<String>,
    /// Functions that did not (binary name → why).
    pub functions_missing: BTreeMap<String, String>,
    /// The PutRecords run.
    pub load: LoadReport,
    /// Seconds from the first put until every consumer had processed every record.
    pub pipeline_seconds: f64,
    /// Wall-clock seconds per phase (`build_and_up`, `stream_and_drain`, `settle`,
    /// `reconcile`, `total`).
    pub timings: BTreeMap<String, f64>,
    /// Consumers still behind when the demo stopped waiting (function → records).
    pub not_drained: BTreeMap<String, u64>,
    /// Failed invocations per consumer of the transactions stream (function → count).
    pub function_errors: BTreeMap<String, u64>,
    /// Alerts scored against the ground truth (fraud-detector running).
    pub alerts: Option<Score>,
    /// Daily totals (daily-totals running).
    pub totals: Option<TotalsSummary>,
    /// The nightly reconciliation (reconciler running and its report found).
    pub reconciliation: Option<ReconciliationSummary>,
    /// Dead letters.
    pub dead_letters: DeadLetterSummary,
    /// Device sessions (session-tracker running).
    pub sessions: Option<SessionsSummary>,
    /// Where each running stream function kept its keyed state (binary name → backend).
    pub state_backends: BTreeMap<String, StateBackendSummary>,
    /// Faults the emulator injected, when fault injection was on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultCounts>,
    /// Where the summary and reports were written.
    pub out_dir: PathBuf,
    /// Observations that are not failures.
    pub notes: Vec<String>,
    /// Steps that went wrong while running (each is also a failure).
    pub errors: Vec<String>,
    /// Why the demo fails (empty: it passed).
    pub failures: Vec<String>,
}

impl Summary {
    /// Fills [`Summary::failures`] from the figures.
    pub fn check(&mut self) {
        let mut f = self.errors.clone();
        for (b, why) in &self.functions_missing {
            f.push(format!("function {b} is missing: {why}"));
        }
        for (function, lag) in &self.not_drained {
            let errors = self.function_errors.get(function).copied().unwrap_or(0);
            f.push(format!(
                "{function} did not drain the stream ({lag} records behind, {errors} failed \
                 invocations; see {})",
                self.out_dir
                    .join("logs")
                    .join(format!("{function}.log"))
                    .display()
            ));
        }
        if let Some(s) = &self.alerts {
            if s.precision < MIN_PRECISION {
                f.push(format!(
                    "alert precision {:.3} is below {MIN_PRECISION}",
                    s.precision
                ));
            }
            if s.recall < MIN_RECALL {
                f.push(format!(
                    "alert recall {:.3} is below {MIN_RECALL}",
                    s.recall
                ));
            }
            if s.duplicate_alerts > 0 {
                f.push(format!("{} duplicate alerts", s.duplicate_alerts));
            }
        }
        for (function, s) in &self.state_backends {
            if let Some(e) = &s.error {
                f.push(format!("{function}'s state backend could not be read: {e}"));
            } else if s.backend == SHARD_LOG && s.commits == Some(0) && self.load.records > 0 {
                f.push(format!(
                    "{function} is on the shard log but committed no checkpoint"
                ));
            }
        }
        if let Some(r) = &self.reconciliation
            && (r.unexplained > 0 || r.verdict == "mismatch")
        {
            f.push(format!(
                "reconciliation verdict {}: {} unexplained differences",
                r.verdict, r.unexplained
            ));
        }
        self.failures = f;
    }

    /// The human-readable summary.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "\n=== Shardwise demo: {} (seed {}) ===",
            self.day, self.seed
        );
        let _ = writeln!(
            o,
            "traffic      {} transactions in {} records ({} fraud cases), put at {:.0} records/s; \
             all consumers done after {:.1} s",
            self.transactions,
            self.records,
            self.fraud_cases,
            self.load.records_per_second,
            self.pipeline_seconds
        );
        let phases: Vec<String> = self
            .timings
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect();
        let _ = writeln!(o, "timings      {}", phases.join(", "));
        let _ = writeln!(
            o,
            "functions    running: {}",
            self.functions_running.join(", ")
        );
        for (b, why) in &self.functions_missing {
            let _ = writeln!(o, "             MISSING {b}: {why}");
        }
        let backends: Vec<String> = self
            .state_backends
            .iter()
            .map(|(function, s)| match (s.shards, s.commits) {
                (Some(shards), Some(commits)) => format!(
                    "{function} {} ({shards} shards, {commits} checkpointed batches)",
                    s.backend
                ),
                _ => format!("{function} {}", s.backend),
            })
            .collect();
        if !backends.is_empty() {
            let _ = writeln!(o, "state        {}", backends.join(", "));
        }
        match &self.alerts {
            Some(s) => {
                let _ = writeln!(
                    o,
                    "alerts       {} alerts, {} true; {} of {} cases detected; precision {:.3}, recall {:.3}; {} duplicates",
                    s.alerts,
                    s.true_alerts,
                    s.detected_cases,
                    s.cases,
                    s.precision,
                    s.recall,
                    s.duplicate_alerts
                );
                for (pattern, p) in &s.per_pattern {
                    let name = serde_json::to_value(pattern)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("{pattern:?}"));
                    let _ = writeln!(o, "               {name:<20} {}/{}", p.detected, p.cases);
                }
            }
            None => {
                let _ = writeln!(o, "alerts       (fraud-detector not running)");
            }
        }
        match &self.totals {
            Some(t) => {
                let revenue: Vec<String> = t
                    .revenue_by_currency
                    .iter()
                    .map(|(c, v)| format!("{} {c}", money(*v, c)))
                    .collect();
                let _ = writeln!(
                    o,
                    "totals       {} merchants, {} products ({} rows final); revenue {}; {} of {} merchants equal the generator's totals to the cent",
                    t.merchants,
                    t.products,
                    t.final_rows,
                    revenue.join(", "),
                    t.merchants_matching_truth,
                    t.merchants_in_truth
                );
                for r in &t.top_merchants {
                    let _ = writeln!(
                        o,
                        "               {:<10} {:>14} {} in {} transactions",
                        r.id,
                        money(r.revenue_minor, &r.currency),
                        r.currency,
                        r.count
                    );
                }
            }
            None => {
                let _ = writeln!(o, "totals       (daily-totals not running)");
            }
        }
        match &self.reconciliation {
            Some(r) => {
                let _ = writeln!(
                    o,
                    "reconcile    verdict {}: {} differences ({} explained by late events, {} unexplained)",
                    r.verdict, r.differences, r.explained, r.unexplained
                );
                let _ = writeln!(
                    o,
                    "             report: {}",
                    r.local_dir.join(crate::results::REPORT_HTML).display()
                );
            }
            None => {
                let _ = writeln!(o, "reconcile    (no reconciliation report)");
            }
        }
        let d = &self.dead_letters;
        let _ = writeln!(
            o,
            "dead letters {} records ({} items over {} operators); generator sent {} malformed",
            d.records,
            d.items,
            d.by_operator.len(),
            d.expected_by_reason.values().sum::<u64>()
        );
        let mut reasons: Vec<&String> = d
            .by_reason
            .keys()
            .chain(d.expected_by_reason.keys())
            .collect();
        reasons.sort();
        reasons.dedup();
        for r in reasons {
            let _ = writeln!(
                o,
                "               {r:<24} {:>5} (expected {})",
                d.by_reason.get(r).copied().unwrap_or(0),
                d.expected_by_reason.get(r).copied().unwrap_or(0)
            );
        }
        match &self.sessions {
            Some(s) => {
                let _ = writeln!(
                    o,
                    "sessions     {} closed sessions with {} transactions (mean {:.0} s); {} heartbeat items",
                    s.closed, s.transactions, s.mean_duration_seconds, s.heartbeat_items
                );
            }
            None => {
                let _ = writeln!(o, "sessions     (session-tracker not running)");
            }
        }
        if let Some(f) = &self.faults {
            let _ = writeln!(
                o,
                "chaos        {} processes killed, {} batches delivered twice, {} DynamoDB requests throttled",
                f.total_kills(),
                f.total_duplicate_deliveries(),
                f.ddb_throttles
            );
        }
        for n in &self.notes {
            let _ = writeln!(o, "note         {n}");
        }
        let _ = writeln!(
            o,
            "summary      {}",
            self.out_dir.join("summary.json").display()
        );
        if self.failures.is_empty() {
            let _ = writeln!(o, "RESULT       OK");
        } else {
            let _ = writeln!(o, "RESULT       FAILED");
            for f in &self.failures {
                let _ = writeln!(o, "  - {f}");
            }
        }
        o
    }
}

/// `1234567, "EUR"` → `12,345.67`: grouped units and the currency's minor digits.
fn money(minor: i64, currency: &str) -> String {
    let exponent = monitoring::currency_exponent(currency).unwrap_or(2);
    let scale = 10_u64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    let units = (m / scale).to_string();
    let mut grouped = String::new();
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if exponent == 0 {
        format!("{sign}{grouped}")
    } else {
        format!(
            "{sign}{grouped}.{:0width$}",
            m % scale,
            width = exponent as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_keeps_cents() {
        assert_eq!(money(123_456_789, "EUR"), "1,234,567.89");
        assert_eq!(money(5, "EUR"), "0.05");
        assert_eq!(money(-100_000, "EUR"), "-1,000.00");
        assert_eq!(money(1_234, "JPY"), "1,234");
    }
}

//! The Shardwise side of the Flink benchmark for R2 (daily revenue and count per
//! merchant and currency): the real `daily-totals` function on the emulator.
//!
//! `tests/fixtures/flink-bench-r2-template.yaml` configures daily-totals for exactly R2:
//! - `DAILY_TOTALS_DIMENSIONS=merchant`: only the merchant processor runs (R2 has no
//!   product totals or day sample; the application's default runs all three);
//! - `ALLOWED_LATENESS_SECONDS=0`: Flink SQL's TUMBLE has no allowed lateness, so a record
//!   whose day has fired is dropped (Shardwise: routed to the late-events table);
//! - `WATERMARK_OUT_OF_ORDERNESS_MS=9999`: Flink fires a window at `watermark ≥ end − 1`
//!   with `watermark = max − 10 s`, the framework at `watermark ≥ end` with
//!   `watermark = max − out-of-orderness`, so 10 s − 1 ms is the same condition (as R1's
//!   `r1-hop`).
//!
//! The run is R1's ([`super::emulator_stack`]), on its own emulator: put, drain, force the
//! watermark to the end of time, fire every due timer with a library [`Dispatcher`] that
//! has daily-totals registered (as `timer-dispatcher` does), then scan the outputs
//! table's `merchant` rows and the late-events table and compare them with the
//! reference's R2 rows and R2-dropped records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use daily_totals::output::DimensionTotal;
use daily_totals::{DailyTotals, DailyTotalsConfig, Dimension, DimensionSet, OPERATOR_NAME};
use serde_json::{Value, json};
use shardwise::{
    Clock, Dispatcher, DispatcherConfig, DynamoStateStore, EventTime, ProcessingConfig,
    SystemClock, force_watermark,
};

use super::compare::{Diff, diff};
use super::emulator_stack::{
    BenchStack, Input, cpu_seconds, fixture, late_transaction_ids, scan_bodies,
};
use super::reference::{R2Total, compute};
use super::shardwise_run::{FLINK_DELAY_MS, dispatch_all};

/// Flink's firing condition expressed as the framework's out-of-orderness (see above).
pub const R2_WATERMARK_OUT_OF_ORDERNESS_MS: i64 = FLINK_DELAY_MS - 1;

/// The R2 bench template.
pub fn template_path() -> PathBuf {
    fixture("flink-bench-r2-template.yaml")
}

/// What one R2 run found and measured.
#[derive(Debug)]
pub struct R2Run {
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
    /// R2 rows: reference vs Shardwise.
    pub r2: Diff<R2Total>,
    /// Merchant rows read.
    pub r2_rows: usize,
    /// Records the reference drops from R2 (their day had fired; Flink drops them too).
    pub late_expected: BTreeSet<String>,
    /// Records in daily-totals' late-events table.
    pub late_actual: BTreeSet<String>,
    /// The shards' watermarks when the input was drained (before forcing).
    pub watermarks_at_drain: String,
    /// Timers the dispatcher fired.
    pub timers_fired: u64,
    /// DynamoDB `TransactWriteItems` calls that failed (conflicts).
    pub failed_transactions: u64,
    /// The `ShardwiseUsage` JSON of this run.
    pub usage: Value,
}

impl R2Run {
    /// Identical daily totals and late records.
    pub fn is_identical(&self) -> bool {
        self.r2.is_empty() && self.late_expected == self.late_actual
    }

    /// Events per second, first put to last timer.
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / (self.drain_s + self.dispatch_s).max(1e-9)
    }

    /// The `r2` part of the `flink-bench --shardwise-metrics` JSON.
    pub fn rule_metrics(&self) -> Value {
        json!({
            "events_per_s": self.events_per_s(),
            "startup_s": self.startup_s,
            "cpu_s_per_million": self.cpu_s / self.events.max(1) as f64 * 1e6,
        })
    }
}

/// The daily-totals settings the R2 template sets (for the in-process dispatcher).
fn r2_config() -> anyhow::Result<DailyTotalsConfig> {
    Ok(DailyTotalsConfig {
        allowed_lateness_ms: 0,
        dimensions: DimensionSet::parse(Dimension::Merchant.as_str())
            .map_err(anyhow::Error::msg)?,
        ..DailyTotalsConfig::default()
    })
}

/// Runs R2 on `input` (JSON Lines, arrival order) with the `daily-totals` binary;
/// `batch_size` is the mapping's BatchSize, `shards` the stream's shard count (the
/// template's 2 when `None`; one shard makes the late records deterministic, see the
/// template's `ShardCount`).
pub async fn run_r2(
    input: &Path,
    daily_totals_bin: &Path,
    dispatch_concurrency: usize,
    batch_size: u32,
    shards: Option<u32>,
) -> anyhow::Result<R2Run> {
    let Input { events, records } = Input::read(input)?;
    let bench = BenchStack::up(&template_path(), daily_totals_bin, batch_size, shards).await?;
    let (state, outputs, timers, late, dead) = (
        bench.table("StateTable")?,
        bench.table("OutputsTable")?,
        bench.table("TimersTable")?,
        bench.table("LateEventsTable")?,
        bench.table("DeadLetterTable")?,
    );
    let drained = bench.put_and_drain(&records).await?;

    let dispatch_started = Instant::now();
    let ddb = bench.env.dynamodb();
    let store = DynamoStateStore::new(ddb.clone(), &state, Some(&outputs), &dead)
        .with_timers_table(Some(&timers))
        .with_late_events_table(Some(&late));
    let store = Arc::new(store);
    let watermarks = shardwise::watermark::read(&*store, OPERATOR_NAME).await?;
    force_watermark(&*store, OPERATOR_NAME, EventTime::MAX).await?;
    let mut processing = ProcessingConfig::new(&state, &dead);
    processing.watermark.out_of_orderness_ms = R2_WATERMARK_OUT_OF_ORDERNESS_MS;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = DispatcherConfig {
        concurrency: dispatch_concurrency.max(1),
        ..DispatcherConfig::from_processing(&processing)
    };
    let operator = DailyTotals::new(Dimension::Merchant, r2_config()?);
    let dispatcher = Dispatcher::new(Arc::clone(&store), clock, config).register(operator);
    let timers_fired = dispatch_all(&dispatcher).await?;
    let dispatch_s = dispatch_started.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds() - drained.cpu_before;
    bench.stop();

    let mut actual = Vec::new();
    for body in scan_bodies(&ddb, &outputs).await? {
        let v: Value = serde_json::from_str(&body)?;
        if v["dimension"] != Dimension::Merchant.as_str() {
            continue;
        }
        let t: DimensionTotal = serde_json::from_value(v)?;
        actual.push(R2Total {
            merchant_id: t.id,
            currency: t.currency,
            day: t.day,
            revenue_minor: t.revenue_minor,
            count: t.count,
        });
    }
    actual.sort();
    let late_actual = late_transaction_ids(&ddb, &late).await?;
    let reference = compute(&events, Some(FLINK_DELAY_MS));
    let late_expected = reference
        .late
        .iter()
        .filter(|l| l.r2_dropped)
        .map(|l| l.transaction_id.clone())
        .collect();

    Ok(R2Run {
        events: events.len() as u64,
        startup_s: bench.startup_s,
        drain_s: drained.drain_s,
        dispatch_s,
        cpu_s,
        r2: diff(&reference.r2, &actual),
        r2_rows: actual.len(),
        late_expected,
        late_actual,
        watermarks_at_drain: format!("{watermarks:?}"),
        timers_fired,
        failed_transactions: bench.failed_transactions(),
        usage: bench.usage(&records, &drained),
    })
}

//! The Shardwise side of the Flink benchmark: R1 through the real `fraud-detector`
//! function (`FRAUD_RULES=r1-hop`) on the emulator.
//!
//! One code path, the emulator's own ([`super::emulator_stack`]): an in-process emulator,
//! `tests/fixtures/flink-bench-template.yaml` brought up (the function binary given,
//! never built here), the JSON Lines input put to the transactions stream in arrival
//! order and drained, then the end of input: the watermark forced to the end of time and a
//! library [`Dispatcher`] polled in process against the emulator's DynamoDB until no
//! timer is due, as the `timer-dispatcher` function would. Alerts and late events are
//! then scanned and compared with the reference.
//!
//! Measured: events/s from the first put to the last timer fired (start-up, i.e. the
//! emulator and `up`, reported apart), CPU-seconds of this process (emulator, producer,
//! dispatcher) plus its child processes (the function environments) from `/proc`,
//! DynamoDB write requests and WCU from the emulator's counters.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use fraud_detector::VelocityAlert;
use fraud_detector::hop::{HopVelocity, R1_OPERATOR_NAME, R1_WATERMARK_OUT_OF_ORDERNESS_MS};
use serde_json::{Value, json};
use shardwise::{
    Clock, Dispatcher, DispatcherConfig, DynamoStateStore, EventTime, ProcessingConfig, StateStore,
    SystemClock, force_watermark,
};

use super::compare::{Diff, diff};
use super::emulator_stack::{
    BenchStack, Input, cpu_seconds, fixture, late_transaction_ids, scan_bodies,
};
use super::reference::{R1_SIZE_MS, R1_SLIDE_MS, R1Alert, compute};

/// Flink's watermark delay in the benchmark.
pub const FLINK_DELAY_MS: i64 = 10_000;

/// The bench template.
pub fn template_path() -> PathBuf {
    fixture("flink-bench-template.yaml")
}

/// What one run found and measured.
#[derive(Debug)]
pub struct ShardwiseRun {
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
    /// R1 rows: reference vs Shardwise.
    pub r1: Diff<R1Alert>,
    /// Alert rows read.
    pub r1_rows: usize,
    /// Records the reference drops from every R1 window (Flink drops them too).
    pub late_expected: BTreeSet<String>,
    /// Records in Shardwise's late-events table.
    pub late_actual: BTreeSet<String>,
    /// The shards' watermarks when the input was drained (before forcing).
    pub watermarks_at_drain: String,
    /// Timers the dispatcher fired.
    pub timers_fired: u64,
    /// DynamoDB `TransactWriteItems` calls that failed (conflicts).
    pub failed_transactions: u64,
    /// `/_shardwise/metrics`-equivalent counters.
    pub usage: Value,
}

impl ShardwiseRun {
    /// Identical alerts and late records.
    pub fn is_identical(&self) -> bool {
        self.r1.is_empty() && self.late_expected == self.late_actual
    }

    /// Events per second, first put to last timer.
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / (self.drain_s + self.dispatch_s).max(1e-9)
    }

    /// The `flink-bench --shardwise-metrics` JSON.
    pub fn metrics_json(&self) -> Value {
        json!({
            "r1": {
                "events_per_s": self.events_per_s(),
                "startup_s": self.startup_s,
                "cpu_s_per_million": self.cpu_s / self.events as f64 * 1e6,
            },
            "usage": self.usage,
        })
    }
}

/// Runs R1 on `input` (JSON Lines, arrival order) with the `fraud-detector` binary.
///
/// `batch_size` is the mapping's BatchSize. `dispatch_concurrency` bounds the dispatcher's firings in flight: at the end of input
/// every timer is due at once, and a key's ten window timers fired concurrently conflict
/// on its state item (each conflict is a failed transaction and a re-read).
pub async fn run(
    input: &Path,
    fraud_detector_bin: &Path,
    dispatch_concurrency: usize,
    batch_size: u32,
) -> anyhow::Result<ShardwiseRun> {
    run_on_shards(
        input,
        fraud_detector_bin,
        dispatch_concurrency,
        batch_size,
        None,
    )
    .await
}

/// [`run`] on a stream of `shards` shards (the template's default when `None`). One
/// shard makes the late records deterministic (see the template's `ShardCount`).
pub async fn run_on_shards(
    input: &Path,
    fraud_detector_bin: &Path,
    dispatch_concurrency: usize,
    batch_size: u32,
    shards: Option<u32>,
) -> anyhow::Result<ShardwiseRun> {
    let Input { events, records } = Input::read(input)?;
    let bench = BenchStack::up(&template_path(), fraud_detector_bin, batch_size, shards).await?;
    let (state, alerts, timers, late, dead) = (
        bench.table("StateTable")?,
        bench.table("AlertsTable")?,
        bench.table("TimersTable")?,
        bench.table("LateEventsTable")?,
        bench.table("DeadLetterTable")?,
    );
    let drained = bench.put_and_drain(&records).await?;

    let dispatch_started = Instant::now();
    let ddb = bench.env.dynamodb();
    let store = DynamoStateStore::new(ddb.clone(), &state, Some(&alerts), &dead)
        .with_timers_table(Some(&timers))
        .with_late_events_table(Some(&late));
    let store = Arc::new(store);
    let watermarks = shardwise::watermark::read(&*store, R1_OPERATOR_NAME).await?;
    force_watermark(&*store, R1_OPERATOR_NAME, EventTime::MAX).await?;
    let mut processing = ProcessingConfig::new(&state, &dead);
    processing.watermark.out_of_orderness_ms = R1_WATERMARK_OUT_OF_ORDERNESS_MS;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = DispatcherConfig {
        concurrency: dispatch_concurrency.max(1),
        ..DispatcherConfig::from_processing(&processing)
    };
    let dispatcher =
        Dispatcher::new(Arc::clone(&store), clock, config).register(HopVelocity::new());
    let timers_fired = dispatch_all(&dispatcher).await?;
    let dispatch_s = dispatch_started.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds() - drained.cpu_before;
    bench.stop();

    let rows = scan_bodies(&ddb, &alerts).await?;
    let mut actual: Vec<R1Alert> = rows
        .iter()
        .map(|b| {
            let a: VelocityAlert = serde_json::from_str(b)?;
            Ok(R1Alert {
                account_id: a.account_id,
                currency: a.currency,
                window_start_ms: a.window_start_ms,
                window_end_ms: a.window_end_ms,
                count: a.count,
                sum_minor: a.sum_minor,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    actual.sort();
    let late_actual = late_transaction_ids(&ddb, &late).await?;
    let reference = compute(&events, Some(FLINK_DELAY_MS));
    let windows_per_record = u32::try_from(R1_SIZE_MS / R1_SLIDE_MS)?;
    let late_expected = reference
        .late
        .iter()
        .filter(|l| l.r1_windows_dropped == windows_per_record)
        .map(|l| l.transaction_id.clone())
        .collect();

    Ok(ShardwiseRun {
        events: events.len() as u64,
        startup_s: bench.startup_s,
        drain_s: drained.drain_s,
        dispatch_s,
        cpu_s,
        r1: diff(&reference.r1, &actual),
        r1_rows: actual.len(),
        late_expected,
        late_actual,
        watermarks_at_drain: format!("{watermarks:?}"),
        timers_fired,
        failed_transactions: bench.failed_transactions(),
        usage: bench.usage(&records, &drained),
    })
}

/// Polls `dispatcher` until no timer is due; returns the timers fired.
pub async fn dispatch_all<S: StateStore>(dispatcher: &Dispatcher<S>) -> anyhow::Result<u64> {
    let mut timers_fired = 0;
    loop {
        let report = dispatcher.poll_once().await?;
        timers_fired += report.fired;
        if report.dead_lettered > 0 {
            bail!(
                "{} timers dead-lettered after poison errors",
                report.dead_lettered
            );
        }
        if report.fired == 0 && report.deferred == 0 && !report.backlog {
            return Ok(timers_fired);
        }
    }
}

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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;
use fraud_detector::VelocityAlert;
use fraud_detector::hop::{HopVelocity, R1_WATERMARK_OUT_OF_ORDERNESS_MS};
use shardwise::config::DEFAULT_STATE_PREFIX;
use shardwise::shard_log::{AwsShardLog, ShardLogStore, fire_due_shards};
use shardwise::{
    Clock, Dispatcher, DispatcherConfig, DynamoStateStore, EventTime, Operator, ProcessingConfig,
    StateStore, SystemClock, force_watermark,
};

/// The R1 template's bucket of the shard-log backend.
const STATE_BUCKET: &str = "StateBucket";

use super::compare::diff;
use super::emulator_stack::{
    BenchStack, Input, cpu_seconds, fixture, late_transaction_ids, scan_bodies,
};
use super::reference::{R1_SIZE_MS, R1_SLIDE_MS, R1Alert, compute};
use super::rule_run::RuleRun;

/// The R1 template's parameter choosing fraud-detector's state backend.
pub const STATE_BACKEND_PARAMETER: &str = "StateBackend";

/// Flink's watermark delay in the benchmark.
pub const FLINK_DELAY_MS: i64 = 10_000;

/// The bench template.
pub fn template_path() -> PathBuf {
    fixture("flink-bench-template.yaml")
}

/// What one R1 run found and measured.
pub type ShardwiseRun = RuleRun<R1Alert>;

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
    state_backend: Option<&str>,
) -> anyhow::Result<ShardwiseRun> {
    run_on_shards(
        input,
        fraud_detector_bin,
        dispatch_concurrency,
        batch_size,
        None,
        state_backend,
    )
    .await
}

/// [`run`] on a stream of `shards` shards (the template's default when `None`). One
/// shard makes the late records deterministic (see the template's `ShardCount`).
/// `state_backend` sets the template's `StateBackend` (`shard_log` or `dynamodb`; the
/// template's default when `None`).
pub async fn run_on_shards(
    input: &Path,
    fraud_detector_bin: &Path,
    dispatch_concurrency: usize,
    batch_size: u32,
    shards: Option<u32>,
    state_backend: Option<&str>,
) -> anyhow::Result<ShardwiseRun> {
    let setup = (batch_size, shards, state_backend);
    run_with_faults(input, fraud_detector_bin, dispatch_concurrency, setup, None).await
}

/// [`run_on_shards`] (`setup` = batch size, shards, state backend) with the emulator
/// injecting `faults`: the rows must not change.
pub async fn run_with_faults(
    input: &Path,
    fraud_detector_bin: &Path,
    dispatch_concurrency: usize,
    (batch_size, shards, state_backend): (u32, Option<u32>, Option<&str>),
    faults: Option<&shardwise_demo::Faults>,
) -> anyhow::Result<ShardwiseRun> {
    let Input { events, records } = Input::read(input)?;
    let overrides = state_backend
        .map(|b| (STATE_BACKEND_PARAMETER.to_owned(), b.to_owned()))
        .into_iter()
        .collect();
    let bench = BenchStack::up_with(
        &template_path(),
        fraud_detector_bin,
        batch_size,
        shards,
        overrides,
        faults,
    )
    .await?;
    let (alerts, late) = (bench.table("AlertsTable")?, bench.table("LateEventsTable")?);
    let drained = bench.put_and_drain(&records).await?;

    // What the function was deployed with (the template resolves the default).
    let shard_log = bench.stack.template.functions.iter().any(|f| {
        f.environment
            .get(shardwise::config::ENV_STATE_BACKEND)
            .is_some_and(|b| b == "shard_log")
    });
    let ended = end_of_input(
        &bench,
        &alerts,
        HopVelocity::new(),
        R1_WATERMARK_OUT_OF_ORDERNESS_MS,
        dispatch_concurrency,
        shard_log,
    )
    .await?;
    let cpu_s = cpu_seconds() - drained.cpu_before;
    let ddb = bench.env.dynamodb();
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
        dispatch_s: ended.dispatch_s,
        cpu_s,
        diff: diff(&reference.r1, &actual),
        rows: actual.len(),
        late_expected,
        late_actual,
        watermarks_at_drain: ended.watermarks_at_drain,
        timers_fired: ended.timers_fired,
        failed_transactions: bench.failed_transactions(),
        usage: bench.usage(&records, &drained),
    })
}

/// What the end of input took.
#[derive(Debug)]
pub struct Ended {
    /// The operator's watermarks before forcing (`{:?}`).
    pub watermarks_at_drain: String,
    /// Timers fired.
    pub timers_fired: u64,
    /// Watermark forced → no timer due, seconds.
    pub dispatch_s: f64,
}

/// The end of a bounded input, once drained: forces `operator`'s watermark to the end of
/// time and fires every due timer with a library [`Dispatcher`] in process against the
/// emulator's DynamoDB, as the `timer-dispatcher` function would. Outputs of timer
/// callbacks go to `outputs_table`.
///
/// With `shard_log` (the function ran the shard-log state backend over the template's
/// `StateBucket`), every due shard is restored, fired and committed instead
/// ([`fire_due_shards`], what the `timer-dispatcher` function does for such operators).
pub async fn end_of_input<O: Operator>(
    bench: &BenchStack,
    outputs_table: &str,
    operator: O,
    out_of_orderness_ms: i64,
    dispatch_concurrency: usize,
    shard_log: bool,
) -> anyhow::Result<Ended> {
    let started = Instant::now();
    let (state, timers, late, dead) = (
        bench.table("StateTable")?,
        bench.table("TimersTable")?,
        bench.table("LateEventsTable")?,
        bench.table("DeadLetterTable")?,
    );
    let store = DynamoStateStore::new(bench.env.dynamodb(), &state, Some(outputs_table), &dead)
        .with_timers_table(Some(&timers))
        .with_late_events_table(Some(&late));
    let store = Arc::new(store);
    let name = operator.name().to_owned();
    let watermarks = shardwise::watermark::read(&*store, &name).await?;
    force_watermark(&*store, &name, EventTime::MAX).await?;
    let mut processing = ProcessingConfig::new(&state, &dead);
    processing.watermark.out_of_orderness_ms = out_of_orderness_ms;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = DispatcherConfig {
        concurrency: dispatch_concurrency.max(1),
        ..DispatcherConfig::from_processing(&processing)
    };
    let timers_fired = match bench.bucket(STATE_BUCKET).ok().filter(|_| shard_log) {
        // The shard-log backend: its timers live with each shard's state; the scheduled
        // dispatcher's part is to restore each due shard, fire, and commit.
        Some(bucket) => {
            let backend = AwsShardLog::new(
                bench.env.dynamodb(),
                &state,
                bench.env.s3(),
                &bucket,
                DEFAULT_STATE_PREFIX,
            );
            let log_store = Arc::new(ShardLogStore::new(
                store,
                Arc::new(backend),
                &name,
                config.layout,
                Arc::clone(&clock),
            ));
            let dispatcher =
                Dispatcher::new(Arc::clone(&log_store), clock, config).register(operator);
            let mut fired = 0;
            loop {
                let report = fire_due_shards(&log_store, &dispatcher, EventTime::MAX).await?;
                fired += report.fired;
                if report.dead_lettered > 0 {
                    bail!(
                        "{} timers dead-lettered after poison errors",
                        report.dead_lettered
                    );
                }
                if log_store
                    .due_shards(EventTime::MAX, EventTime::MAX)
                    .await?
                    .is_empty()
                {
                    break fired;
                }
            }
        }
        None => {
            let dispatcher = Dispatcher::new(store, clock, config).register(operator);
            dispatch_all(&dispatcher).await?
        }
    };
    Ok(Ended {
        watermarks_at_drain: format!("{watermarks:?}"),
        timers_fired,
        dispatch_s: started.elapsed().as_secs_f64(),
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

//! The Shardwise side of the Flink benchmark: R1 through the real `fraud-detector`
//! function (`FRAUD_RULES=r1-hop`) on the emulator.
//!
//! One code path, the emulator's own: an in-process emulator ([`TestEnv::start_emulator`]),
//! `tests/fixtures/flink-bench-template.yaml` brought up with [`up`] (fast polling, the
//! function binary given, never built here), the JSON Lines input put to the
//! transactions stream with PutRecords in arrival order, the mapping's checkpoints
//! awaited (every shard past the last record put into it: completion is never judged by
//! the results), then the end of input: the watermark forced to the end of time and a
//! library [`Dispatcher`] polled in process against the emulator's DynamoDB until no
//! timer is due, as the `timer-dispatcher` function would. Alerts and late events are
//! then scanned and compared with the reference.
//!
//! Measured: events/s from the first put to the last timer fired (start-up, i.e. the
//! emulator and `up`, reported apart), CPU-seconds of this process (emulator, producer,
//! dispatcher) plus its child processes (the function environments) from `/proc`,
//! DynamoDB write requests and WCU from the emulator's counters.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use fraud_detector::VelocityAlert;
use fraud_detector::hop::{HopVelocity, R1_OPERATOR_NAME, R1_WATERMARK_OUT_OF_ORDERNESS_MS};
use serde_json::{Value, json};
use shardwise::{
    Clock, Dispatcher, DispatcherConfig, DynamoStateStore, EventTime, ProcessingConfig,
    SystemClock, force_watermark,
};
use shardwise_emulator::Config;
use shardwise_emulator::esm::EsmOptions;
use shardwise_emulator::esm::records::compare_sequence;
use shardwise_emulator::template::{Deployment, Template};
use shardwise_emulator::up::{UpOptions, up};

use super::compare::{Diff, diff};
use super::cost::{put_units, shard_hours_at_capacity};
use super::input::parse_line;
use super::reference::{R1_SIZE_MS, R1_SLIDE_MS, R1Alert, compute};
use crate::TestEnv;

/// Flink's watermark delay in the benchmark.
const FLINK_DELAY_MS: i64 = 10_000;
/// Records per PutRecords call (the API's maximum is 500).
const PUT_BATCH: usize = 500;
/// The template's function memory, GB (for the Lambda GB-second estimate).
const FUNCTION_MEMORY_GB: f64 = 0.5;
/// Linux clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on every mainstream kernel).
const CLOCK_TICKS_PER_S: f64 = 100.0;

/// The bench template.
pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/flink-bench-template.yaml")
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
    let text = std::fs::read_to_string(input).with_context(|| format!("{input:?}"))?;
    let mut events = Vec::new();
    let mut records = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let e = parse_line(line)?;
        records.push((e.account_id.clone(), line.as_bytes().to_vec()));
        events.push(e);
    }

    let started = Instant::now();
    let env = TestEnv::start_emulator(Config::default()).await;
    let emulator = env.emulator.clone().ok_or_else(|| anyhow!("no emulator"))?;
    emulator.lambda.set_endpoint(&env.endpoint);
    let mut overrides = BTreeMap::from([("BatchSize".to_owned(), batch_size.to_string())]);
    if let Some(shards) = shards {
        overrides.insert("ShardCount".to_owned(), shards.to_string());
    }
    let template = Template::load(&template_path(), &overrides, &Deployment::default())?;
    let options = UpOptions {
        esm: EsmOptions::fast(),
        prebuilt: template
            .functions
            .iter()
            .map(|f| (f.name.clone(), fraud_detector_bin.to_path_buf()))
            .collect(),
        ..UpOptions::default()
    };
    let stack = up(&emulator, template, &options).await?;
    let table = |logical: &str| {
        stack
            .template
            .tables
            .iter()
            .find(|t| t.logical_id == logical)
            .map(|t| t.name.clone())
            .ok_or_else(|| anyhow!("no table {logical}"))
    };
    let (state, alerts, timers, late, dead) = (
        table("StateTable")?,
        table("AlertsTable")?,
        table("TimersTable")?,
        table("LateEventsTable")?,
        table("DeadLetterTable")?,
    );
    let stream = stack.template.streams[0].name.clone();
    let startup_s = started.elapsed().as_secs_f64();

    let cpu_before = cpu_seconds();
    let first_put = Instant::now();
    let targets = put_all(&env, &stream, &records).await?;
    let mapping = stack
        .mappings
        .mappings()
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("no event source mapping: {:?}", stack.warnings))?;
    while !drained(&mapping.metrics_json(), &targets) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drain_s = first_put.elapsed().as_secs_f64();

    let dispatch_started = Instant::now();
    let ddb = env.dynamodb();
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
    let mut timers_fired = 0;
    loop {
        let report = dispatcher.poll_once().await?;
        timers_fired += report.fired;
        if report.dropped > 0 {
            bail!("{} timers dropped by poison errors", report.dropped);
        }
        if report.fired == 0 && report.deferred == 0 && !report.backlog {
            break;
        }
    }
    let dispatch_s = dispatch_started.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds() - cpu_before;
    let invocations = mapping.metrics_json()["invocations"].as_u64().unwrap_or(0);
    stack.stop(&emulator);

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
    let late_actual = scan_bodies(&ddb, &late)
        .await?
        .iter()
        .map(|b| {
            let v: Value = serde_json::from_str(b)?;
            v["event"]["transaction_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("late body without a transaction id: {b}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let reference = compute(&events, Some(FLINK_DELAY_MS));
    let windows_per_record = u32::try_from(R1_SIZE_MS / R1_SLIDE_MS)?;
    let late_expected = reference
        .late
        .iter()
        .filter(|l| l.r1_windows_dropped == windows_per_record)
        .map(|l| l.transaction_id.clone())
        .collect();

    let n = events.len() as u64;
    let bytes: u64 = records.iter().map(|(_, d)| d.len() as u64).sum();
    let capacity = emulator.dynamodb.metrics();
    let ops = emulator.metrics.to_json();
    let write_ops = ["PutItem", "UpdateItem", "DeleteItem"];
    let write_requests: u64 = write_ops
        .iter()
        .map(|op| emulator.metrics.get("dynamodb", op).requests)
        .sum::<u64>()
        // A transaction's items each count as a write request; the framework commits
        // a key's state and its outputs together, two items at least.
        + 2 * emulator.metrics.get("dynamodb", "TransactWriteItems").requests;
    let usage = json!({
        "events": n,
        "dynamodb_write_requests": write_requests,
        "dynamodb_wru": capacity["write_capacity_units"].as_f64().unwrap_or(0.0),
        "dynamodb_rru": capacity["read_capacity_units"].as_f64().unwrap_or(0.0),
        "kinesis_put_units": records.iter().map(|(_, d)| put_units(d.len() as u64)).sum::<u64>(),
        "kinesis_shard_hours": shard_hours_at_capacity(n, bytes as f64 / n.max(1) as f64),
        // Upper bound: every shard's poller keeps one invocation running back to back.
        "lambda_gb_seconds": FUNCTION_MEMORY_GB * drain_s * stack.template.streams[0].shard_count as f64,
        "lambda_invocations": invocations,
        "s3_puts": 0,
        "requests": ops,
    });
    Ok(ShardwiseRun {
        events: n,
        startup_s,
        drain_s,
        dispatch_s,
        cpu_s,
        r1: diff(&reference.r1, &actual),
        r1_rows: actual.len(),
        late_expected,
        late_actual,
        watermarks_at_drain: format!("{watermarks:?}"),
        timers_fired,
        failed_transactions: emulator
            .metrics
            .get("dynamodb", "TransactWriteItems")
            .errors,
        usage,
    })
}

/// Puts every record (retrying failed entries); returns the last sequence per shard.
async fn put_all(
    env: &TestEnv,
    stream: &str,
    records: &[(String, Vec<u8>)],
) -> anyhow::Result<BTreeMap<String, String>> {
    let kinesis = env.kinesis();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for chunk in records.chunks(PUT_BATCH) {
        let mut pending: Vec<&(String, Vec<u8>)> = chunk.iter().collect();
        for attempt in 0.. {
            if attempt >= 100 {
                bail!("PutRecords keeps failing entries");
            }
            let entries = pending
                .iter()
                .map(|(pk, data)| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(pk)
                        .data(Blob::new(data.clone()))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = kinesis
                .put_records()
                .stream_name(stream)
                .set_records(Some(entries))
                .send()
                .await?;
            let mut failed = Vec::new();
            for (record, result) in pending.iter().zip(out.records()) {
                match (result.shard_id(), result.sequence_number()) {
                    (Some(shard), Some(seq)) if result.error_code().is_none() => {
                        let entry = last.entry(shard.to_owned()).or_default();
                        if entry.is_empty() || compare_sequence(seq, entry).is_gt() {
                            seq.clone_into(entry);
                        }
                    }
                    _ => failed.push(*record),
                }
            }
            if failed.is_empty() {
                break;
            }
            // Per-key order: a failed entry is retried before the next chunk is put.
            pending = failed;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(last)
}

/// True once every shard's checkpoint (ParallelizationFactor 1) reached its last record.
fn drained(mapping: &Value, targets: &BTreeMap<String, String>) -> bool {
    targets.iter().all(|(shard, want)| {
        mapping["shards"][shard]["checkpoint"]
            .as_str()
            .is_some_and(|got| compare_sequence(got, want).is_ge())
    })
}

/// Every item's `body` attribute of `table` (paginated scan).
async fn scan_bodies(ddb: &aws_sdk_dynamodb::Client, table: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            if let Some(Ok(body)) = item.get("body").map(|v| v.as_s()) {
                out.push(body.clone());
            }
        }
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(out),
        }
    }
}

/// CPU-seconds (user + system) of this process and its live children.
fn cpu_seconds() -> f64 {
    let me = std::process::id().to_string();
    let mut ticks = stat_fields("/proc/self/stat").map_or(0, |f| field(&f, 11) + field(&f, 12));
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let path = entry.path().join("stat");
            if let Some(f) = stat_fields(&path.to_string_lossy())
                && f.get(1).is_some_and(|ppid| *ppid == me)
            {
                ticks += field(&f, 11) + field(&f, 12);
            }
        }
    }
    ticks as f64 / CLOCK_TICKS_PER_S
}

/// The fields of a `/proc/<pid>/stat` after the command name (index 0 = state).
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn field(fields: &[String], i: usize) -> u64 {
    fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0)
}

//! What every Shardwise rule run of the Flink benchmark shares: an in-process emulator
//! with one bench template brought up by [`up`] (fast polling, the function binary given
//! as prebuilt, never built here), the JSON Lines input put with PutRecords in arrival
//! order, the mapping's checkpoints awaited (every shard past the last record put into
//! it: completion is never judged by the results), then the scans, the CPU clock and the
//! AWS usage counters.
//!
//! Each rule (`shardwise_run` for R1, `shardwise_r2` for R2) brings up its own emulator
//! and template, so a run's CPU-seconds, DynamoDB counters and wall time belong to one
//! rule: nothing has to be split between two functions afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use serde_json::{Value, json};
use shardwise_emulator::esm::records::compare_sequence;
use shardwise_emulator::esm::{EsmOptions, Mapping};
use shardwise_emulator::template::{Deployment, Template};
use shardwise_emulator::up::{Stack, UpOptions, up};
use shardwise_emulator::{Config, Emulator};

use super::cost::{put_units, shard_hours_at_capacity};
use super::input::{Event, parse_line};
use crate::TestEnv;
pub use crate::bench::cpu::cpu_seconds;

/// Records per PutRecords call (the API's maximum is 500).
const PUT_BATCH: usize = 500;
/// The templates' function memory, GB (for the Lambda GB-second estimate).
const FUNCTION_MEMORY_GB: f64 = 0.5;

/// A bench template under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// The JSON Lines input: parsed events and `(partition key, bytes)` records.
#[derive(Debug)]
pub struct Input {
    /// Events as the reference reads them.
    pub events: Vec<Event>,
    /// Records to put, in arrival order.
    pub records: Vec<(String, Vec<u8>)>,
}

impl Input {
    /// Reads `path` (one transaction per line, arrival order; the account is the key).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{path:?}"))?;
        let mut events = Vec::new();
        let mut records = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let e = parse_line(line)?;
            records.push((e.account_id.clone(), line.as_bytes().to_vec()));
            events.push(e);
        }
        Ok(Self { events, records })
    }
}

/// An emulator with one bench template up.
#[derive(Debug)]
pub struct BenchStack {
    /// The test environment (clients).
    pub env: TestEnv,
    /// The in-process emulator.
    pub emulator: Arc<Emulator>,
    /// What `up` started.
    pub stack: Stack,
    /// Emulator start + `up`, seconds.
    pub startup_s: f64,
}

/// Input put and drained.
#[derive(Debug)]
pub struct Drained {
    /// CPU-seconds counter when the first record was put.
    pub cpu_before: f64,
    /// First put → every shard checkpointed past its last record, seconds.
    pub drain_s: f64,
    /// The mapping that drained (for its invocation count).
    pub mapping: Arc<Mapping>,
}

impl BenchStack {
    /// Starts an emulator and brings `template` up with every function running `binary`,
    /// its `BatchSize` parameter set to `batch_size` and its `ShardCount` to `shards`
    /// (the template's default when `None`).
    pub async fn up(
        template: &Path,
        binary: &Path,
        batch_size: u32,
        shards: Option<u32>,
    ) -> anyhow::Result<Self> {
        Self::up_with(template, binary, batch_size, shards, BTreeMap::new(), None).await
    }

    /// [`Self::up`] with more template parameters set, and the emulator injecting
    /// `faults` (process kills, duplicate deliveries, DynamoDB throttles and latency).
    pub async fn up_with(
        template: &Path,
        binary: &Path,
        batch_size: u32,
        shards: Option<u32>,
        mut overrides: BTreeMap<String, String>,
        faults: Option<&shardwise_demo::Faults>,
    ) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut config = Config::default();
        if let Some(faults) = faults {
            faults.apply(&mut config);
        }
        let env = TestEnv::start_emulator(config).await;
        let emulator = env.emulator.clone().ok_or_else(|| anyhow!("no emulator"))?;
        emulator.lambda.set_endpoint(&env.endpoint);
        overrides.insert("BatchSize".to_owned(), batch_size.to_string());
        if let Some(shards) = shards {
            overrides.insert("ShardCount".to_owned(), shards.to_string());
        }
        let template = Template::load(template, &overrides, &Deployment::default())?;
        let options = UpOptions {
            esm: EsmOptions::fast(),
            prebuilt: template
                .functions
                .iter()
                .map(|f| (f.name.clone(), binary.to_path_buf()))
                .collect(),
            ..UpOptions::default()
        };
        let stack = up(&emulator, template, &options).await?;
        Ok(Self {
            env,
            emulator,
            stack,
            startup_s: started.elapsed().as_secs_f64(),
        })
    }

    /// The physical name of the bucket with logical id `logical`.
    pub fn bucket(&self, logical: &str) -> anyhow::Result<String> {
        self.stack
            .template
            .buckets
            .iter()
            .find(|b| b.logical_id == logical)
            .map(|b| b.name.clone())
            .ok_or_else(|| anyhow!("no bucket {logical}"))
    }

    /// The physical name of the table with logical id `logical`.
    pub fn table(&self, logical: &str) -> anyhow::Result<String> {
        self.stack
            .template
            .tables
            .iter()
            .find(|t| t.logical_id == logical)
            .map(|t| t.name.clone())
            .ok_or_else(|| anyhow!("no table {logical}"))
    }

    /// Puts every record and waits until the mapping checkpointed all of them.
    pub async fn put_and_drain(&self, records: &[(String, Vec<u8>)]) -> anyhow::Result<Drained> {
        let stream = self
            .stack
            .template
            .streams
            .first()
            .map(|s| s.name.clone())
            .ok_or_else(|| anyhow!("the template has no stream"))?;
        let cpu_before = cpu_seconds();
        let first_put = Instant::now();
        let targets = put_all(&self.env, &stream, records).await?;
        let mapping = self
            .stack
            .mappings
            .mappings()
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("no event source mapping: {:?}", self.stack.warnings))?;
        while !drained(&mapping.metrics_json(), &targets) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Drained {
            cpu_before,
            drain_s: first_put.elapsed().as_secs_f64(),
            mapping,
        })
    }

    /// Stops pollers and function environments.
    pub fn stop(&self) {
        self.stack.stop(&self.emulator);
    }

    /// The AWS usage of the run (the `ShardwiseUsage` JSON): DynamoDB from the emulator's
    /// counters, Kinesis from the records, Lambda as an upper bound (every shard's poller
    /// keeps one invocation running back to back during the drain).
    pub fn usage(&self, records: &[(String, Vec<u8>)], drained: &Drained) -> Value {
        let n = records.len() as u64;
        let bytes: u64 = records.iter().map(|(_, d)| d.len() as u64).sum();
        let metrics = &self.emulator.metrics;
        let capacity = self.emulator.dynamodb.metrics();
        let write_requests: u64 = ["PutItem", "UpdateItem", "DeleteItem"]
            .iter()
            .map(|op| metrics.get("dynamodb", op).requests)
            .sum::<u64>()
            // A transaction's items each count as a write request; the framework commits
            // a key's state and its outputs together, two items at least.
            + 2 * metrics.get("dynamodb", "TransactWriteItems").requests;
        let shards = self
            .stack
            .template
            .streams
            .first()
            .map_or(1, |s| s.shard_count);
        json!({
            "events": n,
            "dynamodb_write_requests": write_requests,
            "dynamodb_wru": capacity["write_capacity_units"].as_f64().unwrap_or(0.0),
            "dynamodb_rru": capacity["read_capacity_units"].as_f64().unwrap_or(0.0),
            "kinesis_put_units": records.iter().map(|(_, d)| put_units(d.len() as u64)).sum::<u64>(),
            "kinesis_shard_hours": shard_hours_at_capacity(n, bytes as f64 / n.max(1) as f64),
            "lambda_gb_seconds": FUNCTION_MEMORY_GB * drained.drain_s * shards as f64,
            "lambda_invocations": drained.mapping.metrics_json()["invocations"].as_u64().unwrap_or(0),
            // The shard-log state backend's objects (the archive is not part of a rule).
            "s3_puts": metrics.get("s3", "PutObject").requests,
            "requests": metrics.to_json(),
            // Injected faults (chaos runs): function processes killed mid-invocation.
            "kills": self
                .emulator
                .lambda
                .metrics()
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, m)| m["faults"]["kills"].as_u64().unwrap_or(0))
                .sum::<u64>(),
        })
    }

    /// Failed (conflicting) `TransactWriteItems` calls.
    pub fn failed_transactions(&self) -> u64 {
        self.emulator
            .metrics
            .get("dynamodb", "TransactWriteItems")
            .errors
    }
}

/// Usage of two rules' functions attached to ONE stream, from their separate runs:
/// DynamoDB and Lambda add up; the input is put (Kinesis) once.
pub fn combined_usage(a: &Value, b: &Value) -> Value {
    let mut out = a.clone();
    for field in [
        "dynamodb_write_requests",
        "dynamodb_wru",
        "dynamodb_rru",
        "lambda_gb_seconds",
        "lambda_invocations",
        "s3_puts",
    ] {
        let sum = match (a[field].as_u64(), b[field].as_u64()) {
            (Some(x), Some(y)) => json!(x + y),
            _ => json!(a[field].as_f64().unwrap_or(0.0) + b[field].as_f64().unwrap_or(0.0)),
        };
        out[field] = sum;
    }
    if let Some(o) = out.as_object_mut() {
        o.remove("requests");
    }
    out
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

/// Every item's `body` attribute of `table` (the demo's paginated scan).
pub async fn scan_bodies(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(shardwise_demo::results::scan_all(ddb, table)
        .await?
        .iter()
        .filter_map(|item| item.get("body").and_then(|v| v.as_s().ok()).cloned())
        .collect())
}

/// The transaction ids in a late-events table (the bodies' `event.transaction_id`).
pub async fn late_transaction_ids(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    scan_bodies(ddb, table)
        .await?
        .iter()
        .map(|b| {
            let v: Value = serde_json::from_str(b)?;
            v["event"]["transaction_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("late body without a transaction id: {b}"))
        })
        .collect()
}

//! The throughput run: a generated day of N transactions (the demo's generator, with
//! its duplicates, malformed and late records) put as fast as PutRecords allows with
//! the load generator's sender, every stream function attached, timed from the first
//! put until every mapping on the transactions stream has consumed every record.
//!
//! Counters come from the emulator (reset just before the first put, so stack set-up
//! is not counted): DynamoDB requests by operation, mapping counters per function.
//! CPU is this process (emulator, putter) plus its children (the functions).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use load_generator::{SendOptions, send_records};
use monitoring::generator::{GeneratorConfig, generate};
use shardwise_demo::stack::Running;
use shardwise_demo::stream::consumption;
use time::OffsetDateTime;

use super::{StackSpec, mapping_lines};
use crate::bench::cpu::{cpu_seconds, load_average};
use crate::sdk_config;

/// What a throughput run does.
#[derive(Debug, Clone)]
pub struct ThroughputOptions {
    /// Distinct valid transactions generated.
    pub transactions: u64,
    /// Generator seed.
    pub seed: u64,
    /// Parallel PutRecords senders.
    pub lanes: usize,
    /// Longest wait for the drain.
    pub drain_timeout: Duration,
}

/// One function's consumption.
#[derive(Debug, Clone)]
pub struct FunctionRate {
    /// Function name.
    pub function: String,
    /// Records consumed (succeeded or discarded).
    pub records: u64,
    /// Seconds from the first put until it had consumed everything (or the timeout).
    pub seconds: f64,
    /// Failed invocations.
    pub function_errors: u64,
    /// Invocations, partial-failure responses and retries of its mapping (a slow
    /// consumer that keeps reporting batchItemFailures re-reads and re-applies).
    pub invocations: u64,
    /// Responses with batchItemFailures.
    pub partial_failures: u64,
    /// Retried batch pieces.
    pub retries: u64,
}

/// What a throughput run found.
#[derive(Debug, Clone)]
pub struct ThroughputRun {
    /// Valid transactions in the day.
    pub transactions: u64,
    /// Records put (transactions + duplicates + malformed).
    pub records: u64,
    /// Seconds putting.
    pub put_seconds: f64,
    /// Seconds from the first put until every mapping's lag was 0.
    pub pipeline_seconds: f64,
    /// Whether every mapping drained before the timeout.
    pub drained: bool,
    /// Per function.
    pub functions: Vec<FunctionRate>,
    /// DynamoDB requests by operation.
    pub dynamodb_ops: BTreeMap<String, u64>,
    /// Kinesis requests by operation.
    pub kinesis_ops: BTreeMap<String, u64>,
    /// S3 requests by operation, with body bytes received (the shard-log state backend
    /// and the archiver write there).
    pub s3_ops: BTreeMap<String, (u64, u64)>,
    /// CPU-seconds of the emulator process and the functions over the run.
    pub cpu_seconds: f64,
    /// Mapping configuration.
    pub mappings: Vec<String>,
    /// Load averages at the first put and at the drain.
    pub load: (String, String),
}

impl ThroughputRun {
    /// Records per second through the whole pipeline.
    pub fn records_per_second(&self) -> f64 {
        self.records as f64 / self.pipeline_seconds.max(1e-9)
    }
}

/// Brings the stack up (fast polling) and measures.
pub async fn run(spec: &StackSpec, options: &ThroughputOptions) -> anyhow::Result<ThroughputRun> {
    let day = OffsetDateTime::now_utc()
        .date()
        .previous_day()
        .ok_or_else(|| anyhow::anyhow!("no yesterday"))?;
    let config = GeneratorConfig {
        seed: options.seed,
        day: day.to_string(),
        transactions: options.transactions,
        ..GeneratorConfig::default()
    };
    let generated = generate(&config).map_err(|e| anyhow::anyhow!("generator: {e}"))?;
    let running = spec.start(true, "throughput").await?;
    let result = measure(&running, &generated, options).await;
    running.stop().await;
    result
}

async fn measure(
    running: &Running,
    generated: &monitoring::generator::Generated,
    options: &ThroughputOptions,
) -> anyhow::Result<ThroughputRun> {
    let sdk = sdk_config(&running.endpoint).await;
    let kinesis = Arc::new(aws_sdk_kinesis::Client::new(&sdk));
    let stream = running.names.transactions_stream.clone();
    eprintln!(
        "[throughput] putting {} records as fast as PutRecords allows",
        generated.len()
    );
    running.emulator.metrics.reset();
    let load_before = load_average();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let report = send_records(
        kinesis,
        &stream,
        generated.records(),
        SendOptions {
            lanes: options.lanes,
            ..SendOptions::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("putting: {e}"))?;
    let put_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "[throughput] put {} records in {put_seconds:.1} s; waiting for every mapping's lag to reach 0",
        report.records
    );
    let put = report.records;
    let deadline = started + options.drain_timeout;
    let mut done_at: BTreeMap<String, f64> = BTreeMap::new();
    let mut last_print = Instant::now();
    let drained = loop {
        let now = Instant::now();
        let all = consumption(running, &stream);
        for c in &all {
            if c.consumed >= put {
                done_at
                    .entry(c.function.clone())
                    .or_insert_with(|| started.elapsed().as_secs_f64());
            }
        }
        if !all.is_empty() && done_at.len() == all.len() {
            break true;
        }
        if now >= deadline {
            break false;
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            let lags: Vec<String> = all
                .iter()
                .map(|c| format!("{} {}", c.function, put.saturating_sub(c.consumed)))
                .collect();
            eprintln!(
                "[throughput {:6.1}s] lag: {}",
                started.elapsed().as_secs_f64(),
                lags.join(", ")
            );
            last_print = now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let pipeline_seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let load = (load_before, load_average());
    let counters: BTreeMap<String, serde_json::Value> = running
        .stack
        .mappings
        .mappings()
        .iter()
        .filter(|m| m.spec.stream_name == stream)
        .map(|m| (m.function.clone(), m.metrics_json()))
        .collect();
    let functions = consumption(running, &stream)
        .into_iter()
        .map(|c| {
            let n = |k: &str| {
                counters
                    .get(&c.function)
                    .and_then(|j| j[k].as_u64())
                    .unwrap_or(0)
            };
            FunctionRate {
                seconds: done_at
                    .get(&c.function)
                    .copied()
                    .unwrap_or(pipeline_seconds),
                invocations: n("invocations"),
                partial_failures: n("partial_failures"),
                retries: n("retries"),
                records: c.consumed,
                function_errors: c.function_errors,
                function: c.function,
            }
        })
        .collect();
    let ops = running.emulator.metrics.to_json();
    let by_op = |service: &str| -> BTreeMap<String, u64> {
        ops[service]["operations"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(op, c)| (op.clone(), c["requests"].as_u64().unwrap_or(0)))
            .collect()
    };
    Ok(ThroughputRun {
        transactions: generated.ground_truth().counts.transactions,
        records: put,
        put_seconds,
        pipeline_seconds,
        drained,
        functions,
        dynamodb_ops: by_op("dynamodb"),
        kinesis_ops: by_op("kinesis"),
        s3_ops: ops["s3"]["operations"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(op, c)| {
                let n = |k: &str| c[k].as_u64().unwrap_or(0);
                (op.clone(), (n("requests"), n("bytes_in")))
            })
            .collect(),
        cpu_seconds: cpu,
        load,
        mappings: mapping_lines(
            running,
            &stream,
            shardwise_emulator::esm::EsmOptions::fast()
                .idle_poll
                .as_millis(),
        ),
    })
}

//! A latency run in one polling mode: the stack up, the alerts stream read from LATEST,
//! transactions put at a steady rate with a known fraction of alert triggers, each
//! trigger's PutRecords return time recorded, then put → alert percentiles.
//!
//! Pacing: every [`TICK`] the records due so far (`rate × elapsed`) go out in one
//! PutRecords call on its own task, so a slow call does not hold back the next ones
//! and the rate stays steady. A warm-up (same traffic, not measured) first starts every
//! function environment: a cold start is a deployment cost, not the pipeline's latency.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use fraud_detector::config::ENV_ALERTS_STREAM;
use shardwise_demo::stack::{Running, binaries};
use shardwise_emulator::esm::EsmOptions;
use time::OffsetDateTime;
use tokio::task::JoinSet;

use super::alerts::AlertReader;
use super::book::{LatencyBook, LatencyReport};
use super::traffic::{Entry, Traffic};
use super::{StackSpec, mapping_lines};
use crate::bench::cpu::load_average;
use crate::sdk_config;

/// Pacing interval of the putter.
pub const TICK: Duration = Duration::from_millis(10);

/// What a latency run does.
#[derive(Debug, Clone)]
pub struct LatencyOptions {
    /// Transactions per second.
    pub rate: f64,
    /// One trigger pair per this many transactions (the pair counts as two).
    pub trigger_every: u64,
    /// Measured seconds of traffic.
    pub seconds: f64,
    /// Warm-up seconds of traffic (not measured).
    pub warmup_seconds: f64,
    /// Longest wait for the last alerts after the traffic stops.
    pub alert_timeout: Duration,
}

/// What a latency run found.
#[derive(Debug)]
pub struct LatencyRun {
    /// `fast` or `aws-faithful`.
    pub mode: &'static str,
    /// Transactions put in the measured part.
    pub transactions: u64,
    /// Rate achieved in the measured part.
    pub achieved_rate: f64,
    /// PutRecords entries that failed (not retried: the run measures, it does not load).
    pub failed_entries: u64,
    /// The figures.
    pub report: LatencyReport,
    /// Mapping configuration of the transactions and alerts path.
    pub mappings: Vec<String>,
    /// The five largest latencies: (put time since the measurement started, latency).
    pub worst: Vec<(Duration, Duration)>,
    /// Load averages at the start and the end of the measured part.
    pub load: (String, String),
}

/// Brings the stack up in `fast` or AWS-faithful polling mode and measures.
pub async fn run(
    spec: &StackSpec,
    fast: bool,
    options: &LatencyOptions,
) -> anyhow::Result<LatencyRun> {
    let mode = if fast { "fast" } else { "aws-faithful" };
    let running = spec.start(fast, &format!("latency-{mode}")).await?;
    let result = measure(&running, fast, mode, options).await;
    running.stop().await;
    result
}

async fn measure(
    running: &Running,
    fast: bool,
    mode: &'static str,
    options: &LatencyOptions,
) -> anyhow::Result<LatencyRun> {
    if !running.runs(binaries::FRAUD_DETECTOR) {
        anyhow::bail!("fraud-detector is not running: no alerts to measure");
    }
    let sdk = sdk_config(&running.endpoint).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let names = &running.names;
    let alerts_stream = running
        .stack
        .template
        .functions
        .iter()
        .find_map(|f| f.environment.get(ENV_ALERTS_STREAM).cloned())
        .ok_or_else(|| anyhow::anyhow!("the template sets no {ENV_ALERTS_STREAM}"))?;
    let book = Arc::new(Mutex::new(LatencyBook::default()));
    let reader = AlertReader::start(&kinesis, &alerts_stream, Arc::clone(&book)).await?;
    let mut traffic = Traffic::new(&format!("bench-{mode}"));

    eprintln!(
        "[{mode}] warm-up: {:.0} s at {} tx/s",
        options.warmup_seconds, options.rate
    );
    let warm = put_steady(
        &kinesis,
        &names.transactions_stream,
        &mut traffic,
        &book,
        options,
        options.warmup_seconds,
    )
    .await?;
    let warm_left = wait_alerts(&book, options.alert_timeout).await;
    eprintln!(
        "[{mode}] warm-up: {} transactions, {warm_left} alerts still missing",
        warm.0
    );
    lock(&book).reset();

    eprintln!(
        "[{mode}] measuring: {:.0} s at {} tx/s",
        options.seconds, options.rate
    );
    let load_before = load_average();
    let started = Instant::now();
    let (transactions, failed_entries) = put_steady(
        &kinesis,
        &names.transactions_stream,
        &mut traffic,
        &book,
        options,
        options.seconds,
    )
    .await?;
    let achieved_rate = transactions as f64 / started.elapsed().as_secs_f64().max(1e-3);
    wait_alerts(&book, options.alert_timeout).await;
    let load = (load_before, load_average());
    reader.stop().await?;
    let report = lock(&book).report();
    let worst = lock(&book).worst(5, started);

    let idle_poll = if fast {
        EsmOptions::fast().idle_poll
    } else {
        EsmOptions::default().idle_poll
    };
    let mut mappings = mapping_lines(running, &names.transactions_stream, idle_poll.as_millis());
    mappings.retain(|m| m.contains(binaries::FRAUD_DETECTOR));
    Ok(LatencyRun {
        mode,
        transactions,
        achieved_rate,
        failed_entries,
        report,
        mappings,
        worst,
        load,
    })
}

fn lock(book: &Mutex<LatencyBook>) -> std::sync::MutexGuard<'_, LatencyBook> {
    book.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until every trigger's alert was seen or `timeout`; returns how many are missing.
async fn wait_alerts(book: &Mutex<LatencyBook>, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let left = lock(book).outstanding();
        if left == 0 || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Puts traffic at `options.rate` for `seconds`; returns (transactions, failed entries).
async fn put_steady(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    traffic: &mut Traffic,
    book: &Arc<Mutex<LatencyBook>>,
    options: &LatencyOptions,
    seconds: f64,
) -> anyhow::Result<(u64, u64)> {
    let started = Instant::now();
    let total = (options.rate * seconds).round() as u64;
    let mut sent = 0_u64;
    let mut calls: JoinSet<anyhow::Result<u64>> = JoinSet::new();
    let mut tick = tokio::time::interval(TICK);
    while sent < total {
        tick.tick().await;
        let due = ((options.rate * started.elapsed().as_secs_f64()) as u64).min(total);
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let mut entries: Vec<Entry> = Vec::new();
        while sent < due {
            if options.trigger_every > 0
                && sent.is_multiple_of(options.trigger_every)
                && due - sent >= 2
            {
                entries.extend(traffic.trigger_pair(now_ms));
                sent += 2;
            } else {
                entries.push(traffic.background(now_ms));
                sent += 1;
            }
        }
        if entries.is_empty() {
            continue;
        }
        calls.spawn(put_call(
            kinesis.clone(),
            stream.to_owned(),
            entries,
            Arc::clone(book),
        ));
        while let Some(done) = calls.try_join_next() {
            done??;
        }
    }
    let mut failed = 0;
    while let Some(done) = calls.join_next().await {
        failed += done??;
    }
    Ok((sent, failed))
}

/// One PutRecords call; records the return time of each trigger that was stored.
async fn put_call(
    kinesis: aws_sdk_kinesis::Client,
    stream: String,
    entries: Vec<Entry>,
    book: Arc<Mutex<LatencyBook>>,
) -> anyhow::Result<u64> {
    let records = entries
        .iter()
        .map(|e| {
            PutRecordsRequestEntry::builder()
                .partition_key(&e.partition_key)
                .data(Blob::new(e.data.clone()))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = kinesis
        .put_records()
        .stream_name(stream)
        .set_records(Some(records))
        .send()
        .await?;
    let returned = Instant::now();
    let mut failed = 0;
    let mut book = lock(&book);
    for (entry, result) in entries.iter().zip(out.records()) {
        if result.error_code().is_some() {
            failed += 1;
        } else if let Some(id) = &entry.trigger {
            book.put_returned(id, returned);
        }
    }
    Ok(failed)
}

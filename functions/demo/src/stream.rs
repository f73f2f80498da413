//! Streaming the generated day and watching the functions consume it.
//!
//! The records go through the load generator's own sender (`send_records`: lanes that
//! keep each account's order, PutRecords retrying only failed entries) behind a
//! [`CountingPut`] seam that counts stored entries, so "put" on the progress line is
//! exactly what the stream holds. Consumer lag per function is `put − (records the
//! function's event source mapping completed or discarded)`, read from the mapping's
//! counters (the same numbers `/_shardwise/metrics` serves), next to the largest
//! iterator age of its shards.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use load_generator::put::{CallError, EntryOutcome, PutRecordsApi};
use load_generator::{LoadReport, SendOptions, send_records};
use monitoring::generator::{Generated, Record};
use serde_json::Value;
use time::OffsetDateTime;

use crate::DemoError;
use crate::stack::Running;

/// Counts stored entries of every PutRecords call.
#[derive(Debug)]
pub struct CountingPut {
    inner: aws_sdk_kinesis::Client,
    stored: Arc<AtomicU64>,
}

impl PutRecordsApi for CountingPut {
    async fn put_records(
        &self,
        stream: &str,
        records: &[Record],
    ) -> Result<Vec<EntryOutcome>, CallError> {
        let outcome = PutRecordsApi::put_records(&self.inner, stream, records).await;
        if let Ok(entries) = &outcome {
            let ok = entries.iter().filter(|e| **e == EntryOutcome::Ok).count();
            self.stored.fetch_add(ok as u64, Ordering::Relaxed);
        }
        outcome
    }
}

/// One event source mapping's consumption of the transactions stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumption {
    /// Function name.
    pub function: String,
    /// Records completed or discarded.
    pub consumed: u64,
    /// Records completed.
    pub succeeded: u64,
    /// Failed invocations.
    pub function_errors: u64,
    /// Largest iterator age over its shards, ms.
    pub iterator_age_ms: u64,
}

/// Every mapping on `stream`.
pub fn consumption(running: &Running, stream: &str) -> Vec<Consumption> {
    running
        .stack
        .mappings
        .mappings()
        .iter()
        .filter(|m| m.spec.stream_name == stream)
        .map(|m| {
            let j = m.metrics_json();
            let n = |k: &str| j[k].as_u64().unwrap_or(0);
            let age = j["shards"]
                .as_object()
                .into_iter()
                .flat_map(|s| s.values())
                .filter_map(|s| s["iterator_age_ms"].as_u64())
                .max()
                .unwrap_or(0);
            Consumption {
                function: m.function.clone(),
                consumed: n("records_succeeded") + n("records_discarded"),
                succeeded: n("records_succeeded"),
                function_errors: n("function_errors"),
                iterator_age_ms: age,
            }
        })
        .collect()
}

/// Alerts committed so far (a `Select: COUNT` scan of the alerts table).
pub async fn count_items(ddb: &aws_sdk_dynamodb::Client, table: &str) -> u64 {
    let mut total = 0_u64;
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await;
        let Ok(page) = page else { return total };
        total += u64::try_from(page.count()).unwrap_or(0);
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return total,
        }
    }
}

/// A progress printer: one updating line on a terminal, a line every few seconds
/// otherwise (logs, CI).
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// Starts timing.
    pub fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    /// Shows `text` (the elapsed time is prefixed).
    pub fn show(&mut self, text: &str) {
        let line = format!("[{:6.1}s] {text}", self.started.elapsed().as_secs_f64());
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if self.last_line.elapsed() >= Duration::from_secs(5) {
            let _ = writeln!(err, "{line}");
            self.last_line = Instant::now();
        }
    }

    /// Ends the updating line.
    pub fn finish(&mut self, text: &str) {
        let line = format!("[{:6.1}s] {text}", self.started.elapsed().as_secs_f64());
        let mut err = std::io::stderr();
        if self.tty {
            let _ = writeln!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

fn short(function: &str) -> &str {
    // `shardwise-dev-fraud-detector` → `fraud-detector`.
    function
        .strip_prefix("shardwise-")
        .and_then(|r| r.split_once('-').map(|(_, n)| n))
        .unwrap_or(function)
}

async fn status_line(
    running: &Running,
    ddb: &aws_sdk_dynamodb::Client,
    put: u64,
    total: u64,
    rate: f64,
) -> String {
    let lags: Vec<String> = consumption(running, &running.names.transactions_stream)
        .iter()
        .map(|c| format!("{} {}", short(&c.function), put.saturating_sub(c.consumed)))
        .collect();
    let age = consumption(running, &running.names.transactions_stream)
        .iter()
        .map(|c| c.iterator_age_ms)
        .max()
        .unwrap_or(0);
    let alerts = count_items(ddb, &running.names.alerts_table).await;
    format!(
        "put {put}/{total} ({rate:.0}/s) | lag: {} | iterator age {age} ms | alerts {alerts}",
        if lags.is_empty() {
            "no consumers".to_owned()
        } else {
            lags.join(", ")
        }
    )
}

/// Pauses the emulated clock just before the reconcile time if the stream is not
/// drained yet, so the nightly job cannot run on a half-processed day.
fn guard_clock(running: &Running, reconcile_at: Option<OffsetDateTime>) {
    if let Some(at) = reconcile_at {
        let now = OffsetDateTime::from(running.emulator.clock.now());
        if now >= at - time::Duration::seconds(30) && running.emulator.clock.rate() > 0.0 {
            running.emulator.clock.set_rate(0.0);
        }
    }
}

/// Streams `generated` to the transactions stream with live progress.
pub async fn stream_day(
    running: &Running,
    kinesis: aws_sdk_kinesis::Client,
    ddb: &aws_sdk_dynamodb::Client,
    generated: &Generated,
    reconcile_at: Option<OffsetDateTime>,
    progress: &mut Progress,
) -> Result<(LoadReport, Arc<AtomicU64>), DemoError> {
    let stored = Arc::new(AtomicU64::new(0));
    let api = Arc::new(CountingPut {
        inner: kinesis,
        stored: Arc::clone(&stored),
    });
    let total = generated.len() as u64;
    let send = send_records(
        api,
        &running.names.transactions_stream,
        generated.records(),
        SendOptions::default(),
    );
    tokio::pin!(send);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let report = loop {
        tokio::select! {
            r = &mut send => break r.map_err(|e| DemoError::Stream(e.to_string()))?,
            _ = tick.tick() => {
                guard_clock(running, reconcile_at);
                let put = stored.load(Ordering::Relaxed);
                let rate = put as f64 / started.elapsed().as_secs_f64().max(1e-3);
                progress.show(&status_line(running, ddb, put, total, rate).await);
            }
        }
    };
    progress.finish(&format!(
        "put {} records in {:.1} s ({:.0}/s, {} PutRecords calls, {} entries retried)",
        report.records,
        report.elapsed_ms as f64 / 1000.0,
        report.records_per_second,
        report.put_calls,
        report.retried_entries
    ));
    Ok((report, stored))
}

/// How long a consumer that keeps failing may go without completing a record before
/// the demo stops waiting for it (its mapping keeps retrying and bisecting, discarding a
/// record at a time, which would take hours on a whole day).
pub const STALL: Duration = Duration::from_secs(30);

/// A consumer that did not catch up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behind {
    /// Function name.
    pub function: String,
    /// Records not consumed.
    pub lag: u64,
    /// Failed invocations of its mapping.
    pub function_errors: u64,
}

/// Waits until every consumer of the transactions stream has consumed `put` records.
/// Returns the ones that did not: still behind at `timeout`, or failing without
/// progress for [`STALL`].
pub async fn wait_drained(
    running: &Running,
    ddb: &aws_sdk_dynamodb::Client,
    put: u64,
    reconcile_at: Option<OffsetDateTime>,
    timeout: Duration,
    progress: &mut Progress,
) -> Vec<Behind> {
    let deadline = Instant::now() + timeout;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    // function → (records succeeded, when that last changed)
    let mut last_progress: HashMap<String, (u64, Instant)> = HashMap::new();
    loop {
        tick.tick().await;
        guard_clock(running, reconcile_at);
        let now = Instant::now();
        let behind: Vec<Behind> = consumption(running, &running.names.transactions_stream)
            .into_iter()
            .filter(|c| c.consumed < put)
            .map(|c| Behind {
                lag: put - c.consumed,
                function_errors: c.function_errors,
                function: c.function,
            })
            .collect();
        let stalled = |b: &Behind, last: &HashMap<String, (u64, Instant)>| {
            b.function_errors > 0
                && last
                    .get(&b.function)
                    .is_some_and(|(_, since)| now.duration_since(*since) >= STALL)
        };
        for c in consumption(running, &running.names.transactions_stream) {
            let entry = last_progress
                .entry(c.function.clone())
                .or_insert((c.succeeded, now));
            if entry.0 != c.succeeded {
                *entry = (c.succeeded, now);
            }
        }
        if behind.is_empty() {
            progress.finish(&format!(
                "drained: every consumer has processed all {put} records"
            ));
            return behind;
        }
        if behind.iter().all(|b| stalled(b, &last_progress)) {
            progress.finish("stopped waiting: the consumers still behind keep failing");
            return behind;
        }
        if now >= deadline {
            progress.finish("drain timeout");
            return behind;
        }
        progress.show(&format!(
            "draining: {}",
            status_line(running, ddb, put, put, 0.0).await
        ));
    }
}

/// The metrics document of the emulator's Lambda layer, for the summary's figures.
pub fn layer_metrics(running: &Running) -> Value {
    running.emulator.layer_metrics()
}

//! # load-generator — the seeded transaction day, written to Kinesis
//!
//! Used two ways: as the `load-generator` Lambda function (JSON input
//! `{"seed":…,"transactions":…,"day":…,"stream":…}`, ground truth to S3 when a bucket is
//! configured) and as the `loadgen` CLI (ground truth to a local file, or JSON Lines
//! instead of Kinesis). The traffic itself comes from `monitoring::generator`.
//!
//! ## Layout
//! - [`batch`] — cutting records into PutRecords requests (limits, one record per key).
//! - [`put`] — the PutRecords seam and the retry loop (only failed entries, jittered).
//! - this file — lanes (parallel, per-key ordered senders), pacing, the function handler.
//!
//! ## Ordering choice
//! Records are spread over `lanes` senders by a hash of the partition key; a lane sends
//! one request at a time and the next only after every entry of the previous one is
//! stored. With at most one record per key per request (see [`batch`]), each account's
//! records enter the stream in arrival order even when entries are throttled. A lane
//! lingers up to [`LINGER`] for more records so requests fill up (≈ 480 entries per
//! call in the throughput measurement, against ≈ 100 without holding back repeated keys).
//! Two lanes are the default: on the 2-core machine more lanes only split requests.
//!
//! ## Why these dependencies
//! `aws-sdk-kinesis`/`aws-sdk-s3`/`aws-config` are the real clients; `lambda_runtime`
//! runs the function; `tokio` for lanes and timers; `rand` for backoff jitter (not for
//! the data, which is seeded ChaCha); `clap` for the CLI; `tracing` for JSON logs.

pub mod batch;
pub mod put;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monitoring::generator::{Generated, GeneratorConfig, GeneratorError, Record, generate};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use batch::Batch;
use put::{BatchStats, PutError, PutRecordsApi, RetryPolicy, put_batch};

/// Environment variable naming the bucket for ground truth in function mode.
pub const GROUND_TRUTH_BUCKET_ENV: &str = "GROUND_TRUTH_BUCKET";
/// How long a lane waits for more records before sending a request that is not full.
pub const LINGER: Duration = Duration::from_millis(5);
/// Most records a lane holds back for a later request before it stops reading ahead.
const MAX_HELD: usize = 4 * batch::MAX_ENTRIES;
/// Environment variable naming the stream when the input does not.
pub const STREAM_NAME_ENV: &str = "STREAM_NAME";

/// How to send.
#[derive(Debug, Clone, Copy)]
pub struct SendOptions {
    /// Parallel senders (each keeps its keys' order).
    pub lanes: usize,
    /// Records per second to pace at, or as fast as possible.
    pub rate: Option<f64>,
    /// Retry policy per request.
    pub retry: RetryPolicy,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            lanes: 2,
            rate: None,
            retry: RetryPolicy::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Records stored on the stream.
    pub records: u64,
    /// PutRecords calls.
    pub put_calls: u64,
    /// Entries resent after entry-level failures.
    pub retried_entries: u64,
    /// Entry failures that were throttling.
    pub throttled_entries: u64,
    /// Whole calls that failed and were repeated.
    pub failed_calls: u64,
    /// Wall time, ms.
    pub elapsed_ms: u64,
    /// Records per second achieved.
    pub records_per_second: f64,
    /// Where the ground truth went, if anywhere.
    pub ground_truth: Option<String>,
}

/// Errors of a load run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The generator refused the configuration.
    #[error(transparent)]
    Generator(#[from] GeneratorError),
    /// Records could not be stored.
    #[error(transparent)]
    Put(#[from] PutError),
    /// The ground truth could not be written.
    #[error("writing ground truth: {0}")]
    GroundTruth(String),
    /// Missing or bad input.
    #[error("{0}")]
    Input(String),
}

fn lane_of(key: &str, lanes: usize) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % lanes.max(1) as u64) as usize
}

/// Sends `records` (in order) to `stream`; per-key order is kept.
pub async fn send_records<A, I>(
    api: Arc<A>,
    stream: &str,
    records: I,
    options: SendOptions,
) -> Result<LoadReport, LoadError>
where
    A: PutRecordsApi + 'static,
    I: IntoIterator<Item = Record>,
{
    let started = Instant::now();
    let stats = Arc::new(Mutex::new(BatchStats::default()));
    let lanes = options.lanes.max(1);
    let mut senders = Vec::with_capacity(lanes);
    let mut tasks = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (tx, rx) = mpsc::channel::<Record>(2 * batch::MAX_ENTRIES);
        senders.push(tx);
        tasks.push(tokio::spawn(lane(
            Arc::clone(&api),
            stream.to_owned(),
            rx,
            options.retry,
            Arc::clone(&stats),
        )));
    }
    let mut sent = 0_u64;
    for record in records {
        if let Some(rate) = options.rate.filter(|r| *r > 0.0) {
            let due = started + Duration::from_secs_f64(sent as f64 / rate);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let lane = lane_of(&record.partition_key, lanes);
        if senders[lane].send(record).await.is_err() {
            break; // the lane stopped on an error, reported below
        }
        sent += 1;
    }
    drop(senders);
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(LoadError::Put(e));
            }
            Err(e) => {
                first_error.get_or_insert(LoadError::Input(format!("sender task failed: {e}")));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let s = *stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let elapsed = started.elapsed();
    Ok(LoadReport {
        records: sent,
        put_calls: s.calls,
        retried_entries: s.retried_entries,
        throttled_entries: s.throttled_entries,
        failed_calls: s.failed_calls,
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        records_per_second: sent as f64 / elapsed.as_secs_f64().max(1e-9),
        ground_truth: None,
    })
}

async fn lane<A: PutRecordsApi>(
    api: Arc<A>,
    stream: String,
    mut rx: mpsc::Receiver<Record>,
    retry: RetryPolicy,
    stats: Arc<Mutex<BatchStats>>,
) -> Result<(), PutError> {
    // Records that could not join a request (their key was already in it, or it was
    // full), in arrival order. A key with a held record holds all its later records too,
    // so per-key order survives while other keys keep filling requests.
    let mut held: VecDeque<Record> = VecDeque::new();
    let mut open = true;
    loop {
        let mut batch = Batch::default();
        let mut held_keys: HashSet<String> = HashSet::new();
        let mut place = |r: Record, batch: &mut Batch, held: &mut VecDeque<Record>| {
            if !held_keys.contains(&r.partition_key) && batch.accepts(&r) {
                batch.push(r);
            } else {
                held_keys.insert(r.partition_key.clone());
                held.push_back(r);
            }
        };
        let mut earlier = std::mem::take(&mut held);
        while let Some(r) = earlier.pop_front() {
            place(r, &mut batch, &mut held);
        }
        if batch.is_empty() {
            if !open {
                return Ok(());
            }
            match rx.recv().await {
                Some(r) => batch.push(r),
                None => return Ok(()),
            }
        }
        // Take what is queued, and wait up to LINGER for more while the request is not
        // full: fewer, fuller requests (PutRecords cost is per call and per shard-second).
        let deadline = tokio::time::Instant::now() + LINGER;
        while open && batch.len() < batch::MAX_ENTRIES && held.len() < MAX_HELD {
            let next = match rx.try_recv() {
                Ok(r) => Some(r),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(next) => next,
                        Err(_) => break, // lingered long enough
                    }
                }
            };
            match next {
                Some(r) => place(r, &mut batch, &mut held),
                None => open = false,
            }
        }
        let s = put_batch(&*api, &stream, batch.take(), retry).await?;
        let mut total = stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        total.calls += s.calls;
        total.retried_entries += s.retried_entries;
        total.throttled_entries += s.throttled_entries;
        total.failed_calls += s.failed_calls;
    }
}

/// The function's input: generator settings plus where to send.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadRequest {
    /// Generator settings (`seed`, `transactions`, `day`, …), flattened.
    #[serde(flatten)]
    pub generator: GeneratorConfig,
    /// Stream name (else `STREAM_NAME`).
    pub stream: Option<String>,
    /// Records per second, if paced.
    pub rate: Option<f64>,
    /// Parallel senders.
    pub lanes: Option<usize>,
    /// Bucket for the ground truth (else `GROUND_TRUTH_BUCKET`; none: not written).
    pub ground_truth_bucket: Option<String>,
    /// Object key for the ground truth (default `ground-truth/dt=DAY/seed=SEED.jsonl`).
    pub ground_truth_key: Option<String>,
}

/// Default object key of a day's ground truth.
pub fn ground_truth_key(config: &GeneratorConfig) -> String {
    format!("ground-truth/dt={}/seed={}.jsonl", config.day, config.seed)
}

/// The ground truth as JSON Lines bytes.
pub fn ground_truth_bytes(generated: &Generated) -> Result<Vec<u8>, LoadError> {
    let mut out = Vec::new();
    generated
        .ground_truth()
        .write_jsonl(&mut out)
        .map_err(|e| LoadError::GroundTruth(e.to_string()))?;
    Ok(out)
}

/// The function handler: generate, send, store the ground truth.
/// `env` looks up environment variables (injected so tests control it).
pub async fn handle(
    request: LoadRequest,
    kinesis: Arc<aws_sdk_kinesis::Client>,
    s3: &aws_sdk_s3::Client,
    env: impl Fn(&str) -> Option<String>,
) -> Result<LoadReport, LoadError> {
    let stream = request
        .stream
        .clone()
        .or_else(|| env(STREAM_NAME_ENV))
        .ok_or_else(|| {
            LoadError::Input(format!("no `stream` in the input and no {STREAM_NAME_ENV}"))
        })?;
    let generated = generate(&request.generator)?;
    let options = SendOptions {
        lanes: request.lanes.unwrap_or(SendOptions::default().lanes),
        rate: request.rate,
        ..SendOptions::default()
    };
    let mut report = send_records(kinesis, &stream, generated.records(), options).await?;
    if let Some(bucket) = request
        .ground_truth_bucket
        .clone()
        .or_else(|| env(GROUND_TRUTH_BUCKET_ENV))
    {
        let key = request
            .ground_truth_key
            .clone()
            .unwrap_or_else(|| ground_truth_key(&request.generator));
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .content_type("application/x-ndjson")
            .body(ground_truth_bytes(&generated)?.into())
            .send()
            .await
            .map_err(|e| LoadError::GroundTruth(format!("{e:?}")))?;
        report.ground_truth = Some(format!("s3://{bucket}/{key}"));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_input_takes_generator_settings_at_the_top_level() {
        let input = r#"{"seed":5,"transactions":1000,"day":"2026-11-20","stream":"tx","late_events":false}"#;
        let req: LoadRequest = serde_json::from_str(input).unwrap();
        assert_eq!(req.generator.seed, 5);
        assert_eq!(req.generator.transactions, 1000);
        assert_eq!(req.generator.day, "2026-11-20");
        assert!(!req.generator.late_events);
        assert_eq!(
            req.generator.duplicate_rate,
            GeneratorConfig::default().duplicate_rate
        );
        assert_eq!(req.stream.as_deref(), Some("tx"));
        assert_eq!(
            ground_truth_key(&req.generator),
            "ground-truth/dt=2026-11-20/seed=5.jsonl"
        );
    }

    #[test]
    fn records_of_one_key_always_go_to_the_same_lane() {
        assert_eq!(lane_of("acc-0000001", 4), lane_of("acc-0000001", 4));
        let lanes: std::collections::HashSet<usize> = (0..100)
            .map(|i| lane_of(&format!("acc-{i:07}"), 4))
            .collect();
        assert_eq!(lanes.len(), 4);
    }
}

//! The PutRecords seam and its retry loop.
//!
//! [`PutRecordsApi`] is our own seam (implemented for the real `aws_sdk_kinesis::Client`)
//! so the retry policy can also be tested with a scripted stream. Retries resend ONLY
//! the entries whose result carries an `ErrorCode` (`ProvisionedThroughputExceededException`
//! or `InternalFailure`), in their original order, after a full-jitter exponential
//! backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"). A failed call as a
//! whole (throttled, 5xx, timeout) resends all its entries: a lost response may thus
//! duplicate records — the stream is at-least-once and consumers deduplicate by id.

use std::future::Future;
use std::time::Duration;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use monitoring::generator::Record;
use rand::Rng;

/// Outcome of one entry of a PutRecords call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    /// Stored.
    Ok,
    /// Refused with this error code; may be retried.
    Failed(String),
}

/// Why a whole PutRecords call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("PutRecords failed ({code}): {message}")]
pub struct CallError {
    /// AWS error code, or `Transport` for connection problems.
    pub code: String,
    /// Message.
    pub message: String,
    /// Whether repeating the call may succeed.
    pub retryable: bool,
}

/// Codes of errors that no retry can fix.
const FATAL_CODES: [&str; 6] = [
    "ResourceNotFoundException",
    "ValidationException",
    "InvalidArgumentException",
    "AccessDeniedException",
    "KMSAccessDeniedException",
    "UnrecognizedClientException",
];

/// The capability of putting a batch of records on a stream.
pub trait PutRecordsApi: Send + Sync {
    /// Puts `records` (≤ 500) on `stream`; one outcome per record, in order.
    fn put_records(
        &self,
        stream: &str,
        records: &[Record],
    ) -> impl Future<Output = Result<Vec<EntryOutcome>, CallError>> + Send;
}

impl PutRecordsApi for aws_sdk_kinesis::Client {
    async fn put_records(
        &self,
        stream: &str,
        records: &[Record],
    ) -> Result<Vec<EntryOutcome>, CallError> {
        let mut entries = Vec::with_capacity(records.len());
        for r in records {
            let entry = PutRecordsRequestEntry::builder()
                .data(Blob::new(r.data.clone()))
                .partition_key(r.partition_key.clone())
                .build()
                .map_err(|e| CallError {
                    code: "InvalidEntry".to_owned(),
                    message: e.to_string(),
                    retryable: false,
                })?;
            entries.push(entry);
        }
        let out = self
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| {
                let code = e.code().unwrap_or("Transport").to_owned();
                CallError {
                    retryable: !FATAL_CODES.contains(&code.as_str()),
                    message: e.message().map_or_else(|| format!("{e:?}"), str::to_owned),
                    code,
                }
            })?;
        let results = out.records();
        if results.len() != records.len() {
            return Err(CallError {
                code: "InvalidResponse".to_owned(),
                message: format!("{} results for {} entries", results.len(), records.len()),
                retryable: false,
            });
        }
        Ok(results
            .iter()
            .map(|r| match r.error_code() {
                Some(code) => EntryOutcome::Failed(code.to_owned()),
                None => EntryOutcome::Ok,
            })
            .collect())
    }
}

/// Retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per batch, first included.
    pub max_attempts: u32,
    /// Backoff cap for the first retry.
    pub base: Duration,
    /// Largest backoff.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 30,
            base: Duration::from_millis(50),
            max: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: uniform in `0..=min(max, base·2^retry)`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1_u32 << retry.min(16))
            .min(self.max);
        let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// What one batch took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// PutRecords calls made.
    pub calls: u64,
    /// Entries resent after an entry-level failure.
    pub retried_entries: u64,
    /// Entry failures with `ProvisionedThroughputExceededException`.
    pub throttled_entries: u64,
    /// Whole calls that failed.
    pub failed_calls: u64,
}

/// Why a batch could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError {
    /// A call failed in a way no retry fixes.
    #[error(transparent)]
    Fatal(CallError),
    /// Entries still failed after the last attempt.
    #[error("{left} records still failing after {attempts} attempts (last error {last})")]
    Exhausted {
        /// Records not stored.
        left: usize,
        /// Attempts made.
        attempts: u32,
        /// Last error code seen.
        last: String,
    },
}

/// Puts one batch, retrying only failed entries, until all are stored.
pub async fn put_batch(
    api: &impl PutRecordsApi,
    stream: &str,
    mut pending: Vec<Record>,
    policy: RetryPolicy,
) -> Result<BatchStats, PutError> {
    let mut stats = BatchStats::default();
    let mut last = String::new();
    for attempt in 0..policy.max_attempts {
        if attempt > 0 {
            tokio::time::sleep(policy.backoff(attempt - 1)).await;
        }
        stats.calls += 1;
        match api.put_records(stream, &pending).await {
            Ok(outcomes) => {
                let mut failed = Vec::new();
                for (record, outcome) in pending.into_iter().zip(outcomes) {
                    if let EntryOutcome::Failed(code) = outcome {
                        if code == "ProvisionedThroughputExceededException" {
                            stats.throttled_entries += 1;
                        }
                        last = code;
                        failed.push(record);
                    }
                }
                if failed.is_empty() {
                    return Ok(stats);
                }
                stats.retried_entries += failed.len() as u64;
                pending = failed;
            }
            Err(e) if !e.retryable => return Err(PutError::Fatal(e)),
            Err(e) => {
                stats.failed_calls += 1;
                last = e.code;
            }
        }
    }
    Err(PutError::Exhausted {
        left: pending.len(),
        attempts: policy.max_attempts,
        last,
    })
}

//! Kinesis Data Streams (awsJson1_1, `X-Amz-Target: Kinesis_20131202.<Op>`).
//!
//! ## Layout
//! - `mod.rs` — the [`Kinesis`] service: operation dispatch, stream lookup by name or
//!   ARN, the error shapes shared by every operation, metrics.
//! - `input` — reading request members with AWS's Serialization/Validation split.
//! - `stream` — the model: streams, shards, hash key ranges, record logs, routing.
//! - `streams` — stream lifecycle and listing (Create/Delete/Describe*/List*, retention).
//! - `records` — PutRecord, PutRecords, GetRecords.
//! - `iterators` — shard iterator tokens and GetShardIterator.
//! - `resharding` — SplitShard, MergeShards, UpdateShardCount.
//! - `sequence` — AWS-like 56-digit sequence numbers.
//! - `limits` — optional per-shard throughput quotas.
//! - `oracle_tests` — seeded random puts/reshards checked against what was written.
//!
//! ## Why it is shaped this way
//! The Lambda event-source poller calls GetRecords on many shards at once and the
//! benchmark drives PutRecords at concurrency 16, so there is no lock across the whole
//! service while records are copied: the stream map is locked only to find a stream,
//! each stream has a shard-list lock and each shard its own log lock (see `stream`).
//! Streams become ACTIVE immediately; their status is still reported.

mod input;
mod iterators;
mod limits;
#[cfg(test)]
mod oracle_tests;
mod records;
mod resharding;
mod sequence;
mod stream;
mod streams;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value, json};

use self::input::{Body, Input, KResult, check_name, invalid_argument, validation};
use self::stream::Stream;
use crate::error::AwsJsonError;
use crate::{Clock, Config};

/// `__type` of a call to an operation Kinesis does not have.
const UNKNOWN_OPERATION: &str = "UnknownOperationException";
/// `__type` for a stream or shard that does not exist.
const RESOURCE_NOT_FOUND: &str = "ResourceNotFoundException";
/// `__type` for a resource that exists already or is busy.
const RESOURCE_IN_USE: &str = "ResourceInUseException";
/// `__type` for exceeded account/stream limits.
const LIMIT_EXCEEDED: &str = "LimitExceededException";
/// `__type` for throttled reads and writes.
const THROUGHPUT_EXCEEDED: &str = "ProvisionedThroughputExceededException";
/// `__type` for an iterator older than five minutes.
const EXPIRED_ITERATOR: &str = "ExpiredIteratorException";

/// The Kinesis service.
#[derive(Debug)]
pub struct Kinesis {
    clock: Clock,
    region: String,
    account_id: String,
    enforce_limits: bool,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    /// Last stream epoch handed out (see `sequence`).
    last_epoch: AtomicU64,
}

impl Kinesis {
    /// Creates the service with no resources.
    pub fn new(config: &Config, clock: Clock) -> Self {
        Self {
            clock,
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            enforce_limits: config.kinesis_enforce_limits,
            streams: RwLock::new(BTreeMap::new()),
            last_epoch: AtomicU64::new(0),
        }
    }

    /// Handles one JSON-protocol operation.
    pub async fn handle(&self, operation: &str, body: &[u8]) -> Result<Value, AwsJsonError> {
        // Unknown targets are refused before the body is looked at, as AWS does.
        let op: fn(&Self, &Input<'_>) -> KResult<Value> = match operation {
            "CreateStream" => Self::create_stream,
            "DeleteStream" => Self::delete_stream,
            "DescribeStream" => Self::describe_stream,
            "DescribeStreamSummary" => Self::describe_stream_summary,
            "ListStreams" => Self::list_streams,
            "ListShards" => Self::list_shards,
            "IncreaseStreamRetentionPeriod" => Self::increase_retention,
            "DecreaseStreamRetentionPeriod" => Self::decrease_retention,
            "PutRecord" => Self::put_record,
            "PutRecords" => Self::put_records,
            "GetShardIterator" => Self::get_shard_iterator,
            "GetRecords" => Self::get_records,
            "SplitShard" => Self::split_shard,
            "MergeShards" => Self::merge_shards,
            "UpdateShardCount" => Self::update_shard_count,
            _ => {
                return Err(AwsJsonError::client(
                    UNKNOWN_OPERATION,
                    format!("Unknown operation {operation}"),
                ));
            }
        };
        let body = Body::parse(body)?;
        op(self, &body.input())
    }

    /// Drops every resource.
    pub fn reset(&self) {
        self.streams_write().clear();
    }

    /// Service-specific metrics: per stream records and bytes in and out, shard counts
    /// and throttled calls.
    pub fn metrics(&self) -> Value {
        let streams: Vec<Arc<Stream>> = self.streams_read().values().cloned().collect();
        let mut out = Map::new();
        for s in streams {
            let (shards, open) = {
                let state = s.read();
                (state.shards.len(), state.open.len())
            };
            let m = &s.metrics;
            let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
            out.insert(
                s.name.clone(),
                json!({
                    "records_in": get(&m.records_in),
                    "bytes_in": get(&m.bytes_in),
                    "records_out": get(&m.records_out),
                    "bytes_out": get(&m.bytes_out),
                    "throttled": get(&m.throttled),
                    "shards": shards,
                    "open_shards": open,
                }),
            );
        }
        json!({ "streams": out })
    }

    /// Emulated now, epoch ms.
    fn now_millis(&self) -> u64 {
        u64::try_from(self.clock.now_millis()).unwrap_or(u64::MAX)
    }

    fn streams_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Stream>>> {
        self.streams.read().unwrap_or_else(|e| e.into_inner())
    }

    fn streams_write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Stream>>> {
        self.streams.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The ARN of stream `name`.
    fn stream_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.region, self.account_id
        )
    }

    /// The stream named by `StreamName` and/or `StreamARN` (at least one is required;
    /// when both are given they must agree).
    fn stream(&self, input: &Input<'_>) -> KResult<Arc<Stream>> {
        let name = input.opt_str("StreamName")?;
        let arn = input.opt_str("StreamARN")?;
        if let Some(name) = name {
            check_name(name, "streamName")?;
        }
        let from_arn = arn.map(|arn| self.name_from_arn(arn)).transpose()?;
        let name = match (name, from_arn) {
            (Some(n), Some(a)) if n != a => {
                return Err(invalid_argument(format!(
                    "StreamARN {} does not match StreamName {n}",
                    arn.unwrap_or_default()
                )));
            }
            (Some(n), _) => n,
            (None, Some(a)) => a,
            (None, None) => {
                return Err(AwsJsonError::client(
                    input::VALIDATION_EXCEPTION,
                    "Either StreamName or StreamARN should be provided.",
                ));
            }
        };
        self.stream_by_name(name)
    }

    fn stream_by_name(&self, name: &str) -> KResult<Arc<Stream>> {
        self.streams_read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.stream_not_found(name))
    }

    /// The stream name inside `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    fn name_from_arn<'a>(&self, arn: &'a str) -> KResult<&'a str> {
        let bad = || {
            validation(
                arn,
                "streamARN",
                "Member must satisfy regular expression pattern: \
                 arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
            )
        };
        let mut parts = arn.splitn(6, ':');
        let (Some(arn_tag), Some(partition), Some(service), _, Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        if arn_tag != "arn"
            || !partition.starts_with("aws")
            || service != "kinesis"
            || account.len() != 12
            || !account.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let name = resource.strip_prefix("stream/").ok_or_else(bad)?;
        check_name(name, "streamARN")?;
        Ok(name)
    }

    fn stream_not_found(&self, name: &str) -> AwsJsonError {
        AwsJsonError::client(
            RESOURCE_NOT_FOUND,
            format!("Stream {name} under account {} not found.", self.account_id),
        )
    }

    fn shard_not_found(&self, stream: &str, shard: &str) -> AwsJsonError {
        AwsJsonError::client(
            RESOURCE_NOT_FOUND,
            format!(
                "Shard {shard} in stream {stream} under account {} does not exist",
                self.account_id
            ),
        )
    }

    fn throttled(&self, stream: &Stream, shard: u32) -> AwsJsonError {
        Stream::count_throttle(stream);
        AwsJsonError::client(
            THROUGHPUT_EXCEEDED,
            format!(
                "Rate exceeded for shard {} in stream {} under account {}.",
                stream::shard_id(shard),
                stream.name,
                self.account_id
            ),
        )
    }
}

impl Stream {
    fn count_throttle(&self) {
        stream::StreamMetrics::add(&self.metrics.throttled, 1);
    }
}

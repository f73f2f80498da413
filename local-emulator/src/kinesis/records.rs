//! PutRecord, PutRecords and GetRecords.
//!
//! Writes route by MD5(partition key) — or `ExplicitHashKey` — over the open shards'
//! hash key ranges and append under the shard's own lock. PutRecords is not atomic:
//! request-level validation fails the whole call, but throttling fails entries one by
//! one, reported in request order with `FailedRecordCount`.
//!
//! GetRecords clones record handles (`Bytes`, `Arc<str>`) under the shard lock and
//! base64-encodes after releasing it. `ApproximateArrivalTimestamp` is epoch seconds
//! with millisecond precision (a JSON number such as `1763771234.567`).
//! `MillisBehindLatest` is how long the oldest unread record has been waiting (0 when
//! the iterator reached the tip). Once a closed shard is drained, the response has no
//! `NextShardIterator` and lists the `ChildShards`.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};

use super::input::{
    Input, KResult, VALIDATION_EXCEPTION, check_len, check_range, invalid_argument, is_decimal,
    missing, validation,
};
use super::iterators::{ITERATOR_TTL_MILLIS, ShardIterator};
use super::stream::{
    Record, Stream, StreamMetrics, StreamState, hash_range_json, partition_hash, shard_id,
};
use super::{EXPIRED_ITERATOR, Kinesis, THROUGHPUT_EXCEEDED};
use crate::error::AwsJsonError;

/// Largest record (partition key + data).
const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Most entries in one PutRecords call.
const MAX_PUT_RECORDS_ENTRIES: usize = 500;
/// Largest PutRecords request (sum of keys + data), since the large-records launch.
const MAX_PUT_RECORDS_BYTES: usize = 10 * 1024 * 1024;
/// Most records one GetRecords call returns.
const MAX_GET_RECORDS: i64 = 10_000;
/// Largest GetRecords response payload.
const MAX_GET_RECORDS_BYTES: u64 = 10 * 1024 * 1024;
/// Pattern of hash keys, as the API model states it.
const HASH_KEY_PATTERN: &str = "0|([1-9]\\d{0,38})";
/// Pattern of sequence numbers, as the API model states it.
pub(crate) const SEQUENCE_PATTERN: &str = "0|([1-9]\\d{0,128})";

/// A validated record to write.
#[derive(Debug)]
struct Entry {
    key: Arc<str>,
    data: Bytes,
    hash: u128,
}

impl Entry {
    fn size(&self) -> usize {
        self.key.len() + self.data.len()
    }
}

/// Reads one record's members; `index` (0-based, inside PutRecords) places them in
/// validation messages as `records.<n>.member.<name>`. Names are only formatted on error:
/// this runs 500 times per PutRecords.
fn parse_entry(input: &Input<'_>, index: Option<usize>) -> KResult<Entry> {
    let member = |name: &str| match index {
        Some(i) => format!("records.{}.member.{name}", i + 1),
        None => name.to_owned(),
    };
    let key = input
        .opt_str("PartitionKey")?
        .ok_or_else(|| missing(&member("partitionKey")))?;
    if key.is_empty() || key.len() > 256 {
        // Byte length over 256 may still be <= 256 characters; check_len decides.
        check_len(key, &member("partitionKey"), 1, 256)?;
    }
    let data = input
        .opt_blob("Data")?
        .ok_or_else(|| missing(&member("data")))?;
    if data.len() > MAX_RECORD_BYTES {
        return Err(AwsJsonError::client(
            VALIDATION_EXCEPTION,
            format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: \
                 Member must have length less than or equal to {MAX_RECORD_BYTES}",
                member("data")
            ),
        ));
    }
    let hash = match input.opt_str("ExplicitHashKey")? {
        None => partition_hash(key),
        Some(explicit) => {
            if !is_decimal(explicit, 39) {
                return Err(validation(
                    explicit,
                    &member("explicitHashKey"),
                    &format!("Member must satisfy regular expression pattern: {HASH_KEY_PATTERN}"),
                ));
            }
            explicit.parse::<u128>().map_err(|_| {
                invalid_argument(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: \
                     [0, 2^128-1]. Specified value was {explicit}"
                ))
            })?
        }
    };
    let entry = Entry {
        key: Arc::from(key),
        data,
        hash,
    };
    if entry.size() > MAX_RECORD_BYTES {
        return Err(invalid_argument(format!(
            "Record size (partition key + data) {} exceeds the limit of {MAX_RECORD_BYTES} \
             bytes.",
            entry.size()
        )));
    }
    Ok(entry)
}

/// Outcome of writing one entry.
enum Written {
    Ok { shard: u32, position: u64 },
    Throttled { shard: u32 },
}

impl Kinesis {
    /// Appends one entry to the shard its hash routes to.
    fn write_entry(
        &self,
        stream: &Stream,
        state: &StreamState,
        entry: Entry,
        now: u64,
    ) -> KResult<Written> {
        let horizon = state.horizon(now);
        let shard = state.route(entry.hash).ok_or_else(|| {
            // Open shards always cover the whole hash space; this is a bug if reached.
            AwsJsonError::with_status(500, "InternalFailure", "no open shard for hash key")
        })?;
        let size = entry.size() as u64;
        let mut log = shard.lock();
        log.trim(horizon);
        if self.enforce_limits && !log.limits.admit_write(now, size) {
            return Ok(Written::Throttled { shard: shard.index });
        }
        let position = log.append(Record {
            arrival_millis: now,
            partition_key: entry.key,
            data: entry.data,
        });
        StreamMetrics::add(&stream.metrics.records_in, 1);
        StreamMetrics::add(&stream.metrics.bytes_in, size);
        Ok(Written::Ok {
            shard: shard.index,
            position,
        })
    }

    pub(super) fn put_record(&self, input: &Input<'_>) -> KResult<Value> {
        let entry = parse_entry(input, None)?;
        if let Some(s) = input.opt_str("SequenceNumberForOrdering")? {
            // Positions only grow within a shard, so ordering after `s` holds already.
            if !is_decimal(s, 129) {
                return Err(validation(
                    s,
                    "sequenceNumberForOrdering",
                    &format!("Member must satisfy regular expression pattern: {SEQUENCE_PATTERN}"),
                ));
            }
        }
        let stream = self.stream(input)?;
        let written = self.write_entry(&stream, &stream.read(), entry, self.now_millis())?;
        match written {
            Written::Ok { shard, position } => Ok(json!({
                "ShardId": shard_id(shard),
                "SequenceNumber": stream.sequence(shard, position).to_string(),
                "EncryptionType": "NONE",
            })),
            Written::Throttled { shard } => Err(self.throttled(&stream, shard)),
        }
    }

    pub(super) fn put_records(&self, input: &Input<'_>) -> KResult<Value> {
        let items = input
            .opt_array("Records")?
            .ok_or_else(|| missing("records"))?;
        if items.is_empty() {
            return Err(AwsJsonError::client(
                VALIDATION_EXCEPTION,
                "1 validation error detected: Value '[]' at 'records' failed to satisfy \
                 constraint: Member must have length greater than or equal to 1",
            ));
        }
        if items.len() > MAX_PUT_RECORDS_ENTRIES {
            return Err(AwsJsonError::client(
                VALIDATION_EXCEPTION,
                format!(
                    "1 validation error detected: Value at 'records' failed to satisfy \
                     constraint: Member must have length less than or equal to \
                     {MAX_PUT_RECORDS_ENTRIES}"
                ),
            ));
        }
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item = Input::from_value(item, "Records")?;
            entries.push(parse_entry(&item, Some(i))?);
        }
        let total: usize = entries.iter().map(Entry::size).sum();
        if total > MAX_PUT_RECORDS_BYTES {
            return Err(invalid_argument("Records size exceeds 10 MB limit"));
        }
        let stream = self.stream(input)?;
        let now = self.now_millis();
        let mut failed = 0u32;
        let mut results = Vec::with_capacity(entries.len());
        // Held shared for the whole batch: resharding waits, other writers do not.
        let state = stream.read();
        for entry in entries {
            results.push(match self.write_entry(&stream, &state, entry, now)? {
                Written::Ok { shard, position } => json!({
                    "ShardId": shard_id(shard),
                    "SequenceNumber": stream.sequence(shard, position).to_string(),
                }),
                Written::Throttled { shard } => {
                    failed += 1;
                    let err = self.throttled(&stream, shard);
                    json!({ "ErrorCode": THROUGHPUT_EXCEEDED, "ErrorMessage": err.message })
                }
            });
        }
        Ok(json!({
            "FailedRecordCount": failed,
            "Records": results,
            "EncryptionType": "NONE",
        }))
    }

    pub(super) fn get_records(&self, input: &Input<'_>) -> KResult<Value> {
        let token = input.str("ShardIterator")?;
        check_len(token, "shardIterator", 1, 512)?;
        let limit = input.opt_int("Limit")?.unwrap_or(MAX_GET_RECORDS);
        check_range(limit, "limit", 1, MAX_GET_RECORDS)?;
        let limit = usize::try_from(limit).unwrap_or(1);
        let page = self.read_page(token, limit, input.opt_str("StreamARN")?)?;
        let records: Vec<Value> = page
            .records
            .into_iter()
            .map(|r| {
                json!({
                    "SequenceNumber": r.sequence_number,
                    "ApproximateArrivalTimestamp": r.arrival_millis as f64 / 1000.0,
                    "Data": r.data_base64,
                    "PartitionKey": &*r.partition_key,
                })
            })
            .collect();
        let mut out = json!({
            "Records": records,
            "MillisBehindLatest": page.millis_behind,
        });
        match page.child_shards {
            Some(children) => out["ChildShards"] = Value::Array(children),
            None => {
                out["NextShardIterator"] = Value::String(page.next_iterator.unwrap_or_default())
            }
        }
        Ok(out)
    }

    /// One `GetRecords` page, typed: what [`Self::get_records`] renders as JSON, and what
    /// the emulator's own event source mappings read directly (building and re-reading a
    /// JSON value tree per record, for every mapping, was a visible share of the
    /// emulator's CPU in the pipeline benchmark). `limit` is held to GetRecords' 1..=10,000.
    pub(crate) fn read_page(
        &self,
        token: &str,
        limit: usize,
        stream_arn: Option<&str>,
    ) -> KResult<RecordsPage> {
        let limit = limit.clamp(1, MAX_GET_RECORDS as usize);
        let it = ShardIterator::decode(token)
            .ok_or_else(|| invalid_argument(format!("Invalid ShardIterator: {token}")))?;
        let now = self.now_millis();
        if now > it.issued_millis.saturating_add(ITERATOR_TTL_MILLIS) {
            return Err(AwsJsonError::client(
                EXPIRED_ITERATOR,
                format!(
                    "Iterator expired. The iterator was created at time {} while right now it \
                     is {now} which is further in the future than the tolerated delay of \
                     {ITERATOR_TTL_MILLIS} milliseconds.",
                    it.issued_millis
                ),
            ));
        }
        let stream = self.stream_by_name(&it.stream)?;
        if stream.epoch != it.epoch {
            // The stream was deleted and re-created since the iterator was issued.
            return Err(self.stream_not_found(&it.stream));
        }
        if let Some(arn) = stream_arn
            && self.name_from_arn(arn)? != stream.name
        {
            return Err(invalid_argument(format!(
                "StreamARN {arn} does not match the stream of the shard iterator"
            )));
        }
        let state = stream.read();
        let entry = state
            .entry(it.shard)
            .ok_or_else(|| self.shard_not_found(&stream.name, &shard_id(it.shard)))?;
        let horizon = state.horizon(now);
        let (batch, first, next, behind, bytes) = {
            let mut log = entry.shard.lock();
            log.trim(horizon);
            if self.enforce_limits && !log.limits.admit_read_call(now) {
                drop(log);
                return Err(self.throttled(&stream, it.shard));
            }
            let first = it.position.max(log.first_position());
            let end = log.next_position();
            let mut batch: Vec<Record> = Vec::with_capacity(limit.min(1_024));
            let mut bytes = 0u64;
            let mut pos = first;
            while pos < end && batch.len() < limit {
                let Some(r) = log.get(pos) else { break };
                // The size cap never leaves a consumer stuck: one record always fits.
                if !batch.is_empty() && bytes + r.size() > MAX_GET_RECORDS_BYTES {
                    break;
                }
                bytes += r.size();
                batch.push(r.clone());
                pos += 1;
            }
            if self.enforce_limits {
                log.limits.charge_read(bytes);
            }
            let behind = log
                .get(pos)
                .map_or(0, |r| now.saturating_sub(r.arrival_millis));
            (batch, first, pos, behind, bytes)
        };
        let drained = entry.closure.as_ref().filter(|c| next >= c.end_position);
        let child_shards: Option<Vec<Value>> = drained.map(|c| {
            c.children
                .iter()
                .filter_map(|&i| state.entry(i))
                .map(|child| {
                    let mut parents = Vec::new();
                    parents.extend(child.shard.parent.map(shard_id));
                    parents.extend(child.shard.adjacent_parent.map(shard_id));
                    json!({
                        "ShardId": shard_id(child.shard.index),
                        "ParentShards": parents,
                        "HashKeyRange": hash_range_json(&child.shard),
                    })
                })
                .collect()
        });
        drop(state);

        StreamMetrics::add(&stream.metrics.records_out, batch.len() as u64);
        StreamMetrics::add(&stream.metrics.bytes_out, bytes);
        let b64 = base64::engine::general_purpose::STANDARD;
        let records = batch
            .iter()
            .zip(first..)
            .map(|(r, pos)| PageRecord {
                sequence_number: stream.sequence(it.shard, pos).to_string(),
                arrival_millis: r.arrival_millis,
                data_base64: b64.encode(&r.data),
                partition_key: Arc::clone(&r.partition_key),
            })
            .collect();
        let next_iterator = child_shards.is_none().then(|| {
            ShardIterator {
                stream: it.stream,
                epoch: it.epoch,
                shard: it.shard,
                position: next,
                issued_millis: now,
            }
            .encode()
        });
        Ok(RecordsPage {
            records,
            millis_behind: behind,
            next_iterator,
            child_shards,
        })
    }
}

/// One `GetRecords` answer ([`Kinesis::read_page`]).
#[derive(Debug)]
pub(crate) struct RecordsPage {
    /// The records, in order.
    pub records: Vec<PageRecord>,
    /// `MillisBehindLatest`.
    pub millis_behind: u64,
    /// `NextShardIterator`: `None` once a closed shard is read to its end.
    pub next_iterator: Option<String>,
    /// `ChildShards` of a drained closed shard, as the JSON lists them.
    pub child_shards: Option<Vec<Value>>,
}

/// One record of a [`RecordsPage`].
#[derive(Debug)]
pub(crate) struct PageRecord {
    /// `SequenceNumber`.
    pub sequence_number: String,
    /// `ApproximateArrivalTimestamp`, epoch milliseconds.
    pub arrival_millis: u64,
    /// `Data`, base64.
    pub data_base64: String,
    /// `PartitionKey`.
    pub partition_key: Arc<str>,
}

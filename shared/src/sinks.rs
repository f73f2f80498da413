//! Idempotent sinks for outputs that leave DynamoDB's transaction.
//!
//! The committer writes outputs to the outputs table in the same transaction as the
//! state change; these sinks deliver to other places with deterministic identities, so
//! a re-delivered batch can never produce a second, different copy:
//! - [`DynamoTableSink`]: `PutItem` with `attribute_not_exists(pk)` under a deterministic
//!   id; an existing item means "already delivered" and is success.
//! - [`KinesisSink`]: each record is a JSON envelope `{"id", "payload"}` with a
//!   deterministic id for downstream dedupe; `PutRecords` is not atomic, so only the
//!   entries that failed are retried (with jittered backoff).
//! - [`S3Sink`]: deterministic keys written with `If-None-Match: *`; 412 means the object
//!   already exists (an earlier attempt wrote it) and is success.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use serde::{Deserialize, Serialize};

use crate::dynamo_item::{ATTR_PK, ATTR_SK};
use crate::error::Error;
use crate::retry::backoff;

/// The sort key of sink items that do not bring their own.
const DEFAULT_SK: &str = "item";

/// PutRecords' per-call record limit.
const PUT_RECORDS_LIMIT: usize = 500;

/// The Kinesis sink's record envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Deterministic record id: consumers dedupe on it.
    pub id: String,
    /// The output.
    pub payload: T,
}

/// A DynamoDB table sink, idempotent by deterministic id.
#[derive(Debug, Clone)]
pub struct DynamoTableSink {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoTableSink {
    /// A sink writing to `table` (key `pk` + `sk`; the id is the pk, `sk` is `item`'s own
    /// or `"item"`).
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    /// Writes `item` under `id` once; returns `false` when it was already there.
    pub async fn put(
        &self,
        id: &str,
        mut item: HashMap<String, AttributeValue>,
    ) -> Result<bool, Error> {
        item.insert(ATTR_PK.to_owned(), AttributeValue::S(id.to_owned()));
        item.entry(ATTR_SK.to_owned())
            .or_insert_with(|| AttributeValue::S(DEFAULT_SK.to_owned()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", ATTR_PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                use aws_sdk_dynamodb::error::ProvideErrorMetadata;
                match e.code() {
                    Some("ConditionalCheckFailedException") => Ok(false),
                    Some(code) if code.contains("Throughput") || code.contains("Throttl") => {
                        Err(Error::Throttled(code.to_owned()))
                    }
                    _ => Err(Error::Transient(format!("{e:?}"))),
                }
            }
        }
    }
}

/// One record for the Kinesis sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord<T> {
    /// Deterministic id (e.g. from the source shard and sequence number).
    pub id: String,
    /// Partition key on the output stream.
    pub partition_key: String,
    /// The output.
    pub payload: T,
}

/// A Kinesis stream sink with deterministic record ids.
#[derive(Debug, Clone)]
pub struct KinesisSink {
    client: aws_sdk_kinesis::Client,
    stream: String,
    max_attempts: u32,
}

impl KinesisSink {
    /// A sink writing to `stream`.
    pub fn new(client: aws_sdk_kinesis::Client, stream: &str) -> Self {
        Self {
            client,
            stream: stream.to_owned(),
            max_attempts: 8,
        }
    }

    /// Sends every record, retrying only the entries PutRecords reports as failed.
    pub async fn send<T: Serialize>(&self, records: &[SinkRecord<T>]) -> Result<(), Error> {
        let mut pending: Vec<PutRecordsRequestEntry> = Vec::with_capacity(records.len());
        for r in records {
            let data = serde_json::to_vec(&Envelope {
                id: r.id.clone(),
                payload: &r.payload,
            })
            .map_err(|e| Error::InvalidRecord(e.to_string()))?;
            pending.push(
                PutRecordsRequestEntry::builder()
                    .partition_key(&r.partition_key)
                    .data(Blob::new(data))
                    .build()
                    .map_err(|e| Error::Service(e.to_string()))?,
            );
        }
        for chunk in pending.chunks(PUT_RECORDS_LIMIT) {
            self.send_chunk(chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn send_chunk(&self, mut entries: Vec<PutRecordsRequestEntry>) -> Result<(), Error> {
        for attempt in 0..self.max_attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt - 1)).await;
            }
            let resp = self
                .client
                .put_records()
                .stream_name(&self.stream)
                .set_records(Some(entries.clone()))
                .send()
                .await
                .map_err(|e| Error::Transient(format!("{e:?}")))?;
            if resp.failed_record_count().unwrap_or(0) == 0 {
                return Ok(());
            }
            // Results are in request order: keep only the entries that failed.
            entries = entries
                .into_iter()
                .zip(resp.records())
                .filter(|(_, result)| result.error_code().is_some())
                .map(|(entry, _)| entry)
                .collect();
            if entries.is_empty() {
                return Ok(());
            }
        }
        Err(Error::Throttled(format!(
            "{} PutRecords entries kept failing",
            entries.len()
        )))
    }
}

/// An S3 sink writing each object once under a deterministic key.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Sink {
    /// A sink writing to `bucket`.
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
        }
    }

    /// Writes `body` at `key` unless it exists; returns `false` when it already did.
    pub async fn put_once(&self, key: &str, body: Vec<u8>) -> Result<bool, Error> {
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .body(body.into())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                match status {
                    Some(412) => Ok(false),
                    // 409 ConditionalRequestConflict: a concurrent writer; retry later.
                    Some(503) => Err(Error::Throttled(format!("{e:?}"))),
                    Some(409) | Some(500..=599) | None => Err(Error::Transient(format!("{e:?}"))),
                    _ => Err(Error::Service(format!("{e:?}"))),
                }
            }
        }
    }
}

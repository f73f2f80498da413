//! The few Kinesis calls a poller makes, through the emulator's own JSON entry point
//! (`Emulator::call_json`), so they are counted and behave exactly like SDK calls.

use serde_json::{Value, json};

use super::records::Record;
use crate::Emulator;
use crate::error::AwsJsonError;
use crate::server::KINESIS_TARGET_PREFIX;

/// A shard as `ListShards` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardInfo {
    /// Shard id.
    pub id: String,
    /// Parents (after a split: one; after a merge: two).
    pub parents: Vec<String>,
}

/// Where a new iterator starts.
#[derive(Debug, Clone, PartialEq)]
pub enum IteratorStart {
    /// Oldest record.
    TrimHorizon,
    /// Only new records.
    Latest,
    /// At or after a time (epoch seconds).
    AtTimestamp(f64),
    /// After a sequence number (resuming).
    After(String),
}

/// One GetRecords answer.
#[derive(Debug, Clone)]
pub struct Page {
    /// Records in order.
    pub records: Vec<Record>,
    /// `None` when a closed shard has been read to its end.
    pub next_iterator: Option<String>,
    /// `MillisBehindLatest`.
    pub millis_behind: u64,
}

async fn call(emulator: &Emulator, operation: &str, body: Value) -> Result<Value, AwsJsonError> {
    emulator
        .call_json(
            &format!("{KINESIS_TARGET_PREFIX}.{operation}"),
            body.to_string().as_bytes(),
        )
        .await
}

/// Every shard of the stream, following pagination.
pub async fn list_shards(
    emulator: &Emulator,
    stream: &str,
) -> Result<Vec<ShardInfo>, AwsJsonError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let body = match &token {
            Some(t) => json!({"NextToken": t}),
            None => json!({"StreamName": stream}),
        };
        let page = call(emulator, "ListShards", body).await?;
        for s in page
            .get("Shards")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = s.get("ShardId").and_then(Value::as_str) else {
                continue;
            };
            let parents = ["ParentShardId", "AdjacentParentShardId"]
                .iter()
                .filter_map(|k| s.get(*k).and_then(Value::as_str).map(str::to_owned))
                .collect();
            out.push(ShardInfo {
                id: id.to_owned(),
                parents,
            });
        }
        token = page
            .get("NextToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// A shard iterator.
pub async fn iterator(
    emulator: &Emulator,
    stream: &str,
    shard: &str,
    start: &IteratorStart,
) -> Result<String, AwsJsonError> {
    let mut body = json!({"StreamName": stream, "ShardId": shard});
    match start {
        IteratorStart::TrimHorizon => body["ShardIteratorType"] = json!("TRIM_HORIZON"),
        IteratorStart::Latest => body["ShardIteratorType"] = json!("LATEST"),
        IteratorStart::AtTimestamp(t) => {
            body["ShardIteratorType"] = json!("AT_TIMESTAMP");
            body["Timestamp"] = json!(t);
        }
        IteratorStart::After(seq) => {
            body["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
            body["StartingSequenceNumber"] = json!(seq);
        }
    }
    let r = call(emulator, "GetShardIterator", body).await?;
    r.get("ShardIterator")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            AwsJsonError::with_status(
                500,
                "InternalFailure",
                "GetShardIterator returned no iterator",
            )
        })
}

/// One page of records: the emulator's own stream read typed, without a JSON value tree
/// per record in between (the JSON API renders the same page), and counted like the
/// GetRecords call it stands for.
pub async fn get_records(
    emulator: &Emulator,
    iterator: &str,
    limit: u32,
) -> Result<Page, AwsJsonError> {
    let page = emulator.kinesis.read_page(iterator, limit as usize, None);
    emulator
        .metrics
        .record("kinesis", "GetRecords", 0, 0, page.is_err());
    let page = page?;
    Ok(Page {
        records: page
            .records
            .into_iter()
            .map(|r| Record {
                sequence_number: r.sequence_number,
                partition_key: r.partition_key.as_ref().to_owned(),
                data_base64: r.data_base64,
                arrival: r.arrival_millis as f64 / 1000.0,
                encryption_type: None,
            })
            .collect(),
        next_iterator: page.next_iterator,
        millis_behind: page.millis_behind,
    })
}

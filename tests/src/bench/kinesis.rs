//! Kinesis workloads for the emulator-vs-moto benchmark.
//!
//! - `Kinesis PutRecords (500 x 200 B)`: one PutRecords of 500 records of 200 B into a
//!   4-shard stream per operation; an operation with failed entries counts as an error.
//! - `Kinesis GetRecords`: a 4-shard stream pre-filled with 20,000 records; each
//!   operation is one GetRecords with `Limit` 100. Sixteen read lanes (one per client
//!   task) each hold their own iterator over one shard; a lane that reaches the end of
//!   its shard takes a fresh TRIM_HORIZON iterator (that GetShardIterator is part of the
//!   operation), so every measured call reads real records on both sides.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamStatus};
use tokio::sync::Mutex;

use super::{Op, OpFuture, Workload, payload};
use crate::TestEnv;

/// Shards of every benchmark stream.
const SHARDS: i32 = 4;
/// Records per PutRecords call and their payload size.
const BATCH: usize = 500;
const RECORD_BYTES: usize = 200;
/// Records written before the GetRecords workload starts.
const PREFILL: usize = 20_000;
/// Records per GetRecords call.
const READ_LIMIT: i32 = 100;
/// Independent read lanes (the driver's default concurrency).
const LANES: usize = 16;

/// This service's workloads.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "Kinesis PutRecords (500 x 200 B)",
            setup: put_records_setup,
        },
        Workload {
            name: "Kinesis GetRecords",
            setup: get_records_setup,
        },
    ]
}

type SetupFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Op>> + Send + 'a>>;

async fn create_stream(env: &TestEnv, prefix: &str) -> anyhow::Result<(Client, String)> {
    let client = env.kinesis();
    let name = env.unique_name(prefix);
    client
        .create_stream()
        .stream_name(&name)
        .shard_count(SHARDS)
        .send()
        .await
        .context("CreateStream")?;
    for _ in 0..200 {
        let out = client
            .describe_stream_summary()
            .stream_name(&name)
            .send()
            .await
            .context("DescribeStreamSummary")?;
        if out
            .stream_description_summary()
            .is_some_and(|s| s.stream_status() == &StreamStatus::Active)
        {
            return Ok((client, name));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    anyhow::bail!("stream {name} never became ACTIVE")
}

fn batch(seed: u64) -> Vec<PutRecordsRequestEntry> {
    (0..BATCH)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("key-{seed}-{i}"))
                .data(Blob::new(payload(
                    RECORD_BYTES,
                    seed * BATCH as u64 + i as u64,
                )))
                .build()
                .expect("partition key and data are set")
        })
        .collect()
}

async fn put_batch(
    client: &Client,
    stream: &str,
    records: Vec<PutRecordsRequestEntry>,
) -> anyhow::Result<()> {
    let out = client
        .put_records()
        .stream_name(stream)
        .set_records(Some(records))
        .send()
        .await
        .context("PutRecords")?;
    match out.failed_record_count() {
        Some(n) if n > 0 => anyhow::bail!("PutRecords: {n} entries failed"),
        _ => Ok(()),
    }
}

fn put_records_setup(env: &TestEnv) -> SetupFuture<'_> {
    Box::pin(async move {
        let (client, stream) = create_stream(env, "bench-put").await?;
        let records = Arc::new(batch(0));
        let stream = Arc::new(stream);
        let op: Op = Arc::new(move |_n| -> OpFuture {
            let (client, stream, records) = (client.clone(), stream.clone(), records.clone());
            Box::pin(async move { put_batch(&client, &stream, records.as_ref().clone()).await })
        });
        Ok(op)
    })
}

/// One read lane: a shard and the iterator to continue from.
#[derive(Debug)]
struct Lane {
    shard: String,
    iterator: Option<String>,
}

async fn trim_horizon(client: &Client, stream: &str, shard: &str) -> anyhow::Result<String> {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .context("GetShardIterator")?
        .shard_iterator()
        .map(str::to_owned)
        .context("no ShardIterator in the answer")
}

async fn read_once(client: &Client, stream: &str, lane: &Mutex<Lane>) -> anyhow::Result<()> {
    let mut lane = lane.lock().await;
    let iterator = match lane.iterator.take() {
        Some(it) => it,
        None => trim_horizon(client, stream, &lane.shard).await?,
    };
    let out = client
        .get_records()
        .shard_iterator(iterator)
        .limit(READ_LIMIT)
        .send()
        .await
        .context("GetRecords")?;
    // At the end of the shard, start over next time so calls keep reading records.
    if !out.records().is_empty() {
        lane.iterator = out.next_shard_iterator().map(str::to_owned);
    }
    Ok(())
}

fn get_records_setup(env: &TestEnv) -> SetupFuture<'_> {
    Box::pin(async move {
        let (client, stream) = create_stream(env, "bench-get").await?;
        for seed in 0..(PREFILL / BATCH) as u64 {
            put_batch(&client, &stream, batch(seed)).await?;
        }
        let shards: Vec<String> = client
            .list_shards()
            .stream_name(&stream)
            .send()
            .await
            .context("ListShards")?
            .shards()
            .iter()
            .map(|s| s.shard_id().to_owned())
            .collect();
        anyhow::ensure!(!shards.is_empty(), "stream has no shards");
        let mut lanes = Vec::with_capacity(LANES);
        for i in 0..LANES {
            let shard = shards[i % shards.len()].clone();
            let iterator = Some(trim_horizon(&client, &stream, &shard).await?);
            lanes.push(Mutex::new(Lane { shard, iterator }));
        }
        let lanes = Arc::new(lanes);
        let stream = Arc::new(stream);
        let op: Op = Arc::new(move |n| -> OpFuture {
            let (client, stream, lanes) = (client.clone(), stream.clone(), lanes.clone());
            Box::pin(async move {
                let lane = &lanes[(n % LANES as u64) as usize];
                read_once(&client, &stream, lane).await
            })
        });
        Ok(op)
    })
}

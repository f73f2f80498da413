//! Kinesis conformance cases, through `aws-sdk-kinesis` (plus raw HTTP for requests an
//! SDK will not send). One case per documented behaviour; cases where moto knowingly
//! departs from AWS are tagged with `skip_on!(env, Moto, why)`, cases that need an
//! emulator knob (limit enforcement, the controllable clock) with `emulator_only!`.
//!
//! Layout: this file holds the shared helpers; the cases live in one submodule per
//! concern (`streams`, `records`, `iterators`, `resharding`, `errors`, `limits`,
//! `in_process`).

mod errors;
mod in_process;
mod iterators;
mod limits;
mod records;
mod resharding;
mod streams;

use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{Record, Shard, ShardIteratorType, StreamStatus};
use shardwise_tests::TestEnv;

/// Creates a provisioned stream with `shards` shards and waits until it is ACTIVE.
pub async fn create_stream(env: &TestEnv, prefix: &str, shards: i32) -> String {
    let name = env.unique_name(prefix);
    env.kinesis()
        .create_stream()
        .stream_name(&name)
        .shard_count(shards)
        .send()
        .await
        .unwrap();
    wait_active(&env.kinesis(), &name).await;
    name
}

/// Polls DescribeStreamSummary until the stream is ACTIVE (moto and AWS pass through
/// CREATING/UPDATING).
pub async fn wait_active(client: &Client, name: &str) {
    for _ in 0..100 {
        let out = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap();
        if out.stream_description_summary().unwrap().stream_status() == &StreamStatus::Active {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stream {name} never became ACTIVE");
}

/// Every shard of the stream (all pages).
pub async fn list_shards(client: &Client, name: &str) -> Vec<Shard> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(name),
        };
        let out = req.send().await.unwrap();
        shards.extend(out.shards().iter().cloned());
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return shards,
        }
    }
}

/// Puts one record; returns (shard id, sequence number).
pub async fn put(client: &Client, stream: &str, key: &str, data: &[u8]) -> (String, String) {
    let out = client
        .put_record()
        .stream_name(stream)
        .partition_key(key)
        .data(Blob::new(data))
        .send()
        .await
        .unwrap();
    (out.shard_id().to_owned(), out.sequence_number().to_owned())
}

/// An iterator of `kind` on `shard`.
pub async fn iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    sequence: Option<&str>,
) -> String {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_starting_sequence_number(sequence.map(str::to_owned))
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned()
}

/// Reads a shard from TRIM_HORIZON until a call returns nothing (or the shard ends).
pub async fn read_all(client: &Client, stream: &str, shard: &str) -> Vec<Record> {
    let mut it = Some(iterator(client, stream, shard, ShardIteratorType::TrimHorizon, None).await);
    let mut records = Vec::new();
    while let Some(current) = it {
        let out = client
            .get_records()
            .shard_iterator(current)
            .send()
            .await
            .unwrap();
        if out.records().is_empty() {
            break;
        }
        records.extend(out.records().iter().cloned());
        it = out.next_shard_iterator().map(str::to_owned);
    }
    records
}

/// The error code of a failed SDK call.
pub fn code_of<E: ProvideErrorMetadata, T: std::fmt::Debug>(result: Result<T, E>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().unwrap_or("<no code>").to_owned(),
    }
}

/// The shard (from `shards`, open ones only) whose hash key range contains `hash`.
pub fn shard_for_hash(shards: &[Shard], hash: u128) -> String {
    shards
        .iter()
        .filter(|s| {
            s.sequence_number_range()
                .is_none_or(|r| r.ending_sequence_number().is_none())
        })
        .find(|s| {
            let r = s.hash_key_range().unwrap();
            let start: u128 = r.starting_hash_key().parse().unwrap();
            let end: u128 = r.ending_hash_key().parse().unwrap();
            start <= hash && hash <= end
        })
        .map(|s| s.shard_id().to_owned())
        .expect("some open shard covers every hash")
}

/// MD5 of the partition key read as a big-endian u128, computed independently of the
/// emulator.
pub fn md5_hash(key: &str) -> u128 {
    use md5::{Digest, Md5};
    let digest = Md5::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest);
    u128::from_be_bytes(bytes)
}

/// Compares decimal strings numerically (length, then lexicographic), as AWS advises.
pub fn numeric_lt(a: &str, b: &str) -> bool {
    (a.len(), a) < (b.len(), b)
}

//! GetShardIterator types, expiry and invalid iterators.

use std::time::Duration;

use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use shardwise_tests::{TestEnv, emulator_only, skip_on};

use super::{code_of, create_stream, iterator, put};

const SHARD: &str = "shardId-000000000000";

/// A stream with records `r0`, `r1`, `r2`; returns (name, their sequence numbers).
async fn three_records(env: &TestEnv, prefix: &str) -> (String, Vec<String>) {
    let name = create_stream(env, prefix, 1).await;
    let client = env.kinesis();
    let mut seqs = Vec::new();
    for i in 0..3 {
        seqs.push(put(&client, &name, "k", format!("r{i}").as_bytes()).await.1);
    }
    (name, seqs)
}

/// The payloads one GetRecords call returns from `it`.
async fn payloads(client: &aws_sdk_kinesis::Client, it: String) -> Vec<String> {
    let out = client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap();
    out.records()
        .iter()
        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
        .collect()
}

#[tokio::test]
async fn trim_horizon_reads_from_the_oldest_record() {
    let env = TestEnv::start().await;
    let (name, _) = three_records(&env, "ith").await;
    let client = env.kinesis();
    let it = iterator(&client, &name, SHARD, ShardIteratorType::TrimHorizon, None).await;
    assert_eq!(payloads(&client, it).await, ["r0", "r1", "r2"]);
}

#[tokio::test]
async fn latest_reads_only_records_put_after_the_iterator() {
    let env = TestEnv::start().await;
    let (name, _) = three_records(&env, "ilatest").await;
    let client = env.kinesis();
    let it = iterator(&client, &name, SHARD, ShardIteratorType::Latest, None).await;
    put(&client, &name, "k", b"after").await;
    assert_eq!(payloads(&client, it).await, ["after"]);
}

#[tokio::test]
async fn at_sequence_number_starts_at_that_record() {
    let env = TestEnv::start().await;
    let (name, seqs) = three_records(&env, "iat").await;
    let client = env.kinesis();
    let it = iterator(
        &client,
        &name,
        SHARD,
        ShardIteratorType::AtSequenceNumber,
        Some(&seqs[1]),
    )
    .await;
    assert_eq!(payloads(&client, it).await, ["r1", "r2"]);
}

#[tokio::test]
async fn after_sequence_number_starts_after_that_record() {
    let env = TestEnv::start().await;
    let (name, seqs) = three_records(&env, "iafter").await;
    let client = env.kinesis();
    let it = iterator(
        &client,
        &name,
        SHARD,
        ShardIteratorType::AfterSequenceNumber,
        Some(&seqs[1]),
    )
    .await;
    assert_eq!(payloads(&client, it).await, ["r2"]);
}

#[tokio::test]
async fn at_timestamp_starts_at_the_first_record_that_arrived_then() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "its", 1).await;
    let client = env.kinesis();
    put(&client, &name, "k", b"early").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let cut = std::time::SystemTime::now();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    put(&client, &name, "k", b"late").await;
    let it = client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id(SHARD)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from(cut))
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();
    assert_eq!(payloads(&client, it).await, ["late"]);
}

#[tokio::test]
async fn a_sequence_number_from_another_shard_is_invalid_argument() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto answers a bogus AT_SEQUENCE_NUMBER with no records"
    );
    let name = create_stream(&env, "iforeign", 2).await;
    let client = env.kinesis();
    let out = client
        .put_record()
        .stream_name(&name)
        .partition_key("k")
        .explicit_hash_key("0")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.shard_id(), SHARD);
    let other = client
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id("shardId-000000000001")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(out.sequence_number())
        .send()
        .await;
    assert_eq!(code_of(other), "InvalidArgumentException");
}

#[tokio::test]
async fn iterator_for_a_missing_shard_is_resource_not_found() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "inoshard", 1).await;
    let out = env
        .kinesis()
        .get_shard_iterator()
        .stream_name(&name)
        .shard_id("shardId-000000000009")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await;
    assert_eq!(code_of(out), "ResourceNotFoundException");
}

#[tokio::test]
async fn an_iterator_expires_five_minutes_after_issue() {
    let env = TestEnv::start().await;
    emulator_only!(env, "advances the emulator clock by 6 minutes");
    let (name, _) = three_records(&env, "iexp").await;
    let client = env.kinesis();
    let it = iterator(&client, &name, SHARD, ShardIteratorType::TrimHorizon, None).await;
    env.emulator
        .as_ref()
        .unwrap()
        .clock
        .advance(Duration::from_secs(6 * 60));
    let out = client.get_records().shard_iterator(it).send().await;
    assert_eq!(code_of(out), "ExpiredIteratorException");
}

#[tokio::test]
async fn a_fresh_next_iterator_outlives_the_first_one() {
    let env = TestEnv::start().await;
    emulator_only!(env, "advances the emulator clock");
    let (name, _) = three_records(&env, "inext").await;
    let client = env.kinesis();
    let clock = &env.emulator.as_ref().unwrap().clock;
    let it = iterator(&client, &name, SHARD, ShardIteratorType::TrimHorizon, None).await;
    clock.advance(Duration::from_secs(4 * 60));
    let out = client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap();
    clock.advance(Duration::from_secs(4 * 60));
    // 8 minutes after the first iterator, 4 after the next one: still valid.
    client
        .get_records()
        .shard_iterator(out.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_garbage_iterator_is_invalid_argument() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto answers a garbage shard iterator with HTTP 500"
    );
    let out = env
        .kinesis()
        .get_records()
        .shard_iterator("bm90IGFuIGl0ZXJhdG9y")
        .send()
        .await;
    assert_eq!(code_of(out), "InvalidArgumentException");
}

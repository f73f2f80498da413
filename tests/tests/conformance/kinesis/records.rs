//! PutRecord/PutRecords routing, results and sequence numbers; GetRecords payloads.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use shardwise_tests::{TestEnv, skip_on};

use super::{
    code_of, create_stream, iterator, list_shards, md5_hash, numeric_lt, put, read_all,
    shard_for_hash,
};

fn entry(key: &str, data: &[u8]) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(data))
        .build()
        .unwrap()
}

#[tokio::test]
async fn records_route_by_md5_of_the_partition_key_over_hash_key_ranges() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "route", 4).await;
    let client = env.kinesis();
    let shards = list_shards(&client, &name).await;
    let mut used = std::collections::BTreeSet::new();
    for i in 0..40 {
        let key = format!("customer-{i}");
        let (shard, _) = put(&client, &name, &key, b"x").await;
        assert_eq!(shard, shard_for_hash(&shards, md5_hash(&key)), "key {key}");
        used.insert(shard);
    }
    assert_eq!(used.len(), 4, "40 keys should reach all 4 shards");
}

#[tokio::test]
async fn explicit_hash_key_overrides_the_partition_key() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "ehk", 4).await;
    let client = env.kinesis();
    let shards = list_shards(&client, &name).await;
    for shard in &shards {
        let start = shard.hash_key_range().unwrap().starting_hash_key();
        let out = client
            .put_record()
            .stream_name(&name)
            .partition_key("same-key-every-time")
            .explicit_hash_key(start)
            .data(Blob::new("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.shard_id(), shard.shard_id());
    }
}

#[tokio::test]
async fn explicit_hash_key_off_pattern_or_out_of_range_is_rejected() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto does not validate ExplicitHashKey's pattern"
    );
    let name = create_stream(&env, "ehkbad", 1).await;
    let client = env.kinesis();
    let send = |key: &'static str| {
        client
            .put_record()
            .stream_name(&name)
            .partition_key("k")
            .explicit_hash_key(key)
            .data(Blob::new("x"))
            .send()
    };
    assert_eq!(code_of(send("01").await), "ValidationException");
    // 2^128: well-formed but beyond the hash space.
    assert_eq!(
        code_of(send("340282366920938463463374607431768211456").await),
        "InvalidArgumentException"
    );
}

#[tokio::test]
async fn sequence_numbers_are_long_decimal_strings_that_strictly_increase_in_a_shard() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto's sequence numbers are small per-shard counters"
    );
    let name = create_stream(&env, "seq", 1).await;
    let client = env.kinesis();
    let mut last: Option<String> = None;
    for i in 0..20 {
        let (_, seq) = put(&client, &name, &format!("k{i}"), b"x").await;
        assert!(seq.len() >= 40, "sequence number {seq} is not AWS-like");
        assert!(seq.bytes().all(|b| b.is_ascii_digit()));
        if let Some(prev) = &last {
            assert!(numeric_lt(prev, &seq), "{prev} !< {seq}");
            assert!(prev < &seq, "string order must match numeric order");
        }
        last = Some(seq);
    }
}

#[tokio::test]
async fn put_records_answers_each_entry_in_request_order() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "batch", 2).await;
    let client = env.kinesis();
    let shards = list_shards(&client, &name).await;
    let keys: Vec<String> = (0..50).map(|i| format!("key-{i}")).collect();
    let out = client
        .put_records()
        .stream_name(&name)
        .set_records(Some(
            keys.iter()
                .enumerate()
                .map(|(i, k)| entry(k, format!("payload-{i}").as_bytes()))
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    assert_eq!(out.records().len(), keys.len());
    for (key, result) in keys.iter().zip(out.records()) {
        assert_eq!(
            result.shard_id().unwrap(),
            shard_for_hash(&shards, md5_hash(key))
        );
        assert!(result.sequence_number().is_some() && result.error_code().is_none());
    }
    // Read back: per shard, the payloads come back in request order.
    let mut read = 0;
    for shard in &shards {
        let records = read_all(&client, &name, shard.shard_id()).await;
        let indices: Vec<usize> = records
            .iter()
            .map(|r| {
                let text = std::str::from_utf8(r.data().as_ref()).unwrap();
                text.trim_start_matches("payload-").parse().unwrap()
            })
            .collect();
        assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
        read += records.len();
    }
    assert_eq!(read, keys.len());
}

#[tokio::test]
async fn put_records_with_501_entries_is_rejected() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto accepts 501-record PutRecords");
    let name = create_stream(&env, "501", 1).await;
    let out = env
        .kinesis()
        .put_records()
        .stream_name(&name)
        .set_records(Some(
            (0..501).map(|i| entry(&format!("k{i}"), b"x")).collect(),
        ))
        .send()
        .await;
    assert_eq!(code_of(out), "ValidationException");
}

#[tokio::test]
async fn a_record_over_one_mebibyte_is_rejected() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto accepts over-1 MiB records");
    let name = create_stream(&env, "big", 1).await;
    let out = env
        .kinesis()
        .put_record()
        .stream_name(&name)
        .partition_key("k")
        .data(Blob::new(vec![b'x'; 1024 * 1024 + 1]))
        .send()
        .await;
    assert_eq!(code_of(out), "ValidationException");
}

#[tokio::test]
async fn get_records_returns_data_keys_and_arrival_timestamps() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "payload", 1).await;
    let client = env.kinesis();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let bytes: Vec<u8> = (0..=255u8).collect();
    let (_, seq) = put(&client, &name, "binary-key", &bytes).await;
    let records = read_all(&client, &name, "shardId-000000000000").await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.data().as_ref(), bytes.as_slice());
    assert_eq!(r.partition_key(), Some("binary-key"));
    assert_eq!(r.sequence_number(), seq);
    let arrival = r.approximate_arrival_timestamp().unwrap().as_secs_f64();
    assert!((arrival - before).abs() < 60.0, "{arrival} vs {before}");
}

#[tokio::test]
async fn get_records_respects_limit() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "limit", 1).await;
    let client = env.kinesis();
    for i in 0..7 {
        put(&client, &name, &format!("k{i}"), b"x").await;
    }
    let it = iterator(
        &client,
        &name,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let first = client
        .get_records()
        .shard_iterator(it)
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(first.records().len(), 3);
    let second = client
        .get_records()
        .shard_iterator(first.next_shard_iterator().unwrap())
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!(second.records().len(), 4);
}

#[tokio::test]
async fn get_records_limit_over_10000_is_a_validation_exception() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto accepts GetRecords Limit 10001");
    let name = create_stream(&env, "limit10k", 1).await;
    let client = env.kinesis();
    let it = iterator(
        &client,
        &name,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let out = client
        .get_records()
        .shard_iterator(it)
        .limit(10_001)
        .send()
        .await;
    assert_eq!(code_of(out), "ValidationException");
}

#[tokio::test]
async fn millis_behind_latest_is_positive_until_the_reader_catches_up() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "behind", 1).await;
    let client = env.kinesis();
    for i in 0..3 {
        put(&client, &name, &format!("k{i}"), b"x").await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let it = iterator(
        &client,
        &name,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let first = client
        .get_records()
        .shard_iterator(it)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert!(first.millis_behind_latest().unwrap() > 0);
    let rest = client
        .get_records()
        .shard_iterator(first.next_shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.records().len(), 2);
    assert_eq!(rest.millis_behind_latest(), Some(0));
}

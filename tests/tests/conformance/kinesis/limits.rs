//! Per-shard throughput limits (emulator only: they are off unless
//! `Config::kinesis_enforce_limits` asks for them) and the service's metrics.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use shardwise_emulator::Config;
use shardwise_tests::raw_http::request;
use shardwise_tests::{TestEnv, emulator_only};

use super::{code_of, create_stream, iterator};

async fn limited() -> TestEnv {
    TestEnv::start_with(Config {
        kinesis_enforce_limits: true,
        ..Config::default()
    })
    .await
}

/// A client that surfaces throttling instead of retrying it (the SDK's standard retry
/// mode backs off and retries ProvisionedThroughputExceededException).
fn no_retry_client(env: &TestEnv) -> aws_sdk_kinesis::Client {
    let conf = aws_sdk_kinesis::config::Builder::from(&env.sdk_config)
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesis::Client::from_conf(conf)
}

fn entries(n: usize, size: usize) -> Vec<PutRecordsRequestEntry> {
    (0..n)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("k{i}"))
                .data(Blob::new(vec![b'x'; size]))
                .build()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn put_records_over_the_write_limit_fails_entries_individually() {
    let env = limited().await;
    emulator_only!(env, "needs limit enforcement");
    let name = create_stream(&env, "wlimit", 1).await;
    // 500 x 4 KiB = 2 MiB into one shard: about half fits in the 1 MiB/s quota.
    let out = env
        .kinesis()
        .put_records()
        .stream_name(&name)
        .set_records(Some(entries(500, 4096)))
        .send()
        .await
        .unwrap();
    let failed = out.failed_record_count().unwrap();
    assert!(failed > 0 && failed < 500, "failed {failed}");
    let errors: Vec<_> = out
        .records()
        .iter()
        .filter_map(|r| r.error_code())
        .collect();
    assert_eq!(errors.len(), failed as usize);
    assert!(
        errors
            .iter()
            .all(|c| *c == "ProvisionedThroughputExceededException")
    );
    for r in out.records() {
        assert_eq!(r.error_code().is_some(), r.sequence_number().is_none());
        assert_eq!(r.error_code().is_some(), r.error_message().is_some());
    }
}

#[tokio::test]
async fn put_record_over_the_records_per_second_limit_is_throttled() {
    let env = limited().await;
    emulator_only!(env, "needs limit enforcement");
    let name = create_stream(&env, "rlimit", 1).await;
    let client = no_retry_client(&env);
    let mut throttled = false;
    // 1,000 records/s per shard: 3 x 500 small records within ~2 s must hit it.
    for _ in 0..3 {
        let out = client
            .put_records()
            .stream_name(&name)
            .set_records(Some(entries(500, 1)))
            .send()
            .await
            .unwrap();
        throttled |= out.failed_record_count().unwrap() > 0;
    }
    let single = client
        .put_record()
        .stream_name(&name)
        .partition_key("k")
        .data(Blob::new("x"))
        .send()
        .await;
    if let Err(e) = &single {
        use aws_sdk_kinesis::error::ProvideErrorMetadata;
        assert_eq!(e.code(), Some("ProvisionedThroughputExceededException"));
        throttled = true;
    }
    assert!(throttled);
}

#[tokio::test]
async fn more_than_five_get_records_calls_per_second_are_throttled() {
    let env = limited().await;
    emulator_only!(env, "needs limit enforcement");
    let name = create_stream(&env, "readlimit", 1).await;
    let client = no_retry_client(&env);
    let mut it = iterator(
        &client,
        &name,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    // 11 calls cannot fit in two one-second windows of 5 calls.
    let mut codes = Vec::new();
    for _ in 0..11 {
        match client.get_records().shard_iterator(&it).send().await {
            Ok(out) => it = out.next_shard_iterator().unwrap().to_owned(),
            Err(e) => codes.push(code_of::<_, ()>(Err(e))),
        }
    }
    assert!(!codes.is_empty());
    assert!(
        codes
            .iter()
            .all(|c| c == "ProvisionedThroughputExceededException")
    );
}

#[tokio::test]
async fn metrics_count_records_in_and_out_per_stream() {
    let env = TestEnv::start().await;
    emulator_only!(env, "/_shardwise/metrics is ours");
    let name = create_stream(&env, "metrics", 2).await;
    let client = env.kinesis();
    client
        .put_records()
        .stream_name(&name)
        .set_records(Some(entries(10, 5)))
        .send()
        .await
        .unwrap();
    let mut read = 0;
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        read += super::read_all(&client, &name, shard).await.len();
    }
    assert_eq!(read, 10);
    let m = request(&env.authority(), "GET", "/_shardwise/metrics", &[], b"")
        .await
        .unwrap()
        .json();
    let s = &m["kinesis"]["streams"][&name];
    assert_eq!(s["records_in"], 10);
    assert_eq!(s["records_out"], 10);
    assert_eq!(s["open_shards"], 2);
    assert!(s["bytes_in"].as_u64().unwrap() >= 50);
}

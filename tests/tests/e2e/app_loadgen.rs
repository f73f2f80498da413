//! The load generator against the emulator's Kinesis with AWS's per-shard write limits
//! enforced: entries really get throttled, only those are resent, and the stream ends up
//! holding every generated record exactly once, each account's records in order.
//! The S3 case skips (printing why) only while the emulator answers S3 with NotImplemented.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::ShardIteratorType;
use load_generator::put::RetryPolicy;
use load_generator::{SendOptions, send_records};
use monitoring::generator::{GeneratorConfig, generate};
use shardwise_emulator::Config;
use shardwise_tests::TestEnv;

type ByKey = HashMap<String, Vec<Vec<u8>>>;

#[tokio::test]
async fn load_generator_retries_only_throttled_entries_and_keeps_every_accounts_order() {
    let env = TestEnv::start_emulator(Config {
        kinesis_enforce_limits: true,
        ..Config::default()
    })
    .await;
    let kinesis = env.kinesis();
    let stream = env.unique_name("loadgen");
    env.create_active_stream(&stream, 1).await;

    // ~2,600 records on one shard (1,000 records/s): sent as fast as possible, a good
    // part of every request is refused with ProvisionedThroughputExceededException.
    let generated = generate(&GeneratorConfig {
        seed: 21,
        transactions: 2_500,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let options = SendOptions {
        lanes: 2,
        rate: None,
        retry: RetryPolicy {
            max_attempts: 200,
            base: Duration::from_millis(20),
            max: Duration::from_millis(400),
        },
    };
    let report = send_records(
        Arc::new(kinesis.clone()),
        &stream,
        generated.records(),
        options,
    )
    .await
    .unwrap();
    eprintln!("load report: {report:?}");
    assert_eq!(report.records, generated.len() as u64);
    assert!(
        report.throttled_entries > 0,
        "limits were enforced: {report:?}"
    );
    assert_eq!(
        report.retried_entries, report.throttled_entries,
        "{report:?}"
    );
    // Only failed entries are resent, so the stream holds each record exactly once.
    let stored = read_all(&kinesis, &stream).await;
    let mut sent = ByKey::new();
    for r in generated.records() {
        sent.entry(r.partition_key).or_default().push(r.data);
    }
    assert_eq!(
        stored.values().map(Vec::len).sum::<usize>(),
        generated.len()
    );
    assert_eq!(stored, sent, "per-account order and contents");
}

/// Every record of the stream's (single) shard, grouped by partition key in shard order.
async fn read_all(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> ByKey {
    let shards = kinesis
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    let mut out = ByKey::new();
    for shard in shards.shards() {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator {
            // Read limits are enforced too (5 calls/s per shard): pace and retry.
            tokio::time::sleep(Duration::from_millis(250)).await;
            let page = match kinesis.get_records().shard_iterator(&it).send().await {
                Ok(page) => page,
                Err(e) if e.code() == Some("ProvisionedThroughputExceededException") => {
                    iterator = Some(it);
                    continue;
                }
                Err(e) => panic!("GetRecords: {e:?}"),
            };
            for r in page.records() {
                out.entry(r.partition_key().unwrap_or_default().to_owned())
                    .or_default()
                    .push(r.data().as_ref().to_vec());
            }
            let caught_up = page.records().is_empty() && page.millis_behind_latest() == Some(0);
            iterator = if caught_up {
                None
            } else {
                page.next_shard_iterator().map(str::to_owned)
            };
        }
    }
    out
}

#[tokio::test]
async fn load_generator_function_puts_the_day_and_stores_its_ground_truth_in_s3() {
    let env = TestEnv::start_emulator(Config::default()).await;
    let kinesis = env.kinesis();
    let s3 = env.s3();
    let stream = env.unique_name("loadgen-fn");
    let bucket = env.unique_name("truth");
    let created = kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(2)
        .send()
        .await;
    let bucket_made = s3.create_bucket().bucket(&bucket).send().await;
    let unknown = |code: Option<&str>| {
        matches!(
            code,
            Some("UnknownOperationException" | "NotImplemented" | "UnknownOperation")
        )
    };
    if created.as_ref().err().is_some_and(|e| unknown(e.code()))
        || bucket_made
            .as_ref()
            .err()
            .is_some_and(|e| unknown(e.code()))
    {
        eprintln!("SKIPPED: the emulator does not serve S3 yet");
        return;
    }
    created.unwrap();
    bucket_made.unwrap();
    env.wait_stream_active(&stream).await;

    let input = serde_json::json!({
        "seed": 5, "transactions": 1500, "day": "2026-11-20", "stream": stream,
        "ground_truth_bucket": bucket,
    });
    let request: load_generator::LoadRequest = serde_json::from_value(input).unwrap();
    let config = request.generator.clone();
    let report = load_generator::handle(request, Arc::new(kinesis.clone()), &s3, |_| None)
        .await
        .unwrap();
    let key = load_generator::ground_truth_key(&config);
    assert_eq!(report.ground_truth, Some(format!("s3://{bucket}/{key}")));

    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let stored = monitoring::generator::GroundTruth::read_jsonl(bytes.as_ref()).unwrap();
    let expected = generate(&config).unwrap();
    assert_eq!(&stored, expected.ground_truth());
    let on_stream = read_all(&kinesis, &stream).await;
    let count: usize = on_stream.values().map(Vec::len).sum();
    assert_eq!(count as u64, report.records);
    assert_eq!(count, expected.len());
}

/// Measurement, not a check: records/s the load generator puts into the in-process
/// emulator (no limits, 4 shards). `cargo test --workspace --test e2e
/// load_generator_throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement; run explicitly with --ignored"]
async fn load_generator_throughput() {
    let env = TestEnv::start_emulator(Config::default()).await;
    let kinesis = env.kinesis();
    let stream = env.unique_name("loadgen-speed");
    env.create_active_stream(&stream, 4).await;
    let generated = generate(&GeneratorConfig {
        seed: 1,
        transactions: 50_000,
        ..GeneratorConfig::default()
    })
    .unwrap();
    for lanes in [1, 4, 8] {
        let options = SendOptions {
            lanes,
            ..SendOptions::default()
        };
        let report = send_records(
            Arc::new(kinesis.clone()),
            &stream,
            generated.records(),
            options,
        )
        .await
        .unwrap();
        eprintln!(
            "lanes {lanes}: {} records in {} ms = {:.0} records/s, {} PutRecords calls",
            report.records, report.elapsed_ms, report.records_per_second, report.put_calls
        );
    }
}

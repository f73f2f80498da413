//! The idempotent sinks against real endpoints: a second delivery of the same output
//! must be recognized, never written twice.

use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::types::{ShardIteratorType, StreamStatus};
use shardwise::sinks::{DynamoTableSink, Envelope, KinesisSink, S3Sink, SinkRecord};
use shardwise_tests::{Target, TestEnv};

#[tokio::test]
async fn kinesis_sink_writes_envelopes_with_deterministic_ids() {
    let env = TestEnv::start().await;
    let client = env.kinesis();
    let stream = env.unique_name("fw-sink");
    client
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        let d = client
            .describe_stream_summary()
            .stream_name(&stream)
            .send()
            .await
            .unwrap();
        if d.stream_description_summary().unwrap().stream_status() == &StreamStatus::Active {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let records: Vec<SinkRecord<u32>> = (0..3)
        .map(|i| SinkRecord {
            id: format!("op#shardId-0#{i}#0"),
            partition_key: format!("k{i}"),
            payload: i * 10,
        })
        .collect();
    KinesisSink::new(client.clone(), &stream)
        .send(&records)
        .await
        .unwrap();

    let shard = client
        .list_shards()
        .stream_name(&stream)
        .send()
        .await
        .unwrap()
        .shards()[0]
        .shard_id()
        .to_owned();
    let iterator = client
        .get_shard_iterator()
        .stream_name(&stream)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let got = client
        .get_records()
        .shard_iterator(iterator.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    let envelopes: Vec<Envelope<u32>> = got
        .records()
        .iter()
        .map(|r| serde_json::from_slice(r.data().as_ref()).unwrap())
        .collect();
    let ids: Vec<&str> = envelopes.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["op#shardId-0#0#0", "op#shardId-0#1#0", "op#shardId-0#2#0"]
    );
    assert_eq!(envelopes[2].payload, 20);
}

#[tokio::test]
async fn dynamo_table_sink_writes_an_id_once_and_reports_the_repeat() {
    let env = TestEnv::start().await;
    let ddb = env.dynamodb();
    let table = env.unique_name("fw-sink-table");
    let created = env.create_keyed_table(&table).await;
    if let Err(e) = &created
        && env.is(Target::Emulator)
        && e.code() == Some("UnknownOperationException")
    {
        eprintln!("SKIPPED: the emulator does not serve DynamoDB yet");
        return;
    }
    created.unwrap();
    let sink = DynamoTableSink::new(ddb.clone(), &table);
    let item = |v: &str| {
        std::collections::HashMap::from([("v".to_owned(), AttributeValue::S(v.to_owned()))])
    };
    assert!(sink.put("alert#1", item("first")).await.unwrap());
    assert!(
        !sink.put("alert#1", item("second")).await.unwrap(),
        "a repeat is recognized"
    );
    let stored = ddb
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("alert#1".into()))
        .key("sk", AttributeValue::S("item".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.item().unwrap()["v"].as_s().unwrap(), "first");
}

#[tokio::test]
async fn s3_sink_writes_a_key_once_with_if_none_match() {
    let env = TestEnv::start().await;
    let s3 = env.s3();
    let bucket = env.unique_name("fw-sink-bucket");
    if let Err(e) = s3.create_bucket().bucket(&bucket).send().await {
        if env.is(Target::Emulator) {
            eprintln!("SKIPPED: the emulator does not serve S3 yet: {e}");
            return;
        }
        panic!("CreateBucket failed: {e:?}");
    }
    let sink = S3Sink::new(s3.clone(), &bucket);
    let key = "raw/dt=2026-01-01/shard=shardId-000000000000/1-9.jsonl";
    assert!(sink.put_once(key, b"first".to_vec()).await.unwrap());
    assert!(
        !sink.put_once(key, b"second".to_vec()).await.unwrap(),
        "412 means already written"
    );
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap();
    assert_eq!(body.into_bytes().as_ref(), b"first");
}

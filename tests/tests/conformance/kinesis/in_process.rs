//! The in-process contract the emulator's own Lambda event-source poller relies on:
//! `Emulator::call_json("Kinesis_20131202.<Op>", body)` with ordinary JSON bodies
//! answers exactly what the HTTP API answers.

use base64::Engine as _;
use serde_json::{Value, json};
use shardwise_tests::{TestEnv, emulator_only};

use super::{create_stream, put};

async fn call(env: &TestEnv, op: &str, body: Value) -> Value {
    env.emulator
        .as_ref()
        .unwrap()
        .call_json(
            &format!("Kinesis_20131202.{op}"),
            body.to_string().as_bytes(),
        )
        .await
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

#[tokio::test]
async fn call_json_reads_records_written_over_http_and_signals_shard_end() {
    let env = TestEnv::start().await;
    emulator_only!(env, "calls the in-process emulator directly");
    let name = create_stream(&env, "inproc", 1).await;
    let client = env.kinesis();
    let (_, seq) = put(&client, &name, "k", b"hello").await;
    let it = call(
        &env,
        "GetShardIterator",
        json!({"StreamName": name, "ShardId": "shardId-000000000000",
               "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    let out = call(
        &env,
        "GetRecords",
        json!({"ShardIterator": it["ShardIterator"], "Limit": 100}),
    )
    .await;
    let record = &out["Records"][0];
    assert_eq!(record["SequenceNumber"], seq.as_str());
    assert_eq!(record["PartitionKey"], "k");
    let data = base64::engine::general_purpose::STANDARD
        .decode(record["Data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, b"hello");
    // Epoch seconds with millisecond precision.
    let arrival = record["ApproximateArrivalTimestamp"].as_f64().unwrap();
    assert!(arrival > 1.5e9 && (arrival * 1000.0).fract().abs() < 1e-3);
    assert_eq!(out["MillisBehindLatest"], 0);

    // After a split, the drained parent answers ChildShards and no next iterator.
    client
        .split_shard()
        .stream_name(&name)
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    let end = call(
        &env,
        "GetRecords",
        json!({"ShardIterator": out["NextShardIterator"]}),
    )
    .await;
    assert_eq!(end["Records"], json!([]));
    assert!(end.get("NextShardIterator").is_none_or(Value::is_null));
    assert_eq!(end["ChildShards"].as_array().unwrap().len(), 2);
}

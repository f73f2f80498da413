//! The DynamoDB benchmark workloads run in-process (ignored by default): the emulator in
//! this test binary against moto at `SHARDWISE_BENCH_MOTO`, printing ops/s and the ratio.
//! `cargo test --workspace --test conformance dynamodb::bench -- --ignored --nocapture`.
//! (The `emulator-bench` binary runs the same workloads against a release build.)

use std::time::Duration;

use shardwise_emulator::Config;
use shardwise_tests::bench::{drive, dynamodb::workloads};
use shardwise_tests::{Target, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn dynamodb_workloads_report_ops_per_second_against_moto() {
    let ours = TestEnv::start_emulator(Config::default()).await;
    let moto = match std::env::var("SHARDWISE_BENCH_MOTO") {
        Ok(url) => Some(TestEnv::external(&url, Target::Moto).await),
        Err(_) => None,
    };
    let duration = Duration::from_secs(3);
    println!(
        "{:<44} {:>14} {:>14} {:>9}",
        "operation", "emulator ops/s", "moto ops/s", "ratio"
    );
    for w in workloads() {
        let op = (w.setup)(&ours).await.expect("setup on the emulator");
        let e = drive(op, 16, duration).await;
        assert_eq!(e.errors, 0, "{} failed on the emulator", w.name);
        let m = match &moto {
            Some(env) => {
                Some(drive((w.setup)(env).await.expect("setup on moto"), 16, duration).await)
            }
            None => None,
        };
        let (moto_cell, ratio) = match m {
            Some(m) => (
                format!("{:.0}", m.ops_per_sec),
                format!("{:.1}x", e.ops_per_sec / m.ops_per_sec.max(0.001)),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<44} {:>14.0} {moto_cell:>14} {ratio:>9}",
            w.name, e.ops_per_sec
        );
    }
}

/// The emulator's own cost per operation, without HTTP or the SDK: conditional
/// UpdateItem through `Emulator::call_json` on one task.
#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn in_process_conditional_update_rate() {
    let emulator = shardwise_emulator::Emulator::new(Config::default());
    let create = serde_json::json!({
        "TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    });
    let target = |op: &str| format!("DynamoDB_20120810.{op}");
    emulator
        .call_json(&target("CreateTable"), create.to_string().as_bytes())
        .await
        .unwrap();
    let n = 20_000;
    let start = std::time::Instant::now();
    for i in 0..n {
        let body = serde_json::json!({
            "TableName": "bench", "Key": {"pk": {"S": format!("k{}", i % 100)}},
            "UpdateExpression": "SET v = if_not_exists(v, :z) + :one",
            "ConditionExpression": "attribute_not_exists(v) OR v >= :z",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":z": {"N": "0"}},
        });
        emulator
            .call_json(&target("UpdateItem"), body.to_string().as_bytes())
            .await
            .unwrap();
    }
    let rate = f64::from(n) / start.elapsed().as_secs_f64();
    println!("in-process conditional UpdateItem: {rate:.0} ops/s (one task)");
}

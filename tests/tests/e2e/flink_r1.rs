//! The Flink benchmark's Shardwise side on a tiny input (issue 9): the 2,000-event smoke
//! day with late events on, put through the real `fraud-detector` (`FRAUD_RULES=r1-hop`)
//! on an in-process emulator by the benchmark's own runner, must give exactly the
//! reference's R1 alert rows and route exactly the records Flink drops to the late-events
//! table. Batch size 10: a batch is judged against the watermark read at its start, and
//! a 2,000-event day would otherwise put hours of event time in one batch. One shard: the
//! reference has one watermark in file order, while over two shards the operator
//! watermark is the minimum of two that advance at the invocations' pace, so which
//! records are late would depend on scheduling (CI saw both more and fewer).

use monitoring::generator::{GeneratorConfig, generate};
use shardwise_tests::bench::flink::shardwise_run::run_on_shards;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r1_through_the_deployed_fraud_detector_equals_the_flink_reference() {
    let config = GeneratorConfig {
        seed: 7,
        transactions: 2_000,
        duplicate_rate: 0.0,
        malformed_rate: 0.0,
        late_events: true,
        late_rate: 0.01,
        ..GeneratorConfig::default()
    };
    let mut jsonl = Vec::new();
    generate(&config)
        .unwrap()
        .write_records_jsonl(&mut jsonl)
        .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "shardwise-flink-r1-{}",
        shardwise_tests::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("tx.jsonl");
    std::fs::write(&input, jsonl).unwrap();
    let bin = tokio::task::spawn_blocking(|| shardwise_tests::workspace_binary("fraud-detector"))
        .await
        .unwrap();

    let r = run_on_shards(&input, &bin, 4, 10, Some(1)).await.unwrap();

    assert!(r.r1_rows > 0, "the smoke day has alerts");
    assert!(r.r1.is_empty(), "{:?}", r.r1);
    assert!(
        !r.late_expected.is_empty(),
        "the smoke day has late records"
    );
    assert_eq!(r.late_actual, r.late_expected);
    assert!(r.timers_fired > 0);
    let _ = std::fs::remove_dir_all(&dir);
}
